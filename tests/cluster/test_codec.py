"""The events' wire form between nodes: every kind survives the trip, and
anything that is not an entry of this version is refused, not half-read."""

from __future__ import annotations

import json
import typing

import pytest

from tcpchat.cluster.codec import VERSION, CodecError, decode, encode
from tcpchat.server import events
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
    MetadataSet,
    ModeChange,
    MultilineMessaged,
    NickChanged,
    NodeLost,
    Parted,
    ReadMarkerSet,
    RealnameChanged,
    Redacted,
    ServerBanAdded,
    ServerBanRemoved,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserQuit,
    UserRegistered,
)

STAMP = Stamp("boot-7", 1_700_000_000_123)

ONE_OF_EACH: list[Event] = [
    UserRegistered("u1", "alice", "~a", "h", "127.0.0.1", "Alice Ä", "acct", "node-a"),
    UserRegistered("u2", "bob", "~b", "h", "::1", "Bob", None, ""),
    NickChanged("u1", "alicia"),
    UserQuit("u1", "bye ☕"),
    Joined("u1", "#chan", "o"),
    Parted("u1", "#chan", "later"),
    Kicked("u1", "#chan", "u2", "out"),
    TopicChanged("u1", "#chan", "the topic"),
    ChannelModeChanged("u1", "#chan", (ModeChange(True, "o", "u2"), ModeChange(False, "l"))),
    UserModeChanged("u1", (ModeChange(True, "i"),)),
    Messaged("u1", "PRIVMSG", "#chan", "hello", {"+typing": "active", "+reply": "x-1"}),
    Messaged("u1", "NOTICE", "u2", "", {}),
    MessageRun("u1", "PRIVMSG", "u2", ("one", "two")),
    MultilineMessaged("u1", "PRIVMSG", "#chan", (("a", False), ("b", True)), {"+k": "v"}),
    AwayChanged("u1", "gone"),
    AwayChanged("u1", None),
    RealnameChanged("u1", "New Name"),
    Invited("u1", "u2", "#chan"),
    AccountChanged("u1", None),
    ServerBanAdded("u1", "*@bad.example", "spam", 0),
    ServerBanRemoved("u1", "*@bad.example"),
    NodeLost("node-b", "3f2a"),
    ReadMarkerSet("u1", "#chan", 1_700_000_000_000),
    Redacted("u1", "#chan", "#chan", "boot-3", "oops"),
    MetadataSet("", "u1", "display-name", "Alice"),
    MetadataSet("u1", "#chan", "avatar", None),
]


def test_every_kind_of_event_is_in_the_examples() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(typing.get_args(events.Event))


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_an_event_comes_back_equal(event: Event) -> None:
    assert decode(encode(event, STAMP)) == (event, STAMP)


def test_the_stream_s_time_replaces_the_event_s_own() -> None:
    event = Messaged("u1", "PRIVMSG", "#c", "hi")
    assert decode(encode(event, STAMP), 42) == (event, Stamp(STAMP.msgid, 42))


def test_tags_held_read_only_travel_as_an_object() -> None:
    tags = Messaged("u1", "PRIVMSG", "#c", "hi", {"+a": "1"}).client_tags
    sent = Messaged("u1", "PRIVMSG", "#c", "hi", tags)
    assert json.loads(encode(sent, STAMP))[4][4] == {"+a": "1"}


def _entry(*fields: object, kind: str = "Joined", version: object = VERSION) -> str:
    return json.dumps([version, kind, "m-1", 5, list(fields)])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not JSON"),
        ("{}", "an entry is"),
        (_entry("u", "#c", "", version=2), "codec version 2"),
        (_entry("u", "#c", "", kind="Exploded"), "unknown event kind"),
        (_entry("u", "#c", "", kind="__class__"), "unknown event kind"),
        (_entry("u", "#c"), "Joined has 3 fields"),
        (_entry("u", 5, ""), "expected str, got int"),
        (_entry(True, "i", kind="NickChanged"), "expected str, got bool"),
        (_entry("u", "m", "l", kind="ReadMarkerSet"), "expected int, got str"),
        (_entry("u", [[1, "o", None]], kind="UserModeChanged"), "expected bool"),
        (_entry("u", [["o"]], kind="UserModeChanged"), "a mode change is"),
        (_entry("u", "P", "#c", "t", {"+a": 1}, kind="Messaged"), "expected str, got int"),
        (_entry("u", "P", "#c", "t", [], kind="Messaged"), "tags are an object"),
        ('[1, "Joined", 7, 5, ["u", "#c", ""]]', "msgid is a string"),
        ('[1, "Joined", "m", 5.5, ["u", "#c", ""]]', "time a whole number"),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_what_is_not_an_entry_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(CodecError, match=says):
        decode(text)
