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
    store: SlowCommits, members: int, lines: int
) -> tuple[int, int, list[bytes]]:
    """``members`` in #c on socket pairs (the first one sends); ``lines``
    messages in one read while the first commit waits. How many the core
    took while it waited, how many after, and what the last member got."""
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


def _run(store: SlowCommits, members: int, lines: int) -> tuple[int, int, list[bytes]]:
    kind = os.environ.get("TCPCHAT_TEST_EVENT_LOOP", "asyncio")
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(_flood_while_the_commit_waits(store, members, lines))


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
    assert [line.rsplit(b":", 1)[1] for line in got if b"PRIVMSG" in line] == [
        b"first",
        *(b"%d" % n for n in range(200)),
    ]
    assert commits > 2  # the rest went in more commits, not all in the next
