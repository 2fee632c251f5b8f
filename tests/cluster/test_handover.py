"""History hand-over: a node that starts late, or comes back, takes the
history it lacks from a running node, and serves the same CHATHISTORY.

Real nodes (in this process) on a real redis-server. The running node saves
snapshots every second, and each test waits for one that comes after the
messages, so the late node cannot have them from the stream: only the
hand-over can give them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import RunningServer, say
from ircclient import IrcClient
from redisnode import RedisServer

from tcpchat.cluster import handover
from tcpchat.server.config import HistorySettings
from tcpchat.store import HistoryItem
from tcpchat.store.history import StoredItem
from tcpchat.store.sqlite import SqliteHistory

Nodes = Callable[..., RunningServer]
CAPS = (
    "batch",
    "server-time",
    "message-tags",
    "echo-message",
    "draft/chathistory",
    "draft/event-playback",
    "draft/message-redaction",
)
SNAPSHOTS = {"snapshot_interval": 1.0}


def kept(path: Path) -> HistorySettings:
    return HistorySettings(path=str(path))


def history(client: IrcClient, target: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What CHATHISTORY LATEST gives ``client`` for ``target``: (msgid, time, command, params)."""
    client.send(f"CHATHISTORY LATEST {target} * 50")
    return [(m.tags["msgid"], m.tags["time"], m.command, m.params) for m in client.batch()]


def entry(text: bytes) -> tuple[int, int]:
    ms, seq = text.split(b"-")
    return int(ms), int(seq)


def hold_answers(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make an answering node's export wait: (asked, gate): ``asked`` is set
    when it begins, and it goes on once ``gate`` is set."""
    asked, gate = threading.Event(), threading.Event()
    export = SqliteHistory.export

    def held(self: SqliteHistory, *args: Any) -> Generator[list[StoredItem], None, None]:
        asked.set()
        assert gate.wait(10)
        yield from export(self, *args)

    monkeypatch.setattr(SqliteHistory, "export", held)
    return asked, gate


def snapshot_after_now(redis_server: RedisServer) -> None:
    """Wait until a snapshot holds everything appended so far: a node that
    joins then replays nothing of it."""
    direct = redis.Redis(port=redis_server.port)
    [(last, _)] = direct.xrevrange("tcpchat:tcpchat:events", count=1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        saved = direct.hget("tcpchat:tcpchat:snapshot", "id")
        if saved is not None and entry(saved) >= entry(last):
            return
        time.sleep(0.1)
    raise AssertionError("no snapshot came")


def logged(caplog: pytest.LogCaptureFixture, pattern: str, timeout: float = 15) -> re.Match[str]:
    """Wait for a line of the cluster's log that matches ``pattern``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.name == "tcpchat.cluster" and (m := re.search(pattern, record.getMessage())):
                return m
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the log")


def rows(path: Path) -> list[tuple[str, str, int]]:
    """Everything a history file keeps, in its order: (conversation, msgid, redacted)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT target, msgid, redacted FROM messages ORDER BY id").fetchall()


def same_files(first: Path, second: Path) -> None:
    """Both files keep the same items in the same order (waiting for the
    commits of what the nodes applied last)."""
    deadline = time.monotonic() + 5
    while (got := (rows(first), rows(second)))[0] != got[1] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got[0] == got[1]


def said(client: IrcClient, target: str, *texts: str) -> list[str]:
    """``client`` says ``texts``; returns their msgids once each is back
    (echo-message), so it is in the network's order before what is said next."""
    msgids = []
    for text in texts:
        client.send(f"PRIVMSG {target} :{text}")
        msgids.append(client.expect("PRIVMSG", target, text).tags["msgid"])
    return msgids


def chat(alice: IrcClient, bob: IrcClient, prefix: str) -> str:
    """Alice and bob talk in #c and in private; alice takes one back. The
    msgid of what she took back."""
    said(alice, "#c", f"{prefix} one", f"{prefix} two")
    said(bob, "#c", f"{prefix} three")
    said(bob, "alice", f"{prefix} psst")
    [oops] = said(alice, "#c", f"{prefix} oops")
    alice.send(f"REDACT #c {oops}")
    alice.expect("REDACT")
    said(alice, "#c", f"{prefix} four")
    return oops


def test_a_node_that_starts_later_serves_the_history_from_before_it(
    make_node: Nodes,
    redis_server: RedisServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, "tcpchat.cluster")
    # The answer waits until the late node has kept something live: the
    # history from before must still come before it.
    _, gate = hold_answers(monkeypatch)
    files = {name: tmp_path / f"{name}.sqlite3" for name in ("a", "b")}
    a = make_node("a", history=kept(files["a"]), cluster_settings=SNAPSHOTS)
    with a.client("alice", CAPS) as alice, a.client("bob", CAPS) as bob:
        alice.join("#c")
        bob.join("#c")
        oops = chat(alice, bob, "before")
        snapshot_after_now(redis_server)
        b = make_node("b", history=kept(files["b"]))
        with b.client("carol", CAPS) as carol:
            carol.join("#c")
            alice.expect("JOIN")
            said(alice, "#c", "while b takes the history")
            carol.expect("PRIVMSG")
            # Before the hand-over: only what b kept live.
            kept_live = [(command, params) for *_, command, params in history(carol, "#c")]
            assert kept_live == [
                ("JOIN", ("#c",)),
                ("PRIVMSG", ("#c", "while b takes the history")),
            ]
            gate.set()
            count = int(logged(caplog, r"history hand-over: (\d+) items from node a").group(1))
            assert count >= 7  # two joins, five messages and a redaction at least
            on_a, on_b = history(alice, "#c"), history(carol, "#c")
            assert on_b == on_a
            texts = [params[1] for _, _, command, params in on_a if command == "PRIVMSG"]
            assert texts == [
                *(f"before {n}" for n in ("one", "two", "three", "four")),
                "while b takes the history",
            ]
            assert oops not in [msgid for msgid, *_ in on_b]  # still redacted
        bob.send("QUIT")
        alice.expect("QUIT")
        with b.client("bob", CAPS) as bob_on_b:  # the private conversation, from b
            on_b = history(bob_on_b, "alice")
            assert on_b == history(alice, "bob")
            assert [params[1] for *_, params in on_b] == ["before psst"]
    same_files(files["a"], files["b"])


def test_a_node_that_comes_back_takes_what_was_said_while_it_was_down(
    make_node: Nodes,
    redis_server: RedisServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tcpchat.cluster")
    files = {name: tmp_path / f"{name}.sqlite3" for name in ("a", "b")}
    a = make_node("a", history=kept(files["a"]), cluster_settings=SNAPSHOTS)
    b = make_node("b", history=kept(files["b"]))
    with a.client("alice", CAPS) as alice:
        alice.join("#c")
        with b.client("bob", CAPS) as bob:
            bob.join("#c")
            chat(alice, bob, "up")
            b.thread.stop("Down for maintenance")
            alice.expect("QUIT")
        had = rows(files["b"])
        with a.client("bob", CAPS) as bob:
            bob.join("#c")
            chat(alice, bob, "down")
            bob.send("QUIT")
            alice.expect("QUIT")
        snapshot_after_now(redis_server)
        caplog.clear()
        b = make_node("b", history=kept(files["b"]))
        count = int(logged(caplog, r"history hand-over: (\d+) items from node a").group(1))
        with b.client("carol", CAPS) as carol:
            carol.join("#c")
            joined = alice.expect("JOIN").tags["msgid"]
            on_a, on_b = history(alice, "#c"), history(carol, "#c")
    assert on_b == on_a
    assert [p[1] for *_, command, p in on_b if command == "PRIVMSG"] == [
        f"{when} {n}" for when in ("up", "down") for n in ("one", "two", "three", "four")
    ]
    same_files(files["a"], files["b"])
    now = rows(files["b"])
    assert now[: len(had)] == had  # what it had stays first
    assert len(set(now)) == len(now)  # nothing twice
    # What it lacked came by the hand-over, all of what came before carol joined.
    assert count == [msgid for _, msgid, _ in now].index(joined) - len(had)


def test_a_node_alone_starts_at_once_and_serves(
    make_node: Nodes,
    redis_server: RedisServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tcpchat.cluster")
    first = make_node("first", cluster_settings=SNAPSHOTS)  # keeps no history
    with first.client("alice") as alice:
        alice.join("#c")
        say(alice, "#c", "said before")
    snapshot_after_now(redis_server)
    first.thread.stop()
    started = time.monotonic()
    alone = make_node("alone", history=kept(tmp_path / "alone.sqlite3"))
    assert time.monotonic() - started < 3
    logged(caplog, r"history hand-over: no other node in the network")
    with alone.client("bob", CAPS) as bob:
        bob.join("#c")
        say(bob, "#c", "hello")
        assert [p[1] for *_, c, p in history(bob, "#c") if c == "PRIVMSG"] == ["hello"]


def test_a_node_no_one_answers_serves_while_it_waits(
    make_node: Nodes,
    redis_server: RedisServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handover, "ANSWER_TIMEOUT", 2.0)
    caplog.set_level(logging.INFO, "tcpchat.cluster")
    silent = make_node("silent", cluster_settings=SNAPSHOTS)  # keeps no history: cannot answer
    with silent.client("alice") as alice:
        alice.join("#c")
        say(alice, "#c", "said before")
        snapshot_after_now(redis_server)
        started = time.monotonic()
        waiting = make_node("waiting", history=kept(tmp_path / "waiting.sqlite3"))
        with waiting.client("bob", CAPS) as bob:  # served while the hand-over waits
            bob.join("#c")
            assert time.monotonic() - started < handover.ANSWER_TIMEOUT
            logged(caplog, r"history hand-over: no node answered within 2 s \(of silent\)")
            say(alice, "#c", "said after")
            assert bob.expect("PRIVMSG").params[1] == "said after"


def test_a_hand_over_cut_by_a_redis_restart_is_tried_again(
    make_node: Nodes,
    redis_server: RedisServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, "tcpchat.cluster")
    asked, gate = hold_answers(monkeypatch)
    a = make_node("a", history=kept(tmp_path / "a.sqlite3"), cluster_settings=SNAPSHOTS)
    with a.client("alice", CAPS) as alice:
        alice.join("#c")
        said(alice, "#c", "before the restart")
        snapshot_after_now(redis_server)
        b = make_node("b", history=kept(tmp_path / "b.sqlite3"))
        assert asked.wait(10)  # a is answering: Redis goes in the middle of it
        redis_server.stop()
        time.sleep(0.5)
        redis_server.start()
        gate.set()
        logged(caplog, r"history hand-over interrupted \(.*\); trying again")
        logged(caplog, r"history hand-over: [1-9]\d* items from node a", timeout=30)
        with b.client("carol", CAPS) as carol:
            carol.join("#c")
            alice.expect("JOIN")
            assert history(carol, "#c") == history(alice, "#c")


def test_an_answer_chunk_reads_back_as_it_was_and_another_version_is_refused() -> None:
    kept_items = [
        (
            HistoryItem("m1", 1000, "#c", "PRIVMSG", "a!u@h", ("#c", "hé"), {"+k": "v"}, "n:a"),
            False,
        ),
        (HistoryItem("m2", 1001, "#c", "PRIVMSG", "a!u@h", ("#c", "gone")), True),
    ]
    assert handover.decode_chunk(handover.encode_chunk(kept_items)) == kept_items
    with pytest.raises(handover.HandOverError, match="version"):
        handover.decode_chunk(b'{"v": 99, "items": []}')
    with pytest.raises(handover.HandOverError, match="wrong shape"):
        handover.decode_chunk(b'{"v": 1, "items": [["m1", "not a time"]]}')
