"""What a hostile client tries, and does not get."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.server.config import AccountSettings


def test_connection_flood_from_one_address_is_throttled(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(connect_rate=1, connect_burst=5)
    clients = [IrcClient(server.host, server.port) for _ in range(8)]
    try:
        refused = 0
        for c in clients[5:]:
            error = c.expect("ERROR")
            assert "Connecting too fast" in error.params[0]
            refused += 1
        assert refused == 3
        clients[0].register("first")  # the ones let in work normally
    finally:
        for c in clients:
            c.close()


def test_forged_server_tags_are_stripped(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = make_server(accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3")))
    caps = ("message-tags", "account-tag", "server-time")
    with server.client("mallory") as m, server.client("victim", caps) as v:
        m.send("@account=admin;time=2000-01-01T00:00:00.000Z;msgid=fake;+ok=1 PRIVMSG victim :hi")
        got = v.expect("PRIVMSG")
        assert "account" not in got.tags
        assert got.tags["time"] != "2000-01-01T00:00:00.000Z"
        assert got.tags["msgid"] != "fake"
        assert got.tags["+ok"] == "1"


def test_nothing_reads_someone_elses_private_messages(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("eve") as e:
        a.send("PRIVMSG bob :secret")
        b.expect("PRIVMSG")
        e.send("WHO bob", "WHOIS bob", "NAMES", "LIST", "PING :done")
        lines = e.collect_until("PONG")
        assert all("secret" not in m.format() for m in lines)


def test_a_bad_client_does_not_disturb_the_others(server: RunningServer) -> None:
    with server.client("good") as g, server.client("other") as o, server.client("bad") as bad:
        g.join("#calm")
        o.join("#calm")
        bad.send_raw(b"\xff\xfe\x00garbage\r\n:only-a-source\r\n@a=b\r\n" + b"x" * 10000 + b"\r\n")
        bad.send_raw(
            b"MODE #calm +" + b"o" * 400 + b"\r\nJOIN " + b",".join([b"#c"] * 100) + b"\r\n"
        )
        g.send("PRIVMSG #calm :still fine")
        assert o.expect("PRIVMSG").params == ("#calm", "still fine")


# Lines whose words a reply quotes where they cannot stand as they are, each
# with the reply that must come instead of a FormatError in the log (its
# last such numeric, and the parameters after the nick it is addressed to).
UNQUOTABLE = [
    (b"REGISTE\x1b\x01\x02\rTAB\tX", "421", ("REGISTE\x1b\x01\x02\ufffdTAB\tX",)),
    (b"FOO\x00BAR", "421", ("FOO\ufffdBAR",)),
    (b"NAMES :#a b", "366", ("*",)),
    (b"CAP :a b", "410", ("*",)),
    (b"CAP :", "410", ("*",)),
    (b"WHO :a b", "315", ("*",)),
    (b"WHOIS :a b", "401", ("*",)),
    (b"WHOWAS ::x", "406", ("*",)),
    (b"KICK #mine :a b", "401", ("*",)),
    (b"MODE #mine +b :a b", "696", ("#mine", "b", "*")),
    (b"MODE :#a b", "403", ("*",)),
    (b"TOPIC :#a b", "403", ("*",)),
    (b"PART :#a b", "403", ("*",)),
    (b"INVITE alice :#a b", "403", ("*",)),
    (b"PRIVMSG nobody,:x :hi", "401", ("*",)),
    (b"JOIN :#a b", "403", ("*",)),
    (b"MOTD :a b", "402", ("*",)),
]


def test_replies_that_quote_a_client_always_go_out(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Control bytes, spaces and colons where a reply quotes a client's word:
    each line is answered, nothing is logged as an error, and the
    connection and everyone else go on."""
    caplog.set_level(logging.INFO)
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby", "#mine")
        bob.join("#lobby")
        for raw, numeric, quoted in UNQUOTABLE:
            alice.send_raw(raw + b"\r\n")
            got = alice.fence()
            replies = [m for m in got if m.command == numeric]
            assert replies, f"{raw!r}: expected {numeric}, got {[m.format() for m in got]}"
            assert replies[-1].params[1 : 1 + len(quoted)] == quoted, raw
        alice.send("PRIVMSG #lobby :still here")
        assert bob.expect("PRIVMSG").params == ("#lobby", "still here")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []


def test_a_lone_cr_is_never_relayed(server: RunningServer) -> None:
    """A CR inside a message would end the line early for a client that
    splits on it, and the rest would pass for a line of the server's."""
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#c")
        bob.join("#c")
        alice.send_raw(b"PRIVMSG #c :hi\r:evil!e@e PRIVMSG bob :pwned\r\n")
        bob.send("PING :after")
        raw = bob.read_line()
        while raw is not None and " PRIVMSG " not in raw:
            raw = bob.read_line()
        assert raw == ":alice!~u@127.0.0.1 PRIVMSG #c :hi\ufffd:evil!e@e PRIVMSG bob :pwned"
