"""WHO, WHOIS, WHOWAS, ISON, USERHOST, MOTD, LUSERS, VERSION, TIME."""

from __future__ import annotations

from conftest import RunningServer


def test_who_channel_and_mask(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#w")
        b.join("#w")
        b.send("AWAY :out")
        b.expect("306")
        a.send("WHO #w")
        rows = [m for m in a.collect_until("315") if m.command == "352"]
        flags = {r.params[5]: r.params[6] for r in rows}
        assert flags == {"alice": "H@", "bob": "G"}
        assert rows[0].params[-1].startswith("0 Real ")
        a.send("WHO bob")
        assert a.expect("352").params[5] == "bob"
        a.send("WHO b*")
        assert a.expect("352").params[5] == "bob"
        a.expect("315", "alice", "b*")


def test_whois(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        b.join("#wi")
        a.send("WHOIS bob")
        replies = a.collect_until("318")
        by = {m.command: m for m in replies}
        assert by["311"].params[1:4] == ("bob", "~u", "127.0.0.1")
        assert by["319"].params[-1] == "@#wi"
        assert by["312"].params[2] == "test.server"
        assert "317" in by
        a.send("WHOIS ghost")
        a.expect("401", "alice", "ghost")
        a.expect("318")


def test_whowas(server: RunningServer) -> None:
    with server.client("alice") as a:
        with server.client("bob") as b:
            b.send("QUIT")
            b.expect("ERROR")
        a.send("WHOWAS bob")
        assert a.expect("314").params[1:3] == ("bob", "~u")
        a.expect("369")
        a.send("WHOWAS never")
        a.expect("406")


def test_ison_and_userhost(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob"):
        a.send("ISON bob ghost Alice")
        assert a.expect("303").params[1] == "bob alice"
        a.send("USERHOST bob")
        assert a.expect("302").params[1] == "bob=+~u@127.0.0.1"


def test_motd_lusers_version_time(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("MOTD")
        a.expect("375")
        assert "Welcome to tcpchat" in a.expect("372").params[1]
        a.expect("376")
        a.send("LUSERS")
        assert a.expect("251").params[1].startswith("There are 1 users")
        a.send("VERSION")
        assert a.expect("351").params[1].startswith("tcpchat-")
        a.expect("005")
        a.send("TIME")
        assert a.expect("391").params[1] == "test.server"
        a.send("VERSION other.server")
        a.expect("402")


def test_motd_missing(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(motd="")
    with server.client() as c:
        burst = c.register("alice")
        assert burst[-1].command == "422"


def test_info_and_lusers_peak(server: RunningServer) -> None:
    with server.client("alice") as a:
        with server.client("bob") as b:
            b.send("QUIT")
            b.expect("ERROR")
        a.send("INFO")
        assert a.expect("371").params[1].startswith("tcpchat-")
        a.expect("374")
        a.send("LUSERS")
        assert a.expect("265").params[1:3] == ("1", "2")  # one now, two at most


def test_whox_fields_token_and_order(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        b.join("#x")
        a.send("WHO bob %rnat,42")
        reply = a.expect("354")
        assert reply.params == ("alice", "42", "bob", "0", "Real bob")  # t, n, a, r
        a.expect("315")
        a.send("WHO #x %cnf")
        assert a.expect("354").params == ("alice", "#x", "bob", "H@")
