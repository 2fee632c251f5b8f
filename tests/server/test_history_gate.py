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
