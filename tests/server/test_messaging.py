"""PRIVMSG, NOTICE, TAGMSG, AWAY and SETNAME, with the capabilities that shape them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.irc import parse, parse_text
from tcpchat.server.commands.messaging import TYPING_BURST
from tcpchat.server.config import HistorySettings
from tcpchat.server.eventlog import EventLog
from tcpchat.server.events import MessageRun


def test_channel_message_reaches_members_not_sender(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("carol") as c:
        a.join("#m")
        b.join("#m")
        a.send("PRIVMSG #m :Hai client!")
        msg = b.expect("PRIVMSG")
        assert msg.source == "alice!~u@127.0.0.1" and msg.params == ("#m", "Hai client!")
        c.send("PRIVMSG #m :outside")
        c.expect("404")  # +n: no messages from outside
        a.expect_none("PRIVMSG")  # alice got nothing of her own


def test_private_message_and_notice(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.send("PRIVMSG bob :Halo server!")
        assert b.expect("PRIVMSG").params == ("bob", "Halo server!")
        a.send("NOTICE BOB :psst")
        assert b.expect("NOTICE").params == ("bob", "psst")
        a.send("PRIVMSG nobody :x")
        a.expect("401", "alice", "nobody")
        a.send("NOTICE nobody :x")
        a.expect_none()  # no error for NOTICE
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
        c.expect_none("TAGMSG", after=[a])  # carol (no message-tags) got none


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

    def exchange(a: IrcClient, b: IrcClient, line: str) -> list[list[str]]:
        a.send(line)
        return _settle(a, b)

    caps = ("echo-message",)
    with server.client("alice", caps) as a, server.client("bob") as b:
        a.join("#both")
        b.join("#both")
        b.send("AWAY :out")
        b.expect("306")
        _settle(a, b)  # both have read all of the set-up
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


def _watch_runs(server: RunningServer) -> list[MessageRun]:
    """The MessageRuns the server emits from now on (an observer, on its thread)."""
    runs: list[MessageRun] = []
    server.core.observers.append(
        lambda event, stamp: runs.append(event) if type(event) is MessageRun else None
    )
    return runs


def _settle(*clients: IrcClient) -> list[list[str]]:
    """Each client's lines up to a fence, in turn, as text."""
    return [[message.format() for message in client.fence()] for client in clients]


def test_messages_read_together_arrive_as_if_read_one_by_one(server: RunningServer) -> None:
    """Plain messages to one user in a row, in one read, go as one MessageRun
    (ServerCore.handle_run); every client must see what it would have seen
    had the server read the lines one at a time."""
    lines = (
        [f"PRIVMSG bob :line {i}" for i in range(29)]
        + ["PRIVMSG bob :caf\u00e9", "NOTICE bob :n1", "NOTICE bob :n2 :with a colon"]
        + ["PRIVMSG BOB :as typed 1", "PRIVMSG BOB :as typed 2"]  # shown as bob: no run
        + ["PRIVMSG carol :tags 1", "PRIVMSG carol :tags 2"]  # carol takes tags: no run
        + ["PRIVMSG bob :before a ping", "PING :between", "PRIVMSG bob :after it"]
    )
    data = "".join(line + "\r\n" for line in lines).encode() + b"PRIVMSG bob :bad \xff\r\n" * 2
    with (
        server.client("alice", ("echo-message",)) as a,
        server.client("bob") as b,
        server.client("carol", ("message-tags",)) as c,
    ):
        runs = _watch_runs(server)
        a.send_raw(data)
        together = _settle(a, b, c)
        # alice's echoes take no tags; a line of invalid UTF-8 goes on its own
        # (its sender is warned), so the line after the PING is no run.
        assert [len(run.texts) for run in runs] == [30, 2]
        assert runs[0].texts[-1] == "caf\u00e9"
        runs.clear()
        echoes = []
        for line in data.split(b"\r\n")[:-1]:
            a.send_raw(line + b"\r\n")
            echoes += _settle(a)[0]  # each line read on its own
        apart = _settle(a, b, c)
        apart[0][:0] = echoes
        assert runs == []
    strip = re.compile(r"@msgid=\S+ ")  # carol's msgids differ between the two
    assert together[0] == apart[0]
    assert together[1] == apart[1]
    assert [strip.sub("", line) for line in together[2]] == [strip.sub("", x) for x in apart[2]]
    assert len(together[1]) == 38 and together[1][-1].endswith(":bad \ufffd")
    assert sum(":test.server WARN PRIVMSG INVALID_UTF8 " in x for x in together[0]) == 2


def test_what_a_run_could_not_show_goes_one_by_one(server: RunningServer) -> None:
    """An away recipient answers every PRIVMSG; a sender that takes tags sees
    each echo's msgid."""
    with server.client("alice", ("echo-message", "message-tags")) as a, server.client("bob") as b:
        b.send("AWAY :out")
        b.expect("306")
        runs = _watch_runs(server)
        a.send(*[f"PRIVMSG bob :{i}" for i in range(10)])
        (replies,) = _settle(a)
        assert sum(" 301 alice bob " in line for line in replies) == 10
        echoes = [line for line in replies if " PRIVMSG " in line]
        assert len({echo.split(" ")[0] for echo in echoes}) == 10  # ten msgids
        assert runs == []


def test_history_keeps_each_message_of_a_run(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))
    caps = ("batch", "draft/chathistory", "message-tags")
    with server.client("alice", caps) as a, server.client("bob") as b:
        runs = _watch_runs(server)
        a.send("PRIVMSG bob :before", *[f"PRIVMSG bob :{i}" for i in range(10)], "PING :x")
        a.expect("PONG")
        a.send("PRIVMSG bob :after")
        (got,) = _settle(b)
        assert [parse(line).params[1] for line in got] == ["before", *map(str, range(10)), "after"]
        assert [len(run.texts) for run in runs] == [11]
        a.send("CHATHISTORY LATEST bob * 20")
        a.collect_until("BATCH")  # the batch opens
        kept = a.collect_until("BATCH")[:-1]  # and closes
        assert [m.params for m in kept] == [
            ("bob", text) for text in ["before", *map(str, range(10)), "after"]
        ]
        msgids = [m.tags["msgid"] for m in kept]
        assert len(set(msgids)) == 12
        a.send(f"CHATHISTORY BEFORE bob msgid={msgids[5]} 3")  # a run's msgid is a reference
        a.collect_until("BATCH")
        assert [m.params[1] for m in a.collect_until("BATCH")[:-1]] == ["1", "2", "3"]


def test_the_log_has_a_line_for_each_message_of_a_run(server: RunningServer, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="tcpchat.events")
    server.core.observers.append(EventLog(server.core))
    with server.client("alice") as a, server.client("bob") as b:
        runs = _watch_runs(server)
        a.send("PRIVMSG bob :one", "PRIVMSG bob :two", "NOTICE bob :three", "NOTICE bob :four")
        _settle(a, b)
        assert [len(run.texts) for run in runs] == [2, 2]
    logged = [r.getMessage() for r in caplog.records if r.name == "tcpchat.events"]
    assert [line for line in logged if "-> bob" in line] == [
        *["alice -> bob: a private message"] * 2,
        *["alice -> bob: a private notice"] * 2,
    ]


def test_pre_away_before_registration(server: RunningServer) -> None:
    """draft/pre-away: AWAY before the welcome, and AWAY *, take effect with
    registration; without the capability AWAY waits for registration (451)."""
    with server.client() as early, server.client("bob") as b:
        early.send("AWAY :not yet")
        early.expect("451")
        early.send("CAP LS 302", "CAP REQ :draft/pre-away", "AWAY *")
        early.expect("CAP", "*", "ACK")
        early.send("NICK early", "USER u 0 * :Early", "CAP END")
        early.expect("001")
        b.send("WHOIS early")
        assert b.expect("301").params[1:] == ("early", "*")


def test_no_implicit_names(server: RunningServer) -> None:
    with server.client("alice", ("no-implicit-names",)) as a, server.client("bob") as b:
        a.send("JOIN #quiet")
        a.expect("JOIN")
        b.join("#quiet")  # bob, without the capability, gets NAMES
        a.expect_none("353", after=[b])
        a.expect_none("366")
        a.send("NAMES #quiet")  # asked for, it comes
        assert a.expect("353").params[-1].split() == ["@alice", "bob"]


def test_typing_notifications_are_rate_limited(server: RunningServer) -> None:
    """+typing is relayed up to TYPING_BURST at once, then refused with a
    FAIL; other TAGMSGs are not counted."""
    caps = ("message-tags",)
    with server.client("alice", caps) as a, server.client("bob", caps) as b:
        for _ in range(TYPING_BURST):
            a.send("@+typing=active TAGMSG bob")
            assert b.expect("TAGMSG").tags["+typing"] == "active"
        a.send("@+typing=active TAGMSG bob")
        assert a.expect("FAIL").params[:2] == ("TAGMSG", "TYPING_TOO_FAST")
        b.expect_none("TAGMSG", after=[a])
        a.send("@+draft/react=x TAGMSG bob")
        assert b.expect("TAGMSG").tags["+draft/react"] == "x"
