"""The core without sockets: events in their turn, settled, delivered, applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import server_config
from corefeed import CoreFeed, ErrorLog, check_core, check_lines

from tcpchat.server.config import AccountSettings, Config, HistorySettings, Limits
from tcpchat.server.core import ServerCore
from tcpchat.server.events import Messaged, MessageRun, Stamp, UserQuit
from tcpchat.server.passwords import hash_password
from tcpchat.server.session import Session
from tcpchat.store.accounts import Account
from tcpchat.store.sqlite_accounts import SqliteAccounts


def _core() -> ServerCore:
    config = Config(
        limits=Limits(flood_rate=0),
        history=HistorySettings(enabled=False),
        accounts=AccountSettings(enabled=False),
    )
    return ServerCore(config, clock=lambda: 1_000.0)


def _user(core: ServerCore, nick: str, *lines: str) -> Session:
    session = core.open_session("127.0.0.1", 1, lambda: None, lambda: None)
    for line in (f"NICK {nick}", "USER u 0 * :R", *lines):
        core.handle_line(session, line.encode())
    session.out.clear()
    return session


def test_a_message_from_or_to_someone_gone_is_refused_and_seen_by_no_one() -> None:
    core = _core()
    alice = _user(core, "alice", "JOIN #c")
    bob = _user(core, "bob", "JOIN #c")
    told: list[object] = []
    core.observers.append(lambda event, stamp: told.append(event))
    assert alice.user is not None and bob.user is not None
    a, b = alice.user.uid, bob.user.uid
    stamp = Stamp("t-1", 1)
    core.apply(UserQuit(b, "Killed (elsewhere)"), stamp)  # as from another node
    assert bob.out == [b"ERROR :Closing Link: 127.0.0.1 (Killed (elsewhere))\r\n"]
    assert bob not in core.sessions
    bob.out.clear()
    alice.out.clear()
    told.clear()
    for late in (
        Messaged(b, "PRIVMSG", "#c", "from the gone"),
        Messaged(a, "PRIVMSG", b, "to the gone"),
        Messaged(a, "PRIVMSG", "#nowhere", "to no channel"),
        MessageRun(a, "PRIVMSG", b, ("x", "y")),
        MessageRun(b, "PRIVMSG", a, ("x", "y")),
    ):
        assert core.apply(late, stamp) is False, late
    assert told == [] and alice.out == [] and bob.out == []
    assert core.apply(Messaged(a, "PRIVMSG", "#c", "still here"), stamp) is True
    assert told == [Messaged(a, "PRIVMSG", "#c", "still here")]


@pytest.fixture
def errors() -> Any:
    log = ErrorLog()
    log.install()
    yield log
    log.uninstall()


def test_lines_of_an_ended_session_are_dropped(errors: ErrorLog) -> None:
    """A transport may still hold lines of a client the core has closed (a
    kill, a ping timeout): they reach no one else, and no handler meets a
    user who is gone. (What is written back to the ended session itself
    goes nowhere: its connection replaced the queue when it closed.)"""
    feed = CoreFeed(lambda **kw: ServerCore(server_config(), **kw))
    alice, bob = feed.connect(), feed.connect()
    for client, nick in ((alice, "alice"), (bob, "bob")):
        feed.send(client, f"NICK {nick}".encode(), b"USER u 0 * :R", b"JOIN #c")
    feed.drop(alice)
    feed.take_output()
    for line in (b"NICK alicia", b"AWAY :gone", b"PRIVMSG #c :hi", b"JOIN #d", b"QUIT"):
        feed.send_late(alice, line)
    assert feed.core.handle_run(alice.session, [b"PRIVMSG bob :a", b"PRIVMSG bob :b"], 2) == 0
    assert bob.session.out == []
    assert feed.core.state.user("alice") is None
    assert errors.take() == []
    check_core(feed.core)


def test_a_tick_that_times_a_user_out_does_not_rename_them_too(
    tmp_path: Path, errors: ErrorLog
) -> None:
    """A user on someone's registered nick whose grace period runs out in the
    tick that also times them out: the tick raised KeyError, renaming a
    user it had just removed (and the server ticked no more)."""
    accounts = SqliteAccounts(tmp_path / "accounts.sqlite3")
    accounts.create(Account("alice", hash_password("long password"), "", 0))
    config = server_config(
        accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3"), nick_grace=150),
        ping_interval=100,
        ping_timeout=50,
    )
    try:
        feed = CoreFeed(lambda **kw: ServerCore(config, accounts=accounts, **kw))
        impostor = feed.connect()
        feed.send(impostor, b"NICK alice", b"USER u 0 * :R")
        feed.advance(101)  # PING
        feed.advance(60)  # no PONG, and the grace is over
        assert impostor.closed
        assert feed.core.state.user("alice") is None
        assert feed.core.state.user("Guest1") is None
        check_lines(feed.take_output())
        assert errors.take() == []
        check_core(feed.core)
    finally:
        accounts.close()
