"""When a store's file fails: a full disk, a damaged file, and the way back.

A store that meets an SQLite error while the server runs turns it into
:class:`StoreUnavailable`, whose text is one line a client may be shown,
and tells the log through a :class:`FileHealth`: one warning when the file
stops working (which file, what is wrong, what to do), one line when it
works again, and nothing for each failure in between, so a full disk under
a flood of messages does not become a flood of tracebacks. What is already
in the file is never touched by a failure: SQLite rolls the transaction
that failed back.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FileHealth", "StoreUnavailable", "is_damage", "problem_of"]

log = logging.getLogger("tcpchat.store")

# SQLite's primary result codes (sqlite.org/rescode.html) that say what the
# disk or the file is doing, rather than what the code asked.
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26


class StoreUnavailable(RuntimeError):
    """A store cannot use its file now; the text is one line for a client."""


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file itself is damaged (or is no database)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def problem_of(exc: sqlite3.Error) -> str:
    """What ``exc`` means, in a few words for a person."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL:
        return "the disk is full"
    if code == _SQLITE_IOERR:
        return "the disk refused a write or a read; is it full?"
    if is_damage(exc):
        return "the file is damaged"
    return str(exc)


class FileHealth:
    """Whether one way of using a store's file (its writes, or its reads)
    works, told to the log once per change. Safe from any thread."""

    def __init__(self, what: str, path: Path, doing: str, damage_advice: str) -> None:
        self.what = what  # "history", "accounts"
        self.path = path
        self.doing = doing  # "write", "read"
        self.damage_advice = damage_advice
        self.problem: str | None = None
        self._lock = threading.Lock()

    @contextmanager
    def watch(self) -> Iterator[None]:
        """Run the body; an SQLite error in it becomes :class:`StoreUnavailable`,
        but for a broken constraint, which is about the data (a name taken),
        not the file, and is the caller's to answer."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self.failed(exc) from None
        self.ok()

    def failed(self, exc: sqlite3.Error) -> StoreUnavailable:
        """Note a failure (logged if it is a new one); the error to raise."""
        problem = problem_of(exc)
        with self._lock:
            new, self.problem = problem != self.problem, problem
        if new:
            advice = (
                f"stop the server, then {self.damage_advice}"
                if is_damage(exc)
                else "free some space: it goes on by itself when it can"
            )
            log.warning(
                "cannot %s the %s file %s: %s (%s). Nothing already in it is lost; %s.",
                self.doing,
                self.what,
                self.path,
                problem,
                exc,
                advice,
            )
        return StoreUnavailable(f"the server cannot {self.doing} its {self.what} now ({problem})")

    def ok(self) -> None:
        """Note that the file worked (logged if it had not)."""
        if self.problem is None:
            return
        with self._lock:
            was, self.problem = self.problem, None
        if was is not None:
            log.warning("the %s file %s works again (%s)", self.what, self.path, self.doing)
