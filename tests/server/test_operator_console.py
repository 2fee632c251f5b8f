"""The console's server side: the operator pseudo-user, its intents, and the feed.

A real server runs in a thread with a console link attached, as the console
window has it; raw clients check on the wire that the operator's actions
arrive exactly as from a user called ``Server``, and the link's queue is
read as the window reads it. No display is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from consolefeed import log_line, wait_for
from wsclient import WsIrcClient, open_socket

from tcpchat.server.config import (
    ConfigError,
    ConsoleSettings,
    HistorySettings,
    LogSettings,
    WebSettings,
    load_config,
)
from tcpchat.server.console_feed import Snapshot
from tcpchat.server.console_search import HISTORY_OFF, SEARCH_PAGE, SearchResults
from tcpchat.server.eventlog import EventLog
from tcpchat.server.operator_console import (
    Ban,
    Command,
    ConsoleLink,
    Disconnect,
    Kick,
    NoticeAll,
    Say,
    Search,
    SetTopic,
    Unban,
)


def test_operator_sits_in_the_lobby_and_talks(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice:
        alice.send("JOIN #lobby")
        names = alice.expect("353")
        assert "Server" in names.params[-1].split()
        link.submit(Say("#lobby", "Hai client!"))
        said = alice.expect("PRIVMSG")
        assert said.source == "Server!console@test.server"
        assert said.params == ("#lobby", "Hai client!")
        alice.send("PRIVMSG #lobby :Halo server!")
        entry = log_line(link, "message", "Halo server!")
        assert entry.actor == "alice"
        link.submit(Say("alice", "just you"))
        assert alice.expect("PRIVMSG").params == ("alice", "just you")
        alice.send("WHOIS Server")
        assert alice.expect("311").params[1:4] == ("Server", "console", "test.server")


def test_long_text_is_split_to_fit_a_line(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice:
        alice.join("#lobby")
        link.submit(Say("#lobby", "word " * 150))
        first, second = alice.expect("PRIVMSG"), alice.expect("PRIVMSG")
        assert len(first.format().encode()) <= 510
        assert (first.params[1] + " " + second.params[1]).split() == ["word"] * 150


def test_speaking_in_another_channel_joins_it_first(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice:
        alice.join("#team")
        link.submit(Say("#team", "hello team"))
        joined = alice.expect("JOIN")
        assert joined.source is not None and joined.source.startswith("Server!")
        assert alice.expect("PRIVMSG").params == ("#team", "hello team")


def test_kick_ban_topic_and_notice_reach_clients(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        link.submit(SetTopic("#lobby", "Be nice"))
        topic = alice.expect("TOPIC")
        assert topic.source is not None and topic.source.startswith("Server!")
        assert topic.params == ("#lobby", "Be nice")
        link.submit(Kick("#lobby", "bob", "calm down"))
        kick = alice.expect("KICK")
        assert kick.params == ("#lobby", "bob", "calm down")
        bob.expect("KICK", "#lobby", "bob")
        bob.join("#lobby")
        link.submit(Ban("#lobby", "bob", "enough"))
        assert alice.expect("MODE").params == ("#lobby", "+b", "bob!*@*")
        assert alice.expect("KICK").params == ("#lobby", "bob", "enough")
        bob.send("JOIN #lobby")
        bob.expect("474", "bob", "#lobby")
        link.submit(NoticeAll("Server restarts at noon"))
        for client in (alice, bob):
            notice = client.expect("NOTICE")
            assert notice.source is not None and notice.source.startswith("Server!")
            assert notice.params == (client.nick, "Server restarts at noon")


def test_disconnect_ends_the_session_with_the_reason(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        link.submit(Disconnect("bob", "spamming"))
        assert bob.expect("ERROR").params[0].endswith("(Killed (Server (spamming)))")
        quit_ = alice.expect("QUIT")
        assert quit_.source is not None and quit_.source.startswith("bob!")
        assert bob.closed_by_server()


def test_impossible_intents_are_reported_not_raised(console: Callable[..., Any]) -> None:
    server, link = console()
    # The command table's own answers, as any client would get them.
    link.submit(Kick("#nowhere", "bob", "x"))
    log_line(link, "error", "#nowhere: No such channel")
    link.submit(Say("ghost", "boo"))
    log_line(link, "error", "ghost: No such nick/channel")
    link.submit(Say("#nowhere", "hello?"))
    log_line(link, "error", "There is no channel #nowhere")
    link.submit(Disconnect("Server", "x"))
    log_line(link, "error", "Server: No such nick/channel")
    with server.client("alice") as alice:
        link.submit(Kick("#lobby", "alice", "x"))
        log_line(link, "error", "alice #lobby: They aren't on that channel")
        alice.expect_none()  # alice, not in #lobby, was not kicked from anywhere


def test_snapshot_has_the_tables_and_counts_messages(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice:
        alice.join("#lobby")
        alice.join("#team")
        alice.send("TOPIC #team :Ship it", "PRIVMSG #team :one", "PRIVMSG #team :two")
        log_line(link, "message", "two")
        link.refresh()
        snap = wait_for(link, lambda i: isinstance(i, Snapshot), "snapshot")
        assert isinstance(snap, Snapshot)
        (row,) = snap.users
        assert row.nick == "alice" and row.address.startswith("127.0.0.1:")
        assert row.channels == ("#lobby", "#team") and row.idle >= 0
        assert snap.messages == 2 and snap.started <= snap.time
        channels = {c.name: c for c in snap.channels}
        assert channels["#team"].members == 1 and channels["#team"].topic == "Ship it"
        assert channels["#team"].modes == "+nt"
        assert channels["#lobby"].members == 2  # alice and Server


def test_private_messages_read_together_are_logged_and_counted_each(
    console: Callable[..., Any],
) -> None:
    server, link = console()
    with server.client("alice") as alice, server.client("bob"):
        alice.send(*[f"PRIVMSG bob :note {i}" for i in range(5)])  # one read: a MessageRun
        for _ in range(5):  # a line each, without the text (private_text is off)
            entry = log_line(link, "private", "alice -> bob: a private message")
            assert entry.actor == "alice"
        link.refresh()
        snap = wait_for(link, lambda i: isinstance(i, Snapshot), "snapshot")
        assert isinstance(snap, Snapshot) and snap.messages == 5


def test_log_records_are_relayed(console: Callable[..., Any], caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="tcpchat.server")
    server, link = console()
    with server.client("alice"):
        log_line(link, "server", "connection from 127.0.0.1")
        log_line(link, "register", "alice")


def test_operator_nick_comes_from_the_config(console: Callable[..., Any]) -> None:
    server, link = console(console=ConsoleSettings(operator_nick="Boss"))
    assert link.nick == "Boss"
    with server.client("alice") as alice:
        alice.send("NICK Boss")
        alice.expect("433")


def test_operator_nick_is_checked_and_documented() -> None:
    with pytest.raises(ConfigError, match=r"console\.operator_nick"):
        load_config(console_operator_nick="no spaces")
    example = Path(__file__).resolve().parents[2] / "tcpchat.example.toml"
    assert load_config(example).console == ConsoleSettings()


def search(link: ConsoleLink, request: Search) -> SearchResults:
    """Submit ``request`` and wait for its answer, as the search window does."""
    link.submit(request)
    found = wait_for(
        link, lambda i: isinstance(i, SearchResults) and i.request == request, "search results"
    )
    assert isinstance(found, SearchResults)
    return found


def test_search_finds_channel_messages_newest_first(
    console: Callable[..., Any], tmp_path: Path
) -> None:
    server, link = console(history=HistorySettings(path=str(tmp_path / "h.sqlite3")))
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby", "#team")
        bob.join("#lobby", "#team")
        assert link.history_on
        alice.send("PRIVMSG #lobby :Lunch at noon?", "PRIVMSG bob :lunch, just us")
        bob.expect("PRIVMSG", "#lobby")
        bob.expect("PRIVMSG", "bob")  # delivered, so kept: history is written first
        bob.send("NOTICE #team :no LUNCH today")
        alice.expect("NOTICE", "#team")
        answer = search(link, Search("lunch"))
        assert [(h.where, h.who, h.text, h.notice) for h in answer.hits] == [
            ("#team", "bob", "no LUNCH today", True),
            ("#lobby", "alice", "Lunch at noon?", False),
        ]  # the private message is not among them
        assert answer.older is None and answer.problem == ""
        assert [h.text for h in search(link, Search("lunch", "#LOBBY")).hits] == ["Lunch at noon?"]
        refused = search(link, Search("lunch", "bob"))
        assert refused.hits == () and "not a channel" in refused.problem


def test_search_pages_older_results(console: Callable[..., Any], tmp_path: Path) -> None:
    server, link = console(history=HistorySettings(path=str(tmp_path / "h.sqlite3")))
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        count = SEARCH_PAGE + 5
        alice.send(*(f"PRIVMSG #lobby :tick {n}" for n in range(count)))
        for _ in range(count):
            bob.expect("PRIVMSG")
        first = search(link, Search("tick", "#lobby"))
        assert len(first.hits) == SEARCH_PAGE and first.hits[0].text == f"tick {count - 1}"
        assert first.older is not None
        rest = search(link, Search("tick", "#lobby", first.older))
        assert [h.text for h in rest.hits] == [f"tick {n}" for n in range(4, -1, -1)]
        assert rest.older is None


def test_search_without_history_says_so(console: Callable[..., Any]) -> None:
    _server, link = console()
    assert not link.history_on
    answer = search(link, Search("anything"))
    assert answer.hits == () and answer.problem == HISTORY_OFF


@pytest.mark.parametrize("private_text", [False, True])
def test_private_text_is_logged_only_when_turned_on(
    console: Callable[..., Any], caplog: Any, private_text: bool
) -> None:
    caplog.set_level(logging.INFO, logger="tcpchat.events")
    server, link = console(log=LogSettings(private_text=private_text))
    server.core.observers.append(EventLog(server.core))  # the terminal's log, as the CLI has it
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        alice.send("PRIVMSG bob :my secret plan", "NOTICE bob :psst", "PRIVMSG #lobby :hi all")
        bob.expect("PRIVMSG", "bob")
        bob.expect("NOTICE", "bob")
        entry = log_line(link, "private", "bob")
        notice = log_line(link, "notice", "bob")
        log_line(link, "message", "hi all")  # channels are logged as ever
    terminal = [r.getMessage() for r in caplog.records if r.name == "tcpchat.events"]
    if private_text:
        assert (entry.text, notice.text) == ("-> bob <alice> my secret plan", "-> bob -alice- psst")
        assert "-> bob <alice> my secret plan" in terminal
    else:
        assert entry.text == "alice -> bob: a private message" and entry.actor == "alice"
        assert notice.text == "alice -> bob: a private notice"
        assert "alice -> bob: a private message" in terminal
        assert not [line for line in terminal if "secret" in line or "psst" in line]


def test_typed_commands_go_through_the_command_table(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        link.submit(Command("/notice #lobby five minutes left"))
        assert alice.expect("NOTICE").params == ("#lobby", "five minutes left")
        link.submit(Command("/mode #lobby +m"))
        mode = alice.expect("MODE")
        assert mode.source is not None and mode.source.startswith("Server!")
        assert mode.params == ("#lobby", "+m")
        link.submit(Command("/msg #lobby can you hear me?"))  # not voiced: +m holds for all
        log_line(link, "error", "#lobby: Cannot send to channel")
        link.submit(Command("/topic #lobby Quiet please, exams"))
        assert alice.expect("TOPIC").params == ("#lobby", "Quiet please, exams")
        link.submit(Command("/msg alice see me after class"))
        assert alice.expect("PRIVMSG").params == ("alice", "see me after class")
        link.submit(Command("/kick #lobby bob talking in the exam"))
        assert alice.expect("KICK").params == ("#lobby", "bob", "talking in the exam")
        link.submit(Command("/mode #lobby +z"))  # the table's checks answer, as for anyone
        log_line(link, "error", "z: is unknown mode char to me")
        link.submit(Command("/kill bob cheating"))
        assert bob.expect("ERROR").params[0].endswith("(Killed (Server (cheating)))")
        link.submit(Command("/whois alice"))
        log_line(link, "server", "alice ~u 127.0.0.1 *: Real alice")
    link.submit(Command("/help"))
    log_line(link, "server", "/kick #channel nick [reason]")
    link.submit(Command("/frob"))
    log_line(link, "error", "There is no command /frob")
    link.submit(Command("/kick"))
    log_line(link, "error", "Usage: /kick #channel nick [reason]")


def test_unban_and_a_disconnect_with_a_ban(console: Callable[..., Any]) -> None:
    server, link = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        link.submit(Ban("#lobby", "bob", "enough"))
        assert alice.expect("MODE").params == ("#lobby", "+b", "bob!*@*")
        link.refresh()
        snap = wait_for(link, lambda i: isinstance(i, Snapshot), "snapshot")
        assert isinstance(snap, Snapshot)
        assert {c.name: c.bans for c in snap.channels}["#lobby"] == ("bob!*@*",)
        link.submit(Unban("#lobby", "bob!*@*"))
        assert alice.expect("MODE").params == ("#lobby", "-b", "bob!*@*")
        bob.join("#lobby")
        link.submit(Disconnect("bob", "come back tomorrow", minutes=30))
        assert bob.expect("ERROR").params[0].endswith("(K-Lined: come back tomorrow)")
        log_line(link, "server", "Banned *@127.0.0.1 for 30 minutes")
    with server.client() as again:
        again.send("NICK bob2", "USER b 0 * :b")
        assert "come back tomorrow" in again.expect("ERROR").params[0]


def test_web_users_are_marked_in_the_users_table_and_the_log(
    console: Callable[..., Any], caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="tcpchat.server")
    server, link = console(web=WebSettings(port=0))
    web_port = server.thread.runner.web.addresses[0][1]
    with (
        WsIrcClient(open_socket(f"ws://127.0.0.1:{web_port}/socket")) as w,
        server.client("tcpy"),
    ):
        w.register("webby")
        log_line(link, "server", "web connection from 127.0.0.1")
        link.refresh()
        snap = wait_for(link, lambda i: isinstance(i, Snapshot), "snapshot")
        assert isinstance(snap, Snapshot)
        rows = {row.nick: row.address for row in snap.users}
        assert rows["webby"].startswith("127.0.0.1:") and rows["webby"].endswith(" (web)")
        assert not rows["tcpy"].endswith("(web)")
