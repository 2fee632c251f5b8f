"""How tcpchat's SQLite files are opened: the settings that make a commit durable."""

from __future__ import annotations

from pathlib import Path

from tcpchat.store.sqlitedb import connect


def test_a_commit_is_durable_on_every_platform(tmp_path: Path) -> None:
    db = connect(tmp_path / "any.sqlite3")
    try:
        pragmas = {
            name: db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "fullfsync", "checkpoint_fullfsync")
        }
    finally:
        db.close()
    # synchronous 2 is FULL; on macOS only F_FULLFSYNC reaches the disk itself.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "fullfsync": 1,
        "checkpoint_fullfsync": 1,
    }
