"""The person at the server, as a user: the console's side inside the server.

Theory of operation. The original server window let the person at the
server chat ("Server: Hai client!"). Here that person is a pseudo-user,
``Server`` by default (``[console] operator_nick``): a real user in the
network's state, an IRC operator, with no connection, like NickServ, who
sits in the default channel. Everything the operator does is the line a
client would send (PRIVMSG, KICK, TOPIC, MODE, KILL, KLINE, ...), handled by
the server's command table for the operator's own :class:`Session`: the
same checks and the same replies as for anyone, so every client sees it
exactly as from any user named ``Server``. That session is not a
connection and is not among the server's sessions; what it is answered
(numerics, the server's notices) comes back as lines of the console's log.
Lines typed with a ``/`` are commands (:data:`TYPED`), as in the client.

In a cluster each node's console has an operator of its own (its uid names
the node), registered through the network's order like anyone: if another
node's user holds the nick, the console says so in its log and refuses to
act, instead of acting as nobody. The console's window also gets the
network's nodes (:mod:`tcpchat.cluster.watch`).

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
from tcpchat.irc import FormatError, Message, ProtocolError, decode, is_channel, parse
from tcpchat.irc.masks import normalize_ban_mask
from tcpchat.server.console_feed import ConsoleFeed, FeedItem, LogEntry, LogRelay, Sink
from tcpchat.server.console_search import Search, search_history
from tcpchat.server.core import ServerCore
from tcpchat.server.events import Joined, ModeChange, UserModeChanged, UserRegistered
from tcpchat.server.listener import ServerRunner
from tcpchat.server.session import Session
from tcpchat.server.state import Channel, User, console_uid

__all__ = [
    "TYPED",
    "Ban",
    "Command",
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
    "Unban",
    "console_help",
]

_USERNAME: Final = "console"
RELAYED_LOGS: Final = ("tcpchat.server", "tcpchat.store", "tcpchat.cluster")
"""The loggers the console's log shows: the server's, its files' (a full disk),
and the cluster's (Redis lost and back)."""
JOINING: Final = "The console is still joining the network; try again in a moment."


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
class Unban:
    """Lift the ban ``mask`` in ``channel``."""

    channel: str
    mask: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """End someone's connection; with ``minutes``, ban their address that long (KLINE),
    so they are not back a second later."""

    nick: str
    reason: str
    minutes: int = 0


@dataclass(frozen=True, slots=True)
class SetTopic:
    channel: str
    topic: str


@dataclass(frozen=True, slots=True)
class Command:
    """A line typed in the console that starts with ``/``, such as ``/kick #c bob``."""

    text: str


Intent = Say | NoticeAll | Kick | Ban | Unban | Disconnect | SetTopic | Command | Search


@dataclass(frozen=True, slots=True)
class Typed:
    """How a ``/command`` typed in the console becomes an IRC line.

    ``words`` is how many words are parameters of their own; what follows
    them is one last parameter, the text (a reason, a topic). None passes
    every word on as it is.
    """

    command: str
    words: int | None
    usage: str
    summary: str


TYPED: Final[dict[str, Typed]] = {
    "msg": Typed("PRIVMSG", 1, "/msg nick|#channel text", "send a message"),
    "notice": Typed("NOTICE", 1, "/notice nick|#channel text", "send a notice"),
    "kick": Typed("KICK", 2, "/kick #channel nick [reason]", "remove someone from a channel"),
    "topic": Typed("TOPIC", 1, "/topic #channel [text]", "show or set a channel's topic"),
    "mode": Typed("MODE", None, "/mode #channel [+b mask | +m ...]", "show or change modes"),
    "kill": Typed("KILL", 1, "/kill nick [reason]", "disconnect someone"),
    "kline": Typed("KLINE", None, "/kline [minutes] user@host [:reason]", "ban an address"),
    "unkline": Typed("UNKLINE", None, "/unkline user@host", "lift a ban on an address"),
    "whois": Typed("WHOIS", None, "/whois nick", "ask who someone is"),
    "quote": Typed("", None, "/quote LINE", "send any IRC command as it is"),
    "help": Typed("", None, "/help", "list these commands"),
}
"""The commands of the console's input line; the rest of what is typed is said."""


def console_help() -> list[str]:
    """A line per command, short enough for the console's narrow log."""
    lines = [f"  {t.usage} - {t.summary}" for t in TYPED.values()]
    return ["Commands (type // to say a line that starts with /):", *lines]


class ConsoleError(Exception):
    """An intent that cannot be carried out (the user left, no such channel); says why."""


class OperatorConsole:
    """Carries out the operator's intents as the pseudo-user; runs on the server thread.

    The pseudo-user is registered by :meth:`take_nick` when the server has
    its network, before it listens, so on a server on its own the nick is
    taken before any client could claim it.
    """

    def __init__(self, core: ServerCore, report: Sink) -> None:
        self.core = core
        self.report = report
        self.nick = core.config.console.operator_nick
        self.uid = console_uid(core.node)
        self.session = Session(self.uid, "127.0.0.1", 0, core.clock())
        # Why the operator cannot act now (None: it can).
        self.absent: str | None = JOINING

    def take_nick(self) -> None:
        """Register the pseudo-user: when the server starts, and in a cluster
        again after the node rejoined the network (which forgot it then)."""
        core = self.core
        self.uid = console_uid(core.node)
        self.session = Session(self.uid, "127.0.0.1", 0, core.clock())
        self.session.write = self.session.deliver = self._answered
        kept = core.state.by_uid.get(self.uid)
        if kept is not None:  # Redis lost its data, and the network began again with it
            self.absent, self.session.user = None, kept
            return
        self.absent = JOINING
        registration = UserRegistered(
            self.uid,
            self.nick,
            _USERNAME,
            core.config.name,
            "127.0.0.1",
            "The person at the server",
            node=core.node,
        )
        core.emit(registration, self._registered)

    def _registered(self, applied: bool) -> None:
        core = self.core
        holder = core.state.user(self.nick)
        if not applied:
            if holder is not None:
                where = f" (by a user on node {holder.node})" if holder.node else ""
                self.absent = (
                    f"The nick {self.nick} is taken on the network{where}, so this console "
                    "cannot act or talk. Give each node's console a nick of its own: "
                    "operator_nick in the [console] section of the config file."
                )
                self._say("error", self.absent)
            # With no holder it was lost with Redis's data; take_nick comes again.
            return
        self.absent = None
        self.session.user = self._me
        # The person at the server runs it: an IRC operator, who may act in any channel.
        core.emit(UserModeChanged(self.uid, (ModeChange(True, "o"),)))
        if core.config.default_channel:
            core.emit(Joined(self.uid, core.config.default_channel))

    def perform(self, intent: Intent) -> None:
        """Carry out ``intent``; what cannot be done is reported as an error line."""
        try:
            if self.absent is not None and not isinstance(intent, Search):
                raise ConsoleError(self.absent)
            self._perform(intent)
        except ConsoleError as exc:
            self._say("error", str(exc))

    def _perform(self, intent: Intent) -> None:
        match intent:
            case Say(target, text):
                self._send("PRIVMSG", target, text)
            case NoticeAll(text):
                for user in list(self.core.state.users.values()):
                    if user.session is not None:
                        self._send("NOTICE", user.nick, text)
            case Kick(name, nick, reason):
                self._run("KICK", name, nick, reason)
            case Ban(name, nick, reason):
                self._run("MODE", name, "+b", normalize_ban_mask(nick))
                banned_from, there = self.core.state.channel(name), self.core.state.user(nick)
                if banned_from is not None and there is not None and there in banned_from.members:
                    self._run("KICK", banned_from.name, there.nick, reason)
            case Unban(name, mask):
                self._run("MODE", name, "-b", mask)
            case Disconnect(nick, reason, minutes) if minutes:
                self._run("KLINE", str(minutes), f"*@{self._user(nick).host}", reason)
            case Disconnect(nick, reason):
                self._run("KILL", nick, reason)
            case SetTopic(name, topic):
                self._run("TOPIC", name, topic)
            case Command(text):
                self._typed(text)
            case Search():
                self.report(search_history(self.core.history, intent))

    def _typed(self, text: str) -> None:
        """A ``/command`` line, as :data:`TYPED` reads it."""
        name, _, rest = text[1:].partition(" ")
        typed = TYPED.get(name.lower())
        if typed is None:
            raise ConsoleError(f"There is no command /{name}. Type /help to see the commands.")
        if name.lower() == "help":
            for line in console_help():
                self._say("server", line)
            return
        if name.lower() == "quote":
            try:
                self._handle(parse(rest))
            except ProtocolError:
                raise ConsoleError(f"Not an IRC line: {rest}") from None
            return
        words = rest.split(None, typed.words) if typed.words is not None else rest.split()
        if typed.words is not None and len(words) > typed.words:
            params = [*words[: typed.words], words[typed.words]]
        else:
            params = words
        if not params:
            raise ConsoleError(f"Usage: {typed.usage} - {typed.summary}")
        if typed.command in ("PRIVMSG", "NOTICE") and len(params) == 2:
            self._send(typed.command, params[0], params[1])
        else:
            self._run(typed.command, *params)

    @property
    def _me(self) -> User:
        return self.core.state.by_uid[self.uid]

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

    def _send(self, command: str, target: str, text: str) -> None:
        """``text`` as one or more messages that each fit a line once relayed; a channel
        the operator is not in is joined first, as the console's talk is to be heard."""
        if is_channel(target):
            channel = self._channel(target)
            if self._me not in channel.members:
                self.core.emit(Joined(self.uid, channel.name))
            target = channel.name
        room = text_room(self.nick, _USERNAME, self.core.config.name, command, target)
        for part in split_text(text, room):
            self._run(command, target, part)

    def _run(self, command: str, *params: str) -> None:
        """One line through the command table, as from a client, for the operator's session."""
        self._handle(Message(command, tuple(p for p in params if p) or ()))

    def _handle(self, message: Message) -> None:
        try:
            line = message.format()
        except FormatError as exc:
            raise ConsoleError(f"Cannot send that: {exc}") from None
        self.core.handle_line(self.session, line.encode())

    def _answered(self, data: bytes) -> None:
        """A line the server sent the operator's session: a reply, shown in the log."""
        try:
            msg = parse(decode(data.rstrip(b"\r\n")))
        except ProtocolError:
            return
        if msg.command.isdigit():
            *about, text = msg.params[1:] or ("",)
            kind = "error" if msg.command[0] in "45" else "server"
            self._say(kind, f"{' '.join(about)}: {text}" if about else text)
        elif msg.command == "NOTICE" and len(msg.params) > 1:
            self._say("server", msg.params[-1])

    def _say(self, kind: str, text: str) -> None:
        self.report(LogEntry(self.core.clock(), kind, text))


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
        # Whether the server is a node of a cluster, and which: the window shows the nodes then.
        config = runner.config
        self.cluster = config.cluster.enabled
        self.node = config.cluster.node_name(config.port) if self.cluster else ""
        self.feed = ConsoleFeed(core, self.items.put)
        core.observers.append(self.feed)
        self.operator = OperatorConsole(core, self.items.put)
        self._relay = LogRelay(self.items.put)
        for name in RELAYED_LOGS:
            logging.getLogger(name).addHandler(self._relay)
        self._watching = False
        runner.on_network.append(self._network_ready)

    def _network_ready(self) -> None:
        """On the server thread, when the server has its network (again)."""
        self.operator.take_nick()
        bus = self.runner.bus
        if bus is not None and not self._watching:
            from tcpchat.cluster.watch import watch_nodes  # the Redis client: a cluster's alone

            self._watching = True
            self.runner.spawn(watch_nodes(bus, self.items.put))

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
        for name in RELAYED_LOGS:
            logging.getLogger(name).removeHandler(self._relay)
