"""The console's server side: the operator pseudo-user, its intents, and the feed.

A real server runs in a thread with a console link attached, as the console
window has it; raw clients check on the wire that the operator's actions
arrive exactly as from a user called ``Server``, and the link's queue is
read as the window reads it. No display is needed.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningServer, server_config
from wsclient import WsIrcClient, open_socket

from tcpchat.server.config import (
    ConfigError,
    ConsoleSettings,
    HistorySettings,
    WebSettings,
    load_config,
)
from tcpchat.server.console_feed import FeedItem, LogEntry, Snapshot
from tcpchat.server.console_search import HISTORY_OFF, SEARCH_PAGE, SearchResults
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import (
    Ban,
    ConsoleLink,
    Disconnect,
    Kick,
    NoticeAll,
    Say,
    Search,
    SetTopic,
)

DEADLINE = 5.0


@pytest.fixture
def console() -> Iterator[Callable[..., tuple[RunningServer, ConsoleLink]]]:
    """Start servers with a console link attached before they listen."""
    started: list[tuple[ServerThread, ConsoleLink]] = []

    def start(**settings: Any) -> tuple[RunningServer, ConsoleLink]:
        thread = ServerThread(server_config(**settings))
        link = ConsoleLink(thread.runner)
        host, port = thread.start().addresses[0]
        started.append((thread, link))
        return RunningServer(thread, host, port), link

    yield start
    for thread, link in started:
        link.close()
        thread.stop()


def wait_for(link: ConsoleLink, test: Callable[[FeedItem], bool], what: str) -> FeedItem:
    """The first item from the link's queue that passes ``test``."""
    deadline = time.monotonic() + DEADLINE
    seen: list[FeedItem] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {what}; got {seen[-10:]}")
        try:
            item = link.items.get(timeout=remaining)
        except queue.Empty:
            continue
        if test(item):
            return item
        seen.append(item)


def log_line(link: ConsoleLink, kind: str, text: str) -> LogEntry:
    found = wait_for(
        link,
        lambda i: isinstance(i, LogEntry) and i.kind == kind and text in i.text,
        f"{kind} line with {text!r}",
    )
    assert isinstance(found, LogEntry)
    return found


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
    link.submit(Kick("#nowhere", "bob", "x"))
    log_line(link, "error", "no channel #nowhere")
    link.submit(Say("ghost", "boo"))
    log_line(link, "error", "Nobody is called ghost")
    link.submit(Disconnect("Server", "x"))
    log_line(link, "error", "cannot be disconnected")
    with server.client("alice") as alice:
        link.submit(Kick("#lobby", "alice", "x"))
        log_line(link, "error", "alice is not in #lobby")
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
        for i in range(5):
            assert log_line(link, "private", f"note {i}").actor == "alice"
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
