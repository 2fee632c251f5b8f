"""User accounts: the interface every account back end implements.

An account is a name (which is also the nick it protects), a password hash
made by :mod:`tcpchat.server.passwords`, and the fingerprints of client
certificates that may log in to it (SASL EXTERNAL), where its owner has
read to in each conversation (read markers), and its metadata (a display
name, an avatar). Names are compared
casefolded, like nicks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Account", "AccountExists", "AccountStore"]


class AccountExists(ValueError):
    """An account with that name (casefolded) already exists."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    password_hash: str
    email: str
    created_ms: int


class AccountStore(Protocol):
    """Where accounts live. Calls are quick and made on the server's thread."""

    def get(self, name: str) -> Account | None:
        """The account called ``name`` (any case), if it exists."""

    def create(self, account: Account) -> None:
        """Store a new account; raises :class:`AccountExists` if the name is taken."""

    def add_certfp(self, name: str, fingerprint: str) -> None:
        """Let the client certificate with ``fingerprint`` log in to account ``name``."""

    def remove_certfp(self, name: str, fingerprint: str) -> bool:
        """Forget a fingerprint of ``name``; False if it was not there."""

    def certfps(self, name: str) -> list[str]:
        """The fingerprints that may log in to ``name``."""

    def by_certfp(self, fingerprint: str) -> Account | None:
        """The account a client certificate fingerprint logs in to, if any."""

    def read_markers(self, name: str) -> dict[str, int]:
        """Account ``name``'s read markers (IRCv3 draft/read-marker): the time in
        milliseconds read up to, by casefolded conversation (a channel or a
        nick), the one read longest ago first."""

    def set_read_markers(
        self, markers: Sequence[tuple[str, str, int]], forget: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Store ``(account, target, time_ms)`` read markers, and drop the
        ``(account, target)`` ones in ``forget``, in one durable transaction."""

    def metadata(self, name: str) -> dict[str, str]:
        """The metadata kept with account ``name`` (IRCv3 draft/metadata-2), by key."""

    def set_metadata(self, name: str, key: str, value: str | None) -> None:
        """Keep ``key`` = ``value`` with account ``name``; None forgets the key."""

    def close(self) -> None:
        """Release the database."""
