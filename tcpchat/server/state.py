"""The network's state: users, channels, memberships, modes and topics.

Theory of operation: :class:`State` is a replica of the whole network, and
:meth:`State.apply` is the only code that changes it, one event at a time
(see :mod:`tcpchat.server.events`). Handlers read it freely. Users and
channels are keyed by their casefolded names and keep the name as displayed
beside it. The objects are mutable for speed, but only ``apply`` writes them.

An event is checked against the state it is about to change by
:meth:`State.settle` first. A handler validates against the state it sees,
but between that and the event's turn in the network's order other events
may come first: the user quit, the nick was taken, the channel was made by
someone else (in a cluster, on another node, but on one server too, when a
user quits in the middle of a turn). ``settle`` decides each case from the
state alone, so every replica decides it the same way: the event is refused
(None), or taken as it can still be (a channel's creator gets its operator
status only if the channel is still new), and never half applied.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tcpchat.irc import casefold
from tcpchat.irc.masks import mask_matches
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

if TYPE_CHECKING:
    from tcpchat.server.session import Session

__all__ = [
    "CONSOLE_UID",
    "SERVICES_UID",
    "Ban",
    "Channel",
    "State",
    "User",
    "WhowasEntry",
    "console_uid",
    "is_console_uid",
]

SERVICES_UID = "services"
"""The uid of the NickServ pseudo-user, which has no session."""
CONSOLE_UID = "console"
"""The uid of the console's pseudo-user on a server on its own (see console_uid)."""


def console_uid(node: str) -> str:
    """The uid of the pseudo-user of ``node``'s console. One per node: each node
    of a cluster may run a console, and all share one state. Session uids are
    hex, so this cannot be one."""
    return f"{CONSOLE_UID}.{node}" if node else CONSOLE_UID


def is_console_uid(uid: str) -> bool:
    """Whether ``uid`` is the pseudo-user of a console, of any node."""
    return uid == CONSOLE_UID or uid.startswith(CONSOLE_UID + ".")


PREFIXES = (("o", "@"), ("v", "+"))
"""Membership modes from highest to lowest, with their NAMES/WHO prefix."""


@dataclass(eq=False, slots=True)
class User:
    """A registered user, local to this server or not (``session`` is None then)."""

    uid: str
    nick: str
    username: str
    host: str
    ip: str
    realname: str
    signon: float
    session: Session | None = None
    folded: str = ""
    mask: str = ""
    # Frozen: the same empty one for most users (see Session.caps).
    modes: frozenset[str] = frozenset()
    away: str | None = None
    account: str | None = None
    service: bool = False
    # The cluster node the user is connected to ("" on a server on its own).
    node: str = ""
    channels: dict[str, Channel] = field(default_factory=dict)
    # IRCv3 metadata (display-name, avatar, color, ...): key -> value.
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rename(self.nick)

    def _rename(self, nick: str) -> None:
        self.nick = nick
        self.folded = casefold(nick)
        self.mask = f"{nick}!{self.username}@{self.host}"

    @property
    def is_oper(self) -> bool:
        return "o" in self.modes

    @property
    def is_bot(self) -> bool:
        """Marked as a bot (user mode +B, IRCv3 bot-mode)."""
        return "B" in self.modes


@dataclass(frozen=True, slots=True)
class Ban:
    mask: str
    setter: str
    time: float


@dataclass(eq=False, slots=True)
class Channel:
    """A channel and its members; ``members`` maps a user to its prefix modes ("o", "v", "ov")."""

    name: str
    created: float
    permanent: bool = False
    folded: str = ""
    topic: str = ""
    topic_setter: str = ""
    topic_time: float = 0.0
    modes: set[str] = field(default_factory=lambda: {"n", "t"})
    key: str | None = None
    limit: int | None = None
    bans: list[Ban] = field(default_factory=list)
    invited: set[str] = field(default_factory=set)
    members: dict[User, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folded = casefold(self.name)

    def prefix(self, user: User, multi: bool = False) -> str:
        """The NAMES/WHO prefix of a member: its highest mode, or all with multi-prefix."""
        modes = self.members.get(user, "")
        if not modes:
            return ""
        signs = [sign for letter, sign in PREFIXES if letter in modes]
        return "".join(signs) if multi else signs[0]

    def mode_string(self, show_key: bool = True) -> tuple[str, ...]:
        """The channel's modes as MODE parameters, e.g. ("+klnt", "key", "10")."""
        letters = set(self.modes)
        args: list[str] = []
        # k sorts before l, so the arguments follow the letters' order.
        if self.key is not None:
            letters.add("k")
            args.append(self.key if show_key else "*")
        if self.limit is not None:
            letters.add("l")
            args.append(str(self.limit))
        return ("+" + "".join(sorted(letters)), *args)


@dataclass(frozen=True, slots=True)
class WhowasEntry:
    nick: str
    username: str
    host: str
    realname: str
    time: float


class State:
    """The whole network as this server knows it."""

    def __init__(self, whowas_size: int = 200) -> None:
        self.users: dict[str, User] = {}
        self.by_uid: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.whowas: deque[WhowasEntry] = deque(maxlen=whowas_size)
        # Users who are people (not services), now and at most, for LUSERS,
        # and how many come from each address (a cluster's per-IP limit).
        self.people = 0
        self.max_users = 0
        self.ips: Counter[str] = Counter()
        # Server-wide bans (KLINE), by folded user@host mask.
        self.server_bans: dict[str, ServerBanAdded] = {}
        # Users logged in, by folded account name: one account may have
        # several sessions (read markers go to all of them).
        self.logged_in: dict[str, dict[User, None]] = {}
        self._appliers: dict[type[Any], Callable[[Any, Stamp], None]] = {
            UserRegistered: self._registered,
            NickChanged: self._nick,
            UserQuit: self._quit,
            Joined: self._joined,
            Parted: self._parted,
            Kicked: self._kicked,
            TopicChanged: self._topic,
            ChannelModeChanged: self._channel_mode,
            UserModeChanged: self._user_mode,
            Messaged: self._nothing,
            MessageRun: self._nothing,
            MultilineMessaged: self._nothing,
            AwayChanged: self._away,
            RealnameChanged: self._realname,
            Invited: self._invited,
            AccountChanged: self._account,
            ServerBanAdded: self._ban_added,
            ServerBanRemoved: self._ban_removed,
            ReadMarkerSet: self._nothing,
            Redacted: self._nothing,
            MetadataSet: self._metadata,
        }
        has = self._has_user
        self._settlers: dict[type[Any], Callable[[Any], Event | None]] = {
            UserRegistered: self._settle_registered,
            NickChanged: self._settle_nick,
            UserQuit: has,
            Joined: self._settle_joined,
            Parted: self._settle_parted,
            Kicked: self._settle_kicked,
            TopicChanged: self._settle_topic,
            ChannelModeChanged: self._settle_channel_mode,
            UserModeChanged: has,
            AwayChanged: has,
            RealnameChanged: has,
            Invited: self._settle_invited,
            AccountChanged: has,
            ServerBanAdded: _admitted,
            ServerBanRemoved: _admitted,
            NodeLost: _admitted,
            MultilineMessaged: self._settle_multiline,
            ReadMarkerSet: has,
            Redacted: self._settle_redacted,
            MetadataSet: self._settle_metadata,
        }

    # -- reading ----------------------------------------------------------

    def user(self, nick: str) -> User | None:
        return self.users.get(casefold(nick))

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(casefold(name))

    def add_service(self, uid: str, nick: str, host: str, realname: str) -> None:
        """A pseudo-user of the server itself (NickServ), on every node alike:
        not made by an event, not counted or listed as a person."""
        user = User(uid, nick, "services", host, "127.0.0.1", realname, 0.0, service=True)
        self.users[user.folded] = user
        self.by_uid[uid] = user

    def add_permanent_channel(self, name: str, topic: str, now: float, setter: str) -> None:
        """Create a channel that stays when empty (the default meeting place).

        It has no operator, so its topic is open to everyone (no +t).
        """
        channel = Channel(name, now, permanent=True, topic=topic, topic_time=now, modes={"n"})
        channel.topic_setter = setter
        self.channels[channel.folded] = channel

    # -- writing ----------------------------------------------------------

    def settle(self, event: Event) -> Event | None:
        """``event`` as the state now admits it, or None if it no longer does
        (see the module's docstring). Pass what it returns to :meth:`apply`.
        Messages change no state; delivery settles them
        (:func:`~tcpchat.server.delivery.deliver_message`)."""
        return self._settlers[type(event)](event)

    def apply(self, event: Event, stamp: Stamp) -> None:
        """Change the state by one settled event: the only way it changes."""
        self._appliers[type(event)](event, stamp)

    # -- settling -----------------------------------------------------------

    def _has_user(self, e: Event) -> Event | None:
        return e if e.uid in self.by_uid else None  # type: ignore[union-attr]

    def _settle_registered(self, e: UserRegistered) -> Event | None:
        if e.uid in self.by_uid or casefold(e.nick) in self.users:
            return None  # the nick was taken first
        return e

    def _settle_nick(self, e: NickChanged) -> Event | None:
        user = self.by_uid.get(e.uid)
        if user is None:
            return None
        holder = self.users.get(casefold(e.nick))
        return e if holder is None or holder is user else None

    def _member(self, uid: str, channel: str) -> tuple[User, Channel] | None:
        user = self.by_uid.get(uid)
        if user is None:
            return None
        joined = user.channels.get(casefold(channel))
        return None if joined is None else (user, joined)

    def _settle_joined(self, e: Joined) -> Event | None:
        user = self.by_uid.get(e.uid)
        if user is None:
            return None
        channel = self.channels.get(casefold(e.channel))
        if channel is None:
            return e
        if user in channel.members:
            return None
        # Someone else made the channel first: a plain join, shown by its name.
        return e if not e.modes and e.channel == channel.name else Joined(e.uid, channel.name)

    def _settle_parted(self, e: Parted) -> Event | None:
        return e if self._member(e.uid, e.channel) is not None else None

    def _settle_kicked(self, e: Kicked) -> Event | None:
        return e if e.source in self.by_uid and self._member(e.uid, e.channel) else None

    def _settle_topic(self, e: TopicChanged) -> Event | None:
        ok = e.source in self.by_uid and casefold(e.channel) in self.channels
        return e if ok else None

    def _settle_channel_mode(self, e: ChannelModeChanged) -> Event | None:
        if e.source and e.source not in self.by_uid:
            return None
        channel = self.channels.get(casefold(e.channel))
        if channel is None:
            return None
        # A member's o or v only while it is still a member; a limit only as a number.
        changes = tuple(
            c
            for c in e.changes
            if (c.letter not in "ov" and (c.letter != "l" or not c.adding))
            or (c.letter == "l" and (c.arg or "").isdigit())
            or ((member := self.by_uid.get(c.arg or "")) is not None and member in channel.members)
        )
        if not changes:
            return None
        return (
            e
            if len(changes) == len(e.changes)
            else ChannelModeChanged(e.source, e.channel, changes)
        )

    def _settle_invited(self, e: Invited) -> Event | None:
        return e if e.source in self.by_uid and e.uid in self.by_uid else None

    def _target_exists(self, target: str) -> bool:
        """A channel (by name) or a user (by uid) that is still there."""
        return casefold(target) in self.channels if target[:1] == "#" else target in self.by_uid

    def _settle_multiline(self, e: MultilineMessaged) -> Event | None:
        return e if e.source in self.by_uid and self._target_exists(e.target) else None

    def _settle_redacted(self, e: Redacted) -> Event | None:
        # The conversation is found by its history key: the other person may be gone.
        return e if e.source in self.by_uid else None

    def _settle_metadata(self, e: MetadataSet) -> Event | None:
        source_ok = not e.source or e.source in self.by_uid
        return e if source_ok and self._target_exists(e.target) else None

    # -- applying -----------------------------------------------------------

    def _registered(self, e: UserRegistered, stamp: Stamp) -> None:
        user = User(e.uid, e.nick, e.username, e.host, e.ip, e.realname, stamp.time)
        user.node = e.node
        self.users[user.folded] = user
        self.by_uid[e.uid] = user
        self.log_in(user, e.account)
        self.people += 1
        if not is_console_uid(e.uid):  # the console's operator takes no connection
            self.ips[e.ip] += 1
        self.max_users = max(self.max_users, self.people)

    def _remember(self, user: User, time: float) -> None:
        self.whowas.appendleft(
            WhowasEntry(user.nick, user.username, user.host, user.realname, time)
        )

    def _nick(self, e: NickChanged, stamp: Stamp) -> None:
        user = self.by_uid[e.uid]
        self._remember(user, stamp.time)
        del self.users[user.folded]
        user._rename(e.nick)
        self.users[user.folded] = user

    def _quit(self, e: UserQuit, stamp: Stamp) -> None:
        user = self.by_uid.pop(e.uid)
        if not user.service:
            self.people -= 1
            if not is_console_uid(user.uid):
                self.ips[user.ip] -= 1
                if not self.ips[user.ip]:
                    del self.ips[user.ip]
        self._remember(user, stamp.time)
        del self.users[user.folded]
        self.log_in(user, None)
        for channel in user.channels.values():
            self._leave(channel, user)
        user.channels.clear()

    def node_quits(
        self, e: NodeLost, stamp: Stamp, server_name: str
    ) -> list[tuple[UserQuit, Stamp]]:
        """What a lost node's users do: each quits, with the reason RFC 1459
        gives a netsplit (the two servers that lost each other) and a msgid of
        its own made from the event's (no stamp's msgid has a '.' in it)."""
        reason = f"{server_name} {e.node}"
        users = [u for u in self.by_uid.values() if u.node == e.node and not u.service]
        return [
            (UserQuit(user.uid, reason), Stamp(f"{stamp.msgid}.{i}", stamp.time_ms))
            for i, user in enumerate(users)
        ]

    def _leave(self, channel: Channel, user: User) -> None:
        del channel.members[user]
        if not channel.members and not channel.permanent:
            del self.channels[channel.folded]

    def _joined(self, e: Joined, stamp: Stamp) -> None:
        user = self.by_uid[e.uid]
        folded = casefold(e.channel)
        channel = self.channels.get(folded)
        if channel is None:
            channel = self.channels[folded] = Channel(e.channel, stamp.time)
        channel.members[user] = e.modes
        channel.invited.discard(e.uid)
        user.channels[folded] = channel

    def _parted(self, e: Parted, stamp: Stamp) -> None:
        user = self.by_uid[e.uid]
        channel = user.channels.pop(casefold(e.channel))
        self._leave(channel, user)

    def _kicked(self, e: Kicked, stamp: Stamp) -> None:
        self._parted(Parted(e.uid, e.channel), stamp)

    def _topic(self, e: TopicChanged, stamp: Stamp) -> None:
        channel = self.channels[casefold(e.channel)]
        channel.topic = e.topic
        setter = self.by_uid.get(e.source)
        channel.topic_setter = setter.mask if setter else e.source
        channel.topic_time = stamp.time

    def _channel_mode(self, e: ChannelModeChanged, stamp: Stamp) -> None:
        channel = self.channels[casefold(e.channel)]
        for change in e.changes:
            letter, arg = change.letter, change.arg
            if letter in "ov":
                member = self.by_uid[arg or ""]
                modes = channel.members[member].replace(letter, "")
                if change.adding:
                    modes = "".join(m for m in "ov" if m in modes or m == letter)
                channel.members[member] = modes
            elif letter == "k":
                channel.key = arg if change.adding else None
            elif letter == "l":
                channel.limit = int(arg or 0) if change.adding else None
            elif letter == "b":
                folded = casefold(arg or "")
                channel.bans = [b for b in channel.bans if casefold(b.mask) != folded]
                if change.adding:
                    setter = self.by_uid.get(e.source)
                    channel.bans.append(
                        Ban(arg or "", setter.mask if setter else e.source, stamp.time)
                    )
            elif change.adding:
                channel.modes.add(letter)
            else:
                channel.modes.discard(letter)

    def _user_mode(self, e: UserModeChanged, stamp: Stamp) -> None:
        user = self.by_uid[e.uid]
        for change in e.changes:
            if change.adding:
                user.modes = user.modes | {change.letter}
            else:
                user.modes = user.modes - {change.letter}

    def _nothing(self, e: Event, stamp: Stamp) -> None:
        """Messages, redactions and read markers change no network state:
        history and the read markers, observers of their own, keep them."""

    def _away(self, e: AwayChanged, stamp: Stamp) -> None:
        self.by_uid[e.uid].away = e.message

    def _realname(self, e: RealnameChanged, stamp: Stamp) -> None:
        self.by_uid[e.uid].realname = e.realname

    def _account(self, e: AccountChanged, stamp: Stamp) -> None:
        self.log_in(self.by_uid[e.uid], e.account)

    def log_in(self, user: User, account: str | None) -> None:
        """Set ``user``'s account (None: logged out), keeping ``logged_in`` in step."""
        if user.account is not None:
            folded = casefold(user.account)
            sessions = self.logged_in.get(folded, {})
            sessions.pop(user, None)
            if not sessions:
                self.logged_in.pop(folded, None)
        user.account = account
        if account is not None:
            self.logged_in.setdefault(casefold(account), {})[user] = None

    def _metadata(self, e: MetadataSet, stamp: Stamp) -> None:
        owner = self.channels[casefold(e.target)] if e.target[:1] == "#" else self.by_uid[e.target]
        if e.value is None:
            owner.metadata.pop(e.key, None)
        else:
            owner.metadata[e.key] = e.value

    def _ban_added(self, e: ServerBanAdded, stamp: Stamp) -> None:
        self.server_bans[casefold(e.mask)] = e

    def _ban_removed(self, e: ServerBanRemoved, stamp: Stamp) -> None:
        self.server_bans.pop(casefold(e.mask), None)

    def server_ban(self, username: str, host: str, now_ms: int) -> ServerBanAdded | None:
        """The server ban that ``username@host`` falls under, if any is in force."""
        target = casefold(f"{username}@{host}")
        for folded, ban in self.server_bans.items():
            if (not ban.expires_ms or ban.expires_ms > now_ms) and mask_matches(folded, target):
                return ban
        return None

    def _invited(self, e: Invited, stamp: Stamp) -> None:
        channel = self.channels.get(casefold(e.channel))
        if channel is not None:
            channel.invited.add(e.uid)


def _admitted(e: Event) -> Event:
    """Events that any state admits."""
    return e
