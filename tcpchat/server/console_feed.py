"""What the server console shows, made on the server thread as plain values.

Theory of operation. The console's window runs on Tk's thread and must never
read the server's state, which only the server thread may touch. So
everything it draws is made here, on the server thread, as frozen values and
handed to a ``sink`` (a thread-safe queue's ``put``):

- :class:`ConsoleFeed` observes events: each becomes a :class:`LogEntry`
  worded as the terminal log words it (:meth:`EventLog.describe`), with a
  kind for its colour and the nick of who did it. It counts messages, for
  the messages-per-second figure.
- :class:`LogRelay` is a logging handler: the server's own log lines
  (connections, disconnections, errors) become entries too, so the console
  shows what the terminal shows.
- :meth:`ConsoleFeed.publish_snapshot` sends the tables (users, channels)
  and the counters, when the console asks for them through the server's loop.
  In a cluster the users are the whole network's, each with its node.
- In a cluster, :class:`Nodes` tells of the network's nodes as Redis knows
  them, and whether Redis answers (:mod:`tcpchat.cluster.watch` polls it).
- Answers to the console's history searches come the same way
  (:mod:`tcpchat.server.console_search`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tcpchat.server.console_search import SearchResults
from tcpchat.server.core import ServerCore
from tcpchat.server.eventlog import EventLog
from tcpchat.server.events import (
    ChannelModeChanged,
    Event,
    Joined,
    Kicked,
    Messaged,
    MessageRun,
    MultilineMessaged,
    NickChanged,
    Parted,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserQuit,
    UserRegistered,
)
from tcpchat.server.state import User, is_console_uid

__all__ = [
    "ChannelRow",
    "ConsoleFeed",
    "FeedItem",
    "LogEntry",
    "LogRelay",
    "NodeRow",
    "Nodes",
    "Sink",
    "Snapshot",
    "UserRow",
]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the console's live log."""

    time: float
    kind: str  # what happened, for its colour: "join", "message", "error", ...
    text: str
    actor: str = ""  # the nick of who did it, drawn in that nick's colour


@dataclass(frozen=True, slots=True)
class UserRow:
    """A connected user as the users table shows it."""

    nick: str
    address: str
    channels: tuple[str, ...]
    idle: float | None  # seconds since the user last spoke; None: on another node
    since: float  # when the connection was opened (epoch seconds)
    node: str = ""  # the cluster node the user is connected to


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A channel as the channels table shows it."""

    name: str
    members: int
    topic: str
    modes: str
    bans: tuple[str, ...] = ()  # the channel's ban masks, for the console's Unban…


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The server at one moment: the tables and the counters of the status line."""

    time: float
    started: float
    messages: int  # PRIVMSGs and NOTICEs relayed since the console started
    users: tuple[UserRow, ...]
    channels: tuple[ChannelRow, ...]


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A node of the network as the nodes table shows it."""

    name: str
    users: int  # connected to it, at its last heartbeat
    beat_age: float  # seconds since its last heartbeat (by Redis's clock)
    here: bool  # the node this console belongs to


@dataclass(frozen=True, slots=True)
class Nodes:
    """The network's nodes, and whether Redis answers; in a cluster, every few seconds."""

    redis: str  # where Redis is, for the operator
    reachable: bool
    rows: tuple[NodeRow, ...]  # while Redis is unreachable: the last it told


FeedItem = LogEntry | Snapshot | SearchResults | Nodes
Sink = Callable[[FeedItem], None]

_KINDS: Final[dict[type[object], str]] = {
    UserRegistered: "register",
    NickChanged: "nick",
    UserQuit: "quit",
    Joined: "join",
    Parted: "part",
    Kicked: "kick",
    TopicChanged: "topic",
    ChannelModeChanged: "mode",
    UserModeChanged: "mode",
}
"""The kind of each event that has a colour of its own; the rest are "other"."""


def _kind(event: Event) -> str:
    if isinstance(event, Messaged | MultilineMessaged):
        if event.command == "NOTICE":
            return "notice"
        return "message" if event.target.startswith("#") else "private"
    return _KINDS.get(type(event), "other")


class ConsoleFeed:
    """An observer that turns events into log entries; runs on the server thread."""

    def __init__(self, core: ServerCore, sink: Sink) -> None:
        self.core = core
        self.sink = sink
        self.messages = 0
        self._words = EventLog(core)

    def __call__(self, event: Event, stamp: Stamp) -> None:
        if type(event) is MessageRun:
            for message in event.messages():  # an entry for each, as if sent one by one
                self(message, stamp)
            return
        if isinstance(event, Messaged | MultilineMessaged) and event.command != "TAGMSG":
            self.messages += 1
        text = self._words.describe(event)
        if text is None:
            return
        # Called before the event is applied, so a quitting user's nick is still there.
        actor = self.core.state.by_uid.get(
            getattr(event, "source", "") or getattr(event, "uid", "")
        )
        self.sink(LogEntry(stamp.time, _kind(event), text, actor.nick if actor else ""))

    def publish_snapshot(self) -> None:
        """Send the tables and counters to the console; call on the server thread."""
        core = self.core
        now = core.clock()
        users = tuple(
            self._user_row(user, now)
            for user in core.state.users.values()
            if user.session is not None or (user.node not in ("", core.node) and not _pseudo(user))
        )
        channels = tuple(
            ChannelRow(
                channel.name,
                len(channel.members),
                channel.topic,
                " ".join(channel.mode_string()),
                tuple(ban.mask for ban in channel.bans),
            )
            for channel in core.state.channels.values()
        )
        self.sink(Snapshot(now, core.started, self.messages, users, channels))

    def _user_row(self, user: User, now: float) -> UserRow:
        """A row for a user of this node, from its connection, or of another node,
        from what the network knows of it (no port, no idle time)."""
        channels = tuple(channel.name for channel in user.channels.values())
        session = user.session
        if session is None:
            return UserRow(user.nick, user.ip, channels, None, user.signon, user.node)
        address = f"{session.ip}:{session.port}" + (" (web)" if session.web else "")
        return UserRow(
            user.nick, address, channels, now - session.last_spoke, session.connected_at, user.node
        )


def _pseudo(user: User) -> bool:
    """The server's own users (NickServ, each node's console): not people to list."""
    return user.service or is_console_uid(user.uid)


class LogRelay(logging.Handler):
    """Copies the server's log records into the console's log, from whichever thread logs."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        kind = "error" if record.levelno >= logging.WARNING else "server"
        self.sink(LogEntry(record.created, kind, record.getMessage()))
