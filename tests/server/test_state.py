"""The state's own rules: an event is settled against the state it is about
to change, the same way on every replica, and applied whole or not at all."""

from __future__ import annotations

from conftest import server_config
from corefeed import CoreFeed, check_core

from tcpchat.server.core import ServerCore
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
    NodeLost,
    Parted,
    RealnameChanged,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserQuit,
    UserRegistered,
)
from tcpchat.server.state import State

STAMP = Stamp("s-1", 1_000)


def replica(*events: Event) -> State:
    state = State()
    for event in events:
        settled = state.settle(event)
        assert settled is not None, event
        state.apply(settled, STAMP)
    return state


def user(uid: str, nick: str, node: str = "") -> UserRegistered:
    return UserRegistered(uid, nick, "~u", "h", "127.0.0.1", "R", None, node)


def test_a_nick_taken_first_refuses_the_later_claim() -> None:
    state = replica(user("a", "alice"), user("b", "bob"))
    assert state.settle(user("c", "ALICE")) is None
    assert state.settle(user("a", "other")) is None  # the uid is taken too
    assert state.settle(NickChanged("b", "Alice")) is None
    assert state.settle(NickChanged("a", "ALICE")) == NickChanged("a", "ALICE")  # own nick


def test_events_about_someone_gone_are_refused() -> None:
    state = replica(user("a", "alice"), user("b", "bob"), Joined("a", "#c", "o"))
    state.apply(UserQuit("b", "bye"), STAMP)
    for event in (
        UserQuit("b", "again"),
        NickChanged("b", "bobby"),
        Joined("b", "#c"),
        Invited("a", "b", "#c"),
        Kicked("a", "#c", "b", "gone already"),
        Kicked("b", "#c", "a", "kicker gone"),
        Parted("b", "#c"),
        TopicChanged("b", "#c", "t"),
    ):
        assert state.settle(event) is None, event


def test_a_channel_made_first_by_someone_else_is_joined_plainly() -> None:
    state = replica(user("a", "alice"), user("b", "bob"), Joined("a", "#Chat", "o"))
    assert state.settle(Joined("b", "#chat", "o")) == Joined("b", "#Chat")
    assert state.settle(Joined("a", "#chat")) is None  # already there
    state.apply(Joined("b", "#Chat"), STAMP)
    channel = state.channel("#chat")
    assert channel is not None
    assert [channel.members[m] for m in channel.members] == ["o", ""]


def test_mode_changes_for_members_who_left_are_dropped() -> None:
    state = replica(user("a", "alice"), user("b", "bob"), Joined("a", "#c", "o"))
    op_bob = ModeChange(True, "o", "b")
    moderated = ModeChange(True, "m")
    assert state.settle(ChannelModeChanged("a", "#c", (op_bob,))) is None
    assert state.settle(ChannelModeChanged("a", "#c", (op_bob, moderated))) == ChannelModeChanged(
        "a", "#c", (moderated,)
    )
    assert state.settle(ChannelModeChanged("a", "#nowhere", (moderated,))) is None


def test_a_lost_node_takes_its_users_and_only_them() -> None:
    state = replica(
        user("a1", "alice", "a"),
        user("b1", "bob", "b"),
        user("b2", "bea", "b"),
        Joined("a1", "#c", "o"),
        Joined("b1", "#c"),
        Joined("b2", "#c"),
    )
    quits = state.node_quits(NodeLost("b", "i1"), STAMP, "chat.example")
    assert [(q.uid, q.reason, s.msgid) for q, s in quits] == [
        ("b1", "chat.example b", "s-1.0"),
        ("b2", "chat.example b", "s-1.1"),
    ]
    for quit, each in quits:
        state.apply(quit, each)
    assert sorted(state.by_uid) == ["a1"] and state.people == 1
    channel = state.channel("#c")
    assert channel is not None and list(channel.members) == [state.by_uid["a1"]]
    assert state.user("bob") is None and state.whowas[0].nick == "bea"


def test_a_limit_that_is_no_number_is_dropped() -> None:
    # A handler never makes one; an event from elsewhere could, and int() would raise.
    state = replica(user("a", "alice"), Joined("a", "#c", "o"))
    bad = ModeChange(True, "l", "lots")
    moderated = ModeChange(True, "m")
    assert state.settle(ChannelModeChanged("a", "#c", (bad,))) is None
    assert state.settle(ChannelModeChanged("a", "#c", (bad, moderated))) == ChannelModeChanged(
        "a", "#c", (moderated,)
    )
    assert state.settle(ChannelModeChanged("a", "#c", (ModeChange(True, "l", "5"),)))


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


def test_no_kind_of_event_about_someone_gone_changes_anything_or_reaches_anyone() -> None:
    """Every kind, through the core's one way in, with real sessions to see
    whether a line would reach them: alice and bob in #c, carol gone."""
    feed = CoreFeed(lambda **kw: ServerCore(server_config(), **kw))
    for nick in ("alice", "bob", "carol"):
        client = feed.connect()
        feed.send(client, f"NICK {nick}".encode(), b"USER u 0 * :R", b"JOIN #c")
    alice, bob, carol = (c.session.uid for c in feed.clients)
    feed.drop(feed.clients[2])
    feed.take_output()
    before = _picture(feed.core.state)
    for event in (
        NickChanged(carol, "dave"),
        NickChanged(alice, "BOB"),
        UserQuit(carol, "bye"),
        Joined(carol, "#c"),
        Parted(carol, "#c"),
        Parted(alice, "#nowhere"),
        Kicked(alice, "#c", carol, "out"),
        Kicked(carol, "#c", bob, "out"),
        TopicChanged(carol, "#c", "topic"),
        ChannelModeChanged(carol, "#c", (ModeChange(True, "m"),)),
        ChannelModeChanged(alice, "#c", (ModeChange(True, "o", carol),)),
        UserModeChanged(carol, (ModeChange(True, "i"),)),
        AwayChanged(carol, "away"),
        RealnameChanged(carol, "Dave"),
        Invited(carol, bob, "#c"),
        Invited(alice, carol, "#c"),
        AccountChanged(carol, "dave"),
        Messaged(carol, "PRIVMSG", "#c", "hi"),
        MessageRun(alice, "PRIVMSG", carol, ("a", "b")),
    ):
        assert feed.core.apply(event, STAMP) is False, event
        assert _picture(feed.core.state) == before, event
        assert feed.take_output() == [], event
        check_core(feed.core)
