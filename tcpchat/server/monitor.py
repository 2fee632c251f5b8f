"""MONITOR: tell a client when the nicks it watches come online or leave.

IRCv3 "Monitor": each session keeps a list of folded nicks; an index from
nick to watching sessions makes the notification for a sign-on, a quit or a
nick change cost one dictionary lookup. The lists belong to this server's
connections, not to the network, so they live here rather than in the state.

IRCv3 "extended-monitor": a watcher that asked for it also gets the AWAY,
SETNAME and ACCOUNT lines of the nicks it watches, each where it has the
capability for that line, unless it shares a channel with the user and so
had the line already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from tcpchat.irc import casefold
from tcpchat.irc.numerics import RPL_MONOFFLINE, RPL_MONONLINE
from tcpchat.server.delivery import PresenceEvent, presence_line
from tcpchat.server.events import (
    AccountChanged,
    AwayChanged,
    Event,
    MetadataSet,
    NickChanged,
    RealnameChanged,
    Stamp,
    UserQuit,
    UserRegistered,
)
from tcpchat.server.metadata import notification, speaks_metadata
from tcpchat.server.session import Session
from tcpchat.server.state import State

__all__ = ["MONITOR_LIMIT", "Monitor"]

MONITOR_LIMIT: Final = 100
"""Nicks one client may watch (advertised as MONITOR=)."""


class Monitor:
    """Watch lists of local sessions, and the observer that notifies them."""

    def __init__(self, state: State, server_name: str) -> None:
        self.state = state
        self.server_name = server_name
        self.lists: dict[Session, set[str]] = {}
        self._watchers: dict[str, set[Session]] = {}
        self._notify: dict[type[Any], Callable[[Any, Stamp], None]] = {
            UserRegistered: lambda e, s: self._online(e.nick, f"{e.nick}!{e.username}@{e.host}"),
            UserQuit: lambda e, s: self._offline(self.state.by_uid[e.uid].nick),
            NickChanged: lambda e, s: self._renamed(e),
            AwayChanged: self._presence,
            RealnameChanged: self._presence,
            AccountChanged: self._presence,
            MetadataSet: self._metadata,
        }

    def watch(self, session: Session, nicks: Iterable[str]) -> None:
        for nick in nicks:
            folded = casefold(nick)
            self.lists.setdefault(session, set()).add(folded)
            self._watchers.setdefault(folded, set()).add(session)

    def unwatch(self, session: Session, nicks: Iterable[str]) -> None:
        watched = self.lists.get(session, set())
        for nick in nicks:
            folded = casefold(nick)
            watched.discard(folded)
            watchers = self._watchers.get(folded)
            if watchers is not None:
                watchers.discard(session)
                if not watchers:
                    del self._watchers[folded]

    def forget(self, session: Session) -> None:
        """The session ended (or cleared its list): drop everything it watched."""
        self.unwatch(session, list(self.lists.pop(session, ())))

    def __call__(self, event: Event, stamp: Stamp) -> None:
        notify = self._notify.get(type(event))
        if notify is not None:
            notify(event, stamp)

    def _send(self, nick: str, numeric: str, param: str) -> None:
        for session in self._watchers.get(casefold(nick), ()):
            line = f":{self.server_name} {numeric} {session.display_nick} :{param}\r\n"
            session.write(line.encode())

    def _online(self, nick: str, mask: str) -> None:
        self._send(nick, RPL_MONONLINE, mask)

    def _offline(self, nick: str) -> None:
        self._send(nick, RPL_MONOFFLINE, nick)

    def _presence(self, e: PresenceEvent, stamp: Stamp) -> None:
        user = self.state.by_uid.get(e.uid)
        watchers = self._watchers.get(user.folded, ()) if user is not None else ()
        if user is None or not watchers:
            return
        line, cap = presence_line(user, e, stamp)
        for session in watchers:
            caps = session.caps
            if "extended-monitor" not in caps or cap not in caps or session is user.session:
                continue
            me = session.user
            if me is not None and any(me in c.members for c in user.channels.values()):
                continue  # told already, as a member of a channel they share
            line.send(session)

    def _metadata(self, e: MetadataSet, stamp: Stamp) -> None:
        """Metadata of a watched user, to watchers subscribed to the key that
        share no channel with the user (those are told by delivery)."""
        user = self.state.by_uid.get(e.target)
        watchers = self._watchers.get(user.folded, ()) if user is not None else ()
        if user is None or not watchers:
            return
        for session in watchers:
            if e.key not in session.metadata_subs or not speaks_metadata(session):
                continue
            me = session.user
            if me is user or me is self.state.by_uid.get(e.source):
                continue
            if me is not None and any(me in c.members for c in user.channels.values()):
                continue
            session.write(notification(session, self.server_name, user.nick, e.key, e.value))

    def _renamed(self, e: NickChanged) -> None:
        user = self.state.by_uid[e.uid]
        if casefold(e.nick) == user.folded:
            return  # only the case changed: the same nick, still online
        self._offline(user.nick)
        self._online(e.nick, f"{e.nick}!{user.username}@{user.host}")
