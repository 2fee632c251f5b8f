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

Rows are read in the order of their ids, which the writer gives them, so
that a cluster node can import what it lacks from another node *before*
what it kept live (:class:`~tcpchat.store.history.HandOverStore`):
:meth:`SqliteHistory.make_room` leaves :data:`ROOM_IDS` ids free at its
place in the order, and imported rows take them, in the order the other
node kept them. Imports go through the writer thread like commits, one
chunk per transaction; exports read on a connection of their own.

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
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, Final, TypeVar

from tcpchat.store.health import FileHealth, StoreUnavailable
from tcpchat.store.history import (
    REDACT,
    TEXT_KINDS,
    Committed,
    HistoryItem,
    Reference,
    StoredItem,
)
from tcpchat.store.sqlitedb import connect, open_versioned

__all__ = ["ROOM_IDS", "SCHEMA_VERSION", "HistoryDatabaseError", "SqliteHistory"]

T = TypeVar("T")

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
_WRITTEN: Final = f"id, {_COLUMNS}, redacted"
_WIDTH: Final = len(_WRITTEN.split(", "))
# Rows per INSERT statement: SQLite runs a statement with the GIL released,
# and a row at a time (executemany) handed the GIL back and forth with the
# event loop for every message; 99 rows of 10 values keep within the oldest
# SQLite's 999 parameters.
_ROWS_PER_INSERT: Final = 999 // _WIDTH
# Ids left free by make_room for the items a hand-over imports: more than
# any retention keeps (2^40, a million million), and few enough that a file
# can make room some eight million times before SQLite's 2^63 ids run out.
ROOM_IDS: Final = 1 << 40


@functools.cache
def _insert_sql(rows: int) -> str:
    """An INSERT of ``rows`` rows (duplicate msgids in a conversation are skipped)."""
    row = "(" + ", ".join("?" * _WIDTH) + ")"
    return f"INSERT OR IGNORE INTO messages ({_WRITTEN}) VALUES " + ", ".join([row] * rows)


Ready = Callable[[int], None]
"""Told the id of a room once it has its place (make_room)."""


@dataclass(frozen=True, slots=True)
class _Commit:
    """Write ``batch``; ``rooms`` go before the items at their index in it."""

    batch: list[HistoryItem]
    done: Committed
    rooms: list[tuple[int, Ready]]


@dataclass(frozen=True, slots=True)
class _Import:
    room: int
    items: Sequence[StoredItem]
    done: Callable[[int | None], None]


@dataclass(frozen=True, slots=True)
class _CloseRoom:
    room: int
    done: Callable[[], None]


_Job = _Commit | _Import | _CloseRoom


class _Rows:
    """Rows for one write: the values of their INSERT, and the messages their
    REDACT items hide."""

    __slots__ = ("hidden", "values")

    def __init__(self) -> None:
        self.values: list[str | int] = []
        self.hidden: list[tuple[str, str]] = []

    def add(self, items: Iterable[HistoryItem], first_id: int, redacted: Iterable[bool]) -> int:
        """Add ``items`` with ids from ``first_id`` on; the id after the last."""
        values, next_id = self.values, first_id
        for item, hidden in zip(items, redacted, strict=False):
            values += (
                next_id,
                item.msgid,
                item.time_ms,
                item.target,
                item.command,
                item.source,
                _params_json(item.params),
                _to_json(item.tags) if item.tags else "{}",
                item.sender,
                int(hidden),
            )
            next_id += 1
            if item.command == REDACT:
                self.hidden.append((item.target, item.params[1]))
        return next_id


def _never() -> Iterator[bool]:
    """Redacted flags for items kept live: a redaction comes after its message."""
    while True:
        yield False


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
        # Rooms asked for since the last commit: where in the buffer each goes.
        self._rooms: list[tuple[int, Ready]] = []
        # The writer thread's own: the id the next row takes (at least; see
        # _commit), the rooms being filled (by id: the id the next imported
        # row takes, and the end of the room), and its connection.
        self._next_id = 1
        self._open_rooms: dict[int, list[int]] = {}
        self._db: sqlite3.Connection | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
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
        rooms, self._rooms = self._rooms, []
        self._jobs.put(_Commit(batch, done, rooms))

    # -- hand-over (HandOverStore) -----------------------------------------

    def wanted_since_ms(self) -> int:
        newest = self._rows("SELECT max(time_ms) FROM messages", ())[0][0]
        kept_from = (
            int((self.clock() - self.max_age_days * 86400) * 1000) if self.max_age_days > 0 else 0
        )
        return max(int(newest or 0), kept_from)

    def make_room(self, ready: Ready) -> None:
        self._rooms.append((len(self._buffer), ready))
        if not self._buffer:  # nothing to wait for: place it now
            self.commit(lambda error: None)

    def import_items(
        self, room: int, items: Sequence[StoredItem], done: Callable[[int | None], None]
    ) -> None:
        self._jobs.put(_Import(room, items, done))

    def close_room(self, room: int, done: Callable[[], None]) -> None:
        self._jobs.put(_CloseRoom(room, done))

    def export(
        self, since_ms: int, until_ms: int, chunk: int
    ) -> Generator[list[StoredItem], None, None]:
        # Time follows the order kept (every node keeps the stream's order,
        # stamped with its entries' times), so the span is one range of ids,
        # found by the time index, then read a chunk at a time along the ids.
        with self._reads.watch():
            db = connect(self.path)
        try:
            with self._reads.watch():
                first, last = db.execute(
                    "SELECT (SELECT min(id) FROM messages WHERE time_ms >= ?), "
                    "(SELECT max(id) FROM messages WHERE time_ms <= ?)",
                    (since_ms, until_ms),
                ).fetchone()
            after = (first or 0) - 1
            while first is not None and last is not None and after < last:
                with self._reads.watch():
                    rows = db.execute(
                        f"SELECT id, {_COLUMNS}, redacted FROM messages WHERE id > ? AND id <= ? "
                        "AND time_ms BETWEEN ? AND ? ORDER BY id LIMIT ?",
                        (after, last, since_ms, until_ms, chunk),
                    ).fetchall()
                if not rows:
                    return
                after = rows[-1][0]
                yield [(_row(row[1:-1]), bool(row[-1])) for row in rows]
        finally:
            db.close()

    # -- the writer thread -------------------------------------------------

    def _write_loop(self) -> None:
        next_prune = 0.0
        while (job := self._jobs.get()) is not None:
            if isinstance(job, _Commit):
                if not job.batch and not job.rooms:
                    job.done(None)  # nothing to write, and nothing learnt about the file
                    continue
                placed: list[tuple[int, Ready]] = []
                written = self._attempt(functools.partial(self._commit, job=job, placed=placed))
                for _, ready in job.rooms[len(placed) :]:  # the file failed before their turn
                    placed.append((self._place_room(), ready))
                for room, ready in placed:  # in their place whether or not the batch is kept
                    ready(room)
                job.done(written if isinstance(written, StoreUnavailable) else None)
            elif isinstance(job, _Import):
                imported = self._attempt(functools.partial(self._import, job=job))
                job.done(None if isinstance(imported, StoreUnavailable) else imported)
            else:
                self._attempt(functools.partial(self._close_room, room=job.room))
                self._open_rooms.pop(job.room, None)
                job.done()
            if self._db is not None and self.clock() >= next_prune:
                next_prune = self.clock() + PRUNE_INTERVAL
                self._prune(self._db)
        if self._db is not None:
            self._db.close()

    def _attempt(self, work: Callable[[sqlite3.Connection], T]) -> T | StoreUnavailable:
        """``work`` on the writer's connection; if the file fails it, why."""
        try:
            with self._writes.watch():
                self._db = self._db or connect(self.path)
                return work(self._db)
        except StoreUnavailable as exc:
            # Whatever state the failure left the connection in, the next
            # job starts on a fresh one.
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
            self._db = None
            return exc

    def _place_room(self) -> int:
        """Leave the next ROOM_IDS ids free; the room's id (its first)."""
        room = self._next_id
        self._open_rooms[room] = [room, room + ROOM_IDS]
        self._next_id += ROOM_IDS
        return room

    def _commit(
        self, db: sqlite3.Connection, job: _Commit, placed: list[tuple[int, Ready]]
    ) -> None:
        """Write a commit's batch, numbered on from the last row, placing its
        rooms among the rows (into ``placed``). Rows are numbered under the
        write lock: another store writing the same file numbers its rows
        after these. A batch that fails leaves its ids unused."""
        rows, batch, start = _Rows(), job.batch, 0
        with db:
            db.execute("BEGIN IMMEDIATE")
            (top,) = db.execute("SELECT coalesce(max(id), 0) + 1 FROM messages").fetchone()
            self._next_id = max(self._next_id, top)
            for at, ready in job.rooms:
                self._next_id = rows.add(batch[start:at], self._next_id, _never())
                placed.append((self._place_room(), ready))
                start = at
            self._next_id = rows.add(batch[start:] if start else batch, self._next_id, _never())
            self._insert(db, rows)

    def _import(self, db: sqlite3.Connection, job: _Import) -> int:
        """Write imported items on in their room; how many were new."""
        room = self._open_rooms.get(job.room)
        if room is None:  # closed already: a hand-over given up
            return 0
        next_id, end = room
        items = job.items[: end - next_id]
        rows = _Rows()
        room[0] = rows.add((item for item, _ in items), next_id, (hidden for _, hidden in items))
        with db:
            db.execute("BEGIN IMMEDIATE")
            return self._insert(db, rows)

    def _close_room(self, db: sqlite3.Connection, room: int) -> None:
        """Hide what the REDACT items kept since the room was made name: one
        kept live may have come before its message came into the room."""
        if room not in self._open_rooms:
            return
        rows = _Rows()
        with db:
            db.execute("BEGIN IMMEDIATE")
            rows.hidden = [
                (str(target), str(msgid))
                for target, msgid in db.execute(
                    "SELECT target, json_extract(params, '$[1]') FROM messages "
                    "WHERE id >= ? AND command = ?",
                    (room, REDACT),
                )
            ]
            self._insert(db, rows)

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: _Rows) -> int:
        """Insert ``rows`` and hide what their redactions name, in the
        transaction under way; how many rows were new."""
        values, hidden = rows.values, rows.hidden
        step = _ROWS_PER_INSERT * _WIDTH
        before = db.total_changes
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            db.execute(_insert_sql(len(chunk) // _WIDTH), chunk)
        inserted = db.total_changes - before
        if hidden:
            # The message, and the lines of a message of several lines:
            # msgids "<msgid>.<n>", those between "<msgid>." and "<msgid>/".
            db.executemany(
                "UPDATE messages SET redacted = 1 WHERE target = ? "
                "AND (msgid = ? OR (msgid > ? AND msgid < ?))",
                [(target, msgid, msgid + ".", msgid + "/") for target, msgid in hidden],
            )
        return inserted

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
