"""Who sees an event, and the exact bytes each of them gets.

Theory of operation: an event becomes one :class:`OutLine` (or two, where a
capability changes the line itself, as ``extended-join`` does). An OutLine
formats its body once and encodes at most four variants of it, one per
combination of the tags a recipient asked for (``message-tags`` and
``server-time``), so a message to a thousand members costs a few
encodings and a thousand appends of the same bytes objects to the
members' output queues (the channel loop in :func:`deliver_message`
appends to :attr:`Session.out` directly; other events go through
``write``). Delivery makes no system calls: the connections' flush writes
the queues. It runs *before* the event is applied, so a quitting user is
still in its channels and the old nick is still the source of NICK.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tcpchat.irc import casefold, quote_params
from tcpchat.irc.message import escape_tag_value
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
    MultilineMessaged,
    NickChanged,
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
from tcpchat.server.metadata import notification, speaks_metadata
from tcpchat.server.session import TAG_ACCOUNT, TAG_MSGID, TAG_TIME, Session
from tcpchat.server.state import State, User

PresenceEvent = AwayChanged | RealnameChanged | AccountChanged
"""Changes to a user that others see where they share a channel, or MONITOR the user."""

__all__ = [
    "MULTILINE_CAP",
    "REDACTION_CAP",
    "MultilineSent",
    "OutLine",
    "PresenceEvent",
    "Sent",
    "deliver",
    "deliver_message",
    "format_client_tags",
    "format_time",
    "presence_line",
    "source_tags",
    "with_tag",
]


def format_time(time_ms: int) -> str:
    """IRCv3 server-time format: ISO 8601 UTC with milliseconds."""
    seconds, ms = divmod(time_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def format_client_tags(tags: Mapping[str, str]) -> str:
    """Client-only tags as they stand in a line's tag section (without '@')."""
    return ";".join(k + ("=" + escape_tag_value(v) if v else "") for k, v in tags.items())


def with_tag(data: bytes, tag: str) -> bytes:
    """An encoded line with one more tag (``key=escaped-value``) in front of the others."""
    if data[:1] == b"@":
        return b"@" + tag.encode() + b";" + data[1:]
    return b"@" + tag.encode() + b" " + data


class OutLine:
    """One line to relay, with its tag variants encoded on first use."""

    __slots__ = ("account", "body", "client_tags", "encoded", "stamp", "with_msgid")

    def __init__(
        self,
        body: str,
        stamp: Stamp,
        client_tags: str = "",
        account: str | None = None,
        with_msgid: bool = True,
    ) -> None:
        self.body = body
        self.stamp = stamp
        self.client_tags = client_tags
        self.account = account  # the source's account, for account-tag
        # False for the later lines of a message sent as several (multiline's
        # fallback): the msgid is the first line's alone.
        self.with_msgid = with_msgid
        # One slot for each combination of the TAG_* bits, filled by for_mode.
        self.encoded: list[bytes | None] = [None] * 8

    def for_mode(self, mode: int) -> bytes:
        """The bytes for a recipient whose :attr:`Session.tag_mode` is ``mode``."""
        data = self.encoded[mode]
        if data is None:
            tags = []
            if mode & TAG_TIME:
                tags.append("time=" + format_time(self.stamp.time_ms))
            if mode & TAG_ACCOUNT and self.account:
                tags.append("account=" + escape_tag_value(self.account))
            if mode & TAG_MSGID:
                if self.with_msgid:
                    tags.append("msgid=" + self.stamp.msgid)
                if self.client_tags:
                    tags.append(self.client_tags)
            head = "@" + ";".join(tags) + " " if tags else ""
            data = self.encoded[mode] = (head + self.body + "\r\n").encode()
        return data

    def send(self, session: Session) -> None:
        session.write(self.for_mode(session.tag_mode))


def source_tags(user: User) -> str:
    """The tags a line from ``user`` carries to clients that take tags: ``bot``
    for a bot (IRCv3 bot-mode: on everything it sends), else none."""
    return "bot" if "B" in user.modes else ""


def _sessions(users: Iterable[User]) -> list[Session]:
    return [u.session for u in users if u.session is not None]


def neighbours(user: User) -> dict[Session, None]:
    """Sessions of the local users who share a channel with ``user`` (not itself), once each."""
    seen: dict[Session, None] = {}
    for channel in user.channels.values():
        for member in channel.members:
            if member.session is not None and member is not user:
                seen[member.session] = None
    return seen


def _to_channel_and_self(
    state: State, uid: str, channel_name: str, body: str, stamp: Stamp, tags: str = ""
) -> None:
    user = state.by_uid[uid]
    channel = state.channel(channel_name)
    line = OutLine(body, stamp, tags)
    members = list(channel.members) if channel is not None else []
    if user not in members:
        members.append(user)
    for session in _sessions(members):
        line.send(session)


def _nick(state: State, e: NickChanged, stamp: Stamp) -> None:
    user = state.by_uid[e.uid]
    line = OutLine(f":{user.mask} NICK {e.nick}", stamp, source_tags(user), user.account)
    if user.session is not None:
        line.send(user.session)
    for session in neighbours(user):
        line.send(session)


def _quit(state: State, e: UserQuit, stamp: Stamp) -> None:
    user = state.by_uid[e.uid]
    body = f":{user.mask} QUIT" + quote_params((e.reason,))
    line = OutLine(body, stamp, source_tags(user), user.account)
    for session in neighbours(user):
        line.send(session)


def _joined(state: State, e: Joined, stamp: Stamp, server_name: str) -> None:
    user = state.by_uid[e.uid]
    channel = state.channel(e.channel)
    tags = source_tags(user)
    plain = OutLine(f":{user.mask} JOIN {e.channel}", stamp, tags, user.account)
    extended = OutLine(
        f":{user.mask} JOIN {e.channel} {user.account or '*'}" + quote_params((user.realname,)),
        stamp,
        tags,
    )
    away = (
        OutLine(f":{user.mask} AWAY" + quote_params((user.away,)), stamp, account=user.account)
        if user.away
        else None
    )
    members = list(channel.members) if channel is not None else []
    members.append(user)
    for session in _sessions(members):
        (extended if "extended-join" in session.caps else plain).send(session)
        if away is not None and session.user is not user and "away-notify" in session.caps:
            away.send(session)
        if user.metadata and session.user is not user and speaks_metadata(session):
            # Now they share a channel: the joiner's metadata, for the keys
            # each member subscribed to (metadata, "Notifications").
            for key, value in user.metadata.items():
                if key in session.metadata_subs:
                    session.write(notification(session, server_name, user.nick, key, value))


def _parted(state: State, e: Parted, stamp: Stamp) -> None:
    user = state.by_uid[e.uid]
    params = (e.channel, e.reason) if e.reason else (e.channel,)
    body = f":{user.mask} PART" + quote_params(params)
    _to_channel_and_self(state, e.uid, e.channel, body, stamp, source_tags(user))


def _kicked(state: State, e: Kicked, stamp: Stamp) -> None:
    kicker = state.by_uid[e.source]
    target = state.by_uid[e.uid]
    body = f":{kicker.mask} KICK" + quote_params((e.channel, target.nick, e.reason))
    _to_channel_and_self(state, e.uid, e.channel, body, stamp, source_tags(kicker))


def _topic(state: State, e: TopicChanged, stamp: Stamp) -> None:
    setter = state.by_uid[e.source]
    body = f":{setter.mask} TOPIC" + quote_params((e.channel, e.topic))
    _to_channel_and_self(state, e.source, e.channel, body, stamp, source_tags(setter))


def mode_params(state: State, e: ChannelModeChanged | UserModeChanged) -> list[str]:
    """MODE parameters for a list of changes, e.g. ["+o-v", "alice", "bob"]."""
    letters = ""
    args: list[str] = []
    sign = ""
    for change in e.changes:
        want = "+" if change.adding else "-"
        if want != sign:
            letters += want
            sign = want
        letters += change.letter
        if change.arg is not None:
            if change.letter in "ov":
                args.append(state.by_uid[change.arg].nick)
            else:
                args.append(change.arg)
    return [letters, *args]


def _channel_mode(state: State, e: ChannelModeChanged, stamp: Stamp, server_name: str) -> None:
    source = state.by_uid[e.source].mask if e.source else server_name
    channel = state.channels[casefold(e.channel)]
    line = OutLine(f":{source} MODE" + quote_params((channel.name, *mode_params(state, e))), stamp)
    for session in _sessions(channel.members):
        line.send(session)


def _user_mode(state: State, e: UserModeChanged, stamp: Stamp) -> None:
    user = state.by_uid[e.uid]
    if user.session is not None:
        OutLine(
            f":{user.nick} MODE" + quote_params((user.nick, *mode_params(state, e))), stamp
        ).send(user.session)


def deliver_message(state: State, e: Messaged | MessageRun, stamp: Stamp) -> OutLine | bytes | None:
    """Write a message's lines (see :func:`deliver`); None, writing nothing,
    if its source or target is no longer there. Messages change no state,
    so this is all the settling they need (State.settle leaves them here,
    on the hot path, where source and target are looked up anyway).
    Otherwise what was sent, its OutLine (or a run's bytes), for a failed
    history commit to take back (:mod:`tcpchat.server.durability`)."""
    if isinstance(e, MessageRun):
        return _message_run(state, e, stamp)
    source = state.by_uid.get(e.source)
    if source is None:
        return None
    tagmsg = e.command == "TAGMSG"
    channel = state.channels.get(casefold(e.target)) if e.target[:1] == "#" else None
    recipient = None if channel is not None else state.by_uid.get(e.target)
    if channel is None and recipient is None:
        return None
    shown = recipient.nick if recipient is not None else e.target
    client_tags = format_client_tags(e.client_tags) if e.client_tags else ""
    if "B" in source.modes:  # a bot (source_tags)
        client_tags = "bot;" + client_tags if client_tags else "bot"
    body = f":{source.mask} {e.command} {shown}"
    line = OutLine(body if tagmsg else f"{body} :{e.text}", stamp, client_tags, source.account)
    if channel is not None:
        # The hot loop of a busy channel: per member, an append of shared
        # bytes straight to its output queue, and a wake-up only for the
        # first line queued since its last flush. The source is the only
        # session whose write may be a labeled-response collector, and it is
        # skipped here.
        encoded = line.encoded
        for member in channel.members:
            session = member.session
            if session is None or member is source:
                continue
            mode = session.tag_mode
            if tagmsg and not mode & TAG_MSGID:
                continue
            data = encoded[mode] or line.for_mode(mode)
            out = session.out
            if not out:
                session.wake()
            out.append(data)
    elif (
        recipient is not None
        and recipient.session is not None
        and (not tagmsg or recipient.session.tag_mode & TAG_MSGID)
    ):
        session = recipient.session
        if recipient is source:
            # A message to oneself arrives like any other, and is no reply to
            # the command: it bypasses labeled-response's collector.
            session.deliver(line.for_mode(session.tag_mode))
        else:
            line.send(session)
    own = source.session
    if own is not None and "echo-message" in own.caps and (not tagmsg or own.tag_mode & TAG_MSGID):
        line.send(own)
    return line


MULTILINE_CAP = "draft/multiline"


@dataclass(frozen=True, slots=True)
class MultilineSent:
    """What a message of several lines was sent as: its batch (the opening
    line's variants, each followed by the same rest) and its fallback lines."""

    opening: OutLine
    rest: bytes
    fallback: tuple[OutLine, ...]

    def lines(self) -> list[bytes]:
        """Every chunk delivery may have written for it."""
        chunks = [data + self.rest for data in self.opening.encoded if data is not None]
        for line in self.fallback:
            chunks += [data for data in line.encoded if data is not None]
        return chunks


Sent = OutLine | bytes | MultilineSent
"""What delivery made of a message (or a redaction), for a failed history
commit to take back (:mod:`tcpchat.server.durability`)."""


def _multiline(state: State, e: MultilineMessaged, stamp: Stamp) -> MultilineSent:
    """A message of several lines: as a ``draft/multiline`` batch to clients
    that take one, else as its lines, blank ones left out, the msgid on the
    first (multiline, "Fallback"). The batch's own lines are the same bytes
    for everyone; only its opening line's tags differ."""
    source = state.by_uid[e.source]
    channel = state.channels.get(casefold(e.target)) if e.target[:1] == "#" else None
    recipient = None if channel is not None else state.by_uid.get(e.target)
    shown = recipient.nick if recipient is not None else e.target
    tags = format_client_tags(e.client_tags) if e.client_tags else ""
    if "B" in source.modes:
        tags = "bot;" + tags if tags else "bot"
    ref = stamp.msgid
    body = f":{source.mask} {e.command} {shown} :"
    opening = OutLine(
        f":{source.mask} BATCH +{ref} {MULTILINE_CAP} {shown}", stamp, tags, source.account
    )
    inner = "".join(
        f"@batch={ref}{';draft/multiline-concat' if concat else ''} {body}{text}\r\n"
        for text, concat in e.lines
    )
    closing = (inner + f":{source.mask} BATCH -{ref}\r\n").encode()
    visible = [text for text, _ in e.lines if text]
    fallback = [
        OutLine(body + text, stamp, tags, source.account, with_msgid=not i)
        for i, text in enumerate(visible)
    ]

    def send(session: Session) -> None:
        # The batch in one write: a label (labeled-response) then lands on its
        # opening line; the fallback's lines one by one, to be batched with it.
        mode = session.tag_mode
        if MULTILINE_CAP in session.caps and "batch" in session.caps:
            session.write(opening.for_mode(mode) + closing)
        else:
            for line in fallback:
                line.send(session)

    if channel is not None:
        for member in channel.members:
            if member.session is not None and member is not source:
                send(member.session)
    elif recipient is not None and recipient.session is not None and recipient is not source:
        send(recipient.session)
    own = source.session
    if own is not None and ("echo-message" in own.caps or recipient is source):
        send(own)
    return MultilineSent(opening, closing, tuple(fallback))


def _message_run(state: State, e: MessageRun, stamp: Stamp) -> bytes | None:
    """Every line of the run in one piece, to sessions that take no tags
    (MessageRun is made only for them), formatted with a few C calls.

    But for a recipient that takes tags, which the run's node could not see
    (a user of another node of a cluster): it gets the run as its messages,
    each with its own stamp (MessageRun.stamps). Its sender is on that other
    node, so the two writes never meet."""
    source = state.by_uid.get(e.source)
    recipient = state.by_uid.get(e.target)
    if source is None or recipient is None:
        return None
    head = f":{source.mask} {e.command} {recipient.nick} :"
    session = recipient.session
    if session is not None and session.tag_mode:
        tags = source_tags(source)
        data = b"".join(
            OutLine(head + text, own, tags, source.account).for_mode(session.tag_mode)
            for own, text in zip(e.stamps(stamp), e.texts, strict=True)
        )
        session.write(data)
        return data
    data = (head + ("\r\n" + head).join(e.texts) + "\r\n").encode()
    if session is not None:
        session.write(data)
    own = source.session
    if own is not None and "echo-message" in own.caps:
        own.write(data)
    return data


def presence_line(user: User, e: PresenceEvent, stamp: Stamp) -> tuple[OutLine, str]:
    """The line that tells others of ``user``'s away, realname or account
    change, and the capability a client needs to be sent it (for the
    user's channels here, and for MONITOR with extended-monitor)."""
    if type(e) is AwayChanged:
        body = f":{user.mask} AWAY" + quote_params((e.message,) if e.message else ())
        return OutLine(body, stamp, source_tags(user), user.account), "away-notify"
    if type(e) is RealnameChanged:
        body = f":{user.mask} SETNAME" + quote_params((e.realname,))
        return OutLine(body, stamp, source_tags(user), user.account), "setname"
    assert type(e) is AccountChanged
    body = f":{user.mask} ACCOUNT {e.account or '*'}"
    return OutLine(body, stamp, source_tags(user), e.account), "account-notify"


def _presence(state: State, e: PresenceEvent, stamp: Stamp) -> None:
    """Away and account changes go to the user's channels; a new realname to
    the user too (IRCv3 setname), each to those with the capability for it."""
    user = state.by_uid[e.uid]
    line, cap = presence_line(user, e, stamp)
    sessions = neighbours(user)
    if type(e) is RealnameChanged and user.session is not None:
        sessions[user.session] = None
    for session in sessions:
        if cap in session.caps:
            line.send(session)


def _invited(state: State, e: Invited, stamp: Stamp) -> None:
    source = state.by_uid[e.source]
    target = state.by_uid[e.uid]
    if target.session is not None:
        OutLine(
            f":{source.mask} INVITE" + quote_params((target.nick, e.channel)),
            stamp,
            account=source.account,
        ).send(target.session)


REDACTION_CAP = "draft/message-redaction"


def _redacted(state: State, e: Redacted, stamp: Stamp) -> OutLine:
    """Like the message it deletes, to the channel or the other person, and
    to the sender, but only to clients that take redactions (the spec
    forbids sending REDACT to others)."""
    source = state.by_uid[e.source]
    channel = state.channels.get(casefold(e.target)) if e.target[:1] == "#" else None
    other = None if channel is not None else state.user(e.target)
    params = (e.target, e.msgid, e.reason) if e.reason else (e.target, e.msgid)
    line = OutLine(f":{source.mask} REDACT" + quote_params(params), stamp, source_tags(source))
    users: list[User] = list(channel.members) if channel is not None else []
    if other is not None and other is not source:
        users.append(other)
    if source not in users:
        users.append(source)
    for session in _sessions(users):
        if REDACTION_CAP in session.caps:
            line.send(session)
    return line


def _metadata(state: State, e: MetadataSet, stamp: Stamp, server_name: str) -> None:
    """To those told of the target's changes who subscribed to the key: a
    channel's members, or those who share a channel with a user (and the
    user, when someone else changed it), never the one who made the change
    (metadata, "Notifications"). Watchers by MONITOR: the Monitor's part."""
    if e.target[:1] == "#":
        channel = state.channels[casefold(e.target)]
        shown = channel.name
        sessions: dict[Session, None] = dict.fromkeys(_sessions(channel.members))
    else:
        user = state.by_uid[e.target]
        shown = user.nick
        sessions = neighbours(user)
        if user.session is not None:
            sessions[user.session] = None
    source = state.by_uid.get(e.source)
    if source is not None and source.session is not None:
        sessions.pop(source.session, None)
    for session in sessions:
        if e.key in session.metadata_subs and speaks_metadata(session):
            session.write(notification(session, server_name, shown, e.key, e.value))


def _read_marker(state: State, e: ReadMarkerSet, stamp: Stamp, server_name: str) -> None:
    """To the sessions of the marker's owner (the account's, or the user's
    own) that take read markers, and always to the one that set it."""
    user = state.by_uid[e.uid]
    users = state.logged_in.get(casefold(user.account), {}) if user.account else {}
    data = f":{server_name} MARKREAD {e.target} timestamp={format_time(e.time_ms)}\r\n".encode()
    for session in _sessions(users or (user,)):
        if session is user.session or "draft/read-marker" in session.caps:
            session.write(data)


def _nobody(state: State, e: Event, stamp: Stamp) -> None:
    """Events no client sees as a line of their own: a registration (the user
    gets its welcome from the handler), server bans (they act through quits)."""


_DELIVER: dict[type[Any], Callable[..., Sent | None]] = {
    AccountChanged: _presence,
    ServerBanAdded: _nobody,
    ServerBanRemoved: _nobody,
    UserRegistered: _nobody,
    NickChanged: _nick,
    UserQuit: _quit,
    Parted: _parted,
    Kicked: _kicked,
    TopicChanged: _topic,
    UserModeChanged: _user_mode,
    MultilineMessaged: _multiline,
    AwayChanged: _presence,
    RealnameChanged: _presence,
    Invited: _invited,
    Redacted: _redacted,
}


def deliver(state: State, event: Event, stamp: Stamp, server_name: str) -> Sent | None:
    """Write the lines for ``event`` (settled; a message goes to
    :func:`deliver_message`) to every local session that should see it.
    For a message of several lines or a redaction, what was sent (Sent)."""
    if type(event) is ChannelModeChanged:
        _channel_mode(state, event, stamp, server_name)
    elif type(event) is ReadMarkerSet:
        _read_marker(state, event, stamp, server_name)
    elif type(event) is Joined:
        _joined(state, event, stamp, server_name)
    elif type(event) is MetadataSet:
        _metadata(state, event, stamp, server_name)
    else:
        return _DELIVER[type(event)](state, event, stamp)
    return None
