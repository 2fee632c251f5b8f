"""Tab completion of nicks and the recall of earlier input lines.

Both are what a person expects from every chat program, kept here apart
from Tk so they can be tested as plain functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tcpchat.irc import casefold

__all__ = ["InputHistory", "NickCompleter"]

HISTORY_SIZE: Final = 200
"""Lines remembered for Up/Down; enough for a day's chat, bounded in memory."""


class NickCompleter:
    """Tab completion of the word before the cursor to a nick, cycling on repeated Tabs.

    A word at the start of the line gets ``": "`` after it, as is usual for
    addressing someone; elsewhere a space. Pressing Tab again, with nothing
    typed in between, replaces the nick with the next one that matches.
    """

    __slots__ = ("_head", "_index", "_last", "_matches", "_tail")

    def __init__(self) -> None:
        self._head = ""
        self._tail = ""
        self._matches: list[str] = []
        self._index = 0
        # The (text, cursor) this completer produced last, to recognise a repeated Tab.
        self._last: tuple[str, int] | None = None

    def complete(self, text: str, cursor: int, nicks: Iterable[str]) -> tuple[str, int] | None:
        """The new text and cursor, or None when no nick matches."""
        if self._last == (text, cursor) and self._matches:
            self._index = (self._index + 1) % len(self._matches)
        else:
            start = cursor
            while start > 0 and not text[start - 1].isspace():
                start -= 1
            word = casefold(text[start:cursor])
            self._head, self._tail = text[:start], text[cursor:]
            self._matches = sorted((n for n in nicks if casefold(n).startswith(word)), key=casefold)
            self._index = 0
            if not word or not self._matches:
                self._last = None
                return None
        suffix = ": " if not self._head else " "
        done = self._head + self._matches[self._index] + suffix
        self._last = (done + self._tail, len(done))
        return self._last


class InputHistory:
    """Lines sent so far, walked with Up and Down like a shell's history."""

    __slots__ = ("_draft", "_lines", "_pos")

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._pos = 0
        self._draft = ""

    def add(self, line: str) -> None:
        if line and (not self._lines or self._lines[-1] != line):
            self._lines.append(line)
            del self._lines[:-HISTORY_SIZE]
        self._pos = len(self._lines)
        self._draft = ""

    def older(self, current: str) -> str:
        """The line before the one shown; the text being typed is kept as a draft."""
        if self._pos == len(self._lines):
            self._draft = current
        self._pos = max(0, self._pos - 1)
        return self._lines[self._pos] if self._lines else current

    def newer(self) -> str:
        """The line after the one shown, then the draft again."""
        self._pos = min(len(self._lines), self._pos + 1)
        return self._lines[self._pos] if self._pos < len(self._lines) else self._draft
