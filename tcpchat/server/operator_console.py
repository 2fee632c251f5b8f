"""The person at the server, as a user: the console's side inside the server.

Theory of operation. The original server window let the person at the
server chat ("Server: Hai client!"). Here that person is a pseudo-user,
``Server`` by default (``[console] operator_nick``): a real user in the
network's state with no session, like NickServ, who sits in the default
channel. Everything the operator does is an event emitted through the core
(Joined, Messaged, Kicked, ChannelModeChanged, TopicChanged, or
:meth:`ServerCore.quit` for a disconnection), so every client sees it
exactly as it would see it from any user named ``Server``.

The window lives on Tk's thread; :class:`ConsoleLink` is the whole of the
thread boundary. Intents (small values) cross to the server thread through
:meth:`ServerRunner.call_soon_threadsafe`, where :class:`OperatorConsole`
carries them out; what the window shows comes back as values in
:attr:`ConsoleLink.items` (see :mod:`tcpchat.server.console_feed`).
"""

from __future__ import annotations

import functools
import logging
import queue
from dataclasses import dataclass
from typing import Final

from tcpchat.client.splitting import split_text, text_room
from tcpchat.irc import is_channel
from tcpchat.irc.masks import normalize_ban_mask
from tcpchat.server.console_feed import ConsoleFeed, FeedItem, LogEntry, LogRelay, Sink
from tcpchat.server.console_search import Search, search_history
from tcpchat.server.core import ServerCore
from tcpchat.server.events import (
    ChannelModeChanged,
    Joined,
    Kicked,
    Messaged,
    ModeChange,
    TopicChanged,
    UserRegistered,
)
from tcpchat.server.listener import ServerRunner
from tcpchat.server.state import Channel, User

__all__ = [
    "OPERATOR_UID",
    "Ban",
    "ConsoleError",
    "ConsoleLink",
    "Disconnect",
    "Intent",
    "Kick",
    "NoticeAll",
    "OperatorConsole",
    "Say",
    "Search",
    "SetTopic",
]

OPERATOR_UID: Final = "console"
"""The pseudo-user's uid; session uids are hex, so it cannot collide with one."""
_USERNAME: Final = "console"


@dataclass(frozen=True, slots=True)
class Say:
    """A message from the operator to a channel or a nick."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class NoticeAll:
    """A NOTICE to every connected user."""

    text: str


@dataclass(frozen=True, slots=True)
class Kick:
    channel: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ban:
    """Ban ``nick!*@*`` from a channel, and kick the user if present."""

    channel: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class SetTopic:
    channel: str
    topic: str


Intent = Say | NoticeAll | Kick | Ban | Disconnect | SetTopic | Search


class ConsoleError(Exception):
    """An intent that cannot be carried out (the user left, no such channel); says why."""


class OperatorConsole:
    """Carries out the operator's intents as the pseudo-user; runs on the server thread.

    Made before the server starts listening, so the operator's nick is taken
    before any client could claim it.
    """

    def __init__(self, core: ServerCore, report: Sink) -> None:
        self.core = core
        self.report = report
        self.nick = core.config.console.operator_nick
        core.emit(
            UserRegistered(
                OPERATOR_UID,
                self.nick,
                _USERNAME,
                core.config.name,
                "127.0.0.1",
                "The person at the server",
                node=core.node,
            )
        )
        if core.config.default_channel:
            core.emit(Joined(OPERATOR_UID, core.config.default_channel))

    def perform(self, intent: Intent) -> None:
        """Carry out ``intent``; what cannot be done is reported as an error line."""
        try:
            self._perform(intent)
        except ConsoleError as exc:
            self.report(LogEntry(self.core.clock(), "error", str(exc)))

    def _perform(self, intent: Intent) -> None:
        limits = self.core.config.limits
        match intent:
            case Say(target, text) if is_channel(target):
                channel = self._channel(target)
                if self._me not in channel.members:
                    self.core.emit(Joined(OPERATOR_UID, channel.name))
                self._send("PRIVMSG", channel.name, channel.name, text)
            case Say(target, text):
                user = self._user(target)
                self._send("PRIVMSG", user.uid, user.nick, text)
            case NoticeAll(text):
                for user in list(self.core.state.users.values()):
                    if user.session is not None:
                        self._send("NOTICE", user.uid, user.nick, text)
            case Kick(name, nick, reason):
                channel, user = self._channel(name), self._user(nick)
                if user not in channel.members:
                    raise ConsoleError(f"{user.nick} is not in {channel.name}")
                self.core.emit(
                    Kicked(OPERATOR_UID, channel.name, user.uid, reason[: limits.kicklen])
                )
            case Ban(name, nick, reason):
                channel, user = self._channel(name), self._user(nick)
                mask = normalize_ban_mask(user.nick)
                change = ModeChange(True, "b", mask)
                self.core.emit(ChannelModeChanged(OPERATOR_UID, channel.name, (change,)))
                if user in channel.members:
                    self.core.emit(
                        Kicked(OPERATOR_UID, channel.name, user.uid, reason[: limits.kicklen])
                    )
            case Disconnect(nick, reason):
                user = self._user(nick)
                if user.session is None:
                    raise ConsoleError(
                        f"{user.nick} is part of the server and cannot be disconnected"
                    )
                # Worded as KILL words it, so clients show it as they know it.
                self.core.quit(user.session, f"Killed ({self.nick} ({reason}))")
            case SetTopic(name, topic):
                channel = self._channel(name)
                self.core.emit(TopicChanged(OPERATOR_UID, channel.name, topic[: limits.topiclen]))
            case Search():
                self.report(search_history(self.core.history, intent))

    @property
    def _me(self) -> User:
        return self.core.state.by_uid[OPERATOR_UID]

    def _channel(self, name: str) -> Channel:
        channel = self.core.state.channel(name)
        if channel is None:
            raise ConsoleError(f"There is no channel {name} (it empties and goes when all leave)")
        return channel

    def _user(self, nick: str) -> User:
        user = self.core.state.user(nick)
        if user is None:
            raise ConsoleError(f"Nobody is called {nick} now")
        return user

    def _send(self, command: str, target: str, shown: str, text: str) -> None:
        """``text`` as one or more messages that each fit a line once relayed."""
        room = text_room(self.nick, _USERNAME, self.core.config.name, command, shown)
        for part in split_text(text, room):
            self.core.emit(Messaged(OPERATOR_UID, command, target, part))


class ConsoleLink:
    """The console's one way into a server, from any thread; attach before the server starts.

    ``items`` fills on the server thread (and from log records) with
    :data:`~tcpchat.server.console_feed.FeedItem` values; ``submit`` and
    ``refresh`` hand work to the server thread and return at once.
    """

    def __init__(self, runner: ServerRunner) -> None:
        self.runner = runner
        self.items: queue.Queue[FeedItem] = queue.Queue()
        core = runner.core
        # Read here, before the server starts; history is never turned on or off later.
        self.history_on = core.history is not None
        self.feed = ConsoleFeed(core, self.items.put)
        core.observers.append(self.feed)
        self.operator = OperatorConsole(core, self.items.put)
        self._relay = LogRelay(self.items.put)
        logging.getLogger("tcpchat.server").addHandler(self._relay)

    @property
    def nick(self) -> str:
        return self.operator.nick

    def submit(self, intent: Intent) -> None:
        self.runner.call_soon_threadsafe(functools.partial(self.operator.perform, intent))

    def refresh(self) -> None:
        """Ask for a :class:`~tcpchat.server.console_feed.Snapshot` of the tables."""
        self.runner.call_soon_threadsafe(self.feed.publish_snapshot)

    def close(self) -> None:
        """Stop copying the server's log; the queue stays readable."""
        logging.getLogger("tcpchat.server").removeHandler(self._relay)
