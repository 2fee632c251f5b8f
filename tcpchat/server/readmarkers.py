"""Read markers (IRCv3 ``draft/read-marker``): how far each user has read.

Theory of operation: a marker belongs to an *owner*, the account when the
user is logged in (so every session of the account shares it, and it is
kept in the accounts file), else the connection alone (kept in memory
while it lasts). :class:`ReadMarkers` is an observer of
:class:`~tcpchat.server.events.ReadMarkerSet`: it keeps the markers of the
owners in use in memory, loads an account's from the store the first time
they are needed, and writes those that changed in one transaction when
:meth:`ReadMarkers.flush` is called (the core does once a second and at
shutdown). A crash can lose the last second of markers, never a message;
one fsync a second is what a flood of MARKREADs can cost the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from tcpchat.irc import casefold
from tcpchat.server.events import AccountChanged, Event, ReadMarkerSet, Stamp, UserQuit
from tcpchat.server.state import State, User
from tcpchat.store.accounts import AccountStore
from tcpchat.store.health import StoreUnavailable

__all__ = ["MAX_READ_MARKERS", "ReadMarkers", "owner_of"]

log = logging.getLogger("tcpchat.server")

MAX_READ_MARKERS: Final = 500
"""Conversations an owner keeps a marker for; past that, the one read
longest ago is forgotten, so an account's markers stay bounded."""


def owner_of(user: User) -> str:
    """Whose markers ``user``'s are: ``a:<account>`` or ``s:<uid>``."""
    return f"a:{casefold(user.account)}" if user.account else f"s:{user.uid}"


class ReadMarkers:
    """The markers of the owners in use, and the observer that keeps them."""

    def __init__(self, state: State, store: AccountStore | None) -> None:
        self.state = state
        self.store = store
        # owner -> folded target -> time_ms; loaded on first use.
        self._markers: dict[str, dict[str, int]] = {}
        # Changed since the last flush: (account, folded target) -> time_ms,
        # or None where a marker was forgotten (MAX_READ_MARKERS).
        self._dirty: dict[tuple[str, str], int | None] = {}
        self._observe: dict[type[Any], Callable[[Any], None]] = {
            ReadMarkerSet: self._set,
            UserQuit: self._quit,
            AccountChanged: self._logged_in,
        }

    def of(self, user: User) -> dict[str, int]:
        """``user``'s markers, by folded target (read only)."""
        owner = owner_of(user)
        markers = self._markers.get(owner)
        if markers is None:
            markers = {}
            if user.account and self.store is not None:
                try:
                    markers = self.store.read_markers(user.account)
                except StoreUnavailable:  # unreadable now (the log says why): asked again later
                    return {}
            self._markers[owner] = markers
        return markers

    def get(self, user: User, target: str) -> int | None:
        return self.of(user).get(casefold(target))

    def __call__(self, event: Event, stamp: Stamp) -> None:
        observe = self._observe.get(type(event))
        if observe is not None:
            observe(event)

    def _set(self, e: ReadMarkerSet) -> None:
        user = self.state.by_uid[e.uid]
        markers = self.of(user)
        folded = casefold(e.target)
        markers.pop(folded, None)  # re-inserted last: the dict is oldest first
        markers[folded] = e.time_ms
        forgotten = []
        while len(markers) > MAX_READ_MARKERS:
            oldest = next(iter(markers))
            del markers[oldest]
            forgotten.append(oldest)
        if user.account:
            account = casefold(user.account)
            self._dirty[(account, folded)] = e.time_ms
            for target in forgotten:
                self._dirty[(account, target)] = None

    def _logged_in(self, e: AccountChanged) -> None:
        """A connection's own markers end when it logs in (or out): from then
        on its markers are the account's."""
        self._markers.pop(f"s:{e.uid}", None)

    def _quit(self, e: UserQuit) -> None:
        """A connection's own markers end with it; an account's leave memory
        with its last session, written first."""
        self._markers.pop(f"s:{e.uid}", None)
        account = self.state.by_uid[e.uid].account
        if account and len(self.state.logged_in.get(casefold(account), ())) <= 1:
            self.flush()
            self._markers.pop(f"a:{casefold(account)}", None)

    def flush(self) -> None:
        """Write the markers that changed since the last flush. A failure
        (a full disk) is logged, and they are tried again at the next flush."""
        if not self._dirty or self.store is None:
            return
        dirty, self._dirty = self._dirty, {}
        try:
            self.store.set_read_markers(
                [(account, target, t) for (account, target), t in dirty.items() if t is not None],
                [(account, target) for (account, target), t in dirty.items() if t is None],
            )
        except Exception as exc:
            if not isinstance(exc, StoreUnavailable):  # that one the store says itself
                log.exception("could not write %d read markers", len(dirty))
            self._dirty = {**dirty, **self._dirty}
