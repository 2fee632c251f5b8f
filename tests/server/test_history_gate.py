"""The history gate: output waits for its commit, and a lagging commit holds clients' lines."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

import pytest

from tcpchat.server import connection, history_gate
from tcpchat.server.config import Config, Limits
from tcpchat.server.connection import Connection, Flusher
from tcpchat.server.core import ServerCore
from tcpchat.server.listener import new_event_loop
from tcpchat.store.sqlite import SqliteHistory


def _read_now(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


class SlowCommits(SqliteHistory):
    """A store whose commits wait for ``go``: a disk that lags."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.go = threading.Event()
        self.commits = 0

    def commit(self, done):  # type: ignore[no-untyped-def]
        self.commits += 1

        def later(error):  # type: ignore[no-untyped-def]
            self.go.wait(10)
            done(error)

        super().commit(later)


async def _flood_while_the_commit_waits(
    store: SlowCommits, members: int, lines: int, bystander: bytes = b""
) -> tuple[int, int, list[bytes]]:
    """``members`` in #c on socket pairs (the first one sends); ``lines``
    messages in one read while the first commit waits, then ``bystander``
    read from the second member. How many the core took while it waited,
    how many commits in all, and what the last member got."""
    loop = asyncio.get_running_loop()
    core = ServerCore(Config(limits=Limits(flood_rate=0)), history=store)
    flusher = Flusher(loop, core.durability)
    conns, peers = [], []
    for n in range(members):
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        _, conn = await loop.connect_accepted_socket(lambda: Connection(core, flusher), ours)
        conn.data_received(f"NICK m{n}\r\nUSER u 0 * :U\r\nJOIN #c\r\n".encode())
        conns.append(conn)
        peers.append(theirs)
    store.go.set()  # the joins' commits
    await asyncio.sleep(0.3)
    for peer in peers:
        _read_now(peer)
    store.go.clear()
    conns[0].data_received(b"PRIVMSG #c :first\r\n")
    await asyncio.sleep(0.05)  # its commit is under way, and waits
    assert store.commits and not _read_now(peers[-1])
    conns[0].data_received(b"".join(b"PRIVMSG #c :%d\r\n" % n for n in range(lines)))
    await asyncio.sleep(0.2)
    if bystander:
        conns[1].data_received(bystander)
        await asyncio.sleep(0.2)
    during = store.pending()
    store.go.set()
    got = b""
    deadline = loop.time() + 10
    while b":%d\r\n" % (lines - 1) not in got and loop.time() < deadline:
        await asyncio.sleep(0.01)
        got += _read_now(peers[-1])
    after = store.commits
    for conn in conns:
        conn.close()
    await asyncio.sleep(0)
    for peer in peers:
        peer.close()
    return during, after, got.splitlines()


def _run(
    store: SlowCommits, members: int, lines: int, bystander: bytes = b""
) -> tuple[int, int, list[bytes]]:
    kind = os.environ.get("TCPCHAT_TEST_EVENT_LOOP", "asyncio")
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(_flood_while_the_commit_waits(store, members, lines, bystander))


def _texts(got: list[bytes]) -> list[bytes]:
    return [line.rsplit(b":", 1)[1] for line in got if b"PRIVMSG" in line]


@pytest.mark.parametrize("members", [2, 10])
def test_a_lagging_commit_holds_lines_by_the_deliveries_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: int
) -> None:
    # 60 may wait behind the commit: each message counts as its channel's
    # members (more than its one item), 30 messages to 2 members, 6 to 10;
    # the rest of the flood waits, unread, until the commit ends. Then every
    # line arrives, in order. (A line a turn, so that the gate is asked
    # before each.)
    monkeypatch.setattr(history_gate, "HISTORY_BACKLOG", 60)
    monkeypatch.setattr(connection, "TURN_BUDGET", 0.0)
    store = SlowCommits(tmp_path / "history.sqlite3")
    try:
        during, commits, got = _run(store, members, 200)
    finally:
        store.go.set()
        store.close()
    assert during == -(-60 // members)
    assert _texts(got) == [b"first", *(b"%d" % n for n in range(200))]
    assert commits > 2  # the rest went in more commits, not all in the next


@pytest.mark.parametrize("members", [3, 10])
def test_a_flood_behind_a_lagging_commit_holds_back_its_own_lines_not_anothers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: int
) -> None:
    # While the first member's flood fills the batch that waits, another
    # member, with no line in it, adds one line to it, and its next waits
    # with the flood's for the commit after. (The last member, which sent
    # neither, reads them.)
    monkeypatch.setattr(history_gate, "HISTORY_BACKLOG", 60)
    monkeypatch.setattr(connection, "TURN_BUDGET", 0.0)
    store = SlowCommits(tmp_path / "history.sqlite3")
    try:
        during, _, got = _run(store, members, 200, b"PRIVMSG #c :p1\r\nPRIVMSG #c :p2\r\n")
    finally:
        store.go.set()
        store.close()
    flood = -(-60 // members)
    assert during == flood + 1
    texts = _texts(got)
    assert texts[: flood + 2] == [b"first", *(b"%d" % n for n in range(flood)), b"p1"]
    assert texts.index(b"p2") > texts.index(b"%d" % flood)
    assert sorted(texts) == sorted([b"first", b"p1", b"p2", *(b"%d" % n for n in range(200))])


class OneAtATime(SqliteHistory):
    """A store whose commits each wait for a permit (``allow``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.permits = threading.Semaphore(0)
        self.commits = 0

    def allow(self, n: int = 1) -> None:
        self.permits.release(n)

    def commit(self, done):  # type: ignore[no-untyped-def]
        self.commits += 1

        def later(error):  # type: ignore[no-untyped-def]
            self.permits.acquire(timeout=10)
            done(error)

        super().commit(later)


async def _commits_when_written(
    store: OneAtATime, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, list[bytes]]:
    """Two members of #c; the first sends a message, then two more while
    its commit waits. The commits handed to the store by the time the first
    message is written, how many before it was, and what the other member got."""
    loop = asyncio.get_running_loop()
    core = ServerCore(Config(limits=Limits(flood_rate=0)), history=store)
    flusher = Flusher(loop, core.durability)
    conns, peers = [], []
    for n in range(2):
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        _, conn = await loop.connect_accepted_socket(lambda: Connection(core, flusher), ours)
        conn.data_received(f"NICK m{n}\r\nUSER u 0 * :U\r\nJOIN #c\r\n".encode())
        conns.append(conn)
        peers.append(theirs)
    store.allow(100)  # the joins' commits
    await asyncio.sleep(0.3)
    _read_now(peers[1])
    written: list[int] = []
    send = Connection.send

    def counting_send(conn: Connection, data: bytes) -> None:
        if conn is conns[1] and b":first" in data:
            written.append(store.commits)
        send(conn, data)

    monkeypatch.setattr(Connection, "send", counting_send)
    while store.permits.acquire(blocking=False):  # the permits left over
        pass
    conns[0].data_received(b"PRIVMSG #c :first\r\n")
    await asyncio.sleep(0.05)
    before = store.commits
    conns[0].data_received(b"PRIVMSG #c :second\r\nPRIVMSG #c :third\r\n")
    await asyncio.sleep(0.05)
    store.allow()  # the first message's commit, and no other yet
    await asyncio.sleep(0.2)
    got = _read_now(peers[1])
    store.allow(100)
    await asyncio.sleep(0.2)
    got += _read_now(peers[1])
    for conn in conns:
        conn.close()
    await asyncio.sleep(0)
    for peer in peers:
        peer.close()
    return written[0], before, got.splitlines()


def test_the_next_commit_begins_before_the_last_ones_output_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the first message's commit is durable, the batch that waited
    # behind it (the next two messages) is handed to the store before the
    # first message is written: the writer need not wait for the loop's
    # writes. The lines arrive in order all the same.
    store = OneAtATime(tmp_path / "history.sqlite3")
    kind = os.environ.get("TCPCHAT_TEST_EVENT_LOOP", "asyncio")
    try:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
            at_write, before, got = runner.run(_commits_when_written(store, monkeypatch))
    finally:
        store.allow(100)
        store.close()
    assert at_write == before + 1
    assert _texts(got) == [b"first", b"second", b"third"]
