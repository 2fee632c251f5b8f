"""The client session: IRC messages and user intents in, updates and messages out.

Theory of operation. The session knows no sockets and no clock. The
connection feeds it each parsed :class:`~tcpchat.irc.Message` with
:meth:`Session.receive`, and each person's wish with :meth:`Session.perform`;
both return the :mod:`~tcpchat.client.updates` a front end draws, and leave
the messages to send in an outbox that :meth:`Session.take_outgoing` empties.
The current time comes in as an argument, so tests choose it; a
``server-time`` tag, when the server sends one, wins over it.

One session outlives its connections: :meth:`Session.start` begins a new
one (capability negotiation, ``NICK``, ``USER``) and keeps the channels and
buffers, so that on ``001`` the channels are joined again and what was
typed while offline is sent. Handlers are found in a table by command, as
in the server; numerics without a handler are shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from tcpchat import __version__
from tcpchat.client.accounts import (
    EXTERNAL,
    PLAIN,
    AccountAction,
    Credentials,
    certificate_refused,
    offers,
    plain_chunks,
    register_failure,
    sasl_failure,
)
from tcpchat.client.history import DEFAULT_LINES, Finished, HistoryTracker, Verdict, timestamp
from tcpchat.client.intents import (
    Away,
    ChangeNick,
    CloseBuffer,
    Delete,
    Focus,
    Intent,
    Join,
    Kick,
    LoadOlder,
    OpenQuery,
    Part,
    Quit,
    Raw,
    React,
    Say,
    SetProfile,
    SetTopic,
    TypingNow,
    Whois,
)
from tcpchat.client.multiline import CAP as MULTILINE_CAP
from tcpchat.client.multiline import CONCAT, Limits, MultilineCollector, batch_lines
from tcpchat.client.splitting import split_text, text_room
from tcpchat.client.state import Channel, ServerRules
from tcpchat.client.updates import (
    SERVER_BUFFER,
    BufferClosed,
    BufferOpened,
    BufferRenamed,
    BufferState,
    ConnState,
    HistoryBlock,
    HistoryKind,
    Line,
    LineKind,
    LoggedIn,
    Members,
    Profile,
    Reaction,
    Redacted,
    Status,
    Topic,
    Typing,
    Update,
)
from tcpchat.irc import Message, ProtocolError, casefold, is_channel, parse
from tcpchat.irc import numerics as n
from tcpchat.irc.masks import split_hostmask

__all__ = ["WANTED_CAPS", "Session"]

WANTED_CAPS: Final = frozenset(
    {
        "server-time",
        "message-tags",
        "echo-message",
        "multi-prefix",
        "away-notify",
        "extended-join",
        "batch",
        "draft/chathistory",
        "draft/read-marker",
        "draft/message-redaction",
        "draft/metadata-2",
        MULTILINE_CAP,
        "standard-replies",
    }
)
"""IRCv3 capabilities requested when the server offers them."""

PROFILE_KEYS: Final = ("display-name", "color")
"""The metadata keys the client subscribes to and shows (IRCv3 metadata registry)."""
TYPING_INTERVAL: Final = 3.0
"""Seconds between two typing notifications to one target (IRCv3 typing: at
least 3 s apart)."""
_COLOUR: Final = re.compile(r"#[0-9A-Fa-f]{6}\Z")

MAX_PENDING: Final = 200
"""Intents kept while offline; past this the oldest go, so memory stays bounded."""

# The length every server accepts (RFC 2812 section 1.2.1), for alternative nicks.
_SAFE_NICKLEN: Final = 9
_CTCP: Final = "\x01"
# Characters that may be part of a nick: a mention must not be inside a longer name.
_NICK_CHARS: Final = r"A-Za-z0-9\[\]\\`_^{|}\-"
# Numerics that only confirm or end a reply; drawing them would be noise.
_SILENT: Final = frozenset(
    {
        n.RPL_MYINFO,
        n.RPL_LOCALUSERS,
        n.RPL_GLOBALUSERS,
        n.RPL_ENDOFWHOIS,
        n.RPL_ENDOFWHO,
        n.RPL_TOPICWHOTIME,
        n.RPL_CREATIONTIME,
        n.RPL_SASLMECHS,
    }
)
NICKSERV: Final = "NickServ"
"""Where servers without IRCv3 accounts take logins and registrations."""
# Counted as unread: conversation, not comings and goings.
_COUNTED: Final = frozenset({LineKind.MESSAGE, LineKind.ACTION, LineKind.NOTICE})


@dataclass(slots=True)
class _Buffer:
    name: str
    unread: int = 0
    mention: bool = False
    # The time of the newest message in it, and how far the person has read
    # (IRCv3 read-marker, shared with their other devices).
    latest: datetime | None = None
    read: datetime | None = None


class Session:
    """One person's IRC session, across reconnections."""

    def __init__(
        self,
        nick: str,
        *,
        server: str = "",
        password: str = "",
        username: str = "tcpchat",
        realname: str = "tcpchat user",
        channels: tuple[str, ...] = (),
        history_lines: int = DEFAULT_LINES,
        credentials: Credentials | None = None,
        certificate: bool = False,
    ) -> None:
        self.server = server
        self.credentials = credentials
        self.certificate = certificate  # the TLS link shows a client certificate
        self.account = ""  # logged in as, on this connection
        self.password = password
        self.username = username
        self.realname = realname
        self.wanted_nick = nick
        self.nick = nick
        # Learnt from our own JOIN, for the room a split message may take.
        self.user = ""
        self.host = ""
        self.registered = False
        self.caps: set[str] = set()
        self.rules = ServerRules()
        self.channels: dict[str, Channel] = {}
        self.history = HistoryTracker(history_lines)
        self.active = SERVER_BUFFER
        self._buffers: dict[str, _Buffer] = {SERVER_BUFFER: _Buffer(SERVER_BUFFER)}
        # Channels to join on the next welcome: the ones asked for, then the ones we were in.
        self._autojoin = list(channels)
        self._offered: dict[str, str] = {}  # capability: value (CAP LS 302)
        # SASL mechanisms still to try on this connection, the one under way first.
        self._mechanisms: list[str] = []
        self._password_sent = False  # by SASL PLAIN on this connection
        # Channels the person joined with /join, to be shown when the server confirms.
        self._requested: set[str] = set()
        self._nick_tries = 0
        self._pending: list[Intent] = []
        self._out: list[Message] = []
        self._now = datetime.min
        self.multiline = MultilineCollector()
        # Metadata of the people we see (display-name, color), by folded nick.
        self.profiles: dict[str, dict[str, str]] = {}
        # When we last told each target we were typing (folded name).
        self._typing_sent: dict[str, datetime] = {}
        self._batches = 0

    # ------------------------------------------------------------------ I/O side

    def start(self, now: datetime) -> list[Update]:
        """A new connection is up: begin registration, forgetting the old link."""
        self._now = now
        self.registered = False
        self.caps = set()
        self.history.enabled = False
        self.history.server_limit = 0
        self._offered = {}
        self._mechanisms = []
        self._password_sent = False
        self.account = ""
        self.rules = ServerRules()
        self.multiline.clear()
        self._typing_sent = {}
        self.nick = self.wanted_nick
        self._nick_tries = 0
        self._autojoin = self._rejoin_list()
        self.channels = {}
        self._send("CAP", "LS", "302")
        if self.password:
            self._send("PASS", self.password)
        self._send("NICK", self.nick)
        self._send("USER", self.username, "0", "*", self.realname)
        return [Status(ConnState.CONNECTING, self.server, self.nick)]

    def connection_lost(self, reason: str, now: datetime) -> list[Update]:
        """The link is gone: say so in every conversation, and keep what to rejoin."""
        self._now = now
        self._autojoin = self._rejoin_list()
        self.registered = False
        updates: list[Update] = [Status(ConnState.DISCONNECTED, self.server, self.nick)]
        for channel in self.channels.values():
            channel.members.clear()
            updates.append(Members(channel.name, ()))
        self.channels = {}
        for finished in self.history.connection_lost():
            updates += self._show_history(finished)
        for buffer in self._buffers.values():
            updates.append(self._line(buffer.name, LineKind.ERROR, f"Disconnected: {reason}"))
        return updates

    def receive(self, msg: Message, now: datetime) -> list[Update]:
        """Take in one message from the server."""
        self._now = now
        if self.multiline.collect(msg) or self.history.collect(msg):
            return []
        handler = _HANDLERS.get(msg.command)
        if handler is not None:
            return handler(self, msg)
        if msg.command.isdigit():
            return self._numeric(msg)
        return []

    def take_outgoing(self) -> list[Message]:
        """The messages to send, in order; the outbox is empty afterwards."""
        out, self._out = [*self._out, *self.history.take_requests()], []
        return out

    def info(self, buffer: str, text: str, now: datetime, error: bool = False) -> Line:
        """A line of the client's own (connection news) for ``buffer``, or the server buffer."""
        self._now = now
        kind = LineKind.ERROR if error else LineKind.INFO
        return self._line(buffer if self._has_buffer(buffer) else SERVER_BUFFER, kind, text)

    # -------------------------------------------------------------- user side

    def perform(self, intent: Intent, now: datetime) -> list[Update]:
        """Carry out what the person asked; while offline, keep it for the next welcome."""
        self._now = now
        if isinstance(intent, Focus):
            return self._focus(intent.buffer)
        if isinstance(intent, CloseBuffer):
            return self._close(intent.name)
        if isinstance(intent, LoadOlder):
            self.history.older(intent.buffer)
            return []
        if isinstance(intent, ChangeNick) and not self.registered:
            self.wanted_nick = intent.nick
            return [self._line(self.active, LineKind.INFO, f"You will be {intent.nick}")]
        if not self.registered:
            if isinstance(intent, Quit):
                return []
            if len(self._pending) >= MAX_PENDING:
                del self._pending[0]
            self._pending.append(intent)
            return [
                self._line(
                    self.active,
                    LineKind.INFO,
                    "Not connected: this will be sent when the connection is back.",
                )
            ]
        return self._do(intent)

    def _do(self, intent: Intent) -> list[Update]:
        match intent:
            case Say(target, text, action, reply_to):
                return self._say(target, text, action, reply_to)
            case Delete(target, msgid):
                self._send("REDACT", target, msgid)
            case React(target, msgid, emoji):
                self._send_tagged("TAGMSG", {"+reply": msgid, "+draft/react": emoji}, target)
            case TypingNow(target, state):
                self._typing(target, state)
            case SetProfile(key, value):
                if self._speaks_metadata():
                    self._send("METADATA", "*", "SET", key, *([value] if value else []))
                else:
                    text = "This server does not keep display names or colours."
                    return [self._line(self.active, LineKind.ERROR, text)]
            case OpenQuery(nick, text):
                updates = self._open(nick, focus=True)
                return updates + (self._say(nick, text, False) if text else [])
            case Join(channel, key):
                joined = self.channels.get(casefold(channel))
                if joined is not None:  # already there: /join goes to it, as in other clients
                    self.active = joined.name
                    return self._open(joined.name, focus=True)
                self._requested.add(casefold(channel))
                self._send("JOIN", channel, *([key] if key else []))
            case Part(channel, reason):
                self._send("PART", channel, *([reason] if reason else []))
            case ChangeNick(nick):
                self.wanted_nick = nick
                self._send("NICK", nick)
            case SetTopic(channel, text):
                self._send("TOPIC", channel, *([] if text is None else [text]))
            case Away(reason):
                self._send("AWAY", *([reason] if reason else []))
            case Whois(nick):
                self._send("WHOIS", nick)
            case Kick(channel, nick, reason):
                self._send("KICK", channel, nick, *([reason] if reason else []))
            case Quit(reason):
                self._send("QUIT", reason or "Leaving")
            case Raw(line):
                try:
                    self._out.append(parse(line))
                except ProtocolError:
                    return [self._line(self.active, LineKind.ERROR, f"Not an IRC line: {line}")]
        return []

    def _say(self, target: str, text: str, action: bool, reply_to: str = "") -> list[Update]:
        updates = [] if is_channel(target) else self._open(target, focus=False)
        room = text_room(self.nick, self.user, self.host, "PRIVMSG", target)
        tags = {"+reply": reply_to} if reply_to and "message-tags" in self.caps else {}
        self._typing_sent.pop(casefold(target), None)  # a message ends typing
        if "\n" in text.strip("\n") and not action and self._send_batch(target, text, room, tags):
            chunks = [text.strip("\n")]
        else:
            if action:
                room -= len(f"{_CTCP}ACTION {_CTCP}")
            chunks = split_text(text, room)
            for chunk in chunks:
                body = f"{_CTCP}ACTION {chunk}{_CTCP}" if action else chunk
                self._send_tagged("PRIVMSG", tags, target, body)
        if "echo-message" not in self.caps:
            kind = LineKind.ACTION if action else LineKind.MESSAGE
            buffer = self._buffer_name(target)
            for chunk in chunks:
                updates.append(self._line(buffer, kind, chunk, nick=self.nick, own=True))
        updates += self._mark_read(target)  # who speaks has read what came before
        return updates

    def _send_batch(self, target: str, text: str, room: int, tags: dict[str, str]) -> bool:
        """Send ``text`` as one message of several lines (IRCv3 multiline), if
        the server takes them and it fits their limits."""
        if not {MULTILINE_CAP, "batch"} <= self.caps:
            return False
        limits = Limits.parse(self._offered.get(MULTILINE_CAP, ""))
        lines = batch_lines(text.strip("\n"), room, limits) if limits is not None else None
        if lines is None:
            return False
        self._batches += 1
        ref = f"ml{self._batches}"
        self._send_tagged("BATCH", tags, f"+{ref}", MULTILINE_CAP, target)
        for line, concat in lines:
            line_tags = {"batch": ref, CONCAT: ""} if concat else {"batch": ref}
            self._send_tagged("PRIVMSG", line_tags, target, line)
        self._send("BATCH", f"-{ref}")
        return True

    def _typing(self, target: str, state: str) -> None:
        """A typing notification, where the server takes tags: ``active`` at most
        every TYPING_INTERVAL seconds per target, ``done`` only after one."""
        if "message-tags" not in self.caps or not self.registered:
            return
        key = casefold(target)
        last = self._typing_sent.get(key)
        if state == "active":
            if last is not None and self._now - last < timedelta(seconds=TYPING_INTERVAL):
                return
            self._typing_sent[key] = self._now
        elif last is None:
            return  # nothing to take back
        else:
            del self._typing_sent[key]
        self._send_tagged("TAGMSG", {"+typing": state}, target)

    def _focus(self, name: str) -> list[Update]:
        buffer = self._buffers.get(casefold(name))
        if buffer is None:
            return []
        self.active = buffer.name
        buffer.unread, buffer.mention = 0, False
        return [BufferState(buffer.name, 0, False), *self._mark_read(buffer.name)]

    def _mark_read(self, name: str) -> list[Update]:
        """The person has seen ``name`` up to its newest message: tell the server,
        so their other devices know (IRCv3 read-marker)."""
        buffer = self._buffers.get(casefold(name))
        if buffer is None or buffer.name == SERVER_BUFFER or buffer.latest is None:
            return []
        if "draft/read-marker" not in self.caps or not self.registered:
            return []
        if buffer.read is None or buffer.latest > buffer.read:
            buffer.read = buffer.latest
            self._send("MARKREAD", buffer.name, timestamp(buffer.latest))
        return []

    def _close(self, name: str) -> list[Update]:
        key = casefold(name)
        if key == SERVER_BUFFER or key not in self._buffers:
            return []
        if key in self.channels and self.registered:
            self._send("PART", self.channels[key].name)
            return []  # the server's PART closes it
        return self._drop_buffer(name)

    # ------------------------------------------------------------ buffers, lines

    def _has_buffer(self, name: str) -> bool:
        return casefold(name) in self._buffers

    def _buffer_name(self, name: str) -> str:
        buffer = self._buffers.get(casefold(name))
        return buffer.name if buffer is not None else name

    def _open(self, name: str, focus: bool) -> list[Update]:
        if self._has_buffer(name):
            return [BufferOpened(self._buffer_name(name), focus)] if focus else []
        self._buffers[casefold(name)] = _Buffer(name)
        if not is_channel(name):
            self.history.opened(name, self._now)
        return [BufferOpened(name, focus)]

    def _drop_buffer(self, name: str) -> list[Update]:
        buffer = self._buffers.pop(casefold(name), None)
        if buffer is None:
            return []
        self.history.forget(name)
        if casefold(self.active) == casefold(name):
            self.active = SERVER_BUFFER
        return [BufferClosed(buffer.name)]

    def _line(
        self,
        buffer: str,
        kind: LineKind,
        text: str,
        nick: str = "",
        own: bool = False,
        mention: bool = False,
        time: datetime | None = None,
    ) -> Line:
        return Line(self._buffer_name(buffer), kind, text, time or self._now, nick, own, mention)

    def _count(self, line: Line) -> list[Update]:
        """The line, and the unread state it changes when its buffer is not in view."""
        return [line, *self._tally(line.buffer, [line])]

    def _tally(self, name: str, lines: Sequence[Line]) -> list[Update]:
        """Count ``lines`` as unread in ``name`` when it is not in view and not
        read elsewhere (read-marker); the new state, if any."""
        buffer = self._buffers.get(casefold(name))
        if buffer is None:
            return []
        talk = [line for line in lines if line.kind in _COUNTED]
        for line in talk:
            if buffer.latest is None or line.time > buffer.latest:
                buffer.latest = line.time
        counted = [
            line
            for line in talk
            if not line.own and (buffer.read is None or line.time > buffer.read)
        ]
        if buffer.name == self.active or not counted:
            return []
        buffer.unread += len(counted)
        buffer.mention = buffer.mention or any(line.mention for line in counted)
        return [BufferState(buffer.name, buffer.unread, buffer.mention)]

    def _mentions(self, text: str) -> bool:
        pattern = rf"(?<![{_NICK_CHARS}]){re.escape(casefold(self.nick))}(?![{_NICK_CHARS}])"
        return re.search(pattern, casefold(text)) is not None

    def _send(self, command: str, *params: str) -> None:
        self._out.append(Message(command, params))

    def _send_tagged(self, command: str, tags: dict[str, str], *params: str) -> None:
        """A message with client tags, which go only to a server that takes tags."""
        self._out.append(Message(command, params, tags=tags if "message-tags" in self.caps else {}))

    def _speaks_metadata(self) -> bool:
        return {"draft/metadata-2", "batch"} <= self.caps

    def _is_me(self, nick: str) -> bool:
        return casefold(nick) == casefold(self.nick)

    def _time(self, msg: Message) -> datetime:
        stamp = msg.tags.get("time")
        if stamp and "server-time" in self.caps:
            try:
                return datetime.fromisoformat(stamp)
            except ValueError:
                pass
        return self._now

    def _rejoin_list(self) -> list[str]:
        names = [c.name for c in self.channels.values()]
        folded = {casefold(name) for name in names}
        return names + [c for c in self._autojoin if casefold(c) not in folded]

    # ---------------------------------------------------------- registration

    def _on_cap(self, msg: Message) -> list[Update]:
        sub = msg.params[1].upper() if len(msg.params) > 1 else ""
        if sub == "LS":
            # A "*" before the list means more LS lines follow (CAP LS 302).
            more = len(msg.params) > 3 and msg.params[2] == "*"
            for cap in msg.params[-1].split():
                name, _, value = cap.partition("=")
                self._offered[name] = value
            if not more and not self.registered:
                wanted = sorted(WANTED_CAPS & self._offered.keys())
                self._mechanisms = self._sasl_plan()
                if self._mechanisms:
                    wanted.append("sasl")
                if wanted:
                    self._send("CAP", "REQ", " ".join(wanted))
                else:
                    self._send("CAP", "END")
        elif sub == "ACK":
            self.caps |= {c for c in msg.params[-1].split() if not c.startswith("-")}
            self.caps -= {c[1:] for c in msg.params[-1].split() if c.startswith("-")}
            if not self.registered and "sasl" in self.caps and self._mechanisms:
                self._send("AUTHENTICATE", self._mechanisms[0])
            elif not self.registered:
                self._send("CAP", "END")
        elif sub == "NAK" and not self.registered:
            self._send("CAP", "END")
        elif sub == "DEL":
            self.caps -= set(msg.params[-1].split())
        self.history.enabled = {"draft/chathistory", "batch"} <= self.caps
        return []

    def _on_welcome(self, msg: Message) -> list[Update]:
        self.registered = True
        self.nick = msg.params[0]
        updates: list[Update] = [
            Status(ConnState.CONNECTED, self.server, self.nick),
            self._line(SERVER_BUFFER, LineKind.INFO, msg.params[-1]),
        ]
        updates += self._account_after_welcome()
        if self._speaks_metadata():
            self._send("METADATA", "*", "SUB", *PROFILE_KEYS)
        if self._autojoin:
            self._send("JOIN", ",".join(self._autojoin))
            text = f"Joining {', '.join(self._autojoin)}"
            updates.append(self._line(SERVER_BUFFER, LineKind.INFO, text))
        pending, self._pending = self._pending, []
        for intent in pending:
            updates += self._do(intent)
        return updates

    # ------------------------------------------------------------- accounts

    def _logging_in(self) -> bool:
        creds = self.credentials
        return creds is not None and creds.action is AccountAction.LOGIN and not self.account

    def _sasl_plan(self) -> list[str]:
        """The SASL mechanisms to try, in order: the certificate, then the password.

        Not the certificate when registering: it cannot be on an account that
        does not exist yet.
        """
        offered = self._offered.get("sasl")
        if offered is None or self.account:
            return []
        creds = self.credentials
        registering = creds is not None and creds.action is AccountAction.REGISTER
        plan = []
        if self.certificate and not registering and offers(offered, EXTERNAL):
            plan.append(EXTERNAL)
        if self._logging_in() and offers(offered, PLAIN):
            plan.append(PLAIN)
        return plan

    def _account_after_welcome(self) -> list[Update]:
        """Log in through NickServ if SASL did not try the password; register with
        REGISTER or NickServ."""
        creds = self.credentials
        if creds is None or self.account:
            return []
        if creds.action is AccountAction.LOGIN and not self._password_sent:
            self._send("PRIVMSG", NICKSERV, f"IDENTIFY {creds.account} {creds.password}")
            return [self._line(SERVER_BUFFER, LineKind.INFO, f"Logging in as {creds.account}…")]
        if creds.action is AccountAction.REGISTER:
            if "draft/account-registration" in self._offered:
                self._send("REGISTER", creds.account, "*", creds.password)
            else:
                self._send("PRIVMSG", NICKSERV, f"REGISTER {creds.password}")
            text = f"Registering the account {creds.account}…"
            return [self._line(SERVER_BUFFER, LineKind.INFO, text)]
        return []

    def _on_authenticate(self, msg: Message) -> list[Update]:
        if not msg.params or msg.params[0] != "+" or not self._mechanisms:
            return []
        if self._mechanisms[0] == EXTERNAL:
            # An empty response: the account the certificate is on, whatever it is called.
            self._send("AUTHENTICATE", "+")
        elif self.credentials is not None:
            self._password_sent = True
            for chunk in plain_chunks(self.credentials.account, self.credentials.password):
                self._send("AUTHENTICATE", chunk)
        return []

    def _on_sasl_done(self, msg: Message) -> list[Update]:
        # 903 success; 904, 905, 906 failure: either way registration goes on,
        # after the password when the certificate was refused (sasl-3.1 allows a retry).
        tried = self._mechanisms.pop(0) if self._mechanisms else ""
        refused = msg.command == n.ERR_SASLFAIL
        if refused and self._mechanisms and not self.registered:
            self._send("AUTHENTICATE", self._mechanisms[0])
        else:
            self._mechanisms = []
            if not self.registered:
                self._send("CAP", "END")
        if msg.command == n.RPL_SASLSUCCESS:
            return []
        if tried == EXTERNAL:
            password_next = self._logging_in()
            kind = LineKind.INFO if password_next else LineKind.ERROR
            return [self._line(self.active, kind, certificate_refused(msg.command, password_next))]
        if self.credentials is None:
            return []
        text = sasl_failure(msg.command, self.credentials.account)
        return [self._line(self.active, LineKind.ERROR, text)]

    def _on_logged_in(self, msg: Message) -> list[Update]:
        # 900 RPL_LOGGEDIN <nick> <nick>!<user>@<host> <account> :You are now logged in as …
        if len(msg.params) < 3:
            return []
        self.account = msg.params[2]
        if self.credentials is not None and self.credentials.action is AccountAction.REGISTER:
            # Registered: from now on (and on the next connection) it is a login.
            self.credentials = replace(self.credentials, action=AccountAction.LOGIN)
        text = f"You are logged in as {self.account}."
        return [LoggedIn(self.account), self._line(SERVER_BUFFER, LineKind.INFO, text)]

    def _on_register(self, msg: Message) -> list[Update]:
        # REGISTER SUCCESS <account> :<message> (draft/account-registration)
        if len(msg.params) >= 2 and msg.params[0] == "SUCCESS":
            text = f"The account {msg.params[1]} is registered."
            return [self._line(SERVER_BUFFER, LineKind.INFO, text)]
        return []

    def _on_motd_end(self, msg: Message) -> list[Update]:
        # The welcome burst is over, ISUPPORT included: CHATHISTORY=<n> is known, so the
        # private chats can be caught up now (channels are, as each JOIN comes back).
        self.history.welcomed()
        return self._numeric(msg)

    def _on_isupport(self, msg: Message) -> list[Update]:
        self.rules.apply(list(msg.params[1:-1]))
        self.history.server_limit = self.rules.history_limit
        return []

    def _on_nick_unusable(self, msg: Message) -> list[Update]:
        wanted = msg.params[1] if len(msg.params) > 2 else self.nick
        if self.registered:
            text = f"Cannot use the nick {wanted}: {msg.params[-1]}"
            return [self._line(self.active, LineKind.ERROR, text)]
        self._nick_tries += 1
        if msg.command == n.ERR_NICKNAMEINUSE:
            suffix = "_" if self._nick_tries == 1 else str(self._nick_tries)
            base = self.wanted_nick[: _SAFE_NICKLEN - len(suffix)]
            self.nick = base + suffix
        else:  # erroneous nick: no variation of it will do
            self.nick = f"guest{self._nick_tries}"
        self._send("NICK", self.nick)
        text = f"The nick {wanted} cannot be used ({msg.params[-1]}); trying {self.nick}"
        return [self._line(SERVER_BUFFER, LineKind.ERROR, text)]

    def _on_ping(self, msg: Message) -> list[Update]:
        self._send("PONG", *msg.params)
        return []

    def _on_pong(self, msg: Message) -> list[Update]:
        if msg.params:
            self.history.pong(msg.params[-1])
        return []

    def _on_error(self, msg: Message) -> list[Update]:
        reason = msg.params[-1] if msg.params else "no reason given"
        return [self._line(SERVER_BUFFER, LineKind.ERROR, f"The server closed the link: {reason}")]

    # ------------------------------------------------------------- messages

    def _on_privmsg(self, msg: Message) -> list[Update]:
        if len(msg.params) < 2 or msg.source is None:
            return []
        nick = split_hostmask(msg.source)[0]
        target, text = msg.params[0], msg.params[1]
        own = self._is_me(nick)
        if is_channel(target):
            buffer, updates = target, []
        else:
            buffer = target if own else nick
            updates = self._open(buffer, focus=False)
        line = self._message_line(msg, buffer)
        if line is None:
            command, _, arg = text.strip(_CTCP).partition(" ")
            return updates + self._ctcp_request(nick, command.upper(), arg, own)
        return updates + self._live(msg, line)

    def _message_line(self, msg: Message, buffer: str) -> Line | None:
        """A PRIVMSG or NOTICE as drawn in ``buffer``; None for a CTCP request."""
        nick = split_hostmask(msg.source or self.server)[0]
        text = msg.params[1]
        own = self._is_me(nick)
        if msg.command == "NOTICE":
            notice = self._line(
                buffer, LineKind.NOTICE, text.strip(_CTCP), nick, own, time=self._time(msg)
            )
            return self._tagged(notice, msg)
        kind = LineKind.MESSAGE
        if text.startswith(_CTCP):
            command, _, text = text.strip(_CTCP).partition(" ")
            if command.upper() != "ACTION":
                return None
            kind = LineKind.ACTION
        # A private message is said to us alone: it calls for attention as a mention does.
        private = not is_channel(msg.params[0])
        mention = not own and (private or self._mentions(text))
        line = self._line(buffer, kind, text, nick, own, mention, self._time(msg))
        return self._tagged(line, msg)

    def _tagged(self, line: Line, msg: Message) -> Line:
        """``line`` with what its tags say: its msgid, what it answers, a bot's."""
        tags = msg.tags
        if not tags:
            return line
        reply = tags.get("+reply") or tags.get("+draft/reply", "")
        return replace(line, msgid=tags.get("msgid", ""), reply_to=reply, bot="bot" in tags)

    def _live(self, msg: Message, line: Line) -> list[Update]:
        """A message heard live: shown once, after any history being fetched for its buffer."""
        verdict = self.history.live(line.buffer, msg, line)
        return self._count(line) if verdict is Verdict.SHOW else []

    def _ctcp_request(self, nick: str, command: str, arg: str, own: bool) -> list[Update]:
        # Answer the two queries every client answers (VERSION, PING); show the rest.
        if own:
            return []
        if command == "VERSION":
            self._send("NOTICE", nick, f"{_CTCP}VERSION tcpchat {__version__}{_CTCP}")
        elif command == "PING":
            self._send("NOTICE", nick, f"{_CTCP}PING {arg}{_CTCP}")
        text = f"{nick} sent a CTCP {command} request"
        return [self._line(SERVER_BUFFER, LineKind.INFO, text)]

    def _on_notice(self, msg: Message) -> list[Update]:
        if len(msg.params) < 2:
            return []
        source = msg.source or self.server
        nick = split_hostmask(source)[0]
        target = msg.params[0]
        if "!" not in source or not self.registered:
            buffer = SERVER_BUFFER
        elif is_channel(target):
            buffer = target
        else:
            buffer = nick if self._has_buffer(nick) else self.active
        line = self._message_line(msg, buffer)
        return self._live(msg, line) if line is not None else []

    def _where(self, msg: Message) -> tuple[str, str] | None:
        """(sender's nick, buffer) of a message to a channel or to us, if that
        buffer is open."""
        if not msg.params or msg.source is None:
            return None
        nick = split_hostmask(msg.source)[0]
        target = msg.params[0]
        buffer = target if is_channel(target) or self._is_me(nick) else nick
        return (nick, self._buffer_name(buffer)) if self._has_buffer(buffer) else None

    def _on_tagmsg(self, msg: Message) -> list[Update]:
        # Tags with no text: typing (IRCv3 +typing) and reactions (+draft/react).
        where = self._where(msg)
        if where is None:
            return []
        nick, buffer = where
        tags = msg.tags
        updates: list[Update] = []
        typing = tags.get("+typing", "")
        if typing in ("active", "paused", "done") and not self._is_me(nick):
            updates.append(Typing(buffer, nick, typing))
        reply = tags.get("+reply") or tags.get("+draft/reply", "")
        react, unreact = tags.get("+draft/react", ""), tags.get("+draft/unreact", "")
        if reply and (react or unreact):
            updates.append(Reaction(buffer, reply, nick, react or unreact, removed=not react))
        return updates

    def _on_redact(self, msg: Message) -> list[Update]:
        # REDACT <target> <msgid> [:<reason>] (IRCv3 draft/message-redaction)
        where = self._where(msg)
        if where is None or len(msg.params) < 2:
            return []
        nick, buffer = where
        reason = msg.params[2] if len(msg.params) > 2 else ""
        return [Redacted(buffer, msg.params[1], nick, reason)]

    def _on_markread(self, msg: Message) -> list[Update]:
        # MARKREAD <target> timestamp=<time> | * (IRCv3 draft/read-marker): read
        # elsewhere, on another device of the account.
        if len(msg.params) < 2 or not msg.params[1].startswith("timestamp="):
            return []
        buffer = self._buffers.get(casefold(msg.params[0]))
        try:
            read = datetime.fromisoformat(msg.params[1].removeprefix("timestamp="))
        except ValueError:
            return []
        if buffer is None:
            return []
        if buffer.read is None or read > buffer.read:
            buffer.read = read
        if buffer.unread and (buffer.latest is None or buffer.latest <= read):
            buffer.unread, buffer.mention = 0, False
            return [BufferState(buffer.name, 0, False)]
        return []

    def _on_metadata(self, msg: Message) -> list[Update]:
        # METADATA <target> <key> <visibility> [:<value>] (IRCv3 draft/metadata-2)
        if len(msg.params) < 3 or is_channel(msg.params[0]) or msg.params[1] not in PROFILE_KEYS:
            return []
        nick, key = msg.params[0], msg.params[1]
        profile = self.profiles.setdefault(casefold(nick), {})
        if len(msg.params) > 3 and msg.params[3]:
            profile[key] = msg.params[3]
        else:
            profile.pop(key, None)
        return [self._profile(nick)]

    def _profile(self, nick: str) -> Profile:
        profile = self.profiles.get(casefold(nick), {})
        colour = profile.get("color", "")
        shown = colour if _COLOUR.match(colour) else ""
        return Profile(nick, profile.get("display-name", ""), shown)

    # ------------------------------------------------------------- history

    def _on_batch(self, msg: Message) -> list[Update]:
        if self.multiline.opened(msg):
            return []
        whole = self.multiline.closed(msg)
        if whole is not None:  # a message of several lines, as if it came in one piece
            return self._on_privmsg(whole) if whole.command == "PRIVMSG" else self._on_notice(whole)
        return self._show_history(self.history.batch(msg))

    def _on_fail(self, msg: Message) -> list[Update]:
        # FAIL <command> <code> [<context>...] :<description> (IRCv3 standard replies)
        if msg.params and msg.params[0] == "CHATHISTORY":
            return self._show_history(self.history.failed(msg))
        if len(msg.params) >= 4 and msg.params[0] == "REGISTER":
            text = register_failure(msg.params[1], msg.params[2], msg.params[-1])
            return [self._line(self.active, LineKind.ERROR, text)]
        # Any other: what failed, and the server's words (IRCv3 standard replies).
        command = msg.params[0] if len(msg.params) > 2 and msg.params[0] != "*" else ""
        text = msg.params[-1] if msg.params else "failed"
        return [self._line(self.active, LineKind.ERROR, f"{command}: {text}" if command else text)]

    def _on_warn_note(self, msg: Message) -> list[Update]:
        # WARN and NOTE <command> <code> [<context>...] :<description>: said, not errors.
        if not msg.params:
            return []
        command = msg.params[0] if len(msg.params) > 2 and msg.params[0] != "*" else ""
        text = msg.params[-1]
        return [self._line(self.active, LineKind.INFO, f"{command}: {text}" if command else text)]

    def _show_history(self, finished: Finished | None) -> list[Update]:
        """History that arrived: one block of lines, then the live lines held back for it."""
        if finished is None or not self._has_buffer(finished.target):
            return []
        buffer = self._buffer_name(finished.target)
        lines = []
        for msg in finished.messages:
            line = self._message_line(msg, buffer)
            if line is not None:
                lines.append(replace(line, history=True))
        updates: list[Update] = []
        if lines or finished.kind is HistoryKind.OLDER:
            updates.append(HistoryBlock(buffer, finished.kind, tuple(lines), finished.complete))
        if finished.kind is HistoryKind.MISSED:
            updates += self._tally(buffer, lines)
        for line in finished.held:
            updates += self._count(line)
        return updates

    # ------------------------------------------------------------- channels

    def _on_join(self, msg: Message) -> list[Update]:
        if not msg.params or msg.source is None:
            return []
        nick, user, host = split_hostmask(msg.source)
        name = msg.params[0]
        key = casefold(name)
        updates: list[Update] = []
        if self._is_me(nick):
            self.user, self.host = user, host
            self.channels[key] = Channel(name)
            self._autojoin = [c for c in self._autojoin if casefold(c) != key]
            # Show a channel the person asked for, or the first one joined; a
            # rejoin after a reconnect or a later autojoin leaves the view alone.
            focus = key in self._requested or self.active == SERVER_BUFFER
            self._requested.discard(key)
            if focus:
                self.active = name
            updates += self._open(name, focus=focus)
            self.history.joined(name, self._time(msg))
            text = f"You joined {name}"
        else:
            text = f"{nick} ({user}@{host}) joined" if user else f"{nick} joined"
        channel = self.channels.get(key)
        if channel is None:
            return []
        channel.add(nick)
        updates.append(self._line(name, LineKind.JOIN, text, nick, time=self._time(msg)))
        updates.append(Members(channel.name, channel.display_names(self.rules)))
        return updates

    def _on_part(self, msg: Message) -> list[Update]:
        if not msg.params or msg.source is None:
            return []
        nick = split_hostmask(msg.source)[0]
        channel = self.channels.get(casefold(msg.params[0]))
        if channel is None:
            return []
        if self._is_me(nick):
            del self.channels[casefold(channel.name)]
            return self._drop_buffer(channel.name)
        channel.remove(nick)
        reason = f" ({msg.params[1]})" if len(msg.params) > 1 and msg.params[1] else ""
        return [
            self._line(channel.name, LineKind.PART, f"{nick} left{reason}", nick),
            Members(channel.name, channel.display_names(self.rules)),
        ]

    def _on_kick(self, msg: Message) -> list[Update]:
        if len(msg.params) < 2 or msg.source is None:
            return []
        by = split_hostmask(msg.source)[0]
        channel = self.channels.get(casefold(msg.params[0]))
        if channel is None:
            return []
        victim = msg.params[1]
        reason = f" ({msg.params[2]})" if len(msg.params) > 2 and msg.params[2] else ""
        if self._is_me(victim):
            del self.channels[casefold(channel.name)]
            text = (
                f"You were kicked from {channel.name} by {by}{reason}. "
                f"Type /join {channel.name} to go back."
            )
            return [
                self._line(channel.name, LineKind.ERROR, text, by),
                Members(channel.name, ()),
            ]
        channel.remove(victim)
        return [
            self._line(channel.name, LineKind.KICK, f"{by} kicked {victim}{reason}", by),
            Members(channel.name, channel.display_names(self.rules)),
        ]

    def _on_quit(self, msg: Message) -> list[Update]:
        if msg.source is None:
            return []
        nick = split_hostmask(msg.source)[0]
        reason = f" ({msg.params[0]})" if msg.params and msg.params[0] else ""
        updates: list[Update] = []
        if self.profiles.pop(casefold(nick), None) is not None:
            updates.append(Profile(nick))
        for channel in self.channels.values():
            if channel.remove(nick):
                updates.append(
                    self._line(channel.name, LineKind.QUIT, f"{nick} quit{reason}", nick)
                )
                updates.append(Members(channel.name, channel.display_names(self.rules)))
        if self._has_buffer(nick):
            updates.append(self._line(nick, LineKind.QUIT, f"{nick} quit{reason}", nick))
        return updates

    def _on_nick(self, msg: Message) -> list[Update]:
        if not msg.params or msg.source is None:
            return []
        old, new = split_hostmask(msg.source)[0], msg.params[0]
        updates: list[Update] = []
        profile = self.profiles.pop(casefold(old), None)
        if profile is not None:
            self.profiles[casefold(new)] = profile
            updates.append(self._profile(new))
        if self._is_me(old):
            self.nick = self.wanted_nick = new
            updates.append(Status(ConnState.CONNECTED, self.server, new))
            updates.append(self._line(SERVER_BUFFER, LineKind.NICK, f"You are now {new}", new))
        for channel in self.channels.values():
            if channel.rename(old, new):
                updates.append(self._line(channel.name, LineKind.NICK, f"{old} is now {new}", new))
                updates.append(Members(channel.name, channel.display_names(self.rules)))
        buffer = self._buffers.get(casefold(old))
        if buffer is not None and casefold(old) != SERVER_BUFFER:
            del self._buffers[casefold(old)]
            buffer.name = new
            self._buffers[casefold(new)] = buffer
            if casefold(self.active) == casefold(old):
                self.active = new
            self.history.rename(old, new)
            updates.append(BufferRenamed(old, new))
            updates.append(self._line(new, LineKind.NICK, f"{old} is now {new}", new))
        return updates

    def _on_topic(self, msg: Message) -> list[Update]:
        if len(msg.params) < 2:
            return []
        by = split_hostmask(msg.source or "")[0]
        channel = self.channels.get(casefold(msg.params[0]))
        if channel is None:
            return []
        channel.topic = msg.params[1]
        text = (
            f"{by} changed the topic to: {channel.topic}"
            if channel.topic
            else f"{by} cleared the topic"
        )
        return [
            Topic(channel.name, channel.topic),
            self._line(channel.name, LineKind.TOPIC, text, by, time=self._time(msg)),
        ]

    def _on_topic_reply(self, msg: Message) -> list[Update]:
        # 332 RPL_TOPIC <client> <channel> :<topic>; 331 RPL_NOTOPIC <client> <channel> :...
        if len(msg.params) < 3:
            return []
        channel = self.channels.get(casefold(msg.params[1]))
        topic = msg.params[2] if msg.command == n.RPL_TOPIC else ""
        if channel is None:
            return [self._line(self.active, LineKind.INFO, f"Topic of {msg.params[1]}: {topic}")]
        channel.topic = topic
        text = f"Topic: {topic}" if topic else "No topic is set"
        return [Topic(channel.name, topic), self._line(channel.name, LineKind.TOPIC, text)]

    def _on_names(self, msg: Message) -> list[Update]:
        # 353 RPL_NAMREPLY <client> <symbol> <channel> :[prefix]<nick>{ [prefix]<nick>}
        if len(msg.params) < 4:
            return []
        channel = self.channels.get(casefold(msg.params[2]))
        if channel is None:  # a /names for a channel we are not in: show it as text
            return [self._line(self.active, LineKind.INFO, " ".join(msg.params[2:]))]
        for entry in msg.params[3].split():
            symbols, nick = self.rules.split_prefixes(entry)
            channel.gather_name(nick, symbols)
        return []

    def _on_names_end(self, msg: Message) -> list[Update]:
        # 366 RPL_ENDOFNAMES <client> <channel> :End of /NAMES list
        channel = self.channels.get(casefold(msg.params[1])) if len(msg.params) > 1 else None
        if channel is None:
            return []
        channel.finish_names()
        return [Members(channel.name, channel.display_names(self.rules))]

    def _on_mode(self, msg: Message) -> list[Update]:
        if len(msg.params) < 2:
            return []
        by = split_hostmask(msg.source or "")[0]
        target = msg.params[0]
        change = " ".join(msg.params[1:])
        channel = self.channels.get(casefold(target))
        if channel is None:
            text = f"Your modes are now {change}" if self._is_me(target) else f"{target}: {change}"
            return [self._line(SERVER_BUFFER, LineKind.MODE, text)]
        args = list(msg.params[2:])
        adding = True
        for mode in msg.params[1]:
            if mode in "+-":
                adding = mode == "+"
                continue
            arg = args.pop(0) if self.rules.takes_param(mode, adding) and args else ""
            if mode in self.rules.prefix_modes and arg:
                symbol = self.rules.prefix_symbols[self.rules.prefix_modes.index(mode)]
                channel.set_prefix(arg, symbol, adding, self.rules)
        return [
            self._line(channel.name, LineKind.MODE, f"{by} sets mode {change}", by),
            Members(channel.name, channel.display_names(self.rules)),
        ]

    # ------------------------------------------------------------- replies

    def _numeric(self, msg: Message) -> list[Update]:
        if msg.command in _SILENT:
            return []
        params = msg.params[1:]  # the first is our nick
        formatter = _REPLIES.get(msg.command)
        text = formatter(params) if formatter is not None else " ".join(params)
        if msg.command[0] in "45":
            return [self._line(self.active, LineKind.ERROR, text)]
        buffer = self.active if msg.command in _REPLIES else SERVER_BUFFER
        return [self._line(buffer, LineKind.INFO, text)]


def _whois_user(p: tuple[str, ...]) -> str:
    return f"{p[0]} is {p[1]}@{p[2]} ({p[-1]})" if len(p) >= 4 else " ".join(p)


def _with_nick(verb: str) -> Callable[[tuple[str, ...]], str]:
    def fmt(p: tuple[str, ...]) -> str:
        return f"{p[0]} {verb} {' '.join(p[1:])}" if p else verb

    return fmt


_REPLIES: Final[dict[str, Callable[[tuple[str, ...]], str]]] = {
    n.RPL_WHOISUSER: _whois_user,
    n.RPL_WHOISSERVER: _with_nick("is connected to"),
    n.RPL_WHOISCHANNELS: _with_nick("is in"),
    n.RPL_WHOISIDLE: lambda p: f"{p[0]} has been idle {p[1]} seconds" if len(p) > 1 else "",
    n.RPL_WHOISOPERATOR: lambda p: f"{p[0]} is an IRC operator" if p else "",
    n.RPL_WHOISACCOUNT: lambda p: f"{p[0]} is logged in as {p[1]}" if len(p) > 1 else "",
    n.RPL_AWAY: lambda p: f"{p[0]} is away: {p[-1]}" if p else "",
    n.RPL_UNAWAY: lambda p: "You are no longer marked as away",
    n.RPL_NOWAWAY: lambda p: "You are now marked as away",
}
"""Replies worth reading as sentences; they go to the conversation in view."""


_HANDLERS: Final[dict[str, Callable[[Session, Message], list[Update]]]] = {
    "CAP": Session._on_cap,
    "AUTHENTICATE": Session._on_authenticate,
    "REGISTER": Session._on_register,
    n.RPL_LOGGEDIN: Session._on_logged_in,
    n.RPL_SASLSUCCESS: Session._on_sasl_done,
    n.ERR_SASLFAIL: Session._on_sasl_done,
    n.ERR_SASLTOOLONG: Session._on_sasl_done,
    n.ERR_SASLABORTED: Session._on_sasl_done,
    "BATCH": Session._on_batch,
    "FAIL": Session._on_fail,
    "WARN": Session._on_warn_note,
    "NOTE": Session._on_warn_note,
    "TAGMSG": Session._on_tagmsg,
    "REDACT": Session._on_redact,
    "MARKREAD": Session._on_markread,
    "METADATA": Session._on_metadata,
    n.RPL_WELCOME: Session._on_welcome,
    n.RPL_ISUPPORT: Session._on_isupport,
    n.RPL_ENDOFMOTD: Session._on_motd_end,
    n.ERR_NOMOTD: Session._on_motd_end,
    n.ERR_NICKNAMEINUSE: Session._on_nick_unusable,
    n.ERR_ERRONEUSNICKNAME: Session._on_nick_unusable,
    "PING": Session._on_ping,
    "PONG": Session._on_pong,
    "ERROR": Session._on_error,
    "PRIVMSG": Session._on_privmsg,
    "NOTICE": Session._on_notice,
    "JOIN": Session._on_join,
    "PART": Session._on_part,
    "KICK": Session._on_kick,
    "QUIT": Session._on_quit,
    "NICK": Session._on_nick,
    "TOPIC": Session._on_topic,
    n.RPL_TOPIC: Session._on_topic_reply,
    n.RPL_NOTOPIC: Session._on_topic_reply,
    n.RPL_NAMREPLY: Session._on_names,
    n.RPL_ENDOFNAMES: Session._on_names_end,
    "MODE": Session._on_mode,
}
