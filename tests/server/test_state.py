"""The state's own rules: an event is settled against the state it is about
to change, the same way on every replica, and applied whole or not at all."""

from __future__ import annotations

from tcpchat.server.events import (
    ChannelModeChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    ModeChange,
    NickChanged,
    NodeLost,
    Parted,
    Stamp,
    TopicChanged,
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
