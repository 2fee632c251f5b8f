"""Accounts in an SQLite file, beside the history.

Account changes are rare (a registration, a new certificate), so each is
its own durable transaction on the caller's thread (so is a change of the
metadata kept with an account, which is rate-limited); read markers, which
change as people read, come in groups (the server writes what changed
about once a second). The schema carries a version in ``PRAGMA
user_version``: version 1 (no read markers) is migrated, an unknown one
is refused; a damaged file is found at start. While the server runs, a
call that cannot use the file (the disk is full, the file went bad) raises
:class:`~tcpchat.store.health.StoreUnavailable` and changes nothing, and
the log says so once (:class:`~tcpchat.store.health.FileHealth`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from tcpchat.irc import casefold
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.health import FileHealth
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


DAMAGE_ADVICE: Final = (
    "move the file aside (a new one is made; keep the old one, as the accounts "
    "in it are not in the new one), or start with --no-accounts"
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
            DAMAGE_ADVICE,
            _MIGRATIONS,
        )
        self._writes = FileHealth("accounts", path, "write", DAMAGE_ADVICE)
        self._reads = FileHealth("accounts", path, "read", DAMAGE_ADVICE)

    def _run(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        """``sql``, a change, executed; StoreUnavailable if the file cannot be written."""
        with self._writes.watch():
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        """Every row ``sql`` reads; StoreUnavailable if the file cannot be read."""
        with self._reads.watch():
            return self._db.execute(sql, args).fetchall()

    def get(self, name: str) -> Account | None:
        rows = self._rows(
            "SELECT name, password_hash, email, created_ms FROM accounts WHERE folded = ?",
            (casefold(name),),
        )
        return Account(*rows[0]) if rows else None

    def create(self, account: Account) -> None:
        try:
            self._run(
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
        self._run(
            "INSERT OR REPLACE INTO certfps (fingerprint, folded) VALUES (?, ?)",
            (fingerprint.lower(), casefold(name)),
        )

    def remove_certfp(self, name: str, fingerprint: str) -> bool:
        cursor = self._run(
            "DELETE FROM certfps WHERE fingerprint = ? AND folded = ?",
            (fingerprint.lower(), casefold(name)),
        )
        return cursor.rowcount > 0

    def certfps(self, name: str) -> list[str]:
        rows = self._rows(
            "SELECT fingerprint FROM certfps WHERE folded = ? ORDER BY fingerprint",
            (casefold(name),),
        )
        return [str(r[0]) for r in rows]

    def by_certfp(self, fingerprint: str) -> Account | None:
        rows = self._rows(
            "SELECT folded FROM certfps WHERE fingerprint = ?", (fingerprint.lower(),)
        )
        return self.get(rows[0][0]) if rows else None

    def read_markers(self, name: str) -> dict[str, int]:
        rows = self._rows(
            "SELECT target, time_ms FROM read_markers WHERE folded = ? ORDER BY time_ms",
            (casefold(name),),
        )
        return {str(target): int(time_ms) for target, time_ms in rows}

    def set_read_markers(
        self, markers: Sequence[tuple[str, str, int]], forget: Sequence[tuple[str, str]] = ()
    ) -> None:
        with self._writes.watch(), self._db:
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
        rows = self._rows(
            "SELECT key, value FROM metadata WHERE folded = ? ORDER BY key", (casefold(name),)
        )
        return {str(key): str(value) for key, value in rows}

    def set_metadata(self, name: str, key: str, value: str | None) -> None:
        if value is None:
            self._run("DELETE FROM metadata WHERE folded = ? AND key = ?", (casefold(name), key))
        else:
            self._run(
                "INSERT OR REPLACE INTO metadata (folded, key, value) VALUES (?, ?, ?)",
                (casefold(name), key, value),
            )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
