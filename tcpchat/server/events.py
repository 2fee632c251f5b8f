"""Events: every change to the network's state, as a value.

Command handlers never change state; they emit these. The server delivers
each event's lines to the local clients it concerns, applies it to
:mod:`tcpchat.server.state`, and passes it to observers (the log, the
console, later the cluster bus). Events name users by ``uid``, never by
object, so that they can cross process boundaries unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tcpchat.frozen import fast_init
from tcpchat.store.history import run_msgid

__all__ = [
    "AccountChanged",
    "AwayChanged",
    "ChannelModeChanged",
    "Event",
    "Invited",
    "Joined",
    "Kicked",
    "MessageRun",
    "Messaged",
    "MetadataSet",
    "ModeChange",
    "MultilineMessaged",
    "NickChanged",
    "NodeLost",
    "Observer",
    "Parted",
    "ReadMarkerSet",
    "RealnameChanged",
    "Redacted",
    "ServerBanAdded",
    "ServerBanRemoved",
    "Stamp",
    "TopicChanged",
    "UserModeChanged",
    "UserQuit",
    "UserRegistered",
]


@fast_init  # built once per message
@dataclass(frozen=True, slots=True)
class Stamp:
    """When an event happened and its network-wide id (the ``msgid`` tag).

    The time is kept in whole milliseconds, the resolution of ``server-time``,
    so a timestamp a client quotes back (CHATHISTORY) compares exactly.
    """

    msgid: str
    time_ms: int

    @property
    def time(self) -> float:
        return self.time_ms / 1000


@dataclass(frozen=True, slots=True)
class UserRegistered:
    """A connection finished registration and became a user."""

    uid: str
    nick: str
    username: str
    host: str
    ip: str
    realname: str
    account: str | None = None
    # The node the user is connected to, in a cluster ("" on a server on its own).
    node: str = ""


@dataclass(frozen=True, slots=True)
class NickChanged:
    uid: str
    nick: str


@dataclass(frozen=True, slots=True)
class UserQuit:
    """A user left the network: QUIT, a kill, a timeout or a broken link."""

    uid: str
    reason: str


@dataclass(frozen=True, slots=True)
class Joined:
    """A user joined a channel; ``modes`` are the member's prefix modes ("o" for the creator)."""

    uid: str
    channel: str
    modes: str = ""


@dataclass(frozen=True, slots=True)
class Parted:
    uid: str
    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Kicked:
    source: str  # uid of the kicker
    channel: str
    uid: str
    reason: str


@dataclass(frozen=True, slots=True)
class TopicChanged:
    source: str  # uid of the setter
    channel: str
    topic: str


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One mode letter set (``adding``) or unset, with its argument if it takes one."""

    adding: bool
    letter: str
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelModeChanged:
    """Modes changed on a channel; arguments of o/v are uids, shown as nicks."""

    source: str  # uid, or "" for the server itself
    channel: str
    changes: tuple[ModeChange, ...]


@dataclass(frozen=True, slots=True)
class UserModeChanged:
    uid: str
    changes: tuple[ModeChange, ...]


@fast_init  # built once per message
@dataclass(frozen=True, slots=True)
class Messaged:
    """PRIVMSG, NOTICE or TAGMSG to a channel (by name) or a user (by uid)."""

    source: str  # uid
    command: str
    target: str
    text: str
    client_tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageRun:
    """Several PRIVMSGs (or NOTICEs) in a row from one user to another, read
    together: the same as a :class:`Messaged` for each text, in order, but
    delivered as one write and told to observers as one event.

    It has one stamp, so it is made only where no client is shown its
    msgid: the recipient (and the sender, for echo-message) asked for no
    tags (see :func:`tcpchat.server.commands.messaging.run_recipient`).
    History keeps it as one record, each message with a msgid of its own
    (:class:`~tcpchat.store.HistoryRun`).
    """

    source: str  # uid
    command: str
    target: str  # uid
    texts: tuple[str, ...]

    def messages(self) -> list[Messaged]:
        """The run as the messages it stands for, for observers that show each one."""
        return [Messaged(self.source, self.command, self.target, text) for text in self.texts]

    def stamps(self, stamp: Stamp) -> list[Stamp]:
        """Each message's own stamp, its msgid made from the run's ``stamp``:
        the run's msgid is seen by no one, and these are unique, as no
        stamp's msgid has a '.' in it. History keeps them, and a recipient
        that takes tags (on another node of a cluster) is shown them."""
        msgid, time_ms = stamp.msgid, stamp.time_ms
        return [Stamp(run_msgid(msgid, i), time_ms) for i in range(len(self.texts))]


@dataclass(frozen=True, slots=True)
class MultilineMessaged:
    """One message of several lines (IRCv3 draft/multiline): a PRIVMSG or
    NOTICE batch to a channel (by name) or a user (by uid). Each line is its
    text and whether it continues the line before it with no line break
    (``draft/multiline-concat``)."""

    source: str  # uid
    command: str
    target: str
    lines: tuple[tuple[str, bool], ...]
    client_tags: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The whole message, its lines joined as the spec joins them."""
        out = ""
        for i, (line, concat) in enumerate(self.lines):
            out += line if concat or not i else "\n" + line
        return out


@dataclass(frozen=True, slots=True)
class AwayChanged:
    uid: str
    message: str | None


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    uid: str
    realname: str


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """A user logged in to an account (or out, when ``account`` is None)."""

    uid: str
    account: str | None


@dataclass(frozen=True, slots=True)
class ServerBanAdded:
    """An operator banned ``user@host`` masks from the whole server (KLINE)."""

    source: str  # uid of the operator
    mask: str
    reason: str
    expires_ms: int  # 0: never


@dataclass(frozen=True, slots=True)
class ServerBanRemoved:
    source: str
    mask: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """A message was deleted (IRCv3 draft/message-redaction) by its sender, or
    by an operator of its channel; history keeps it, hidden."""

    source: str  # uid of who redacted it
    target: str  # a channel, or the nick of the other person of a private conversation
    key: str  # the conversation's history key (store.dm_key for a private one)
    msgid: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MetadataSet:
    """A key of a user's or a channel's metadata was set, or unset (``value``
    None) (IRCv3 draft/metadata-2)."""

    source: str  # uid of who changed it, or "" for the server (a login restoring it)
    target: str  # a channel (by name) or a user (by uid)
    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class ReadMarkerSet:
    """A user has read a conversation up to ``time_ms`` (IRCv3 draft/read-marker).

    The marker is the user's own: of its account when logged in (and so of
    every session of that account), else of its connection alone. ``target``
    is the conversation as the client named it (a channel or a nick).
    """

    uid: str
    target: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class Invited:
    source: str
    uid: str
    channel: str


@dataclass(frozen=True, slots=True)
class NodeLost:
    """A node of a cluster stopped (its heartbeat did, or it was fenced off):
    every user on it quits, on every node. Made in Redis by the script that
    declares the node lost, once, so that it has its place in the one order."""

    node: str
    incarnation: str


Event = (
    UserRegistered
    | NickChanged
    | UserQuit
    | Joined
    | Parted
    | Kicked
    | TopicChanged
    | ChannelModeChanged
    | UserModeChanged
    | Messaged
    | MessageRun
    | MultilineMessaged
    | AwayChanged
    | RealnameChanged
    | Invited
    | AccountChanged
    | ServerBanAdded
    | ServerBanRemoved
    | NodeLost
    | ReadMarkerSet
    | Redacted
    | MetadataSet
)

Observer = Callable[[Event, Stamp], None]
"""Called after an event has been delivered and applied; must not raise or block."""
