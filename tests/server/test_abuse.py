"""What a hostile client tries, and does not get."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
