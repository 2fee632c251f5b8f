"""Accounts in an SQLite file, beside the history.

Account changes are rare (a registration, a new certificate), so each is
its own durable transaction on the caller's thread (so is a change of the
metadata kept with an account, which is rate-limited); read markers, which
change as people read, come in groups (the server writes what changed
about once a second). The schema carries a version in ``PRAGMA
user_version``: version 1 (no read markers) is migrated, an unknown one
is refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from tcpchat.irc import casefold
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.sqlitedb import open_versioned

__all__ = ["AccountDatabaseError", "SqliteAccounts"]

SCHEMA_VERSION: Final = 2
_READ_MARKERS: Final = """CREATE TABLE IF NOT EXISTS read_markers (
    folded TEXT NOT NULL,
    target TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (folded, target)
)"""
_METADATA: Final = """CREATE TABLE IF NOT EXISTS metadata (
    folded TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (folded, key)
)"""
_MIGRATIONS: Final = {1: (_READ_MARKERS, _METADATA)}
"""Version 2 added read markers (IRCv3 draft/read-marker) and metadata
(draft/metadata-2: a display name, an avatar, kept with the account)."""
_SCHEMA: Final = (
    _READ_MARKERS
    + ";\n"
    + _METADATA
    + """;
CREATE TABLE IF NOT EXISTS accounts (
    folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS certfps (
    fingerprint TEXT PRIMARY KEY,
    folded TEXT NOT NULL REFERENCES accounts (folded)
);
"""
)


class AccountDatabaseError(RuntimeError):
    """The accounts file cannot be used; the message says why and what to do."""


class SqliteAccounts:
    """An :class:`~tcpchat.store.accounts.AccountStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_versioned(
            path,
            _SCHEMA,
            SCHEMA_VERSION,
            "accounts",
            AccountDatabaseError,
            "Check the path and its permissions.",
            _MIGRATIONS,
        )

    def get(self, name: str) -> Account | None:
        row = self._db.execute(
            "SELECT name, password_hash, email, created_ms FROM accounts WHERE folded = ?",
            (casefold(name),),
        ).fetchone()
        return Account(*row) if row else None

    def create(self, account: Account) -> None:
        try:
            self._db.execute(
                "INSERT INTO accounts (folded, name, password_hash, email, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    casefold(account.name),
                    account.name,
                    account.password_hash,
                    account.email,
                    account.created_ms,
                ),
            )
        except sqlite3.IntegrityError:
            raise AccountExists(account.name) from None

    def add_certfp(self, name: str, fingerprint: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO certfps (fingerprint, folded) VALUES (?, ?)",
            (fingerprint.lower(), casefold(name)),
        )

    def remove_certfp(self, name: str, fingerprint: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM certfps WHERE fingerprint = ? AND folded = ?",
            (fingerprint.lower(), casefold(name)),
        )
        return cursor.rowcount > 0

    def certfps(self, name: str) -> list[str]:
        rows = self._db.execute(
            "SELECT fingerprint FROM certfps WHERE folded = ? ORDER BY fingerprint",
            (casefold(name),),
        )
        return [str(r[0]) for r in rows]

    def by_certfp(self, fingerprint: str) -> Account | None:
        row = self._db.execute(
            "SELECT folded FROM certfps WHERE fingerprint = ?", (fingerprint.lower(),)
        ).fetchone()
        return self.get(row[0]) if row else None

    def read_markers(self, name: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT target, time_ms FROM read_markers WHERE folded = ? ORDER BY time_ms",
            (casefold(name),),
        )
        return {str(target): int(time_ms) for target, time_ms in rows}

    def set_read_markers(
        self, markers: Sequence[tuple[str, str, int]], forget: Sequence[tuple[str, str]] = ()
    ) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO read_markers (folded, target, time_ms) VALUES (?, ?, ?)",
                [(casefold(name), target, time_ms) for name, target, time_ms in markers],
            )
            self._db.executemany(
                "DELETE FROM read_markers WHERE folded = ? AND target = ?",
                [(casefold(name), target) for name, target in forget],
            )

    def metadata(self, name: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT key, value FROM metadata WHERE folded = ? ORDER BY key", (casefold(name),)
        )
        return {str(key): str(value) for key, value in rows}

    def set_metadata(self, name: str, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute(
                "DELETE FROM metadata WHERE folded = ? AND key = ?", (casefold(name), key)
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO metadata (folded, key, value) VALUES (?, ?, ?)",
                (casefold(name), key, value),
            )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
