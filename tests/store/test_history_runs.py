"""Runs in the SQLite history: a run is one row, and reads as its messages.

The strongest check there is: the same conversation is stored twice, once
with its runs as :class:`HistoryRun` records and once with every message of
them as an item of its own (what a store before runs kept), and every read
must answer both alike.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.store import HistoryItem, HistoryRecord, HistoryRun, Reference, dm_key
from tcpchat.store.history import MESSAGE_KINDS, REDACT, TEXT_KINDS, run_msgid, split_run_msgid
from tcpchat.store.sqlite import SCHEMA_VERSION, SqliteHistory

DM = dm_key("n:alice", "n:bob")
ALL = MESSAGE_KINDS | {"JOIN"}
LIMITS = (1, 2, 3, 4, 7, 1000)


def single(msgid: str, time_ms: int, text: str, target: str = DM) -> HistoryItem:
    return HistoryItem(msgid, time_ms, target, "PRIVMSG", "alice!u@h", ("bob", text), {}, "n:alice")


def run(msgid: str, time_ms: int, texts: Sequence[str], target: str = DM) -> HistoryRun:
    return HistoryRun(
        msgid, time_ms, target, "PRIVMSG", "alice!u@h", "bob", tuple(texts), {}, "n:alice"
    )


def redaction(msgid: str, time_ms: int, of: str, target: str = DM) -> HistoryItem:
    return HistoryItem(msgid, time_ms, target, REDACT, "alice!u@h", ("bob", of))


def expanded(records: Sequence[HistoryRecord]) -> list[HistoryItem]:
    """The conversation as it was kept before runs: an item per message."""
    out: list[HistoryItem] = []
    for record in records:
        if isinstance(record, HistoryRun):
            out += [record.item(line) for line in range(len(record.texts))]
        else:
            out.append(record)
    return out


def committed(store: SqliteHistory, records: Sequence[HistoryRecord]) -> None:
    done = threading.Event()
    errors: list[Exception | None] = []
    store.append(records)
    store.commit(lambda error: (errors.append(error), done.set()))
    assert done.wait(10)
    assert errors == [None]


@contextlib.contextmanager
def both(
    folder: Path, batches: Sequence[Sequence[HistoryRecord]], **options: Any
) -> Iterator[tuple[SqliteHistory, SqliteHistory]]:
    """The conversation kept with runs, and kept message by message (``options``
    for both stores)."""
    with_runs = SqliteHistory(folder / "runs.sqlite3", **options)
    one_by_one = SqliteHistory(folder / "items.sqlite3", **options)
    try:
        for batch in batches:
            committed(with_runs, batch)
            committed(one_by_one, expanded(batch))
        yield with_runs, one_by_one
    finally:
        with_runs.close()
        one_by_one.close()


def references(records: Sequence[HistoryRecord]) -> list[Reference | None]:
    """Every msgid (and some that name nothing) and every time, a little either side."""
    msgids = [item.msgid for item in expanded(records)]
    runs = [r.msgid for r in records if isinstance(r, HistoryRun)]
    msgids += runs + [f"{m}.999" for m in runs] + [f"{m}.01" for m in runs] + ["nope"]
    times = sorted({t + d for t in (r.time_ms for r in records) for d in (-1, 0, 1)})
    return [
        None,
        *(Reference(msgid=m) for m in msgids),
        *(Reference(time_ms=t) for t in times),
    ]


def reads(store: SqliteHistory, records: Sequence[HistoryRecord]) -> list[object]:
    """What every kind of read answers about the conversation."""
    refs = references(records)
    out: list[object] = []
    for kinds in (MESSAGE_KINDS, ALL):
        for newest in (True, False):
            for ref in refs:
                for limit in LIMITS:
                    out.append(store.select(DM, ref, None, limit, kinds, newest))
                    out.append(store.select(DM, None, ref, limit, kinds, newest))
            for after in refs:
                for before in refs[::3]:
                    out.append(store.select(DM, after, before, 3, kinds, newest))
    for ref in refs:
        if ref is not None:
            out.append(store.find(DM, ref))
            out.append(store.find("#elsewhere", ref))
    for start in (0, 2500, 10_000):
        out.append(store.targets(["#c"], "n:alice", start, 100_000, 10))
    for text in ("line", "LINE 1", "2", "lone", "%", "zebra"):
        for target in (DM, None):
            for limit in (1, 2, 5):
                out.append(pages(store, text, target, limit))
    return out


def pages(store: SqliteHistory, text: str, target: str | None, limit: int) -> list[list[str]]:
    """A search read page by page to its end (each as msgid and text)."""
    got: list[list[str]] = []
    before = None
    while len(got) < 100:
        page = store.search(text, target, before, limit)
        got.append([f"{item.msgid} {item.params[1]}" for item in page])
        if len(page) < limit:
            return got
        before = page[-1]
    raise AssertionError("a search that does not end")


def rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


CONVERSATION: list[HistoryRecord] = [
    single("s1", 1000, "lone one"),
    run("r1", 1000, [f"r1 line {i}" for i in range(5)]),  # the same millisecond
    HistoryItem("j1", 1500, DM, "JOIN", "alice!u@h", ("bob",)),
    run("r2", 2000, ["r2 line 0", "r2 line 1"]),
    single("s2", 2000, "lone two"),
    single("m1", 3000, "multi line"),  # a message of several lines: m1, then m1.1
    single("m1.1", 3000, "multi line, the second"),
    single("c1", 3500, "a channel line", target="#c"),
    run("r3", 4000, [f"r3 line {i}" for i in range(7)]),
    single("s3", 5000, "lone three"),
]
REDACTIONS: list[HistoryRecord] = [
    redaction("x1", 6000, "r1.2"),  # inside a run
    redaction("x2", 6000, "r3.0"),  # a run's first
    redaction("x3", 6000, "r3.6"),  # and last
    redaction("x4", 6000, "s2"),
    redaction("x5", 6000, "m1"),  # both of its lines
    redaction("x6", 6000, "r2.9"),  # no such line: nothing hidden
]


def test_a_run_is_one_row_and_counts_as_its_messages(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3")
    try:
        store.append([single("s1", 1, "x"), run("r1", 2, ["a", "b", "c"])])
        assert store.pending() == 4  # what the server holds back for the commit
        committed(store, [])
        assert store.pending() == 0
        assert rows(tmp_path / "h.sqlite3") == 2
        got = store.select(DM, None, None, 10, MESSAGE_KINDS, newest=False)
        assert [(i.msgid, i.time_ms, i.params) for i in got] == [
            ("s1", 1, ("bob", "x")),
            ("r1.0", 2, ("bob", "a")),
            ("r1.1", 2, ("bob", "b")),
            ("r1.2", 2, ("bob", "c")),
        ]
        assert got[1:] == [run("r1", 2, ["a", "b", "c"]).item(i) for i in range(3)]
        assert store.find(DM, Reference(msgid="r1")) is None  # the run's own msgid
    finally:
        store.close()


def test_every_read_answers_as_if_each_message_had_a_row(tmp_path: Path) -> None:
    with both(tmp_path, [CONVERSATION]) as (with_runs, one_by_one):
        assert rows(tmp_path / "runs.sqlite3") == 10
        assert rows(tmp_path / "items.sqlite3") == 21
        assert reads(with_runs, CONVERSATION) == reads(one_by_one, CONVERSATION)


def test_redaction_inside_a_run_hides_that_message_alone(tmp_path: Path) -> None:
    everything = CONVERSATION + REDACTIONS
    with both(tmp_path, [CONVERSATION, REDACTIONS]) as (with_runs, one_by_one):
        assert reads(with_runs, everything) == reads(one_by_one, everything)
        shown = with_runs.select(DM, None, None, 100, MESSAGE_KINDS, newest=False)
        assert [item.msgid for item in shown] == [
            "s1",
            *("r1.0", "r1.1", "r1.3", "r1.4"),
            *("r2.0", "r2.1"),
            *(f"r3.{i}" for i in range(1, 6)),
            "s3",
        ]
        assert with_runs.find(DM, Reference(msgid="r1.2")) is None
        assert with_runs.find(DM, Reference(msgid="r1.3")) is not None
        # A redacted message still places a reference.
        after = with_runs.select(DM, Reference(msgid="r1.2"), None, 2, MESSAGE_KINDS, False)
        assert [item.msgid for item in after] == ["r1.3", "r1.4"]
        assert [i.msgid for i in with_runs.search("r3 line", DM, None, 10)] == [
            f"r3.{i}" for i in range(5, 0, -1)
        ]


def test_limits_cut_inside_runs_from_either_end(tmp_path: Path) -> None:
    with both(tmp_path, [CONVERSATION]) as (with_runs, _):

        def msgids(after: str | None, before: str | None, limit: int, newest: bool) -> list[str]:
            refs = [None if m is None else Reference(msgid=m) for m in (after, before)]
            got = with_runs.select(DM, *refs, limit, MESSAGE_KINDS, newest)
            return [item.msgid for item in got]

        assert msgids(None, None, 3, True) == ["r3.5", "r3.6", "s3"]
        assert msgids(None, None, 3, False) == ["s1", "r1.0", "r1.1"]
        assert msgids("r1.1", None, 2, False) == ["r1.2", "r1.3"]
        assert msgids(None, "r1.3", 2, True) == ["r1.1", "r1.2"]
        assert msgids("r1.1", "r1.4", 10, False) == ["r1.2", "r1.3"]
        assert msgids("r1.3", "r2.1", 10, True) == ["r1.4", "r2.0"]
        assert msgids("r3.2", "r3.3", 10, True) == []
        by_time = with_runs.select(DM, Reference(time_ms=999), None, 4, MESSAGE_KINDS, False)
        assert [item.msgid for item in by_time] == ["s1", "r1.0", "r1.1", "r1.2"]


def test_retention_by_age_drops_runs_whole(tmp_path: Path) -> None:
    now = 1_000_000.0
    old, fresh = int((now - 2 * 86400) * 1000), int(now * 1000)
    conversation: list[HistoryRecord] = [
        run("r0", old, ["old 0", "old 1"]),
        single("s1", old + 1, "old lone"),
        run("r1", fresh, ["fresh 0", "fresh 1"]),
        single("s2", fresh + 1, "fresh lone"),
    ]
    stores = both(tmp_path, [conversation], max_age_days=1, clock=lambda: now)
    with stores as (with_runs, one_by_one):
        for store in (with_runs, one_by_one):
            store.prune_now()
        assert reads(with_runs, conversation) == reads(one_by_one, conversation)
        kept = with_runs.select(DM, None, None, 10, MESSAGE_KINDS, newest=False)
        assert [item.msgid for item in kept] == ["r1.0", "r1.1", "s2"]


@pytest.mark.parametrize(
    ("keep", "msgids"),
    [
        (1, ["s3"]),
        (2, [*(f"r3.{i}" for i in range(7)), "s3"]),  # the run the oldest kept is in stays
        (8, [*(f"r3.{i}" for i in range(7)), "s3"]),  # exact where a row ends
        (9, ["m1.1", *(f"r3.{i}" for i in range(7)), "s3"]),
        (12, ["r2.0", "r2.1", "s2", "m1", "m1.1", *(f"r3.{i}" for i in range(7)), "s3"]),
    ],
)
def test_retention_by_count_counts_messages_and_keeps_runs_whole(
    tmp_path: Path, keep: int, msgids: list[str]
) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3", max_per_target=keep)
    try:
        committed(store, CONVERSATION)
        store.prune_now()
        kept = store.select(DM, None, None, 100, ALL, newest=False)
        assert [item.msgid for item in kept] == msgids
        assert len(msgids) >= keep  # never fewer than asked, while there are as many
        assert [i.msgid for i in store.select("#c", None, None, 10, ALL, False)] == ["c1"]
    finally:
        store.close()


def test_version_2_files_are_migrated_and_take_runs(tmp_path: Path) -> None:
    # Version 2 kept an item per row, a run's messages too: they read as
    # before, and the file then takes runs, redactions inside them included.
    path = tmp_path / "v2.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            """CREATE TABLE messages (id INTEGER PRIMARY KEY, msgid TEXT NOT NULL,
                   time_ms INTEGER NOT NULL, target TEXT NOT NULL, command TEXT NOT NULL,
                   source TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL,
                   sender TEXT NOT NULL DEFAULT '', redacted INTEGER NOT NULL DEFAULT 0);
               CREATE UNIQUE INDEX messages_target_msgid ON messages (target, msgid);
               CREATE INDEX messages_target_id ON messages (target, id);
               CREATE INDEX messages_time ON messages (time_ms);
               PRAGMA user_version = 2;"""
        )
        db.executemany(
            "INSERT INTO messages (msgid, time_ms, target, command, source, params, tags, "
            "sender, redacted) VALUES (?, ?, ?, 'PRIVMSG', 'alice!u@h', ?, '{}', 'n:alice', ?)",
            [
                ("old.0", 1000, DM, '["bob", "old 0"]', 0),
                ("old.1", 1000, DM, '["bob", "old 1"]', 1),
                ("old.2", 1000, DM, '["bob", "old 2"]', 0),
            ],
        )
        db.commit()
    store = SqliteHistory(path)
    try:
        committed(store, [run("new", 2000, ["new 0", "new 1", "new 2"])])
        committed(store, [redaction("x", 3000, "old.2"), redaction("y", 3000, "new.1")])
        kept = store.select(DM, None, None, 10, MESSAGE_KINDS, newest=False)
        assert [item.msgid for item in kept] == ["old.0", "new.0", "new.2"]
        assert store.find(DM, Reference(msgid="old.0")) == single("old.0", 1000, "old 0")
        between = store.select(
            DM, Reference(msgid="old.1"), Reference(msgid="new.2"), 10, MESSAGE_KINDS, False
        )
        assert [item.msgid for item in between] == ["new.0"]
        assert [item.msgid for item in store.search("0", DM, None, 10)] == ["new.0", "old.0"]
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_version_3_files_are_migrated_with_their_runs_texts_out_of_json(tmp_path: Path) -> None:
    # Version 3 kept a run's texts after its first param in the params' JSON,
    # a text with a quote, a backslash or a colour code escaped there: each
    # reads back as it was sent, its redacted line still hidden.
    path = tmp_path / "v3.sqlite3"
    texts = ['say "hi"', "C:\\path", "\x03" + "4red", "plain"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            """CREATE TABLE messages (id INTEGER PRIMARY KEY, msgid TEXT NOT NULL,
                   time_ms INTEGER NOT NULL, target TEXT NOT NULL, command TEXT NOT NULL,
                   source TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL,
                   sender TEXT NOT NULL DEFAULT '', redacted INTEGER NOT NULL DEFAULT 0,
                   run INTEGER NOT NULL DEFAULT 0, run_redacted TEXT);
               CREATE UNIQUE INDEX messages_target_msgid ON messages (target, msgid);
               CREATE INDEX messages_target_id ON messages (target, id);
               CREATE INDEX messages_time ON messages (time_ms);
               PRAGMA user_version = 3;"""
        )
        db.executemany(
            "INSERT INTO messages (msgid, time_ms, target, command, source, params, tags, "
            "sender, run, run_redacted) VALUES (?, ?, ?, 'PRIVMSG', 'alice!u@h', ?, '{}', "
            "'n:alice', ?, ?)",
            [
                ("one", 1000, DM, json.dumps(["bob", "alone"]), 0, None),
                ("r", 2000, DM, json.dumps(["bob", *texts]), len(texts), "[3]"),
            ],
        )
        db.commit()
    store = SqliteHistory(path)
    try:
        kept = store.select(DM, None, None, 10, MESSAGE_KINDS, newest=False)
        assert [(item.msgid, item.params) for item in kept] == [
            ("one", ("bob", "alone")),
            *((f"r.{line}", ("bob", text)) for line, text in enumerate(texts[:3])),
        ]
        assert [item.msgid for item in store.search('"hi', DM, None, 10)] == ["r.0"]
        committed(store, [run("new", 3000, ["after"])])
        assert store.find(DM, Reference(msgid="new.0")) == run("new", 3000, ["after"]).item(0)
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT params, texts FROM messages WHERE msgid = 'r'").fetchone() == (
            '["bob"]',
            "\n".join(texts),
        )


def test_a_run_msgid_is_read_back_only_as_made() -> None:
    assert split_run_msgid(run_msgid("abc", 12)) == ("abc", 12)
    assert split_run_msgid("a.b.3") == ("a.b", 3)
    for nothing in ("abc", "abc.", "abc.01", "abc.-1", "abc.x", "abc.\u0663"):
        assert split_run_msgid(nothing) is None, nothing
    with pytest.raises(ValueError, match="at least one"):
        run("empty", 1, [])


# A conversation as a list of steps: a message alone, a run of some
# messages, a join, or the redaction of the n-th message kept so far (modulo
# how many there are); each step is 0 or 1 ms after the one before.
STEP = st.one_of(
    st.tuples(st.just("single"), st.integers(0, 1)),
    st.tuples(st.just("run"), st.integers(1, 6)),
    st.tuples(st.just("join"), st.just(0)),
    st.tuples(st.just("redact"), st.integers(0, 50)),
)


def conversation_of(steps: list[tuple[tuple[str, int], bool]]) -> list[list[HistoryRecord]]:
    """The steps as records, in a few commits."""
    batches: list[list[HistoryRecord]] = [[]]
    time_ms, messages = 1000, []
    for n, ((kind, arg), later) in enumerate(steps):
        time_ms += later
        record: HistoryRecord
        if kind == "single":
            record = single(f"s{n}", time_ms, f"lone {n}")
        elif kind == "run":
            record = run(f"r{n}", time_ms, [f"line {n} {i}" for i in range(arg)])
        elif kind == "join":
            record = HistoryItem(f"j{n}", time_ms, DM, "JOIN", "alice!u@h", ("bob",))
        elif messages:
            record = redaction(f"x{n}", time_ms, messages[arg % len(messages)])
        else:
            continue
        if kind in ("single", "run"):
            messages += [item.msgid for item in expanded([record])]
        batches[-1].append(record)
        if n % 5 == 4:
            batches.append([])
    return batches


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(STEP, st.booleans()), min_size=1, max_size=14))
def test_any_conversation_reads_the_same_kept_either_way(
    steps: list[tuple[tuple[str, int], bool]],
) -> None:
    batches = conversation_of(steps)
    records = [record for batch in batches for record in batch]
    with tempfile.TemporaryDirectory() as folder, both(Path(folder), batches) as stores:
        with_runs, one_by_one = stores
        assert reads(with_runs, records) == reads(one_by_one, records)


def test_search_matches_the_message_not_the_run(tmp_path: Path) -> None:
    conversation: list[HistoryRecord] = [
        run("r", 1000, ["apples", "pears", "Apple pie", "plums"]),
        single("s", 2000, "an apple"),
        HistoryItem("n", 3000, DM, "NOTICE", "alice!u@h", ("bob", "apple notice")),
    ]
    with both(tmp_path, [conversation]) as (with_runs, one_by_one):
        got = with_runs.search("apple", DM, None, 10)
        assert [(i.msgid, i.params[1]) for i in got] == [
            ("n", "apple notice"),
            ("s", "an apple"),
            ("r.2", "Apple pie"),
            ("r.0", "apples"),
        ]
        assert got == one_by_one.search("apple", DM, None, 10)
        assert with_runs.search("apple", None, None, 10) == []  # private: only by its key
        assert {i.command for i in got} <= TEXT_KINDS
        assert with_runs.search("bob", DM, None, 10) == []  # the recipient is no text


def test_search_in_runs_folds_ascii_letters_alone_as_in_messages_kept_alone(
    tmp_path: Path,
) -> None:
    # SQLite's LIKE, which searches messages kept alone, folds the case of
    # ASCII letters only; a run's lines are chosen in Python by the same rule.
    conversation: list[HistoryRecord] = [
        run("r", 1000, ["Crème BRÛLÉE", "CRÈME", "crème brûlée", "xa", "by"]),
    ]
    with both(tmp_path, [conversation]) as (with_runs, one_by_one):
        for text, found in (("crème", ["r.2", "r.0"]), ("brûl", ["r.2"]), ("a\nb", [])):
            got = with_runs.search(text, DM, None, 10)
            assert [item.msgid for item in got] == found, text
            assert got == one_by_one.search(text, DM, None, 10)
