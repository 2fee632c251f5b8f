"""Opening tcpchat's SQLite files: durable settings and a versioned schema.

History and accounts each live in their own file but open the same way: WAL
(readers beside one writer), ``synchronous = FULL`` (a commit survives a
power cut), and a schema version in ``PRAGMA user_version``. A file of an
older version is brought up to date by its migrations, in one transaction,
when it is opened; a file of a version this tcpchat does not know (a newer
one) is refused rather than misread.

On macOS, ``fsync`` leaves the data in the drive's cache, and only
``F_FULLFSYNC`` writes it through: without ``fullfsync`` (and, for WAL's
checkpoints, ``checkpoint_fullfsync``) a commit there could be lost in a
power cut. Elsewhere SQLite ignores both, so they are always set.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tcpchat.store.health import is_damage

__all__ = ["Migration", "connect", "open_versioned"]

Migration = str | Callable[[sqlite3.Connection], None]
"""A step of a migration: a statement, or a function for what SQL alone
cannot do in order (such as rewriting each row's JSON)."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the durable settings.

    Each connection is used by one thread at a time, but one may be opened on
    one thread (startup) and used on another (the event loop's).
    """
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA fullfsync = ON")
    db.execute("PRAGMA checkpoint_fullfsync = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    return db


def open_versioned(
    path: Path,
    schema: str,
    version: int,
    what: str,
    error: type[Exception],
    advice: str,
    damage_advice: str,
    migrations: Mapping[int, Sequence[Migration]] | None = None,
) -> sqlite3.Connection:
    """Open (creating if needed) the file for ``what``, with ``schema`` at ``version``.

    ``migrations[v]`` are the steps that take a file from version ``v``
    to ``v + 1``; a file of an older version is migrated, all steps in one
    transaction, so a failure leaves it as it was. Any failure raises
    ``error`` with one line naming the file and, for SQLite errors, ``advice``
    (``damage_advice`` when the file is damaged). A file that exists is
    checked whole first (``PRAGMA quick_check``), so that damage is found at
    start, where one line can say what to do, rather than by whoever first
    reads the damaged part.
    """
    steps = migrations or {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(path)
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                db.close()
                raise error(f"the {what} file {path} is damaged ({verdict}); {damage_advice}")
            # The check read every page: let the reads to come find what is
            # on disk, not what the check kept of it.
            db.execute("PRAGMA shrink_memory")
        if found == 0:
            db.executescript(schema)
            db.execute(f"PRAGMA user_version = {version}")
        elif found < version and all(v in steps for v in range(found, version)):
            with db:
                db.execute("BEGIN IMMEDIATE")
                for v in range(found, version):
                    for step in steps[v]:
                        if isinstance(step, str):
                            db.execute(step)
                        else:
                            step(db)
                db.execute(f"PRAGMA user_version = {version}")
        elif found != version:
            db.close()
            raise error(
                f"the {what} file {path} has schema version {found}, but this tcpchat "
                f"knows version {version}; use a matching tcpchat or another file"
            )
    except (OSError, sqlite3.Error) as exc:
        if isinstance(exc, sqlite3.Error) and is_damage(exc):
            raise error(f"the {what} file {path} is damaged ({exc}); {damage_advice}") from None
        raise error(f"cannot open the {what} file {path}: {exc}. {advice}") from None
    return db
