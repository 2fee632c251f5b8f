"""The SQLite history store's side of a hand-over: a room before what is
kept live, imports into it, exports from it, redactions across both."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tcpchat.store import HistoryItem, HistoryRun, Reference, dm_key
from tcpchat.store.history import MESSAGE_KINDS, REDACT, StoredItem
from tcpchat.store.sqlite import SqliteHistory

ALL = MESSAGE_KINDS | {"JOIN"}
DM = dm_key("n:a", "n:bob")


def item(n: int, target: str = "#c") -> HistoryItem:
    return HistoryItem(f"id{n}", 1000 * n, target, "PRIVMSG", "a!u@h", (target, f"m{n}"))


def redact(n: int, of: int) -> HistoryItem:
    return HistoryItem(f"id{n}", 1000 * n, "#c", REDACT, "a!u@h", ("#c", f"id{of}"))


def wait(start: Callable[[Callable[..., None]], None]) -> tuple[object, ...]:
    """Call ``start`` with a callback and wait for the store to call it."""
    got: list[tuple[object, ...]] = []
    done = threading.Event()
    start(lambda *args: (got.append(args), done.set()))
    assert done.wait(10)
    return got[0]


def commit(store: SqliteHistory, items: list[HistoryItem]) -> None:
    store.append(items)
    assert wait(store.commit) == (None,)


def room_of(store: SqliteHistory) -> int:
    (room,) = wait(store.make_room)
    assert isinstance(room, int)
    return room


def imported(store: SqliteHistory, room: int, items: list[StoredItem]) -> object:
    return wait(lambda done: store.import_items(room, items, done))[0]


def texts(store: SqliteHistory, target: str = "#c") -> list[str]:
    return [i.params[1] for i in store.select(target, None, None, 100, ALL, False)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteHistory]:
    s = SqliteHistory(tmp_path / "h.sqlite3")
    yield s
    s.close()


def test_imported_items_go_between_the_old_and_the_live(store: SqliteHistory) -> None:
    commit(store, [item(1), item(2)])
    room = room_of(store)
    commit(store, [item(6), item(7)])  # kept live, after the room
    assert imported(store, room, [(item(2), False), (item(3), False)]) == 1  # 2 was here
    assert imported(store, room, [(item(4), False), (item(5), False)]) == 2
    assert texts(store) == ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
    commit(store, [item(8)])
    assert texts(store)[-2:] == ["m7", "m8"]


def test_a_room_asked_for_with_items_waiting_goes_after_them(store: SqliteHistory) -> None:
    store.append([item(1)])
    placed = threading.Event()
    rooms: list[int] = []
    store.make_room(lambda room: (rooms.append(room), placed.set()))
    store.append([item(5)])
    assert not placed.wait(0.2)  # placed with the commit of what waits
    assert wait(store.commit) == (None,)
    assert placed.wait(10)
    imported(store, rooms[0], [(item(3), False)])
    assert texts(store) == ["m1", "m3", "m5"]


def test_imported_redactions_hide_and_a_live_one_hides_once_the_room_closes(
    store: SqliteHistory,
) -> None:
    room = room_of(store)
    commit(store, [redact(9, of=4)])  # live, before its message came
    imported(store, room, [(item(1), True), (item(2), False), (redact(3, of=2), False)])
    imported(store, room, [(item(4), False)])
    assert texts(store) == ["m4"]  # 1 came redacted, 3 hid 2
    wait(lambda done: store.close_room(room, done))
    assert texts(store) == []
    assert imported(store, room, [(item(5), False)]) == 0  # closed: nothing more comes in


def test_export_gives_a_span_in_order_with_redaction_flags(tmp_path: Path) -> None:
    source = SqliteHistory(tmp_path / "s.sqlite3")
    try:
        commit(source, [item(n, "#c" if n % 2 else "#d") for n in range(1, 8)])
        commit(source, [redact(8, of=3)])
        chunks = list(source.export(2000, 8000, 3))
    finally:
        source.close()
    assert [len(c) for c in chunks] == [3, 3, 1]
    got = [(i.msgid, hidden) for chunk in chunks for i, hidden in chunk]
    assert got == [(f"id{n}", n == 3) for n in range(2, 9)]
    assert chunks[0][0][0] == item(2, "#d")


def test_an_export_imported_elsewhere_reads_the_same(tmp_path: Path) -> None:
    source, joiner = SqliteHistory(tmp_path / "s.sqlite3"), SqliteHistory(tmp_path / "j.sqlite3")
    try:
        commit(source, [item(n) for n in range(1, 6)] + [redact(6, of=2)])
        commit(source, [item(7)])
        room = room_of(joiner)
        commit(joiner, [item(7)])  # the joiner's replica begins here
        for chunk in source.export(0, 6000, 2):
            imported(joiner, room, chunk)
        assert texts(joiner) == texts(source) == ["m1", "m3", "m4", "m5", "m7"]
    finally:
        source.close()
        joiner.close()


def test_what_is_wanted_since(tmp_path: Path) -> None:
    keeps_all = SqliteHistory(tmp_path / "a.sqlite3")
    keeps_a_day = SqliteHistory(tmp_path / "b.sqlite3", max_age_days=1, clock=lambda: 10 * 86400)
    try:
        assert keeps_all.wanted_since_ms() == 0
        commit(keeps_all, [item(5), item(3)])
        assert keeps_all.wanted_since_ms() == 5000
        assert keeps_a_day.wanted_since_ms() == 9 * 86400 * 1000  # older is not kept anyway
    finally:
        keeps_all.close()
        keeps_a_day.close()


def test_rooms_survive_a_reopening_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    first = SqliteHistory(path)
    commit(first, [item(1)])
    room = room_of(first)
    commit(first, [item(9)])
    imported(first, room, [(item(2), False)])
    first.close()
    second = SqliteHistory(path)
    try:
        commit(second, [item(10)])
        assert texts(second) == ["m1", "m2", "m9", "m10"]
    finally:
        second.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (4,)


def a_run(msgid: str, time_ms: int, texts: list[str]) -> HistoryRun:
    return HistoryRun(msgid, time_ms, DM, "PRIVMSG", "a!u@h", "bob", tuple(texts), {}, "n:a")


def test_an_exported_run_comes_as_its_messages_each_redacted_or_not(tmp_path: Path) -> None:
    source, joiner = SqliteHistory(tmp_path / "s.sqlite3"), SqliteHistory(tmp_path / "j.sqlite3")
    try:
        commit(source, [a_run("r", 1000, ["a", "b", "c"]), item(2, DM)])
        commit(source, [HistoryItem("x", 3000, DM, REDACT, "a!u@h", ("bob", "r.1"))])
        chunks = list(source.export(0, 9000, 2))
        got = [(i.msgid, i.params, hidden) for chunk in chunks for i, hidden in chunk]
        assert got == [
            ("r.0", ("bob", "a"), False),
            ("r.1", ("bob", "b"), True),  # redacted in the run's row
            ("r.2", ("bob", "c"), False),
            ("id2", (DM, "m2"), False),
            ("x", ("bob", "r.1"), False),
        ]
        assert all(len(chunk) <= 2 for chunk in chunks)
        room = room_of(joiner)
        for chunk in chunks:
            imported(joiner, room, chunk)
        assert texts(joiner, DM) == texts(source, DM) == ["a", "c", "m2"]
    finally:
        source.close()
        joiner.close()


def test_a_run_kept_before_the_room_is_not_imported_again_as_its_messages(
    store: SqliteHistory,
) -> None:
    commit(store, [a_run("r", 1000, ["a", "b"])])  # a node that comes back had it
    room = room_of(store)
    exported = [(a_run("r", 1000, ["a", "b"]).item(n), False) for n in (0, 1)]
    assert imported(store, room, [*exported, (item(2, DM), False)]) == 1
    assert texts(store, DM) == ["a", "b", "m2"]


def test_a_run_kept_live_after_some_of_its_messages_came_in_is_kept_once(
    store: SqliteHistory,
) -> None:
    room = room_of(store)
    live = a_run("r", 1000, ["a", "b", "c"])
    imported(store, room, [(live.item(0), False), (live.item(1), True)])  # a chunk ends
    commit(store, [live])  # the replica begins inside the span the answer covers
    imported(store, room, [(live.item(2), False)])
    wait(lambda done: store.close_room(room, done))
    commit(store, [a_run("s", 2000, ["d"])])  # no room open: one row again
    assert texts(store, DM) == ["a", "c", "d"]
    assert store.find(DM, Reference("r.1")) is None
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        assert db.execute("SELECT msgid, run FROM messages ORDER BY id").fetchall() == [
            ("r.0", 0),
            ("r.1", 0),
            ("r.2", 0),
            ("s", 1),
        ]


def test_closing_the_room_hides_a_message_of_a_run_once(store: SqliteHistory) -> None:
    commit(store, [a_run("r", 1000, ["a", "b"])])
    room = room_of(store)
    commit(store, [HistoryItem("x", 2000, DM, REDACT, "a!u@h", ("bob", "r.1"))])
    wait(lambda done: store.close_room(room, done))
    assert texts(store, DM) == ["a"]
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        assert db.execute("SELECT run_redacted FROM messages WHERE msgid = 'r'").fetchone() == (
            "[1]",
        )
