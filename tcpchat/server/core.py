"""The server without its sockets: sessions in, events and replies out.

Theory of operation: the transport adapter (:mod:`tcpchat.server.connection`)
hands each complete line to :meth:`ServerCore.handle_line`. The line is
decoded, parsed and dispatched through the command table, where the shared
checks (451, 461, 481, 421) run once before any handler. Handlers answer
through their :class:`~tcpchat.server.context.Context` and change the
network only by :meth:`ServerCore.emit`, which stamps the event and gives it
its place in the network's order.

On a server on its own that place is now: :meth:`ServerCore.apply` runs at
once. In a cluster, the event goes to the bus (Redis), and ``apply`` runs
when it comes back, in the one order every node applies events in, on
every node. ``apply`` settles the event against the state as it then is
(:meth:`State.settle`), delivers its lines to this node's clients, tells
observers, changes the state, and then does what follows from it on this
node (a user quit from elsewhere loses its connection here; a server ban
removes the users it falls on). The clock and the id generator are
arguments, so tests can drive the core with no event loop.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

from tcpchat import __version__
from tcpchat.irc import (
    TOO_LONG,
    Message,
    ProtocolError,
    decode,
    parse,
    parse_text,
    text_run,
)
from tcpchat.irc.numerics import ERR_INPUTTOOLONG, ERR_UNKNOWNERROR
from tcpchat.server.accounts import NICKSERV, enforce_nick
from tcpchat.server.commands import dispatch, warn_invalid_utf8
from tcpchat.server.commands.messaging import (
    TYPING_BURST,
    TYPING_RATE,
    relay,
    relay_run,
    run_recipient,
)
from tcpchat.server.config import Config, ConfigError
from tcpchat.server.context import Context
from tcpchat.server.delivery import deliver, deliver_message
from tcpchat.server.durability import Durability
from tcpchat.server.events import (
    Event,
    Messaged,
    MessageRun,
    NodeLost,
    Observer,
    ServerBanAdded,
    Stamp,
    UserQuit,
)
from tcpchat.server.history import HistoryRecorder
from tcpchat.server.labels import LabeledReply
from tcpchat.server.metadata import SET_BURST as METADATA_BURST
from tcpchat.server.metadata import SET_RATE as METADATA_RATE
from tcpchat.server.monitor import Monitor
from tcpchat.server.readmarkers import ReadMarkers
from tcpchat.server.session import Session
from tcpchat.server.state import SERVICES_UID, State
from tcpchat.server.throttle import ConnectThrottle, LoginThrottle
from tcpchat.store import HistoryStore
from tcpchat.store.accounts import AccountStore
from tcpchat.store.health import StoreUnavailable

__all__ = ["ServerCore"]

T = TypeVar("T")
Offload = Callable[[Callable[[], Any], Callable[[Any], None]], None]
Applied = Callable[[bool], None]
"""Told, once an event has had its turn, whether it was applied (True) or
refused by the state as it then was (False)."""
ConfigSource = tuple[str, Callable[[], Config]]
"""Where the settings come from (for REHASH's reply) and how to read them again."""


def _inline(work: Callable[[], Any], then: Callable[[Any], None]) -> None:
    then(work())


class Bus(Protocol):
    """Where a cluster node's events go to get their place in the network's order."""

    def publish(self, event: Event, stamp: Stamp, then: Applied | None) -> None:
        """Append ``event``; the node applies it (and calls ``then``) when it comes back."""


log = logging.getLogger("tcpchat.server")


def _random_token() -> str:
    # 48 random bits: msgids stay unique across restarts in a kept history.
    return os.urandom(6).hex()


class ServerCore:
    """One server's view of the network, and the rules for changing it."""

    # The same for every server of this build. A class attribute: CPython
    # keeps an object's attributes in a compact table only up to 30 of them,
    # and every attribute read on the hot path is slower past that.
    version: Final = f"tcpchat-{__version__}"

    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        boot_token: str | None = None,
        history: HistoryStore | None = None,
        accounts: AccountStore | None = None,
        offload: Offload | None = None,
        reload: ConfigSource | None = None,
    ) -> None:
        self.config = config
        self.history = history
        self.accounts = accounts
        self._offload = offload or _inline
        # The TLS port clients are pointed to (sts); set by the runner once it listens.
        self.tls_port: int | None = None
        self.login_throttle = LoginThrottle(
            config.accounts.login_failures, config.accounts.login_window
        )
        self.connect_throttle = ConnectThrottle(
            config.limits.connect_rate, config.limits.connect_burst
        )
        self.typing_throttle = ConnectThrottle(TYPING_RATE, TYPING_BURST)
        self.metadata_throttle = ConnectThrottle(METADATA_RATE, METADATA_BURST)
        self._reload = reload
        # In a cluster: this node's name, and the bus its events go through
        # (set by the runner); None applies each event as it is made.
        self.node = ""
        self.bus: Bus | None = None
        # The labeled command being handled, whose events the bus must tie
        # its reply to (labels.LabeledReply); None between commands.
        self.labeled: LabeledReply | None = None
        self._guests = itertools.count(1)
        self.clock = clock
        self.started = clock()
        self.state = State(config.limits.whowas_size)
        self.sessions: dict[Session, None] = {}
        self._per_ip: Counter[str] = Counter()
        self.observers: list[Observer] = []
        # msgids: a per-boot token and a counter: unique, short and cheap.
        self._boot = boot_token or _random_token()
        self._msgid_prefix = self._boot + "-"
        self._ids = itertools.count(1)
        self._uids = itertools.count(1)
        self._batches = itertools.count(1)
        # With history, what it holds for a commit, so that a failed one can
        # take its messages back (the connections' Flusher commits through it).
        self.durability: Durability | None = None
        if history is not None:
            self.observers.append(HistoryRecorder(self.state, history, config.name))
            self.durability = Durability(history, self.state, config.name)
        self.monitor = Monitor(self.state, config.name)
        self.observers.append(self.monitor)
        self.read_markers = ReadMarkers(self.state, accounts)
        self.observers.append(self.read_markers)
        if config.default_channel:
            self.state.add_permanent_channel(
                config.default_channel, config.default_topic, self.started, config.name
            )
        if accounts is not None:
            # NickServ is a user like any other to clients (WHOIS, a reserved
            # nick), but has no session: messages to it go to its handlers.
            # Every node has it, so no event makes it.
            self.state.add_service(SERVICES_UID, NICKSERV, config.name, "Nickname services")

    def offload(self, work: Callable[[], T], then: Callable[[T], None]) -> None:
        """Run slow, pure ``work`` (password hashing) away from the event loop,
        then ``then`` with its result back on it. The runner gives a thread
        pool; without one both run at once, which is what tests of the core want."""
        self._offload(work, then)

    # -- sessions -----------------------------------------------------------

    def refuse_reason(self, ip: str) -> str | None:
        """Why a new connection from ``ip`` must be refused, or None to accept it."""
        limits = self.config.limits
        if limits.max_clients and len(self.sessions) >= limits.max_clients:
            return "Server is full"
        if limits.max_clients_per_ip and self._from(ip) >= limits.max_clients_per_ip:
            return "Too many connections from your address"
        if not self.connect_throttle.allow(ip, self.clock()):
            return "Connecting too fast; wait a little and try again"
        return None

    def _from(self, ip: str) -> int:
        """Connections from ``ip``: this server's; in a cluster, at least the
        users from it on every node (the state counts those, registered; this
        node's still registering are counted here alone)."""
        here = self._per_ip[ip]
        return here if self.bus is None else max(here, self.state.ips[ip])

    def rehash(self) -> str:
        """Read the settings again (REHASH); returns where they came from.

        Limits, operators, the MOTD and the like apply at once; the listening
        addresses and the files of history and accounts stay as they were
        until a restart. Raises ConfigError, leaving the old settings, if the
        new ones are wrong.
        """
        if self._reload is None:
            raise ConfigError("this server was started without a config file to read again")
        source, load = self._reload
        self.config = load()
        limits = self.config.limits
        self.connect_throttle = ConnectThrottle(limits.connect_rate, limits.connect_burst)
        accounts = self.config.accounts
        self.login_throttle = LoginThrottle(accounts.login_failures, accounts.login_window)
        log.info("settings read again from %s", source)
        return source

    def open_session(
        self,
        ip: str,
        port: int,
        wake: Callable[[], None],
        close: Callable[[], None],
        *,
        web: bool = False,
    ) -> Session:
        """A new session; ``wake`` and ``close`` are the connection's (see Session);
        ``web``: it came over WebSocket."""
        uid = f"{self._boot}{next(self._uids)}"
        session = Session(uid, ip, port, self.clock(), wake, close, web)
        self.sessions[session] = None
        self._per_ip[ip] += 1
        log.info("%sconnection from %s:%d", "web " if web else "", ip, port)
        return session

    def handle_line(self, session: Session, raw: bytes) -> None:
        """Handle one complete line from ``session``; never raises. A line
        from a session that has ended (a transport may still hold some) goes
        with it: a message is refused by its delivery (its sender is gone),
        and nothing else reaches a handler."""
        ctx = self._context(session)
        if raw is TOO_LONG:
            ctx.error(ERR_INPUTTOOLONG)
            return
        # decode(), written out for the commonest line: valid UTF-8 with
        # nothing in it that decode() must replace costs no call.
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            line, mangled = decode(raw), True
        else:
            mangled = False
            if "\r" in line or "\0" in line or "\n" in line:
                line = decode(raw)
        if session.user is not None:
            text = parse_text(line)
            if text is not None:
                if mangled:
                    warn_invalid_utf8(ctx, text[0])
                try:
                    relay(ctx, *text)
                except Exception as exc:
                    self._failed(ctx, raw, text[0], exc)
                return
        if session.ended:
            return
        try:
            message = parse(line)
        except ProtocolError:
            return  # a line of spaces or a bare source: nothing to answer
        label = message.tags.get("label") if message.tags else None
        # A label on a client batch's opening line is answered when it closes
        # (commands.multiline), not now.
        if label and "labeled-response" in session.caps and message.command != "BATCH":
            self.run_labeled(session, label, lambda: self._dispatch(ctx, message, raw, mangled))
        else:
            self._dispatch(ctx, message, raw, mangled)

    def run_labeled(self, session: Session, label: str, run: Callable[[], None]) -> None:
        """Run one command for ``session`` and send its replies marked with
        ``label``: now, or in a cluster once its events are back from the bus."""
        reply = LabeledReply(session, label, self.config.name, self.new_batch_id)
        self.labeled = reply
        try:
            reply.catch(run)
        finally:
            self.labeled = None
        if not reply.waiting:
            reply.send()

    def handle_run(self, session: Session, lines: Sequence[bytes], limit: int) -> int:
        """Handle the plain messages to one user at the front of ``lines`` (at
        most ``limit``) together, as one MessageRun; returns how many lines
        that took. 0, having done nothing, when there are fewer than two, or
        when they must go one by one (see ``run_recipient``): then the first
        line is for :meth:`handle_line`.

        A client that pastes or pipelines sends many such lines in one read;
        taken together, each costs a fraction of a line on its own (the
        bench's pairs; bench/PROFILE.md). The connection asks only where the
        first two lines start alike (``text_head``). The lines are as a
        :class:`~tcpchat.irc.LineDecoder` gives them (no LF in any). As
        handle_line, it never raises.
        """
        first = lines[0]
        registered = session.user is not None and not session.ended
        text = parse_text(decode(first)) if registered else None
        if text is None:
            return 0
        command, target, _ = text
        ctx = self._context(session)
        recipient = run_recipient(ctx, command, target)
        if recipient is None:
            return 0
        texts = text_run(lines, f"{command} {recipient.nick} :".encode(), limit)
        if len(texts) < 2:
            return 0
        try:
            relay_run(ctx, command, recipient, tuple(texts))
        except Exception as exc:
            self._failed(ctx, first, command, exc)
        return len(texts)

    def _context(self, session: Session) -> Context:
        """The context for a line just read from ``session``, which was active now
        (its idle time and keepalive start again)."""
        now = self.clock()
        session.last_active = now
        session.ping_sent = False
        return Context(self, session, now)

    def _dispatch(self, ctx: Context, message: Message, raw: bytes, mangled: bool) -> None:
        try:
            dispatch(ctx, message, mangled)
        except Exception as exc:
            self._failed(ctx, raw, message.command, exc)

    def _failed(self, ctx: Context, raw: bytes, command: str, exc: Exception) -> None:
        """A handler raised: the client is told, and nothing else is lost.

        A store that cannot use its file now (StoreUnavailable: the disk is
        full) is no bug, and its store has said so in the log: the client
        gets a standard reply saying why (IRCv3 standard-replies). Anything
        else is a bug, logged with its traceback.
        """
        if isinstance(exc, StoreUnavailable):
            ctx.send(self.config.name, "FAIL", command, "TEMPORARILY_UNAVAILABLE", str(exc))
            return
        log.exception("error handling %r from %s", raw, ctx.session.display_nick)
        ctx.error(ERR_UNKNOWNERROR, command)

    def quit(self, session: Session, reason: str, *, announce: str | None = None) -> None:
        """End a session: tell its channels (``announce`` or ``reason``), say ERROR, close.

        Safe to call more than once; only the first call does anything.
        """
        if session not in self.sessions:
            return
        user = session.user
        self._end(session, reason)
        if user is not None:
            self.emit(UserQuit(user.uid, announce or reason))

    def _end(self, session: Session, reason: str) -> None:
        """Close ``session`` with ERROR, telling no one else (they know, or will)."""
        del self.sessions[session]
        session.ended = True
        self._per_ip[session.ip] -= 1
        if not self._per_ip[session.ip]:
            del self._per_ip[session.ip]
        self.monitor.forget(session)
        session.write(f"ERROR :Closing Link: {session.host} ({reason})\r\n".encode())
        log.info("%s disconnected (%s)", session.display_nick, reason)
        session.close()

    def disconnect_all(self, reason: str) -> None:
        """Close every session, telling no one else: this node is no longer
        part of the network (a cluster node fenced off), whose other nodes
        have seen its users quit already."""
        for session in list(self.sessions):
            self._end(session, reason)

    def disconnect(self, session: Session, reason: str) -> None:
        """Close ``session``, telling no one else: the network has no user of it."""
        if session in self.sessions:
            self._end(session, reason)

    def shutdown(self, reason: str) -> None:
        """Close every session with ``reason`` (graceful stop)."""
        for session in list(self.sessions):
            self.quit(session, reason)
        self.read_markers.flush()

    # -- events -------------------------------------------------------------

    def new_batch_id(self) -> str:
        """A batch reference tag, unique on this server."""
        return f"{next(self._batches):x}"

    @property
    def msgid_prefix(self) -> str:
        """What begins every msgid this server makes (its own events, in a cluster's stream)."""
        return self._msgid_prefix

    def stamp(self) -> Stamp:
        return Stamp(self._msgid_prefix + str(next(self._ids)), int(self.clock() * 1000))

    def emit(self, event: Event, then: Applied | None = None) -> None:
        """Stamp ``event`` and give it its place in the network's order: apply
        it now, or, in a cluster, when the bus gives it back. ``then`` is
        told whether it was applied."""
        stamp = self.stamp()
        bus = self.bus
        if bus is not None:
            bus.publish(event, stamp, then)
            return
        applied = self.apply(event, stamp)
        if then is not None:
            then(applied)

    def apply(self, event: Event, stamp: Stamp) -> bool:
        """Take ``event`` in its turn: settle it against the state, deliver its
        lines to this node's clients, tell observers, change the state, and do
        what follows from it here. False, having done nothing, if the state no
        longer admits it."""
        kind = type(event)
        if kind is Messaged or kind is MessageRun:  # the hot path: no state to change
            sent = deliver_message(self.state, event, stamp)  # type: ignore[arg-type]
            if sent is None:
                return False
            if self.durability is not None:
                self.durability.note(event, sent)  # type: ignore[arg-type]
            self._observe(event, stamp)
            return True
        if kind is NodeLost:
            self._node_lost(event, stamp)  # type: ignore[arg-type]
            return True
        settled = self.state.settle(event)
        if settled is None:
            return False
        kept = deliver(self.state, settled, stamp, self.config.name)
        if kept is not None and self.durability is not None:  # a multiline message, a redaction
            self.durability.note(settled, kept)  # type: ignore[arg-type]
        self._observe(settled, stamp)
        if type(settled) is UserQuit:
            self._quit_here(settled)  # while the state still has the user
        self.state.apply(settled, stamp)
        if type(settled) is ServerBanAdded:
            self._ban_here(settled)
        return True

    def _observe(self, event: Event, stamp: Stamp) -> None:
        for observer in self.observers:
            try:
                observer(event, stamp)
            except Exception:
                log.exception("observer failed on %r", event)

    # -- what follows from an event on this node ------------------------------

    def _quit_here(self, e: UserQuit) -> None:
        """A user of this node made to quit from elsewhere (KILL on another
        node) loses its connection here; one that quit here has none left."""
        session = self.state.by_uid[e.uid].session
        if session is not None and session in self.sessions:
            self._end(session, e.reason)

    def _ban_here(self, e: ServerBanAdded) -> None:
        """A new server ban removes this node's users it falls on."""
        now_ms = int(self.clock() * 1000)
        for session in list(self.sessions):
            user = session.user
            if user is not None and self.state.server_ban(user.username, user.host, now_ms):
                self.quit(session, f"K-Lined: {e.reason}")

    def _node_lost(self, e: NodeLost, stamp: Stamp) -> None:
        """A node was declared lost: each of its users quits, as a quit of its
        own (for delivery, observers and history alike)."""
        for quit, each in self.state.node_quits(e, stamp, self.config.name):
            self.apply(quit, each)

    # -- time ---------------------------------------------------------------

    def tick(self) -> None:
        """Enforce registration and ping timeouts; call about once a second."""
        now = self.clock()
        self.connect_throttle.forget_idle(now)
        self.typing_throttle.forget_idle(now)
        self.metadata_throttle.forget_idle(now)
        self.read_markers.flush()
        limits = self.config.limits
        for session in list(self.sessions):
            idle = now - session.last_active
            if session.user is None:
                if now - session.connected_at > limits.registration_timeout:
                    self.quit(session, "Registration timed out")
            elif session.ping_sent:
                if idle > limits.ping_interval + limits.ping_timeout:
                    self.quit(session, f"Ping timeout: {int(idle)} seconds")
            elif idle > limits.ping_interval:
                session.ping_sent = True
                session.write(f"PING :{self.config.name}\r\n".encode())
            deadline = session.nick_deadline
            if deadline is not None and now >= deadline and not session.ended:
                enforce_nick(Context(self, session, now), f"Guest{next(self._guests)}")
