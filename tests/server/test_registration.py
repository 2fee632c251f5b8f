"""Connection registration, CAP negotiation, PING and QUIT against a real server."""

from __future__ import annotations

from conftest import RunningServer


def test_welcome_burst(server: RunningServer) -> None:
    with server.client() as c:
        burst = c.register("alice")
        commands = [m.command for m in burst]
        for numeric in (
            "001",
            "002",
            "003",
            "004",
            "005",
            "251",
            "255",
            "265",
            "266",
            "375",
            "376",
        ):
            assert numeric in commands
        assert burst[0].params == ("alice", "Welcome to the tcpchat IRC Network alice!~u@127.0.0.1")
        tokens = {t for m in burst if m.command == "005" for t in m.params[1:-1]}
        for token in (
            "CASEMAPPING=rfc1459",
            "CHANTYPES=#",
            "PREFIX=(ov)@+",
            "CHANMODES=b,k,l,imnst",
            "NICKLEN=30",
            "NETWORK=tcpchat",
            "MAXTARGETS=4",
            "MODES=4",
        ):
            assert token in tokens


def test_nick_in_use_and_erroneous(server: RunningServer) -> None:
    with server.client("alice"), server.client() as c:
        c.send("NICK alice")
        assert c.expect("433").params[:2] == ("*", "alice")
        c.send("NICK 1bad")
        assert c.expect("432").params[1] == "1bad"
        c.send("NICK")
        c.expect("431")
        c.send("NICK ALICE")
        c.expect("433")
        c.send("NICK bob", "USER b 0 * :Bob")
        c.expect("001", "bob")


def test_commands_before_registration_get_451(server: RunningServer) -> None:
    with server.client() as c:
        c.send("JOIN #x")
        c.expect("451")
        c.send("FOO")
        c.expect("451")


def test_unknown_command_and_missing_params(server: RunningServer) -> None:
    with server.client("alice") as c:
        c.send("FROBNICATE x")
        assert c.expect("421").params[1] == "FROBNICATE"
        c.send("JOIN")
        assert c.expect("461").params[1] == "JOIN"
        c.send("USER a b c d")
        c.expect("462")


def test_cap_negotiation_holds_registration(server: RunningServer) -> None:
    with server.client() as c:
        ls = c.cap_ls("NICK alice", "USER a 0 * :A")
        for cap in ("message-tags", "server-time", "echo-message", "multi-prefix", "cap-notify"):
            assert cap in ls
        c.send("CAP REQ :multi-prefix bogus-cap")
        c.expect("CAP", "*", "NAK", "multi-prefix bogus-cap")
        c.send("CAP REQ :multi-prefix server-time")
        c.expect("CAP", "*", "ACK")
        c.send("CAP LIST")
        listed = c.expect("CAP", "*", "LIST").params[-1].split()
        assert {"multi-prefix", "server-time", "cap-notify"} <= set(listed)
        c.send("CAP REQ :-server-time")
        c.expect("CAP", "*", "ACK", "-server-time")
        c.send("CAP END")
        c.expect("001")
        c.send("CAP FOO")
        c.expect("410")


def test_connection_password(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(password="sesame")
    with server.client() as c:
        c.send("PASS wrong", "NICK alice", "USER a 0 * :A")
        c.expect("464")
        assert c.expect("ERROR").params[0].endswith("(Bad password)")
    with server.client() as c:
        c.send("PASS sesame", "NICK alice", "USER a 0 * :A")
        c.expect("001")
        c.send("PASS again")
        c.expect("462")


def test_ping_pong(server: RunningServer) -> None:
    with server.client("alice") as c:
        c.send("PING :abc def")
        assert c.expect("PONG").params == ("test.server", "abc def")
        c.send("PING")
        c.expect("409")


def test_quit_reason_reaches_channel(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#q")
        b.join("#q")
        b.send("QUIT :see you")
        assert b.expect("ERROR").params[0] == "Closing Link: 127.0.0.1 (Quit: see you)"
        quit_ = a.expect("QUIT")
        assert quit_.source is not None and quit_.source.startswith("bob!")
        assert quit_.params == ("Quit: see you",)


def test_nick_change_seen_by_channel(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#n")
        b.join("#n")
        b.send("NICK robert")
        mine = b.expect("NICK")
        assert mine.source == "bob!~u@127.0.0.1" and mine.params == ("robert",)
        assert a.expect("NICK").params == ("robert",)
        a.send("NICK Robert")
        a.expect("433")


def test_user_with_empty_realname_is_refused(server: RunningServer) -> None:
    with server.client() as c:
        c.send("NICK alice", "USER u * * :")
        c.expect("461")
        c.send("USER u * * :Alice")
        c.expect("001")
