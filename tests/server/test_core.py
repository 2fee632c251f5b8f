"""The core without sockets: events in their turn, settled, delivered, applied."""

from __future__ import annotations

from tcpchat.server.config import AccountSettings, Config, HistorySettings, Limits
from tcpchat.server.core import ServerCore
from tcpchat.server.events import Messaged, MessageRun, Stamp, UserQuit
from tcpchat.server.session import Session


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
