"""Messages of several lines (IRCv3 ``draft/multiline``), both ways.

Out: :func:`batch_lines` turns a text of several lines into the lines of a
``draft/multiline`` batch, each line that is too long for one message split
and marked ``draft/multiline-concat`` so it joins up again, or None when the
text does not fit the server's limits (``max-bytes``, ``max-lines``); the
session then sends it line by line, as it would to a server without the
capability.

In: :class:`MultilineCollector` gathers the lines of a batch the server
sends and, when it closes, gives back one PRIVMSG (or NOTICE) whose text is
the whole message, with the tags of the batch's opening line (its msgid,
time, reply), as if it had come in one piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from tcpchat.client.splitting import MIN_ROOM
from tcpchat.irc import Message

__all__ = ["CAP", "CONCAT", "Limits", "MultilineCollector", "batch_lines"]

CAP: Final = "draft/multiline"
CONCAT: Final = "draft/multiline-concat"
MAX_OPEN: Final = 10
"""Batches the server may have open at once; a misbehaving one cannot grow memory."""
MAX_GATHERED: Final = 1000
"""Lines gathered for one batch at most; the rest are dropped."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's limits, from the capability's value (``max-bytes=…,max-lines=…``)."""

    max_bytes: int
    max_lines: int

    @classmethod
    def parse(cls, value: str) -> Limits | None:
        """None where the value gives no max-bytes (the spec requires it)."""
        tokens = dict(token.partition("=")[::2] for token in value.split(",") if token)
        max_bytes = tokens.get("max-bytes", "")
        max_lines = tokens.get("max-lines", "")
        if not max_bytes.isdigit():
            return None
        return cls(int(max_bytes), int(max_lines) if max_lines.isdigit() else 1_000_000)


def batch_lines(text: str, room: int, limits: Limits) -> list[tuple[str, bool]] | None:
    """The (line, continues-the-one-before) pairs of a batch for ``text``, each
    line at most ``room`` bytes; None if it would break the limits."""
    room = max(room, MIN_ROOM)
    out: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        data = line.encode()
        first = True
        while True:
            cut = len(data)
            if cut > room:
                cut = room
                while cut > 0 and data[cut] & 0xC0 == 0x80:
                    cut -= 1  # never inside a UTF-8 sequence
                # After a space near the end, which stays on this line, so the
                # words join up again and a client without multiline reads
                # whole words (multiline, "Splitting long lines").
                space = data.rfind(b" ", cut - cut // 4, cut)
                if space > 0:
                    cut = space + 1
            out.append((data[:cut].decode(), not first))
            data, first = data[cut:], False
            if not data:
                break
    # Trailing blank lines say nothing; a batch of blank lines is refused.
    while out and not out[-1][0]:
        out.pop()
    size = len(text.rstrip("\n").encode())
    if not out or len(out) > limits.max_lines or size > limits.max_bytes:
        return None
    return out


@dataclass(slots=True)
class _Gathering:
    opening: Message
    target: str
    lines: list[tuple[str, bool]] = field(default_factory=list)
    command: str = "PRIVMSG"


class MultilineCollector:
    """Batches of several lines being received, by reference."""

    def __init__(self) -> None:
        self._open: dict[str, _Gathering] = {}

    def opened(self, msg: Message) -> bool:
        """``BATCH +ref draft/multiline <target>``: start gathering; False for other batches."""
        params = msg.params
        if len(params) < 3 or not params[0].startswith("+") or params[1] != CAP:
            return False
        if len(self._open) < MAX_OPEN:
            self._open[params[0][1:]] = _Gathering(msg, params[2])
        return True

    def collect(self, msg: Message) -> bool:
        """Keep a line of an open batch; False for every other line."""
        gathering = self._open.get(msg.tags.get("batch", "")) if msg.tags else None
        if gathering is None:
            return False
        if msg.command in ("PRIVMSG", "NOTICE") and len(msg.params) > 1:
            gathering.command = msg.command
            if len(gathering.lines) < MAX_GATHERED:
                gathering.lines.append((msg.params[1], CONCAT in msg.tags))
        return True

    def closed(self, msg: Message) -> Message | None:
        """``BATCH -ref``: the whole message of a batch this collector gathered."""
        if not msg.params or not msg.params[0].startswith("-"):
            return None
        gathering = self._open.pop(msg.params[0][1:], None)
        if gathering is None or not gathering.lines:
            return None
        text = ""
        for i, (line, concat) in enumerate(gathering.lines):
            text += line if concat or not i else "\n" + line
        opening = gathering.opening
        return Message(gathering.command, (gathering.target, text), opening.source, opening.tags)

    def clear(self) -> None:
        """The connection is gone, and with it every open batch."""
        self._open.clear()
