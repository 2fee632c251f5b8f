"""Hostile and broken clients: timeouts, floods, long lines, bad bytes, slow readers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest
from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.server import connection
from tcpchat.server.commands import COMMANDS
from tcpchat.server.config import Config, HistorySettings, Limits
from tcpchat.server.connection import Connection, Flusher
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.core import ServerCore
from tcpchat.server.listener import new_event_loop
from tcpchat.store.sqlite import SqliteHistory


def test_registration_timeout(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(registration_timeout=1)
    with server.client() as c:
        c.send("NICK slow")
        error = c.expect("ERROR", timeout=5)
        assert "Registration timed out" in error.params[0]
        assert c.closed_by_server()


def test_ping_timeout(make_server) -> None:  # type: ignore[no-untyped-def]
    # alice has ping_timeout to answer her PING: 2 s, as on a loaded machine
    # 1 s was sometimes too short for the test's own client.
    server = make_server(ping_interval=1, ping_timeout=2)
    with server.client("alice") as a, server.client("sleepy") as s:
        a.join("#p")
        s.join("#p")
        ping = a.expect("PING", timeout=5)
        a.send(f"PONG :{ping.params[0]}")
        s.expect("PING", timeout=5)  # and never answers
        quit_ = a.expect("QUIT", timeout=5)
        assert quit_.source is not None and quit_.source.startswith("sleepy!")
        assert quit_.params[0].startswith("Ping timeout")


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["in one write", "one at a time"])
def test_flood_is_throttled_then_cut_off(make_server, one_at_a_time: bool) -> None:  # type: ignore[no-untyped-def]
    # One at a time: each line is read on its own, and handled at once only
    # while the bucket has a token for it.
    server = make_server(flood_rate=5, flood_burst=5, flood_excess=20)
    with server.client("alice") as a:
        start = time.monotonic()
        if one_at_a_time:
            for i in range(10):
                a.send(f"PING :{i}")
                time.sleep(0.01)
        else:
            a.send(*[f"PING :{i}" for i in range(10)])
        for i in range(10):
            assert a.expect("PONG").params[-1] == str(i)
        # Five lines come from the burst, five more at five per second.
        assert time.monotonic() - start >= 0.7
    with server.client("flooder") as f, server.client("bystander") as b:
        f.send(*[f"PRIVMSG bystander :{i}" for i in range(200)])
        assert "Excess Flood" in f.expect("ERROR", timeout=5).params[0]
        b.send("PING :still here")
        got = b.collect_until("PONG")
        received = [m.params[1] for m in got if m.command == "PRIVMSG"]
        # What the bucket let through arrived in order; the rest was never relayed.
        assert 0 < len(received) < 20
        assert received == [str(i) for i in range(len(received))]


def test_a_flood_does_not_make_others_wait_for_all_of_it(make_server) -> None:  # type: ignore[no-untyped-def]
    # Without a per-turn limit, the server handled every line of a read (up
    # to 256 KiB, some ten thousand lines here) before anyone else's line.
    # To a channel: private messages in a row are taken together so fast
    # (ServerCore.handle_run) that the whole flood can be over before the
    # bystander has read its first line.
    server = make_server(sendq=1 << 26)
    with server.client("flooder") as f, server.client("bystander") as b:
        f.join("#flood")
        b.join("#flood")
        flood = 50000
        lines = [b"PRIVMSG #flood :%d\r\n" % i for i in range(flood)]
        # The server's loop waits while the flood's first 3,500 lines (some
        # 75 KiB) and the bystander's PING reach it, so that it reads them in
        # the same turn, whatever the speed of this machine and of the test's
        # own client.
        first = 3500
        held, go = threading.Event(), threading.Event()
        server.thread.runner.call_soon_threadsafe(lambda: (held.set(), go.wait(10)))
        assert held.wait(10)
        try:
            f.send_raw(b"".join(lines[:first]))
            b.send("PING :me first")
        finally:
            go.set()
        sender = threading.Thread(target=f.send_raw, args=(b"".join(lines[first:]),))
        sender.start()
        try:
            got = b.collect_until("PONG")
        finally:
            sender.join()
        before = [m.params[1] for m in got if m.command == "PRIVMSG"]
        assert len(before) < first // 4
        # and the flood arrives whole and in order
        rest = [b.expect("PRIVMSG").params[1] for _ in range(flood - len(before))]
        assert before + rest == [str(i) for i in range(flood)]


def test_long_line_gets_417_and_connection_lives(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("PRIVMSG alice :" + "x" * 600)
        a.expect("417")
        a.send_raw(b"PRIVMSG alice :" + b"y" * 20000 + b"\r\n")
        a.expect("417")
        a.send("PING :alive")
        assert a.expect("PONG").params[-1] == "alive"


def test_invalid_utf8_is_relayed_with_replacement(server: RunningServer) -> None:
    """UTF8ONLY: what is not UTF-8 is relayed with U+FFFD, and the sender
    warned; a line of valid UTF-8 draws no warning."""
    with server.client("alice") as a, server.client("bob") as b:
        a.send_raw(b"PRIVMSG bob :caf\xe9 \xff ok\r\n")
        assert b.expect("PRIVMSG").params[1] == "caf\ufffd \ufffd ok"
        warn = a.expect("WARN")
        assert warn.params[:2] == ("PRIVMSG", "INVALID_UTF8")
        a.send_raw(b"@label=x TOPIC #nowhere :\xff\r\n")
        assert a.expect("WARN").params[:2] == ("TOPIC", "INVALID_UTF8")
        a.send("PRIVMSG bob :caf\u00e9")
        assert b.expect("PRIVMSG").params[1] == "caf\u00e9"
        a.expect_none("WARN")


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["in batches", "one at a time"])
def test_slow_reader_is_cut_off_with_sendq_exceeded(make_server, one_at_a_time: bool) -> None:  # type: ignore[no-untyped-def]
    # One at a time: each line's flush writes straight to the members'
    # sockets; a member that stopped reading must still queue, and be
    # measured against sendq.
    server = make_server(sendq=8192)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((server.host, server.port))
    slow.sendall(b"NICK slow\r\nUSER s 0 * :S\r\nJOIN #big\r\n")
    with slow, server.client("talker") as t, server.client("watcher") as w:
        w.join("#big")
        t.join("#big")
        line = "PRIVMSG #big :" + "z" * 400
        deadline = time.monotonic() + 30
        quit_ = None
        sent = 0
        while quit_ is None and time.monotonic() < deadline and sent < 20000:
            if one_at_a_time:
                # In lock step with the watcher, so that the server reads each line alone.
                t.send(line)
                sent += 1
                got = w.expect_where(lambda m: m.command in ("PRIVMSG", "QUIT"), "a line")
                quit_ = got if got.command == "QUIT" else None
            else:
                t.send(*[line] * 50)
                sent += 50
                with contextlib.suppress(AssertionError, TimeoutError):
                    quit_ = w.expect_where(lambda m: m.command == "QUIT", "QUIT", timeout=0.05)
        assert quit_ is not None, "the slow reader was never cut off"
        assert quit_.source is not None and quit_.source.startswith("slow!")
        assert quit_.params == ("SendQ exceeded",)


def _read_now(sock: socket.socket) -> bytes:
    """Whatever the socket holds at this moment, without waiting."""
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


NO_FLOOD_CONTROL = Limits(flood_rate=0)

T = TypeVar("T")


def _run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the event loop the servers of the tests run on."""
    kind = os.environ.get("TCPCHAT_TEST_EVENT_LOOP", "asyncio")
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(main)


async def _in_c(
    core: ServerCore, flusher: Flusher, sockets: dict[str, tuple[socket.socket, socket.socket]]
) -> tuple[dict[str, Connection], dict[str, socket.socket]]:
    """A connection in #c for each nick, over its (server's, client's) sockets;
    the connections, and the clients' sockets, not blocking."""
    loop = asyncio.get_running_loop()
    conns, peers = {}, {}
    for nick, (ours, theirs) in sockets.items():
        theirs.setblocking(False)
        _, conn = await loop.connect_accepted_socket(lambda: Connection(core, flusher), ours)
        conn.data_received(f"NICK {nick}\r\nUSER u 0 * :U\r\nJOIN #c\r\n".encode())
        conns[nick] = conn
        peers[nick] = theirs
    return conns, peers


async def _close_all(conns: dict[str, Connection], peers: dict[str, socket.socket]) -> None:
    for conn in conns.values():
        conn.close()
    await asyncio.sleep(0)
    for peer in peers.values():
        peer.close()


class Turn(NamedTuple):
    """What bob's socket and queue held around one loop turn's reads."""

    read: bytes  # on the socket as soon as the reads were handled
    queued: int  # lines in bob's queue then
    turn: bytes  # after one more pass of the loop
    later: bytes  # everything, once the turn's last line is in (at most 5 s)


async def _turns(
    history: SqliteHistory | None,
    turns: tuple[tuple[tuple[str, bytes], ...], ...],
    limits: Limits = NO_FLOOD_CONTROL,
    then_hang_up: str | None = None,
) -> list[Turn]:
    """alice, carol and bob on socket pairs in #c; each turn's reads (nick,
    line) are handled in one loop turn, each as a read of its own; after the
    first turn's, the client ``then_hang_up`` is gone, still in that turn."""
    loop = asyncio.get_running_loop()
    core = ServerCore(Config(limits=limits), history=history)
    flusher = Flusher(loop, core.durability)
    pairs = {nick: socket.socketpair() for nick in ("alice", "carol", "bob")}
    conns, peers = await _in_c(core, flusher, pairs)
    await asyncio.sleep(0.2)
    _read_now(peers["bob"])
    seen = []
    for reads in turns:
        for nick, line in reads:
            conns[nick].data_received(line)
        if then_hang_up is not None:
            conns[then_hang_up].connection_lost(None)
        read = _read_now(peers["bob"])
        queued = b"".join(conns["bob"].out).count(b"\n")
        # One pass: the end of the turn runs before this task resumes, but a
        # flush it schedules runs after.
        await asyncio.sleep(0)
        turn = read + _read_now(peers["bob"])
        later = turn
        last = b"QUIT" if then_hang_up else reads[-1][1].split(b":")[-1]
        deadline = loop.time() + 5
        while last not in later and loop.time() < deadline:
            await asyncio.sleep(0.01)
            later += _read_now(peers["bob"])
        seen.append(Turn(read, queued, turn, later))
        then_hang_up = None
    await _close_all(conns, peers)
    return seen


def _texts(received: bytes) -> list[bytes]:
    return [line.rsplit(b":", 1)[-1] for line in received.splitlines() if b" PRIVMSG " in line]


def test_a_line_is_queued_by_delivery_and_flushed_once_no_more_reads_come(
    tmp_path: Path,
) -> None:
    read = (("alice", b"PRIVMSG #c :now\r\n"),)
    # Delivery writes nothing itself: the line is in bob's queue, and the
    # flush writes it; with flood control on (the default) too.
    for limits in (NO_FLOOD_CONTROL, Limits()):
        [got] = _run(_turns(None, (read,), limits))
        assert (got.read, got.queued) == (b"", 1)
        assert got.later.endswith(b" PRIVMSG #c :now\r\n")
    history = SqliteHistory(tmp_path / "history.sqlite3", 30, 1000)
    try:
        [got] = _run(_turns(history, (read,)))
    finally:
        history.close()
    # Written only once the message is durable: never before its commit.
    assert got.turn == b""
    assert got.later.endswith(b" PRIVMSG #c :now\r\n")


def test_lines_from_several_clients_in_one_turn_go_out_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # All of them are queued, for one write per member, in the order they
    # were read. (A loaded machine must not spend a turn's time budget
    # before a read's second line: that is another test.)
    monkeypatch.setattr(connection, "TURN_BUDGET", 1.0)
    reads = (
        ("alice", b"PRIVMSG #c :one\r\n"),
        ("carol", b"PRIVMSG #c :two\r\nPRIVMSG #c :2b\r\n"),
        ("alice", b"PRIVMSG #c :three\r\n"),
    )
    two_alone = (("alice", b"PRIVMSG #c :eight\r\n"), ("carol", b"PRIVMSG #c :nine\r\n"))
    crowded, two = _run(_turns(None, (reads, two_alone)))
    assert (crowded.read, crowded.queued) == (b"", 4)
    assert _texts(crowded.later) == [b"one", b"two", b"2b", b"three"]
    assert (two.read, two.queued) == (b"", 2)
    assert _texts(two.later) == [b"eight", b"nine"]


async def _burst(gap_turns: int, turns: int) -> list[tuple[int, bytes]]:
    """alice, carol and bob in #c on socket pairs; alice and carol send a
    line each in turn, a read a loop turn, ``turns`` lines, then nothing for
    ``gap_turns`` turns and one line more. What bob's socket held after
    each turn, from the first line on: (turn, bytes)."""
    loop = asyncio.get_running_loop()
    core = ServerCore(Config(limits=NO_FLOOD_CONTROL))
    flusher = Flusher(loop)
    pairs = {nick: socket.socketpair() for nick in ("alice", "carol", "bob")}
    conns, peers = await _in_c(core, flusher, pairs)
    await asyncio.sleep(0.2)
    _read_now(peers["bob"])
    seen = []
    schedule = [("alice", "carol")[n % 2] for n in range(turns)] + [None] * gap_turns + ["alice"]
    for n, nick in enumerate(schedule):
        if nick is not None:
            conns[nick].data_received(f"PRIVMSG #c :{n}\r\n".encode())
        await asyncio.sleep(0)
        seen.append((n, _read_now(peers["bob"])))
    for _ in range(3):
        await asyncio.sleep(0)
        seen.append((len(seen), _read_now(peers["bob"])))
    await _close_all(conns, peers)
    return seen


def test_a_burst_of_reads_is_flushed_once_it_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lines read one a loop turn, as people's clients on one timer send them,
    # go out together once a turn reads nothing new: one write per member.
    monkeypatch.setattr(connection, "FLUSH_WAIT", 10.0)  # no bound in this test
    seen = _run(_burst(gap_turns=3, turns=6))
    writes = [(n, data) for n, data in seen if data]
    assert _texts(writes[0][1]) == [b"0", b"1", b"2", b"3", b"4", b"5"]
    assert writes[0][0] >= 6  # not before the burst was over
    assert [_texts(data) for _, data in writes[1:]] == [[b"9"]]


def test_a_flush_waits_for_more_reads_no_longer_than_flush_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read every loop turn, without end: the flush still comes, FLUSH_WAIT
    # after the first line was queued (here 0: the first turn's wait only).
    monkeypatch.setattr(connection, "FLUSH_WAIT", 0.0)
    seen = _run(_burst(gap_turns=0, turns=40))
    first = next(n for n, data in seen if data)
    assert first <= 2
    assert sum(_texts(data) != [] for _, data in seen) > 5  # flushed again and again
    assert [t for _, data in seen for t in _texts(data)] == [str(n).encode() for n in range(41)]


def test_a_line_alone_in_its_turn_still_goes_out_when_its_client_hangs_up() -> None:
    [got] = _run(_turns(None, ((("alice", b"PRIVMSG #c :bye\r\n"),),), then_hang_up="alice"))
    assert _texts(got.later) == [b"bye"]
    assert got.later.index(b"PRIVMSG") < got.later.index(b"QUIT")


async def _fill_then_drain(lines: int, burst: int) -> tuple[list[bytes], list[int]]:
    """alice and bob in #c on TCP, bob with small socket buffers. alice
    sends ``lines`` lone lines, one a turn, while bob does not read: past
    his socket's room, not past his transport's high-water mark. Twice, bob
    empties his socket and alice sends one more. Once bob has read all,
    alice sends two lone lines, and then ``burst`` lines in one read.

    Returns the messages bob got, in order; the bytes his transport held
    before each of alice's lines sent as he emptied his socket."""
    loop = asyncio.get_running_loop()
    core = ServerCore(Config(limits=NO_FLOOD_CONTROL))
    flusher = Flusher(loop)
    sockets = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        for nick in ("alice", "bob"):
            theirs = socket.socket()
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            theirs.connect(listener.getsockname())
            ours, _ = listener.accept()
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            sockets[nick] = (ours, theirs)
    conns, peers = await _in_c(core, flusher, sockets)
    received = b""

    async def bob_reads(text: bytes) -> None:
        nonlocal received
        deadline = loop.time() + 5
        while text not in received and loop.time() < deadline:
            await asyncio.sleep(0.01)
            received += _read_now(peers["bob"])

    await bob_reads(b" JOIN #c")
    received = b""
    bob = conns["bob"].transport
    assert bob is not None
    filler = "x" * 400
    for n in range(lines):
        conns["alice"].data_received(f"PRIVMSG #c :{n} {filler}\r\n".encode())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    # His socket has room again, but his transport has not yet written what
    # it holds: these lines must not overtake that.
    held = []
    for n in range(lines, lines + 2):
        received += _read_now(peers["bob"])
        held.append(bob.get_write_buffer_size())
        conns["alice"].data_received(f"PRIVMSG #c :{n} {filler}\r\n".encode())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await bob_reads(f":{lines + 1} ".encode())
    # All read. The transport's buffer emptied with no word to the server:
    # the next flush finds it empty, and writes straight again.
    conns["alice"].data_received(b"PRIVMSG #c :again\r\n")
    await bob_reads(b":again")
    conns["alice"].data_received(b"PRIVMSG #c :last\r\n")
    await bob_reads(b":last")
    # A burst, flushed in one write, more than the socket takes at once.
    conns["alice"].data_received(
        b"".join(b"PRIVMSG #c :burst %d %s\r\n" % (n, filler.encode()) for n in range(burst))
    )
    await bob_reads(b":burst %d " % (burst - 1))
    await _close_all(conns, peers)
    return received.splitlines(), held


def test_a_member_whose_socket_is_full_gets_every_line_in_order() -> None:
    # Output goes to the socket's descriptor while the transport holds none;
    # what the socket does not take goes through the transport, and later
    # lines wait behind that until the transport's buffer is empty.
    lines, burst = 100, 40
    got, held = _run(_fill_then_drain(lines, burst))
    assert min(held) > 0, "the lines never filled bob's socket"
    # Each line whole, once: none cut short, nothing written twice.
    assert {line.split(b" :")[0] for line in got} == {b":alice!~u@127.0.0.1 PRIVMSG #c"}
    filler = b"x" * 400
    assert [line.split(b" :")[1] for line in got] == (
        [b"%d %s" % (n, filler) for n in range(lines + 2)]
        + [b"again", b"last"]
        + [b"burst %d %s" % (n, filler) for n in range(burst)]
    )


def test_output_held_for_history_reaches_each_member_in_its_own_form(  # type: ignore[no-untyped-def]
    make_server, tmp_path: Path
) -> None:
    # After a commit, members holding the same lines share one joined copy;
    # a member in between whose lines differ (it takes server-time) gets its own.
    server = make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))
    with (
        server.client("alice") as a,
        server.client("bob", ("server-time",)) as b,
        server.client("carol") as c,
        server.client("dave") as d,
    ):
        for member in (a, b, c, d):
            member.join("#c")
        d.send(*[f"PRIVMSG #c :line {i}" for i in range(5)])
        for member, tagged in ((a, False), (b, True), (c, False)):
            got = [member.expect("PRIVMSG") for _ in range(5)]
            assert [m.params[1] for m in got] == [f"line {i}" for i in range(5)]
            assert all(("time" in m.tags) == tagged for m in got)


def test_client_limits(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_clients_per_ip=2)
    with server.client("one"), server.client("two"), server.client() as third:
        assert "Too many connections" in third.expect("ERROR").params[0]
    server = make_server(max_clients=1)
    with server.client("one"), server.client() as second:
        assert "Server is full" in second.expect("ERROR").params[0]


@pytest.fixture
def broken_command() -> object:
    def explode(ctx: Context, msg: object) -> None:
        raise RuntimeError("handler bug")

    COMMANDS["EXPLODE"] = CommandSpec(explode)
    yield
    del COMMANDS["EXPLODE"]


def test_handler_exception_is_contained(
    server: RunningServer, broken_command: object, caplog: pytest.LogCaptureFixture
) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.send("EXPLODE now")
        assert a.expect("400").params[1] == "EXPLODE"
        a.send("PRIVMSG bob :still works")
        assert b.expect("PRIVMSG").params[1] == "still works"
    assert any("EXPLODE now" in r.getMessage() for r in caplog.records)


def test_many_clients_at_once(server: RunningServer) -> None:
    clients = [IrcClient(server.host, server.port) for _ in range(100)]
    try:
        for i, c in enumerate(clients):
            c.send(f"NICK user{i}", f"USER u{i} 0 * :U", "JOIN #crowd")
        for i, c in enumerate(clients):
            c.expect("366", f"user{i}", "#crowd")
        clients[0].send("PRIVMSG #crowd :hello everyone")
        for c in clients[1:]:
            assert c.expect("PRIVMSG").params == ("#crowd", "hello everyone")
    finally:
        for c in clients:
            c.close()


def test_without_descriptor_writes_lines_go_through_the_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where sockets are not file descriptors (Windows), no connection keeps
    one to write to, and every line still arrives, in order."""
    monkeypatch.setattr(connection, "DIRECT_WRITES", False)

    async def main() -> tuple[list[int | None], bytes]:
        loop = asyncio.get_running_loop()
        core = ServerCore(Config(limits=NO_FLOOD_CONTROL))
        pairs = {nick: socket.socketpair() for nick in ("alice", "bob")}
        conns, peers = await _in_c(core, Flusher(loop), pairs)
        await asyncio.sleep(0.2)  # all registered and joined
        got = b""
        for text in (b"one", b"two", b"three"):
            conns["alice"].data_received(b"PRIVMSG #c :" + text + b"\r\n")
            await asyncio.sleep(0)
        deadline = loop.time() + 5
        while b":three" not in got and loop.time() < deadline:
            await asyncio.sleep(0.01)
            got += _read_now(peers["bob"])
        directs = [conn.fd for conn in conns.values()]
        await _close_all(conns, peers)
        return directs, got

    directs, got = _run(main())
    assert directs == [None, None]
    assert _texts(got) == [b"one", b"two", b"three"]
