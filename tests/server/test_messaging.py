"""PRIVMSG, NOTICE, TAGMSG, AWAY and SETNAME, with the capabilities that shape them."""

from __future__ import annotations

import re

from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.irc import parse_text


def test_channel_message_reaches_members_not_sender(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("carol") as c:
        a.join("#m")
        b.join("#m")
        a.send("PRIVMSG #m :Hai client!")
        msg = b.expect("PRIVMSG")
        assert msg.source == "alice!~u@127.0.0.1" and msg.params == ("#m", "Hai client!")
        c.send("PRIVMSG #m :outside")
        c.expect("404")  # +n: no messages from outside
        a.send("PING :sync")
        a.expect("PONG")  # alice got nothing of her own in between


def test_private_message_and_notice(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.send("PRIVMSG bob :Halo server!")
        assert b.expect("PRIVMSG").params == ("bob", "Halo server!")
        a.send("NOTICE BOB :psst")
        assert b.expect("NOTICE").params == ("bob", "psst")
        a.send("PRIVMSG nobody :x")
        a.expect("401", "alice", "nobody")
        a.send("NOTICE nobody :x", "PING :after")
        assert a.expect("PONG").params[-1] == "after"  # no error for NOTICE
        a.send("PRIVMSG bob")
        a.expect("412")
        a.send("PRIVMSG")
        a.expect("411")


def test_multiple_targets_and_limit(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("carol") as c:
        a.send("PRIVMSG bob,carol :both")
        assert b.expect("PRIVMSG").params == ("bob", "both")
        assert c.expect("PRIVMSG").params == ("carol", "both")
        a.send("PRIVMSG a,b,c,d,e :too many")
        a.expect("407")


def test_tags_echo_and_server_time(server: RunningServer) -> None:
    caps = ("message-tags", "server-time", "echo-message")
    with (
        server.client("alice", caps) as a,
        server.client("bob", caps) as b,
        server.client("carol") as c,
    ):
        for client in (a, b, c):
            client.join("#tags")
        a.send("@+draft/react=👍;label=forged PRIVMSG #tags :tagged")
        got = b.expect("PRIVMSG")
        assert got.tags["+draft/react"] == "👍"
        assert "label" not in got.tags
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got.tags["time"])
        echo = a.expect("PRIVMSG")
        assert echo.tags["msgid"] == got.tags["msgid"]
        plain = c.expect("PRIVMSG")
        assert plain.tags == {} and plain.params == ("#tags", "tagged")
        a.send("@+typing=active TAGMSG #tags")
        assert b.expect("TAGMSG").tags["+typing"] == "active"
        c.send("PING :x")
        assert c.expect("PONG").command == "PONG"  # carol (no message-tags) got no TAGMSG


def test_moderated_channel(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#mod")
        b.join("#mod")
        a.send("MODE #mod +m")
        b.expect("MODE")
        b.send("PRIVMSG #mod :can I?")
        b.expect("404")
        a.send("MODE #mod +v bob")
        assert b.expect("MODE").params == ("#mod", "+v", "bob")
        b.send("PRIVMSG #mod :now I can")
        assert a.expect("PRIVMSG").params == ("#mod", "now I can")


def test_away(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob", ("away-notify",)) as b:
        a.join("#aw")
        b.join("#aw")
        a.send("AWAY :lunch")
        a.expect("306")
        assert b.expect("AWAY").params == ("lunch",)
        b.send("PRIVMSG alice :there?")
        assert b.expect("301").params[1:] == ("alice", "lunch")
        a.send("AWAY")
        a.expect("305")
        assert b.expect("AWAY").params == ()


def test_setname(server: RunningServer) -> None:
    with server.client("alice", ("setname",)) as a, server.client("bob", ("setname",)) as b:
        a.join("#s")
        b.join("#s")
        a.send("SETNAME :Alice Liddell")
        assert a.expect("SETNAME").params == ("Alice Liddell",)
        assert b.expect("SETNAME").params == ("Alice Liddell",)
        b.send("WHOIS alice")
        assert b.expect("311").params[-1] == "Alice Liddell"


def test_extended_join_and_names_caps(server: RunningServer) -> None:
    caps = ("extended-join", "multi-prefix", "userhost-in-names")
    with server.client("alice") as a, server.client("bob", caps) as b:
        a.join("#x")
        a.send("MODE #x +v alice")
        a.expect("MODE")
        b.send("JOIN #x")
        assert b.expect("JOIN").params == ("#x", "*", "Real bob")
        assert b.expect("353").params[-1] == "@+alice!~u@127.0.0.1 bob!~u@127.0.0.1"


def test_message_to_self(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("echo", ("echo-message",)) as e:
        a.send("PRIVMSG alice :note to self")
        assert a.expect("PRIVMSG").params == ("alice", "note to self")
        e.send("PRIVMSG echo :twice")
        assert e.expect("PRIVMSG").params == ("echo", "twice")
        assert e.expect("PRIVMSG").params == ("echo", "twice")  # delivery and echo


def test_shortcut_for_plain_messages_answers_as_the_full_parser(server: RunningServer) -> None:
    """``PRIVMSG <target> :<text>`` skips the parser (tcpchat.irc.parse_text);
    the same line in a form only the parser reads must give the same lines."""

    def exchange(a: IrcClient, b: IrcClient, line: str) -> tuple[list[str], list[str]]:
        a.send(line, "PING :sent")
        sent = [m.format() for m in a.collect_until("PONG")]
        b.send("PING :read")
        read = [m.format() for m in b.collect_until("PONG")]
        return sent, read

    caps = ("echo-message",)
    with server.client("alice", caps) as a, server.client("bob") as b:
        a.join("#both")
        b.join("#both")
        b.send("AWAY :out")
        b.expect("306")
        for client in (a, b):  # both have read all of the set-up
            client.send("PING :settled")
            client.collect_until("PONG")
        for shortcut in (
            "PRIVMSG bob :hi there",
            "NOTICE bob :psst",
            "PRIVMSG #both :to all",
            "PRIVMSG nobody :x",
            "NOTICE nobody :x",
            "PRIVMSG #nowhere :x",
        ):
            assert parse_text(shortcut) is not None
            command, rest = shortcut.split(" ", 1)
            parsed = f"{command.lower()}  {rest}"  # lower case and two spaces: parse only
            assert parse_text(parsed) is None
            assert exchange(a, b, shortcut) == exchange(a, b, parsed), shortcut
