"""A snapshot carries the whole network to a node that joins later, and a
damaged one changes nothing."""

from __future__ import annotations

import json

import pytest

from tcpchat.cluster.snapshot import SnapshotError, dump, load
from tcpchat.server.events import (
    AwayChanged,
    ChannelModeChanged,
    Event,
    Joined,
    MetadataSet,
    ModeChange,
    NickChanged,
    ServerBanAdded,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserRegistered,
)
from tcpchat.server.state import SERVICES_UID, State


def network() -> State:
    state = State()
    state.add_service(SERVICES_UID, "NickServ", "test.server", "services")
    events: list[Event] = [
        UserRegistered("a", "alice", "~a", "h1", "10.0.0.1", "Alice", "alice", "node-a"),
        UserRegistered("b", "bob", "~b", "h2", "10.0.0.2", "Bob", None, "node-b"),
        NickChanged("b", "robert"),
        Joined("a", "#chan", "o"),
        Joined("b", "#chan"),
        TopicChanged("a", "#chan", "plans"),
        ChannelModeChanged(
            "a", "#chan", (ModeChange(True, "k", "sekrit"), ModeChange(True, "l", "10"))
        ),
        ChannelModeChanged(
            "a", "#chan", (ModeChange(True, "b", "*!*@spam"), ModeChange(True, "v", "b"))
        ),
        UserModeChanged("b", (ModeChange(True, "i"),)),
        AwayChanged("b", "lunch"),
        MetadataSet("a", "a", "display-name", "Al"),
        ServerBanAdded("a", "*@bad", "spam", 0),
    ]
    for i, event in enumerate(events):
        settled = state.settle(event)
        assert settled is not None, event
        state.apply(settled, Stamp(f"m-{i}", 1_000 + i))
    return state


def test_a_loaded_snapshot_is_the_network_it_was_taken_of() -> None:
    joiner = State()
    joiner.add_service(SERVICES_UID, "NickServ", "test.server", "services")
    load(joiner, dump(network()))
    alice, bob = joiner.user("alice"), joiner.user("ROBERT")
    assert alice is not None and bob is not None
    assert (alice.node, alice.account, alice.metadata) == (
        "node-a",
        "alice",
        {"display-name": "Al"},
    )
    assert (bob.modes, bob.away, bob.node) == ({"i"}, "lunch", "node-b")
    channel = joiner.channel("#CHAN")
    assert channel is not None
    assert {u.nick: m for u, m in channel.members.items()} == {"alice": "o", "robert": "v"}
    assert (channel.topic, channel.topic_setter, channel.key, channel.limit) == (
        "plans",
        "alice!~a@h1",
        "sekrit",
        10,
    )
    assert [b.mask for b in channel.bans] == ["*!*@spam"]
    assert bob.channels == {"#chan": channel}
    assert list(joiner.logged_in) == ["alice"]
    assert [w.nick for w in joiner.whowas] == ["bob"]
    assert joiner.server_ban("x", "bad", 5) is not None
    assert (joiner.people, joiner.user("nickserv") is not None) == (2, True)
    assert joiner.ips == {"10.0.0.1": 1, "10.0.0.2": 1}
    assert dump(joiner) == dump(network())


def test_loading_replaces_what_the_node_knew() -> None:
    state = network()
    empty = State()
    load(state, dump(empty))
    assert (state.people, state.channels, state.whowas) == (0, {}, type(state.whowas)())
    assert state.user("nickserv") is not None  # the services are every node's own


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"version": 99}),
        json.dumps({"version": 1, "users": [["short"]]}),
        dump(network()).replace('["b","v"]', '["ghost","v"]'),  # a member who is no user
    ],
)
def test_a_damaged_snapshot_changes_nothing(text: str) -> None:
    state = network()
    before = dump(state)
    with pytest.raises(SnapshotError):
        load(state, text)
    assert dump(state) == before
