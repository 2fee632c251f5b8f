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

The schema carries a version in ``PRAGMA user_version``: versions 1 (before
message senders and redaction), 2 (before runs) and 3 (a run's texts in
JSON) are migrated when opened; a file with a version this code does not
know is refused rather than misread.

A run (:class:`~tcpchat.store.history.HistoryRun`) is one row, since a row
per message was most of what a flood of private messages cost: ``run`` is
how many messages it holds (0 for a row of one item), ``params`` is the
JSON array of the one param they share (the recipient as shown), ``texts``
their texts joined by LF (a text is one IRC line's, so it holds none; NULL
in a row of one item), and ``run_redacted`` the JSON array of the lines
redacted (NULL: none). The texts are not JSON because encoding them was
most of what the writer thread did while holding the GIL that the event
loop needs: 0.2 to 0.3 µs a message, where joining them costs 0.02
(bench/PROFILE.md, step 20). A message's place in its conversation is (row
id, line), the line 0 for a row of one item: SQL picks rows in order of id,
and each row's visible messages are taken from it in order of line
(``_lines``), so that every read returns what it would had each message had
a row of its own.

Redaction (an item of kind ``REDACT``) is written by the writer thread like
any item, in the same transaction as a flag on the message it hides, so
the message is hidden by the time anyone is told of its redaction.

Rows are read in the order of their ids, which the writer gives them, so
that a cluster node can import what it lacks from another node *before*
what it kept live (:class:`~tcpchat.store.history.HandOverStore`):
:meth:`SqliteHistory.make_room` leaves :data:`ROOM_IDS` ids free at its
place in the order, and imported rows take them, in the order the other
node kept them. A run travels as its messages, each with its own flag of
redaction, and is imported as a row per message: reads answer the same
either way. Where the answer meets what the node keeps (at a millisecond
both have), a message is kept once: msgids skip most, an imported message
of a run kept as one row is skipped (``_in_kept_runs``), and while a room
is open a run kept live is written a row per message (``_live``).
Imports go through the writer thread like commits, one chunk per
transaction; exports read on a connection of their own.

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
    HistoryRecord,
    HistoryRun,
    Reference,
    StoredItem,
    split_run_msgid,
)
from tcpchat.store.sqlitedb import Migration, connect, open_versioned

__all__ = ["ROOM_IDS", "SCHEMA_VERSION", "HistoryDatabaseError", "SqliteHistory"]

T = TypeVar("T")

SCHEMA_VERSION: Final = 4
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
    redacted INTEGER NOT NULL DEFAULT 0,
    run INTEGER NOT NULL DEFAULT 0,
    run_redacted TEXT,
    texts TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_target_msgid ON messages (target, msgid);
CREATE INDEX IF NOT EXISTS messages_target_id ON messages (target, id);
CREATE INDEX IF NOT EXISTS messages_time ON messages (time_ms);
"""
# One encoder for every row: json.dumps(..., ensure_ascii=False) builds a new
# JSONEncoder per call, which was a tenth of the writer thread's time.
_to_json: Final = json.JSONEncoder(ensure_ascii=False).encode


def _params_json(params: Iterable[str]) -> str:
    """``_to_json(params)``, the same text, at a third of the cost.

    It runs on the writer thread, once per message, holding the GIL the
    event loop needs (bench/PROFILE.md, history).
    """
    return "[" + ", ".join(map(encode_basestring, params)) + "]"


def _texts_out_of_json(db: sqlite3.Connection) -> None:
    """Take each run's texts out of its params' JSON into ``texts`` (version 3 to 4)."""
    rows = db.execute("SELECT id, params FROM messages WHERE run > 0").fetchall()
    moved = []
    for row_id, params in rows:
        shown, *texts = json.loads(params)
        moved.append((_params_json([shown]), "\n".join(texts), row_id))
    db.executemany("UPDATE messages SET params = ?, texts = ? WHERE id = ?", moved)


_MIGRATIONS: Final[dict[int, tuple[Migration, ...]]] = {
    1: (
        "ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE messages ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0",
    ),
    2: (
        "ALTER TABLE messages ADD COLUMN run INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE messages ADD COLUMN run_redacted TEXT",
    ),
    3: ("ALTER TABLE messages ADD COLUMN texts TEXT", _texts_out_of_json),
}
"""Version 2 added who sent each message, and redaction (draft/message-redaction);
version 3, runs: every row of before holds one item, as ``run = 0`` says;
version 4, a run's texts joined by LF rather than in its params' JSON."""


# Retention runs in the writer thread at most this often (seconds).
PRUNE_INTERVAL: Final = 600.0
DAMAGE_ADVICE: Final = "move the file aside (a new one is made), or start with --no-history"


class HistoryDatabaseError(RuntimeError):
    """The history file cannot be used; the message says why and what to do."""


_COLUMNS: Final = "msgid, time_ms, target, command, source, params, tags, sender, run, texts"
_WRITTEN: Final = f"id, {_COLUMNS}, redacted"
"""What a write gives a row: the id the writer numbers it with, what
``_values`` makes of its record, and whether it is redacted (an import's)."""
_WIDTH: Final = len(_WRITTEN.split(", "))
_READ: Final = f"id, {_COLUMNS}, run_redacted"
"""What reads take of a row: its id (its place), what it was written with,
and which of a run's lines are redacted."""
_Row = tuple[int, str, int, str, str, str, str, str, str, int, str | None, str | None]
"""A row as ``_READ`` reads it (an export adds a column after)."""
Place = tuple[int, int]
"""Where a message is in its conversation: (row id, line in the row)."""


def _record(row: _Row) -> HistoryRecord:
    """The item or the run a row was written from."""
    _, msgid, time_ms, target, command, source, params, tags, sender, run, texts, *_ = row
    values = json.loads(params)
    if run and texts is not None:
        return HistoryRun(
            msgid,
            time_ms,
            target,
            command,
            source,
            values[0],
            tuple(texts.split("\n")),
            json.loads(tags),
            sender,
        )
    return HistoryItem(
        msgid, time_ms, target, command, source, tuple(values), json.loads(tags), sender
    )


def _lines(row: _Row) -> list[int]:
    """The lines of a row that are no redacted message, oldest first: 0 for
    a row of one item (whose redaction the SQL of every read leaves out)."""
    run, redacted = row[9], row[11]
    if not run:
        return [0]
    hidden = set(json.loads(redacted)) if redacted else ()
    return [line for line in range(run) if line not in hidden]


def _one_each(records: Iterable[HistoryRecord]) -> Iterator[HistoryItem]:
    """The records' messages, a run's one item each, as a hand-over brings them."""
    for record in records:
        if isinstance(record, HistoryRun):
            yield from (record.item(line) for line in range(len(record.texts)))
        else:
            yield record


def _stored(row: _Row, redacted: bool) -> list[StoredItem]:
    """A row's messages as a hand-over carries them, one item each (the
    importer keeps them a row each): hidden if the row is ``redacted``, or,
    in a run, if its line is, so that a redacted message stays hidden."""
    shown = _lines(row)
    return [
        (item, redacted or line not in shown) for line, item in enumerate(_one_each([_record(row)]))
    ]


_IN_KEPT_RUNS: Final = (
    "SELECT json_extract(c.value, '$[0]') FROM json_each(?) AS c JOIN messages AS m "
    "ON m.target = json_extract(c.value, '$[1]') AND m.msgid = json_extract(c.value, '$[2]') "
    "AND m.run > json_extract(c.value, '$[3]')"
)
"""Which of the candidates, a JSON array of [index, conversation, run msgid,
line], are messages of a run kept as one row."""


def _message(record: HistoryRecord, line: int) -> HistoryItem:
    """The item at ``line`` of a row's record."""
    return record.item(line) if isinstance(record, HistoryRun) else record


def _values(record: HistoryRecord) -> tuple[str | int | None, ...]:
    """What the INSERT of ``record`` writes (``_COLUMNS``)."""
    if isinstance(record, HistoryRun):
        params, run, texts = (
            _params_json((record.shown,)),
            len(record.texts),
            "\n".join(record.texts),
        )
    else:
        params, run, texts = _params_json(record.params), 0, None
    return (
        record.msgid,
        record.time_ms,
        record.target,
        record.command,
        record.source,
        params,
        _to_json(record.tags) if record.tags else "{}",
        record.sender,
        run,
        texts,
    )


def _hide(db: sqlite3.Connection, hidden: Sequence[tuple[str, str]]) -> None:
    """Hide the messages that REDACT items name, (conversation, msgid) each,
    in the transaction under way."""
    # The message, and the lines of a message of several lines:
    # msgids "<msgid>.<n>", those between "<msgid>." and "<msgid>/".
    db.executemany(
        "UPDATE messages SET redacted = 1 WHERE target = ? "
        "AND (msgid = ? OR (msgid > ? AND msgid < ?))",
        [(target, msgid, msgid + ".", msgid + "/") for target, msgid in hidden],
    )
    # A message of a run: its line, in the run's row, once (the close of a
    # hand-over's room hides again what was hidden live).
    lines = []
    for target, msgid in hidden:
        place = split_run_msgid(msgid)
        if place is not None:
            head, line = place
            lines.append((line, target, head, line, line))
    db.executemany(
        "UPDATE messages SET run_redacted = "
        "json_insert(coalesce(run_redacted, '[]'), '$[#]', ?) "
        "WHERE target = ? AND msgid = ? AND run > ? "
        "AND NOT EXISTS (SELECT 1 FROM json_each(run_redacted) WHERE value = ?)",
        lines,
    )


# Rows per INSERT statement: SQLite runs a statement with the GIL released,
# and a row at a time (executemany) handed the GIL back and forth with the
# event loop for every message; as many rows as keep within the oldest
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

    batch: list[HistoryRecord]
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
        self.values: list[str | int | None] = []
        self.hidden: list[tuple[str, str]] = []

    def add(self, records: Iterable[HistoryRecord], first_id: int, redacted: Iterable[bool]) -> int:
        """Add ``records`` with ids from ``first_id`` on; the id after the last."""
        values, next_id = self.values, first_id
        for item, hidden in zip(records, redacted, strict=False):
            values += (next_id, *_values(item), int(hidden))
            next_id += 1
            if isinstance(item, HistoryItem) and item.command == REDACT:
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


def _contains(text: str) -> Callable[[str], bool]:
    """Whether a text contains ``text``, as ``LIKE`` of :func:`_contains_pattern`
    tells: ASCII letters of either case alike, every other character only itself."""
    needle = text.encode().lower()  # bytes.lower folds ASCII letters alone, as LIKE does
    return lambda line: needle in line.encode().lower()


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
        self._buffer: list[HistoryRecord] = []
        self._pending = 0  # the items in _buffer, a run's counted one by one
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

    def append(self, items: Sequence[HistoryRecord]) -> None:
        self._buffer.extend(items)
        for item in items:
            self._pending += len(item.texts) if type(item) is HistoryRun else 1

    def pending(self) -> int:
        return self._pending

    def commit(self, done: Committed) -> None:
        batch, self._buffer, self._pending = self._buffer, [], 0
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
        # A run's row gives its messages one item each (_stored), so a chunk
        # of rows may make more than one chunk of items.
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
                        f"SELECT {_READ}, redacted FROM messages WHERE id > ? AND id <= ? "
                        "AND time_ms BETWEEN ? AND ? ORDER BY id LIMIT ?",
                        (after, last, since_ms, until_ms, chunk),
                    ).fetchall()
                if not rows:
                    return
                after = rows[-1][0]
                items = [stored for row in rows for stored in _stored(row, bool(row[-1]))]
                for start in range(0, len(items), chunk):
                    yield items[start : start + chunk]
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
                self._next_id = rows.add(self._live(batch[start:at]), self._next_id, _never())
                placed.append((self._place_room(), ready))
                start = at
            self._next_id = rows.add(
                self._live(batch[start:] if start else batch), self._next_id, _never()
            )
            self._insert(db, rows)

    def _live(self, batch: list[HistoryRecord]) -> Iterable[HistoryRecord]:
        """What of ``batch`` goes in a row each. While a room is open, a run
        goes as its messages: the answer may carry it too (its span and the
        replica meet at a millisecond), as messages, and a row per message
        makes whichever comes second be skipped by its msgid."""
        return _one_each(batch) if self._open_rooms else batch

    def _import(self, db: sqlite3.Connection, job: _Import) -> int:
        """Write imported items on in their room; how many were new."""
        room = self._open_rooms.get(job.room)
        if room is None:  # closed already: a hand-over given up
            return 0
        next_id, end = room
        items = job.items[: end - next_id]
        rows = _Rows()
        with db:
            db.execute("BEGIN IMMEDIATE")
            kept = self._in_kept_runs(db, items)
            new = [stored for n, stored in enumerate(items) if n not in kept]
            room[0] = rows.add((item for item, _ in new), next_id, (hidden for _, hidden in new))
            return self._insert(db, rows)

    @staticmethod
    def _in_kept_runs(db: sqlite3.Connection, items: Sequence[StoredItem]) -> set[int]:
        """The indexes of the items that are messages of a run kept as one
        row (a node that comes back kept it before it went): a msgid of
        their own would not skip them."""
        candidates = [
            (n, item.target, *place)
            for n, (item, _) in enumerate(items)
            if (place := split_run_msgid(item.msgid)) is not None
        ]
        if not candidates:
            return set()
        return {int(n) for (n,) in db.execute(_IN_KEPT_RUNS, (_to_json(candidates),))}

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
            _hide(db, hidden)
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
                    # Rows go whole: a row goes when its newer rows hold
                    # max_per_target items (a run's counted one by one), so
                    # the run the oldest kept item is in stays whole, and up
                    # to its length less one more items stay than were asked.
                    db.execute(
                        """DELETE FROM messages WHERE id IN (
                            SELECT id FROM (
                                SELECT id, SUM(max(run, 1)) OVER (
                                    PARTITION BY target ORDER BY id DESC
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newer
                                FROM messages)
                            WHERE newer >= ?)""",
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

    def _named(self, target: str, msgid: str, condition: str = "") -> tuple[_Row, int] | None:
        """The row of the message ``msgid`` names in the conversation, and
        its line in it; None if there is none (a run's own msgid names
        none). ``condition`` is SQL the row must meet besides."""
        in_run = split_run_msgid(msgid)
        head, line = in_run if in_run is not None else (None, 0)
        rows = self._rows(
            f"SELECT {_READ} FROM messages WHERE target = ? "
            f"AND (msgid = ? AND run = 0 OR msgid = ? AND run > ?) {condition}",
            (target, msgid, head, line),
        )
        if not rows:
            return None
        row = rows[0]
        return row, line if row[9] else 0

    def _place(self, target: str, msgid: str) -> Place | None:
        """Where the message ``msgid`` names is, redacted or not (a reference
        may name one that is)."""
        named = self._named(target, msgid)
        return None if named is None else (named[0][0], named[1])

    def _messages(
        self,
        sql: str,
        args: Sequence[object],
        limit: int,
        newest: bool,
        after: Place | None = None,
        before: Place | None = None,
        wanted: Callable[[str], bool] | None = None,
    ) -> list[HistoryItem]:
        """Up to ``limit`` messages of the rows ``sql`` reads (``_READ``), in
        the order it reads them (by id, newest first if ``newest``): of each
        row, the lines that are no redacted message, lie strictly between the
        places and, in a run, have a text ``wanted`` wants (if given), from
        the same end.

        Rows are fetched a few at a time as they are needed: each row is at
        least one message, and a limit may end inside a run.
        """
        items: list[HistoryItem] = []
        with self._reads.watch():
            cursor = self._reader.execute(sql, args)
            try:
                while len(items) < limit:
                    rows = cursor.fetchmany(limit - len(items))
                    if not rows:
                        break
                    for row in rows:
                        record = _record(row)
                        shown = _lines(row)
                        if wanted is not None and isinstance(record, HistoryRun):
                            shown = [line for line in shown if wanted(record.texts[line])]
                        lines = [
                            line
                            for line in shown
                            if (after is None or (row[0], line) > after)
                            and (before is None or (row[0], line) < before)
                        ]
                        if newest:
                            lines.reverse()
                        if lines:
                            items += (
                                _message(record, line) for line in lines[: limit - len(items)]
                            )
            finally:
                cursor.close()
        return items

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
        places: list[Place | None] = []
        for ref, op in ((after, ">"), (before, "<")):
            place = None
            if ref is not None and ref.msgid is not None:
                place = self._place(target, ref.msgid)
                if place is None:
                    return []  # an unknown msgid places nothing
                # By place: exact, even within one millisecond or one run.
                # The row of the place is read too, for its lines beyond it.
                conditions.append(f"id {op}= ?")
                args.append(place[0])
            elif ref is not None:
                # By time: a run's messages share its time; its row is in or out.
                conditions.append(f"time_ms {op} ?")
                args.append(int(ref.time_ms or 0))
            places.append(place)
        order = "DESC" if newest else "ASC"
        items = self._messages(
            f"SELECT {_READ} FROM messages WHERE {' AND '.join(conditions)} ORDER BY id {order}",
            args,
            limit,
            newest,
            places[0],
            places[1],
        )
        if newest:
            items.reverse()
        return items

    def find(self, target: str, ref: Reference) -> HistoryItem | None:
        if ref.msgid is None:
            return None
        named = self._named(target, ref.msgid, "AND redacted = 0")
        if named is None or named[1] not in _lines(named[0]):
            return None
        return _message(_record(named[0]), named[1])

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
        # second of its params. A run's texts, joined by LF, are LIKE the
        # pattern when one of them is (none holds an LF), and its lines are
        # then chosen by the same rule in Python.
        conditions = [
            f"command IN ({','.join('?' * len(TEXT_KINDS))})",
            "redacted = 0",
            "(CASE WHEN run THEN texts ELSE json_extract(params, '$[1]') END) LIKE ? ESCAPE '\\'",
        ]
        args: list[object] = [*sorted(TEXT_KINDS), _contains_pattern(text)]
        if target is None:
            conditions.append("instr(target, ' ') = 0")  # channels: a private key has a space
        else:
            conditions.append("target = ?")
            args.append(target)
        place = None
        if before is not None:
            place = self._place(before.target, before.msgid)
            if place is None:
                return []  # an item that is gone (retention) places nothing
            conditions.append("id <= ?")
            args.append(place[0])
        return self._messages(
            f"SELECT {_READ} FROM messages WHERE {' AND '.join(conditions)} ORDER BY id DESC",
            args,
            limit,
            newest=True,
            before=place,
            wanted=_contains(text),
        )
