"""MARKREAD (IRCv3 draft/read-marker): markers kept, only moving forward,
shared by an account's sessions and kept across restarts."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer, register_account
from ircclient import IrcClient

from tcpchat.server import readmarkers
from tcpchat.server.config import AccountSettings
from tcpchat.store.sqlite_accounts import SqliteAccounts

CAP = "draft/read-marker"
T1 = "2024-01-02T03:04:05.678Z"
T2 = "2024-06-01T00:00:00.000Z"


def _login(server: RunningServer, nick: str, account: str, password: str) -> IrcClient:
    c = server.client()
    c.nick = nick
    c.send("CAP LS 302", f"CAP REQ :sasl {CAP}", f"NICK {nick}", "USER u 0 * :Real")
    c.expect("CAP", "*", "ACK")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE", "+")
    token = base64.b64encode(f"\0{account}\0{password}".encode()).decode()
    c.send(f"AUTHENTICATE {token}", "CAP END")
    c.expect("903")
    return c


def test_set_get_and_only_forward(server: RunningServer) -> None:
    with server.client("alice", (CAP,)) as a:
        a.send("MARKREAD #nowhere")
        assert a.expect("MARKREAD").params == ("#nowhere", "*")
        a.send("JOIN #c")
        joined = a.collect_until("366")
        marks = [m for m in joined if m.command == "MARKREAD"]
        assert [m.params for m in marks] == [("#c", "*")]
        a.send(f"MARKREAD #c timestamp={T2}")
        assert a.expect("MARKREAD").params == ("#c", f"timestamp={T2}")
        a.send(f"MARKREAD #C timestamp={T1}")  # older: the stored one comes back
        assert a.expect("MARKREAD").params == ("#C", f"timestamp={T2}")
        a.send("PART #c", "JOIN #c")
        rejoined = a.collect_until("366")
        assert [m.params for m in rejoined if m.command == "MARKREAD"] == [
            ("#c", f"timestamp={T2}")
        ]
        a.send("MARKREAD bob timestamp=2999-01-01T00:00:00.000Z")  # never past now
        future = a.expect("MARKREAD").params[1]
        assert future.startswith("timestamp=2") and not future.startswith("timestamp=2999")


def test_bad_requests_get_fail(server: RunningServer) -> None:
    with server.client("alice", (CAP,)) as a:
        a.send("MARKREAD")
        assert a.expect("FAIL").params[:2] == ("MARKREAD", "NEED_MORE_PARAMS")
        for bad in ("timestamp=yesterday", "*", "msgid=abc"):
            a.send(f"MARKREAD #c {bad}")
            assert a.expect("FAIL").params[:3] == ("MARKREAD", "INVALID_PARAMS", bad)
        a.send("MARKREAD bad,target")
        assert a.expect("FAIL").params[:2] == ("MARKREAD", "INVALID_PARAMS")


def test_markers_are_private_and_end_with_a_guest_connection(server: RunningServer) -> None:
    with server.client("alice", (CAP,)) as a, server.client("bob", (CAP,)) as b:
        a.send(f"MARKREAD bob timestamp={T1}")
        a.expect("MARKREAD")
        b.expect_none("MARKREAD", after=[a])
        b.send("MARKREAD alice")
        assert b.expect("MARKREAD").params == ("alice", "*")
    with server.client("alice", (CAP,)) as again:
        again.send("MARKREAD bob")
        assert again.expect("MARKREAD").params == ("bob", "*")


def test_account_sessions_share_markers_across_restarts(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    settings = AccountSettings(path=str(tmp_path / "accounts.sqlite3"))
    server = make_server(accounts=settings)
    register_account(server, "alice", "sesame-open")
    with _login(server, "alice", "alice", "sesame-open") as one:
        one.expect("376")
        with _login(server, "alice2", "alice", "sesame-open") as two:
            two.expect("376")
            one.send(f"MARKREAD #c timestamp={T1}")
            assert one.expect("MARKREAD").params == ("#c", f"timestamp={T1}")
            assert two.expect("MARKREAD").params == ("#c", f"timestamp={T1}")
    server.thread.stop()
    again = make_server(accounts=settings)
    with _login(again, "alice", "alice", "sesame-open") as back:
        burst = back.collect_until("376")
        burst += back.fence()
        assert [m.params for m in burst if m.command == "MARKREAD"] == [("#c", f"timestamp={T1}")]


def test_an_accounts_file_of_version_1_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE accounts (folded TEXT PRIMARY KEY, name TEXT NOT NULL,
               password_hash TEXT NOT NULL, email TEXT NOT NULL, created_ms INTEGER NOT NULL);
           CREATE TABLE certfps (fingerprint TEXT PRIMARY KEY, folded TEXT NOT NULL);
           INSERT INTO accounts VALUES ('alice', 'Alice', 'scrypt$x', '', 1);
           PRAGMA user_version = 1;"""
    )
    db.close()
    store = SqliteAccounts(path)
    try:
        account = store.get("alice")
        assert account is not None and account.name == "Alice"
        store.set_read_markers([("Alice", "#c", 5), ("alice", "bob", 7)])
        store.set_read_markers([], forget=[("ALICE", "bob")])
        assert store.read_markers("alice") == {"#c": 5}
    finally:
        store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 2
    check.close()


def test_a_guest_keeps_markers_for_the_latest_conversations_only(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readmarkers, "MAX_READ_MARKERS", 3)
    with server.client("alice", (CAP,)) as a:
        for i, name in enumerate(("#a", "#b", "#c", "#d")):
            a.send(f"MARKREAD {name} timestamp=2024-01-0{i + 1}T00:00:00.000Z")
            a.expect("MARKREAD")
        a.send("MARKREAD #a", "MARKREAD #d")
        assert a.expect("MARKREAD").params == ("#a", "*")  # read longest ago: forgotten
        assert a.expect("MARKREAD").params == ("#d", "timestamp=2024-01-04T00:00:00.000Z")
