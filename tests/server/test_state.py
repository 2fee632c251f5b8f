"""The state changes by events alone, and an event about who is gone changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import server_config
from corefeed import CoreFeed, FeedClient, check_core

from tcpchat.server.core import ServerCore
from tcpchat.server.delivery import deliver
from tcpchat.server.events import (
    AccountChanged,
    AwayChanged,
    ChannelModeChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Messaged,
    MessageRun,
    ModeChange,
    NickChanged,
    Parted,
    RealnameChanged,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserQuit,
)
from tcpchat.server.state import State


def _core(**kwargs: Any) -> ServerCore:
    return ServerCore(server_config(), **kwargs)


@pytest.fixture
def feed() -> CoreFeed:
    """alice (an operator of #c) and bob in #c, and carol, who has quit."""
    feed = CoreFeed(_core)
    for nick in ("alice", "bob", "carol"):
        client = feed.connect()
        feed.send(client, f"NICK {nick}".encode(), b"USER u 0 * :R", b"JOIN #c")
    feed.drop(feed.clients[2])
    feed.take_output()
    return feed


def _uid(client: FeedClient) -> str:
    return client.session.uid


def _picture(state: State) -> object:
    """Everything an event could change, as plain values."""
    return (
        sorted((u.uid, u.nick, sorted(u.modes), u.away, u.account, u.realname, sorted(u.channels))
               for u in state.users.values()),
        sorted((c.name, c.topic, sorted(c.modes), c.key, c.limit, sorted(c.invited),
                sorted((m.uid, modes) for m, modes in c.members.items()))
               for c in state.channels.values()),
        state.people,
    )  # fmt: skip


def _stale(alice: str, bob: str, gone: str) -> list[Event]:
    """Events that name a user who has quit or a channel that is not there,
    or that do what cannot be done (a nick for two, a mode on a non-member)."""
    return [
        NickChanged(gone, "dave"),
        NickChanged(alice, "BOB"),
        UserQuit(gone, "bye"),
        Joined(gone, "#c"),
        Parted(gone, "#c"),
        Parted(alice, "#nowhere"),
        Kicked(alice, "#c", gone, "out"),
        Kicked(gone, "#c", bob, "out"),
        Kicked(alice, "#nowhere", bob, "out"),
        TopicChanged(gone, "#c", "topic"),
        TopicChanged(alice, "#nowhere", "topic"),
        ChannelModeChanged(alice, "#nowhere", (ModeChange(True, "m"),)),
        ChannelModeChanged(gone, "#c", (ModeChange(True, "m"),)),
        ChannelModeChanged(alice, "#c", (ModeChange(True, "m"), ModeChange(True, "o", gone))),
        ChannelModeChanged(alice, "#c", (ModeChange(True, "l", "lots"),)),
        UserModeChanged(gone, (ModeChange(True, "i"),)),
        MessageRun(alice, "PRIVMSG", gone, ("a", "b")),
        MessageRun(gone, "PRIVMSG", bob, ("a", "b")),
        AwayChanged(gone, "away"),
        RealnameChanged(gone, "Dave"),
        Invited(gone, bob, "#c"),
        Invited(alice, gone, "#c"),
        AccountChanged(gone, "dave"),
    ]


def test_events_about_what_is_gone_change_nothing_and_reach_no_one(feed: CoreFeed) -> None:
    alice, bob, carol = (_uid(c) for c in feed.clients)
    state = feed.core.state
    before = _picture(state)
    for event in _stale(alice, bob, carol):
        assert not state.applies(event), event
        deliver(state, event, Stamp("x-1", 0), "test.server")
        state.apply(event, Stamp("x-1", 0))
        assert _picture(state) == before, event
        assert feed.take_output() == [], event
        check_core(feed.core)


def test_a_message_from_someone_gone_reaches_no_one(feed: CoreFeed) -> None:
    carol = _uid(feed.clients[2])
    deliver(feed.core.state, Messaged(carol, "PRIVMSG", "#c", "hi"), Stamp("x-1", 0), "s")
    assert feed.take_output() == []


def test_the_same_events_apply_while_their_users_are_there(feed: CoreFeed) -> None:
    # The checks refuse only what is stale: these are the events above, for people here.
    alice, bob = (_uid(c) for c in feed.clients[:2])
    state = feed.core.state
    assert state.applies(NickChanged(alice, "dave"))
    assert state.applies(NickChanged(alice, "ALICE"))  # the same nick, another case
    assert state.applies(Kicked(alice, "#c", bob, "out"))
    assert state.applies(ChannelModeChanged(alice, "#c", (ModeChange(True, "v", bob),)))
    assert state.applies(ChannelModeChanged("", "#c", (ModeChange(True, "l", "5"),)))
    assert state.applies(MessageRun(alice, "PRIVMSG", bob, ("a",)))


def test_emit_skips_a_stale_event_and_says_so(
    feed: CoreFeed, caplog: pytest.LogCaptureFixture
) -> None:
    carol = _uid(feed.clients[2])
    before = _picture(feed.core.state)
    feed.core.emit(AwayChanged(carol, "away"))
    assert _picture(feed.core.state) == before
    assert any("skipped" in r.getMessage() for r in caplog.records)
