"""The client core against real servers: tcpchat's own, and ngIRCd from Debian.

The same tests run against both, so the client is shown to be a real IRC
client and not one that only understands its own server. The other side of
each conversation is the raw test client, which shows exactly what went
over the wire.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient
from ngircd import Ngircd, find_ngircd, free_port
from updatelog import UpdateLog, joined

from tcpchat.client.connection import UNRESOLVED_TRIES, ClientThread
from tcpchat.client.intents import Kick, Say
from tcpchat.client.session import WANTED_CAPS
from tcpchat.client.updates import ConnState, Line, LineKind, Status
from tcpchat.irc import parse

NGIRCD = find_ngircd()


@dataclass(frozen=True)
class Endpoint:
    kind: str
    host: str
    port: int

    def raw(self, nick: str) -> IrcClient:
        client = IrcClient(self.host, self.port)
        client.register(nick)
        return client


@pytest.fixture(params=["tcpchat", "ngircd"])
def irc_server(
    request: pytest.FixtureRequest, make_server: Callable[..., RunningServer], tmp_path: Path
) -> Iterator[Endpoint]:
    if request.param == "tcpchat":
        server = make_server()
        yield Endpoint("tcpchat", server.host, server.port)
        return
    if NGIRCD is None:
        pytest.skip("ngircd is not installed (Debian package ngircd)")
    with Ngircd(NGIRCD, tmp_path) as ngircd:
        yield Endpoint("ngircd", ngircd.host, ngircd.port)


def test_chat_both_ways(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    client, log = connect(irc_server.host, irc_server.port, "alice", "#chat")
    joined(log, "#chat", "alice")
    with irc_server.raw("bob") as bob:
        bob.join("#chat")
        joined(log, "#chat", "alice", "bob")
        bob.send("PRIVMSG #chat :hi alice 👋")
        line = log.wait_line("hi alice")
        assert line.nick == "bob" and line.mention and line.buffer == "#chat"
        client.submit(Say("#chat", "hello bob, שלום 😀"))
        got = bob.expect("PRIVMSG")
        assert got.params == ("#chat", "hello bob, שלום 😀")
        assert log.wait_line("hello bob").own
        client.submit(Say("#chat", "waves", action=True))
        assert bob.expect("PRIVMSG").params[1] == "\x01ACTION waves\x01"
        bob.send("PRIVMSG alice :\x01ACTION nods\x01")
        action = log.wait_line("nods")
        assert action.kind is LineKind.ACTION and action.buffer == "bob"


def test_capabilities_requested_are_the_wanted_ones_offered(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    client, log = connect(irc_server.host, irc_server.port, "capper")
    log.wait_for(lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "welcome")
    assert "multi-prefix" in client.session.caps
    assert client.session.caps <= WANTED_CAPS
    if irc_server.kind == "tcpchat":
        # History is off: no chathistory, nor redaction (it finds messages there).
        assert client.session.caps == WANTED_CAPS - {"draft/chathistory", "draft/message-redaction"}


def test_nick_in_use_takes_an_alternative(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    with irc_server.raw("dup"):
        _client, log = connect(irc_server.host, irc_server.port, "dup")
        assert "trying dup_" in log.wait_line("cannot be used").text
        log.wait_for(
            lambda u: isinstance(u, Status) and u.nick == "dup_" and u.state is ConnState.CONNECTED,
            "dup_",
        )


def test_long_message_arrives_whole_in_pieces(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    client, log = connect(irc_server.host, irc_server.port, "long", "#split")
    joined(log, "#split", "long")
    text = " ".join(f"word{i}-é😀" for i in range(150))
    with irc_server.raw("reader") as reader:
        reader.join("#split")
        client.submit(Say("#split", text))
        parts: list[str] = []
        while " ".join(parts) != text:
            line = reader.read_line()
            assert line is not None and len(line.encode()) + 2 <= 512
            message = parse(line)
            if message.command == "PRIVMSG":
                parts.append(message.params[1])
            assert len(" ".join(parts)) <= len(text)
        assert len(parts) > 1


def test_kick_is_shown(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    with irc_server.raw("op") as op:
        op.join("#kick")
        client, log = connect(irc_server.host, irc_server.port, "victim", "#kick")
        joined(log, "#kick", "victim")
        op.send("KICK #kick victim :behave")
        line = log.wait_line("You were kicked")
        assert line.kind is LineKind.ERROR and "by op (behave)" in line.text
        client.submit(Kick("#kick", "op"))
        log.wait_line("not")  # 442/482: we are not (an operator) on that channel any more


def test_refused_connection_then_server_appears(
    make_server: Callable[..., RunningServer],
    connect: Callable[..., tuple[ClientThread, UpdateLog]],
) -> None:
    port = free_port()
    _client, log = connect("127.0.0.1", port, "early", "#late")
    assert "connection was refused" in log.wait_line("Could not connect").text
    log.wait_line("Trying again")
    make_server(port=port)
    joined(log, "#late", "early")


def test_not_an_irc_server_is_explained(
    connect: Callable[..., tuple[ClientThread, UpdateLog]],
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: list[socket.socket] = []
        acceptor = threading.Thread(
            target=lambda: accepted.append(listener.accept()[0]), daemon=True
        )
        acceptor.start()
        _, log = connect("127.0.0.1", listener.getsockname()[1], "lost", registration_timeout=1.0)
        line = log.wait_line("did not welcome us")
        assert "port" in line.text
        acceptor.join(5)
        for sock in accepted:
            sock.close()


def test_reconnects_rejoins_and_sends_what_was_typed_offline(
    make_server: Callable[..., RunningServer],
    connect: Callable[..., tuple[ClientThread, UpdateLog]],
) -> None:
    server = make_server()
    client, log = connect(server.host, server.port, "phoenix", "#ash", "#ember")
    joined(log, "#ash", "phoenix")
    joined(log, "#ember", "phoenix")
    server.thread.stop("restarting")
    log.wait_line("Disconnected")
    client.submit(Say("#ash", "typed while offline"))
    log.wait_line("will be sent")
    again = make_server(port=server.port)
    with again.client("watcher") as watcher:
        watcher.join("#ash")
        log.wait_line("Joining #ash, #ember")
        got = watcher.expect("PRIVMSG")
        assert got.params == ("#ash", "typed while offline")
    joined(log, "#ember", "phoenix")


def test_dropped_link_reconnects(
    irc_server: Endpoint, connect: Callable[..., tuple[ClientThread, UpdateLog]]
) -> None:
    client, log = connect(irc_server.host, irc_server.port, "drop", "#drop")
    joined(log, "#drop", "drop")
    client.drop_link()
    assert isinstance(log.wait_line("Disconnected"), Line)
    log.wait_for(lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "reconnect")
    joined(log, "#drop", "drop")


def test_an_unknown_server_name_stops_after_a_few_tries(
    connect: Callable[..., tuple[ClientThread, UpdateLog]],
) -> None:
    # .invalid never resolves (RFC 6761 section 6.4).
    client, log = connect("no-such-host.invalid", 9000, "lost")
    for _ in range(UNRESOLVED_TRIES - 1):
        assert "no such host" in log.wait_line("Could not connect").text
        log.wait_line("Trying again")
    given_up = log.wait_line("Gave up")
    assert "no server called no-such-host.invalid could be found" in given_up.text
    assert "Connect to" in given_up.text
    assert any(isinstance(u, Status) and u.state is ConnState.STOPPED for u in log.seen)
    client.stop()  # returns at once: the thread has ended
    assert not client.is_running()
