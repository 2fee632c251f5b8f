"""A full disk and damaged files: the server says so, keeps serving, and loses nothing kept.

The full disk is real: the server runs in a child process whose files cannot
grow past a size (``smalldisk.py``, RLIMIT_FSIZE), and a signal gives the
space back. The damage is real too: bytes of the SQLite file overwritten,
before the server starts or while it runs.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import queue
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningServer
from ircclient import IrcClient
from processes import one_line_failure
from serverprocess import ServerProcess

from tcpchat.server.config import AccountSettings, HistorySettings
from tcpchat.server.console_feed import LogEntry
from tcpchat.server.operator_console import ConsoleLink
from tcpchat.server.passwords import hash_password
from tcpchat.store import HistoryItem
from tcpchat.store.accounts import Account
from tcpchat.store.sqlite import SqliteHistory
from tcpchat.store.sqlite_accounts import SqliteAccounts

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGUSR1"), reason="the small disk needs POSIX resource limits"
)

PAGE = 4096  # SQLite's page size for a new file
WAL_INDEX = 32768  # the size of a new -shm file
TCPCHAT_SERVER = [sys.executable, "-m", "tcpchat", "server", "--port", "0", "--no-web"]
SENDER_CAPS = ("echo-message", "labeled-response", "batch", "draft/multiline")
SENT_NOWHERE = ("PRIVMSG", "TEMPORARILY_UNAVAILABLE", "#c")


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def _config(tmp_path: Path) -> str:
    path = tmp_path / "tcpchat.toml"
    path.write_text("[limits]\nflood_rate = 0\n")
    return str(path)


def _said(client: IrcClient, text: str) -> str:
    """Send a message to #c and read what became of it: 'sent' when its echo
    comes back (echo-message), or the FAIL's description."""
    client.send(f"PRIVMSG #c :{text}")
    reply = client.expect_where(
        lambda m: m.command == "FAIL" or (m.command == "PRIVMSG" and m.params[-1] == text),
        f"the echo of {text!r} or a FAIL",
    )
    if reply.command == "FAIL":
        assert reply.params[:3] == SENT_NOWHERE, reply
        return reply.params[-1]
    return "sent"


def _stored_texts(history: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(history)) as db:
        rows = db.execute("SELECT params FROM messages WHERE command = 'PRIVMSG'").fetchall()
    return {re.sub(r'^\["#c", "(.*)"\]$', r"\1", row[0]) for row in rows}


def test_a_full_disk_withdraws_messages_and_tells_senders_then_recovers(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """A message is in history before anyone sees it: while the disk is full
    no one sees a new one, its sender gets FAIL, everything else works, and
    when space returns messages flow again; nothing kept is lost."""
    history = tmp_path / "history.sqlite3"
    args = ["--port", "0", "--config", _config(tmp_path), "--history", str(history)]
    server = ServerProcess([*args, "--no-accounts"], file_limit=200_000)
    processes.append(server)
    port = server.port
    with IrcClient("127.0.0.1", port) as sender, IrcClient("127.0.0.1", port) as receiver:
        sender.register("sender", SENDER_CAPS)
        receiver.register("receiver")
        sender.join("#c")
        receiver.join("#c")
        outcomes = {}
        for i in range(500):  # about 20 KB a commit: the disk is full long before
            outcomes[f"message {i}"] = outcome = _said(sender, f"message {i}")
            if outcome != "sent":
                break
        sent = [text for text, outcome in outcomes.items() if outcome == "sent"]
        refused = [text for text, outcome in outcomes.items() if outcome != "sent"]
        assert sent and refused, outcomes
        assert "Not sent: the server cannot write its history now" in outcomes[refused[0]]
        for i in range(3):  # still full: each is refused, and said only once in the log
            refused.append(f"still full {i}")
            assert _said(sender, refused[-1]) != "sent"
        # A labeled message: its one answer is the FAIL, in its echo's place.
        refused.append("labeled")
        sender.send("@label=L1 PRIVMSG #c :labeled")
        fail = sender.expect("FAIL")
        assert fail.tags.get("label") == "L1" and fail.params[:3] == SENT_NOWHERE
        # A message of several lines (draft/multiline) is withdrawn whole.
        refused += ["first line", "second line"]
        sender.send(
            "BATCH +ml draft/multiline #c",
            "@batch=ml PRIVMSG #c :first line",
            "@batch=ml PRIVMSG #c :second line",
            "BATCH -ml",
        )
        assert sender.expect("FAIL").params[:3] == SENT_NOWHERE
        # Everything else goes on: a join (missing from history), a query, a PING.
        sender.send("JOIN #other", "WHO #c")
        sender.expect("366", "sender", "#other")
        sender.expect("315")
        sender.fence()
        seen = [m.params[1] for m in receiver.fence() if m.command == "PRIVMSG"]
        assert seen == sent
        warnings = server.lines_with("cannot write the history file")
        assert len(warnings) == 1, warnings
        # The log showed each refused message as it came; it says they went nowhere.
        assert server.lines_with("reached no one: history could not keep them")
        assert str(history) in warnings[0] and "Nothing already in it is lost" in warnings[0]

        server.proc.send_signal(signal.SIGUSR1)  # space returns
        deadline = time.monotonic() + 10
        while (outcome := _said(sender, "after")) != "sent":
            refused.append("after")
            assert time.monotonic() < deadline, outcome
        sent.append("after")
        assert receiver.expect("PRIVMSG").params[1] == "after"
        server.wait_for("the history file .* works again")
    assert server.stop() == 0
    assert not server.lines_with("Traceback")
    stored = _stored_texts(history)
    assert set(sent) <= stored
    assert not (set(refused) - {"after"}) & stored


def test_registering_on_a_full_disk_is_refused_then_works(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    accounts = tmp_path / "accounts.sqlite3"
    SqliteAccounts(accounts).close()  # the file, before the disk is small
    # Room for the file, its WAL index (32 KiB from the start) and a few pages.
    limit = max(accounts.stat().st_size, WAL_INDEX) + 2 * PAGE
    args = ["--port", "0", "--config", _config(tmp_path), "--data-dir", str(tmp_path)]
    server = ServerProcess([*args, "--no-history"], file_limit=limit)
    processes.append(server)
    with IrcClient("127.0.0.1", server.port) as client:
        client.register("newcomer")
        registered = []
        for i in range(20):
            client.send(f"REGISTER user{i} * :long password")
            reply = client.expect_where(lambda m: m.command in ("REGISTER", "FAIL"), "REGISTER")
            if reply.command == "FAIL":
                assert reply.params[:3] == ("REGISTER", "TEMPORARILY_UNAVAILABLE", f"user{i}")
                assert "cannot write its accounts now" in reply.params[-1]
                break
            registered.append(f"user{i}")
            client.send("PRIVMSG NickServ :LOGOUT")
            client.expect("901")
        else:
            raise AssertionError("the small disk never filled")
        client.send("PING :alive")  # served on
        client.expect("PONG")
        server.wait_for("cannot write the accounts file")  # the log is read as it comes
        assert len(server.lines_with("cannot write the accounts file")) == 1
        server.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while True:
            client.send("REGISTER late * :long password")
            reply = client.expect_where(lambda m: m.command in ("REGISTER", "FAIL"), "REGISTER")
            if reply.command == "REGISTER":
                break
            assert time.monotonic() < deadline, reply
        registered.append("late")
    assert server.stop() == 0
    assert not server.lines_with("Traceback")
    store = SqliteAccounts(accounts)
    try:
        assert all(store.get(name) is not None for name in registered)
    finally:
        store.close()


def _filled_history(path: Path, count: int = 2000) -> None:
    store = SqliteHistory(path)
    store.append(
        [
            HistoryItem(
                f"old-{i}", 1_700_000_000_000 + i, "#c", "PRIVMSG", "a!~u@h", ("#c", f"{i}")
            )
            for i in range(count)
        ]
    )
    done = threading.Event()
    store.commit(lambda error: done.set())
    assert done.wait(10)
    store.close()  # the last connection folds the WAL into the file


def _damage(path: Path) -> None:
    """Overwrite every page of an SQLite file but the first (the header and
    the schema), as a disk or a careless copy might."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(PAGE)
        file.write(b"\xde\xad\xbe\xef" * ((size - PAGE) // 4))


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"this was never a database\n" * 200)


def _damaged_accounts(path: Path) -> None:
    SqliteAccounts(path).close()
    _damage(path)


@pytest.mark.parametrize(
    ("what", "make", "flag"),
    [
        ("history", lambda p: (_filled_history(p), _damage(p)), "--no-history"),
        ("history", _not_a_database, "--no-history"),
        ("accounts", _damaged_accounts, "--no-accounts"),
    ],
)
def test_a_damaged_file_at_start_is_one_line_and_exit_2(
    tmp_path: Path, what: str, make: Callable[[Path], Any], flag: str
) -> None:
    path = tmp_path / f"{what}.sqlite3"
    make(path)
    line = one_line_failure([*TCPCHAT_SERVER, "--data-dir", str(tmp_path)])
    assert line.startswith(f"tcpchat: the {what} file {path} is damaged")
    assert "move the file aside" in line and flag in line


def _console_log(link: ConsoleLink) -> list[LogEntry]:
    """The log entries the console has been sent so far."""
    entries = []
    with contextlib.suppress(queue.Empty):
        while True:
            item = link.items.get_nowait()
            if isinstance(item, LogEntry):
                entries.append(item)
    return entries


def _said_once(caplog: pytest.LogCaptureFixture, console_errors: list[str]) -> list[str]:
    """The stores' warnings, after checking that nothing was logged as an
    error or with a traceback and that the console showed the same lines."""
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "tcpchat.store"]
    assert console_errors == warnings
    return warnings


def test_a_history_file_damaged_while_running(
    tmp_path: Path,
    console: Callable[..., tuple[RunningServer, ConsoleLink]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """History cannot be read: CHATHISTORY says so; nor written: messages are
    refused; the server goes on, and the log and the console say it once."""
    caplog.set_level(logging.INFO)
    history = tmp_path / "history.sqlite3"
    _filled_history(history)
    server, link = console(history=HistorySettings(path=str(history)))
    _damage(history)
    caps = ("draft/chathistory", "batch", "echo-message")
    with server.client("alice", caps) as alice, server.client("bob") as bob:
        alice.join("#c")
        bob.join("#c")
        alice.send("CHATHISTORY LATEST #c * 10")
        fail = alice.expect("FAIL")
        assert fail.params[:4] == ("CHATHISTORY", "MESSAGE_ERROR", "LATEST", "#c")
        for i in range(3):
            alice.send(f"PRIVMSG #c :not kept, so not seen {i}")
            fail = alice.expect("FAIL")
            assert fail.params[:3] == ("PRIVMSG", "TEMPORARILY_UNAVAILABLE", "#c")
            assert "the file is damaged" in fail.params[-1]
        bob.expect_none("PRIVMSG", after=[alice])
        alice.send("PING :alive")
        alice.expect("PONG")
        said = [e.text for e in _console_log(link) if e.kind == "error"]
    # Once for reads and once for writes (the joins' commit found it first),
    # however many messages were refused; the console showed the same.
    warnings = _said_once(caplog, said)
    assert [w.split(" the history file")[0] for w in warnings] == ["cannot write", "cannot read"]
    assert all("stop the server, then move the file aside" in w for w in warnings)


def test_an_accounts_file_damaged_while_running(
    tmp_path: Path,
    console: Callable[..., tuple[RunningServer, ConsoleLink]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logins cannot be checked: each way in says so in its own words;
    people still connect, and the log and the console say it once."""
    caplog.set_level(logging.INFO)
    accounts = tmp_path / "accounts.sqlite3"
    store = SqliteAccounts(accounts)
    store.create(Account("alice", hash_password("long password"), "", 0))
    store.close()
    server, link = console(accounts=AccountSettings(path=str(accounts)))
    _damage(accounts)
    with server.client("bob") as bob:  # registering reads the file (is "bob" someone's?)
        bob.send("PRIVMSG NickServ :IDENTIFY alice long password")
        notice = bob.expect("NOTICE")
        assert "cannot read its accounts now (the file is damaged)" in notice.params[-1]
        bob.send("REGISTER bobby * :long password")
        fail = bob.expect("FAIL")
        assert fail.params[:2] == ("REGISTER", "TEMPORARILY_UNAVAILABLE")
    with IrcClient(server.host, server.port) as carol:
        carol.send("CAP REQ :sasl", "NICK carol", "USER u 0 * :R", "AUTHENTICATE PLAIN")
        carol.expect("AUTHENTICATE", "+")
        carol.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0long password").decode())
        assert "the file is damaged" in carol.expect("904").params[-1]
        carol.send("CAP END")
        carol.expect("001")
        said = [e.text for e in _console_log(link) if e.kind == "error"]
    warnings = _said_once(caplog, said)
    assert [w.split(" the accounts file")[0] for w in warnings] == ["cannot read"]
    assert "--no-accounts" in warnings[0]
