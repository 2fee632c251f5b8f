"""The SQLite history store on real files: order, paging, retention, concurrency."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.store import HistoryItem, Reference, dm_key
from tcpchat.store.history import MESSAGE_KINDS, REDACT
from tcpchat.store.sqlite import SCHEMA_VERSION, HistoryDatabaseError, SqliteHistory, _params_json

ALL = MESSAGE_KINDS | {"JOIN"}


def item(
    n: int, target: str = "#c", command: str = "PRIVMSG", time_ms: int | None = None
) -> HistoryItem:
    return HistoryItem(
        f"id{n}",
        1000 * n if time_ms is None else time_ms,
        target,
        command,
        "a!u@h",
        (target, f"message {n}"),
        {"+k": "v"} if n % 2 else {},
    )


def committed(store: SqliteHistory, items: list[HistoryItem]) -> None:
    done = threading.Event()
    store.append(items)
    assert store.pending()
    errors: list[Exception | None] = []
    store.commit(lambda error: (errors.append(error), done.set()))
    assert done.wait(10)
    assert errors == [None]
    assert not store.pending()


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = SqliteHistory(tmp_path / "h.sqlite3")
    yield s
    s.close()


def texts(items: list[HistoryItem]) -> list[str]:
    return [i.params[1] for i in items]


def test_round_trip_keeps_everything(store: SqliteHistory) -> None:
    original = item(1)
    committed(store, [original])
    assert store.select("#c", None, None, 10, ALL, newest=True) == [original]


def test_paging_both_directions(store: SqliteHistory) -> None:
    committed(store, [item(n) for n in range(10)])
    latest = store.select("#c", None, None, 3, ALL, newest=True)
    assert texts(latest) == ["message 7", "message 8", "message 9"]
    older = store.select("#c", None, Reference(msgid="id7"), 3, ALL, newest=True)
    assert texts(older) == ["message 4", "message 5", "message 6"]
    newer = store.select("#c", Reference(msgid="id2"), None, 2, ALL, newest=False)
    assert texts(newer) == ["message 3", "message 4"]
    by_time = store.select("#c", Reference(time_ms=2000), Reference(time_ms=5000), 10, ALL, False)
    assert texts(by_time) == ["message 3", "message 4"]
    assert store.select("#c", Reference(msgid="nope"), None, 5, ALL, False) == []


def test_kinds_and_targets_are_separate(store: SqliteHistory) -> None:
    committed(store, [item(1), item(2, command="JOIN"), item(3, target="#other")])
    assert texts(store.select("#c", None, None, 10, MESSAGE_KINDS, True)) == ["message 1"]
    assert len(store.select("#c", None, None, 10, ALL, True)) == 2
    assert store.find("#c", Reference(msgid="id3")) is None
    assert store.find("#other", Reference(msgid="id3")) == item(3, target="#other")


def test_targets_lists_channels_and_own_conversations(store: SqliteHistory) -> None:
    committed(
        store,
        [
            item(1, "#a"),
            item(2, dm_key("n:alice", "n:bob")),
            item(3, "#b"),
            item(4, dm_key("n:carol", "n:dave")),
        ],
    )
    rows = store.targets(["#a", "#b"], "n:alice", 0, 10_000, 10)
    assert rows == [("#a", 1000), (dm_key("n:alice", "n:bob"), 2000), ("#b", 3000)]
    assert store.targets(["#a", "#b"], "n:alice", 1500, 10_000, 1) == [
        (dm_key("n:alice", "n:bob"), 2000)
    ]


def test_retention_by_count_and_age(tmp_path: Path) -> None:
    now = 1_000_000.0
    store = SqliteHistory(
        tmp_path / "r.sqlite3", max_age_days=1, max_per_target=3, clock=lambda: now
    )
    try:
        old = item(0, time_ms=int((now - 2 * 86400) * 1000))
        fresh = [item(n, time_ms=int(now * 1000) + n) for n in range(1, 6)]
        committed(store, [old, *fresh])
        store.prune_now()
        kept = store.select("#c", None, None, 100, ALL, True)
        assert texts(kept) == ["message 3", "message 4", "message 5"]
    finally:
        store.close()


def test_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    first = SqliteHistory(path)
    first.append([item(1)])
    first.close()  # commits what is pending
    second = SqliteHistory(path)
    try:
        assert texts(second.select("#c", None, None, 5, ALL, True)) == ["message 1"]
    finally:
        second.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    stores = [SqliteHistory(path) for _ in range(3)]
    try:
        threads = [
            threading.Thread(
                target=lambda s=s, k=k: [committed(s, [item(k * 1000 + n)]) for n in range(50)]
            )
            for k, s in enumerate(stores)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(stores[0].select("#c", None, None, 1000, ALL, True)) == 150
    finally:
        for s in stores:
            s.close()


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
        db.commit()
    with pytest.raises(HistoryDatabaseError, match="schema version 99"):
        SqliteHistory(path)


def test_database_uses_wal(store: SqliteHistory, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "h.sqlite3")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def said(n: int, text: str, target: str = "#c", command: str = "PRIVMSG") -> HistoryItem:
    """A message with the given text, for the search tests."""
    return HistoryItem(f"s{n}", 1000 * n, target, command, "a!u@h", (target, text))


def found(store: SqliteHistory, text: str, target: str | None = None) -> list[str]:
    return texts(store.search(text, target, None, 100))


def test_search_finds_text_newest_first_ignoring_case(store: SqliteHistory) -> None:
    committed(
        store,
        [
            said(1, "Lunch at noon"),
            said(2, "nothing here"),
            said(3, "who wants LUNCH?", "#other", "NOTICE"),
            said(4, "Ärger beim lunch"),
            HistoryItem("j5", 5000, "#c", "TOPIC", "a!u@h", ("#c", "lunch topic")),
            HistoryItem("t6", 6000, "#c", "TAGMSG", "a!u@h", ("#c",), {"+react": "lunch"}),
        ],
    )
    assert found(store, "lunch") == ["Ärger beim lunch", "who wants LUNCH?", "Lunch at noon"]
    assert found(store, "lunch", "#other") == ["who wants LUNCH?"]
    assert found(store, "#c") == []  # the text, not the channel in the params
    assert found(store, "zebra") == []


def test_search_takes_percent_and_underscore_literally(store: SqliteHistory) -> None:
    committed(
        store,
        [said(1, "50% off"), said(2, "500 off"), said(3, "a_b"), said(4, "axb"), said(5, "c\\d")],
    )
    assert found(store, "50%") == ["50% off"]
    assert found(store, "%") == ["50% off"]
    assert found(store, "a_b") == ["a_b"]
    assert found(store, "c\\d") == ["c\\d"]


def test_search_pages_older_from_an_earlier_result(store: SqliteHistory) -> None:
    committed(store, [said(n, f"tick {n}", "#a" if n % 2 else "#b") for n in range(1, 8)])
    first = store.search("tick", None, None, 3)
    assert texts(first) == ["tick 7", "tick 6", "tick 5"]
    second = store.search("tick", None, first[-1], 3)
    assert texts(second) == ["tick 4", "tick 3", "tick 2"]
    assert texts(store.search("tick", None, second[-1], 3)) == ["tick 1"]
    in_a = store.search("tick", "#a", None, 2)
    assert texts(store.search("tick", "#a", in_a[-1], 10)) == ["tick 3", "tick 1"]
    gone = said(99, "tick 99", "#a")
    assert store.search("tick", None, gone, 10) == []  # a cursor that is not there


def test_private_messages_are_found_only_by_their_key(store: SqliteHistory) -> None:
    private = dm_key("n:alice", "n:bob")
    committed(store, [said(1, "secret plan", private), said(2, "public plan")])
    assert found(store, "plan") == ["public plan"]
    assert found(store, "plan", private) == ["secret plan"]


def test_version_1_files_are_migrated_and_keep_their_messages(tmp_path: Path) -> None:
    # Version 1 knew neither senders nor redaction: opening one adds both
    # columns in place, and what it held reads as before, senders unknown.
    path = tmp_path / "v1.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            """CREATE TABLE messages (id INTEGER PRIMARY KEY, msgid TEXT NOT NULL,
                   time_ms INTEGER NOT NULL, target TEXT NOT NULL, command TEXT NOT NULL,
                   source TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL);
               CREATE UNIQUE INDEX messages_target_msgid ON messages (target, msgid);
               INSERT INTO messages (msgid, time_ms, target, command, source, params, tags)
                   VALUES ('old', 1000, '#c', 'PRIVMSG', 'a!u@h', '["#c", "from before"]', '{}');
               PRAGMA user_version = 1;"""
        )
    store = SqliteHistory(path)
    try:
        (kept,) = store.select("#c", None, None, 10, ALL, True)
        assert kept.params[1] == "from before" and kept.sender == ""
        assert found(store, "BEFORE") == ["from before"]
        committed(store, [redaction(2, "old")])
        assert store.select("#c", None, None, 10, ALL, True) == []
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def redaction(n: int, msgid: str, target: str = "#c") -> HistoryItem:
    return HistoryItem(f"id{n}", 1000 * n, target, REDACT, "a!u@h", (target, msgid))


def test_a_redacted_message_is_kept_but_hidden_from_every_read(
    store: SqliteHistory, tmp_path: Path
) -> None:
    committed(store, [item(1), item(2), item(3)])
    committed(store, [redaction(4, "id2"), redaction(5, "id1", target="#other")])
    assert texts(store.select("#c", None, None, 10, ALL, True)) == ["message 1", "message 3"]
    assert store.find("#c", Reference(msgid="id2")) is None
    assert store.find("#c", Reference(msgid="id1")) is not None  # another conversation's REDACT
    # The hidden message still places a reference, and the REDACT item is never returned.
    after = store.select("#c", Reference(msgid="id2"), None, 10, ALL, False)
    assert texts(after) == ["message 3"]
    assert [i.params[1] for i in store.search("message", None, None, 10)] == [
        "message 3",
        "message 1",
    ]
    with contextlib.closing(sqlite3.connect(tmp_path / "h.sqlite3")) as db:
        assert db.execute("SELECT redacted FROM messages WHERE msgid = 'id2'").fetchone() == (1,)


@given(st.lists(st.text(max_size=20), max_size=4))
def test_params_are_stored_as_the_json_encoder_writes_them(params: list[str]) -> None:
    assert _params_json(tuple(params)) == json.dumps(params, ensure_ascii=False)


def test_any_text_comes_back_as_it_was_sent(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite")
    odd = ("#c", 'quote " backslash \\ tab \t nul \0 emoji 👍 rtl שלום \u2028')
    stored = HistoryItem("odd", 1, "#c", "PRIVMSG", "a!u@h", odd, {})
    committed(store, [stored])
    assert store.find("#c", Reference(msgid="odd")) == stored
    store.close()
