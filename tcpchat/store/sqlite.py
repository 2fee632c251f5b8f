"""History in an SQLite file: the embedded, durable default.

Theory of operation: the database runs in WAL mode with ``synchronous =
FULL``, so a committed transaction survives a killed process and a power
cut. Writes go through one writer thread that owns its own connection:
:meth:`SqliteHistory.commit` hands it everything appended since the last
commit, and the thread writes it in one transaction and then calls back.
While it works, new items pile up for the next transaction (group commit),
so the cost of an fsync is shared by every message that arrived during it.
Reads use a second connection on the caller's thread; WAL lets them run
beside the writer.

The schema carries a version in ``PRAGMA user_version``: version 1 (before
message senders and redaction) is migrated when opened; a file with a
version this code does not know is refused rather than misread.

Redaction (an item of kind ``REDACT``) is written by the writer thread like
any item, in the same transaction as a flag on the message it hides, so
the message is hidden by the time anyone is told of its redaction.

A file that is damaged is found at start (``open_versioned``). When a
commit fails (the disk is full, the file went bad), nothing of the batch
is kept and ``done`` is told why; the server then withdraws the batch's
messages before anyone sees them (:mod:`tcpchat.server.durability`). The
writer opens its connection again for the next batch, so the store
recovers by itself when space returns. Reads that fail raise
:class:`~tcpchat.store.health.StoreUnavailable`. Either way the log says
so once, not once per batch (:class:`~tcpchat.store.health.FileHealth`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, Final

from tcpchat.store.health import FileHealth, StoreUnavailable
from tcpchat.store.history import REDACT, TEXT_KINDS, Committed, HistoryItem, Reference
from tcpchat.store.sqlitedb import connect, open_versioned

__all__ = ["SCHEMA_VERSION", "HistoryDatabaseError", "SqliteHistory"]

SCHEMA_VERSION: Final = 2
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    target TEXT NOT NULL,
    command TEXT NOT NULL,
    source TEXT NOT NULL,
    params TEXT NOT NULL,
    tags TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    redacted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_target_msgid ON messages (target, msgid);
CREATE INDEX IF NOT EXISTS messages_target_id ON messages (target, id);
CREATE INDEX IF NOT EXISTS messages_time ON messages (time_ms);
"""
_MIGRATIONS: Final = {
    1: (
        "ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE messages ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0",
    )
}
"""Version 2 added who sent each message, and redaction (draft/message-redaction)."""
# One encoder for every row: json.dumps(..., ensure_ascii=False) builds a new
# JSONEncoder per call, which was a tenth of the writer thread's time.
_to_json: Final = json.JSONEncoder(ensure_ascii=False).encode


def _params_json(params: tuple[str, ...]) -> str:
    """``_to_json(params)``, the same text, at a third of the cost.

    It runs on the writer thread, once per message, holding the GIL the
    event loop needs (bench/PROFILE.md, history).
    """
    return "[" + ", ".join(map(encode_basestring, params)) + "]"


# Retention runs in the writer thread at most this often (seconds).
PRUNE_INTERVAL: Final = 600.0
DAMAGE_ADVICE: Final = "move the file aside (a new one is made), or start with --no-history"


class HistoryDatabaseError(RuntimeError):
    """The history file cannot be used; the message says why and what to do."""


def _row(row: tuple[str, int, str, str, str, str, str, str]) -> HistoryItem:
    msgid, time_ms, target, command, source, params, tags, sender = row
    return HistoryItem(
        msgid,
        time_ms,
        target,
        command,
        source,
        tuple(json.loads(params)),
        json.loads(tags),
        sender,
    )


_COLUMNS: Final = "msgid, time_ms, target, command, source, params, tags, sender"
_WIDTH: Final = len(_COLUMNS.split(", "))
# Rows per INSERT statement: SQLite runs a statement with the GIL released,
# and a row at a time (executemany) handed the GIL back and forth with the
# event loop for every message; 100 rows keep within the oldest SQLite's
# 999 parameters.
_ROWS_PER_INSERT: Final = 100


@functools.cache
def _insert_sql(rows: int) -> str:
    """An INSERT of ``rows`` rows (duplicate msgids in a conversation are skipped)."""
    row = "(" + ", ".join("?" * _WIDTH) + ")"
    return f"INSERT OR IGNORE INTO messages ({_COLUMNS}) VALUES " + ", ".join([row] * rows)


def _contains_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) for "contains ``text``": the
    text's own ``%`` and ``_`` (and the escape character) match only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqliteHistory:
    """A :class:`~tcpchat.store.history.HistoryStore` in one SQLite file."""

    def __init__(
        self,
        path: Path,
        max_age_days: float = 0,
        max_per_target: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_age_days = max_age_days
        self.max_per_target = max_per_target
        self.clock = clock
        self._reader = open_versioned(
            path,
            _SCHEMA,
            SCHEMA_VERSION,
            "history",
            HistoryDatabaseError,
            "Check the path and its permissions, or turn history off.",
            DAMAGE_ADVICE,
            _MIGRATIONS,
        )
        self._writes = FileHealth("history", path, "write", DAMAGE_ADVICE)
        self._reads = FileHealth("history", path, "read", DAMAGE_ADVICE)
        self._buffer: list[HistoryItem] = []
        self._jobs: queue.Queue[tuple[list[HistoryItem], Committed] | None] = queue.Queue()
        self._writer = threading.Thread(
            target=self._write_loop, name="tcpchat-history", daemon=True
        )
        self._writer.start()

    # -- writing ---------------------------------------------------------

    def append(self, items: Sequence[HistoryItem]) -> None:
        self._buffer.extend(items)

    def pending(self) -> int:
        return len(self._buffer)

    def commit(self, done: Committed) -> None:
        batch, self._buffer = self._buffer, []
        self._jobs.put((batch, done))

    def _write_loop(self) -> None:
        db: sqlite3.Connection | None = None
        next_prune = 0.0
        while True:
            job = self._jobs.get()
            if job is None:
                break
            batch, done = job
            if not batch:  # nothing to write, and nothing learnt about the file
                done(None)
                continue
            error = None
            try:
                with self._writes.watch():
                    db = db or connect(self.path)
                    self._insert(db, batch)
            except StoreUnavailable as exc:
                error = exc
                # Whatever state the failure left the connection in, the
                # next batch starts on a fresh one.
                if db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
                db = None
            done(error)
            if db is not None and self.clock() >= next_prune:
                next_prune = self.clock() + PRUNE_INTERVAL
                self._prune(db)
        if db is not None:
            db.close()

    def _insert(self, db: sqlite3.Connection, batch: list[HistoryItem]) -> None:
        if not batch:
            return
        values: list[str | int] = []
        hidden: list[tuple[str, str]] = []
        for item in batch:
            values += (
                item.msgid,
                item.time_ms,
                item.target,
                item.command,
                item.source,
                _params_json(item.params),
                _to_json(item.tags) if item.tags else "{}",
                item.sender,
            )
            if item.command == REDACT:
                hidden.append((item.target, item.params[1]))
        step = _ROWS_PER_INSERT * _WIDTH
        with db:
            db.execute("BEGIN")
            for start in range(0, len(values), step):
                chunk = values[start : start + step]
                db.execute(_insert_sql(len(chunk) // _WIDTH), chunk)
            if hidden:
                # The message, and the lines of a message of several lines:
                # msgids "<msgid>.<n>", those between "<msgid>." and "<msgid>/".
                db.executemany(
                    "UPDATE messages SET redacted = 1 WHERE target = ? "
                    "AND (msgid = ? OR (msgid > ? AND msgid < ?))",
                    [(target, msgid, msgid + ".", msgid + "/") for target, msgid in hidden],
                )

    def _prune(self, db: sqlite3.Connection) -> None:
        """Apply retention: drop items older than max_age_days, and past max_per_target."""
        try:
            with db:
                db.execute("BEGIN")
                if self.max_age_days > 0:
                    cutoff = int((self.clock() - self.max_age_days * 86400) * 1000)
                    db.execute("DELETE FROM messages WHERE time_ms < ?", (cutoff,))
                if self.max_per_target > 0:
                    db.execute(
                        """DELETE FROM messages WHERE id IN (
                            SELECT id FROM (
                                SELECT id, ROW_NUMBER() OVER (
                                    PARTITION BY target ORDER BY id DESC) AS n
                                FROM messages)
                            WHERE n > ?)""",
                        (self.max_per_target,),
                    )
        except sqlite3.Error as exc:
            self._writes.failed(exc)  # said once; the next prune tries again

    def prune_now(self) -> None:
        """Apply retention at once, on the caller's thread (for tools and tests)."""
        self._prune(self._reader)

    def close(self) -> None:
        """Write what is pending, stop the writer, close the files."""
        self.commit(lambda error: None)  # a failure is in the log already
        self._jobs.put(None)
        self._writer.join(30)
        self._reader.close()

    # -- reading ---------------------------------------------------------

    def _rows(self, sql: str, args: Sequence[object]) -> list[Any]:
        """Every row ``sql`` reads; StoreUnavailable if the file cannot be read."""
        with self._reads.watch():
            return self._reader.execute(sql, args).fetchall()

    def _bound(self, target: str, ref: Reference, op: str) -> tuple[str, int] | None:
        """An SQL condition placing an item ``op`` ``ref``: by row order for a
        msgid (exact, even within one millisecond), by time for a timestamp."""
        if ref.msgid is None:
            return (f"time_ms {op} ?", int(ref.time_ms or 0))
        rows = self._rows(
            "SELECT id FROM messages WHERE target = ? AND msgid = ?", (target, ref.msgid)
        )
        return (f"id {op} ?", int(rows[0][0])) if rows else None

    def select(
        self,
        target: str,
        after: Reference | None,
        before: Reference | None,
        limit: int,
        kinds: frozenset[str],
        newest: bool,
    ) -> list[HistoryItem]:
        conditions = [
            "target = ?",
            f"command IN ({','.join('?' * len(kinds))})",
            "redacted = 0",
        ]
        args: list[object] = [target, *sorted(kinds)]
        for ref, op in ((after, ">"), (before, "<")):
            if ref is not None:
                bound = self._bound(target, ref, op)
                if bound is None:
                    return []  # an unknown msgid places nothing
                conditions.append(bound[0])
                args.append(bound[1])
        order = "DESC" if newest else "ASC"
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM messages WHERE {' AND '.join(conditions)} "
            f"ORDER BY id {order} LIMIT ?",
            (*args, limit),
        )
        items = [_row(r) for r in rows]
        if newest:
            items.reverse()
        return items

    def find(self, target: str, ref: Reference) -> HistoryItem | None:
        if ref.msgid is None:
            return None
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM messages WHERE target = ? AND msgid = ? AND redacted = 0",
            (target, ref.msgid),
        )
        return _row(rows[0]) if rows else None

    def targets(
        self, channels: Sequence[str], nick: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        marks = ",".join("?" * len(channels)) or "NULL"
        rows = self._rows(
            f"""SELECT target, MAX(time_ms) AS latest FROM messages
                WHERE target IN ({marks})
                   OR (instr(target, ' ') > 0
                       AND (substr(target, 1, instr(target, ' ') - 1) = ?
                            OR substr(target, instr(target, ' ') + 1) = ?))
                GROUP BY target HAVING latest > ? AND latest < ?
                ORDER BY latest ASC, target LIMIT ?""",
            (*channels, nick, nick, start_ms, end_ms, limit),
        )
        return [(str(t), int(latest)) for t, latest in rows]

    def search(
        self, text: str, target: str | None, before: HistoryItem | None, limit: int
    ) -> list[HistoryItem]:
        # LIKE folds the case of ASCII letters only; that is SQLite's own rule,
        # and it keeps the scan in C, on the server's thread, rather than
        # calling back into Python for every row. A message's text is the
        # second of its params.
        conditions = [
            f"command IN ({','.join('?' * len(TEXT_KINDS))})",
            "redacted = 0",
            "json_extract(params, '$[1]') LIKE ? ESCAPE '\\'",
        ]
        args: list[object] = [*sorted(TEXT_KINDS), _contains_pattern(text)]
        if target is None:
            conditions.append("instr(target, ' ') = 0")  # channels: a private key has a space
        else:
            conditions.append("target = ?")
            args.append(target)
        if before is not None:
            # An item that is gone (retention) places nothing: NULL compares false.
            conditions.append("id < (SELECT id FROM messages WHERE target = ? AND msgid = ?)")
            args += [before.target, before.msgid]
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM messages WHERE {' AND '.join(conditions)} "
            "ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [_row(r) for r in rows]
