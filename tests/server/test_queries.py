"""WHO, WHOIS, WHOWAS, ISON, USERHOST, MOTD, LUSERS, LINKS, VERSION, TIME, HELP; bot mode."""

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


def test_bot_mode_whois_who_and_tag(server: RunningServer) -> None:
    """IRCv3 bot-mode: +B marks a bot in WHOIS (335), WHO flags, and with a
    bot tag on what it sends, for clients that take tags."""
    with (
        server.client("robot", ("message-tags", "echo-message")) as bot,
        server.client("alice", ("message-tags",)) as a,
        server.client("bob") as b,
    ):
        bot.send("MODE robot +B")
        assert bot.expect("MODE").params == ("robot", "+B")
        for client in (bot, a, b):
            client.join("#bots")
        bot.send("PRIVMSG #bots :beep")
        assert "bot" in a.expect("PRIVMSG").tags
        assert b.expect("PRIVMSG").tags == {}
        assert "bot" in bot.expect("PRIVMSG").tags  # the echo
        bot.send("PRIVMSG alice :boop")
        assert a.expect("PRIVMSG").tags.get("bot") == ""
        a.send("WHOIS robot")
        assert a.expect("335").params[:2] == ("alice", "robot")
        assert a.expect("317").params[:2] == ("alice", "robot")  # idle time follows as before
        a.send("WHO #bots")
        flags = {m.params[5]: m.params[6] for m in a.collect_until("315") if m.command == "352"}
        assert "B" in flags["robot"] and "B" not in flags["alice"]
        bot.send("MODE robot -B")
        bot.expect("MODE")
        a.send("WHOIS robot")
        a.expect_none("335")


def test_isupport_advertises_bot_and_utf8only(server: RunningServer) -> None:
    with server.client() as c:
        burst = c.register("alice")
    tokens = {p.split("=")[0]: p for m in burst if m.command == "005" for p in m.params[1:-1]}
    assert tokens["BOT"] == "BOT=B" and "UTF8ONLY" in tokens
    myinfo = next(m for m in burst if m.command == "004")
    assert myinfo.params[3] == "Bio"


def test_links_names_this_server_alone(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("LINKS")
        links = a.expect("364")
        assert links.params == ("alice", "test.server", "test.server", "0 tcpchat server")
        assert a.expect("365").params[:2] == ("alice", "*")


def test_help_lists_commands_and_shows_syntax(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("HELP")
        index = a.collect_until("706")
        assert index[0].command == "704" and index[0].params[1] == "*"
        listed = " ".join(m.params[2] for m in index if m.command == "705")
        assert "PRIVMSG" in listed.split() and "KILL" not in listed.split()  # opers only
        a.send("HELPOP privmsg")
        topic = a.collect_until("706")
        assert [m.command for m in topic] == ["704", "706"]
        assert topic[0].params[1:] == ("PRIVMSG", "PRIVMSG <target>{,<target>} :<text>")
        a.send("HELP NOSUCHTHING")
        assert a.expect("524").params[1] == "NOSUCHTHING"
