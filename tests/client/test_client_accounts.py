"""Logging in and registering from the client core: SASL PLAIN and REGISTER against the
real server, and the NickServ fallbacks for servers without them (sans-IO)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import RunningServer
from updatelog import UpdateLog

from tcpchat.client.accounts import AccountAction, Credentials, plain_chunks
from tcpchat.client.connection import ClientThread
from tcpchat.client.session import Session
from tcpchat.client.updates import ConnState, LoggedIn, Status
from tcpchat.irc import parse
from tcpchat.server.config import AccountSettings

Connect = Callable[..., tuple[ClientThread, UpdateLog]]
NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def accounts_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    server = make_server(accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3")))
    with server.client("alice") as alice:
        alice.send("REGISTER * * :correct horse")
        alice.expect("900")
    return server


def account(action: AccountAction, name: str, password: str) -> dict[str, object]:
    return {"account": name, "account_password": password, "account_action": action}


def logged_in(log: UpdateLog, name: str) -> None:
    log.wait_for(lambda u: isinstance(u, LoggedIn) and u.account == name, f"logged in as {name}")


def test_sasl_login(accounts_server: RunningServer, connect: Connect) -> None:
    client, log = connect(
        accounts_server.host,
        accounts_server.port,
        "alice",
        **account(AccountAction.LOGIN, "alice", "correct horse"),
    )
    logged_in(log, "alice")  # during registration (SASL), before the welcome
    log.wait_for(lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "welcome")
    assert "sasl" in client.session.caps
    assert client.session.account == "alice"
    with accounts_server.client("bob") as bob:
        bob.send("WHOIS alice")
        assert bob.expect("330").params[1:3] == ("alice", "alice")


def test_wrong_password_is_said_and_the_client_still_connects(
    accounts_server: RunningServer, connect: Connect
) -> None:
    _, log = connect(
        accounts_server.host,
        accounts_server.port,
        "guest",
        **account(AccountAction.LOGIN, "alice", "wrong horse"),
    )
    line = log.wait_line("Could not log in as alice")
    assert "wrong account name or password (904)" in line.text
    log.wait_for(lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "welcome")


def test_register_then_log_in_after_a_reconnect(
    accounts_server: RunningServer, connect: Connect
) -> None:
    client, log = connect(
        accounts_server.host,
        accounts_server.port,
        "newbie",
        **account(AccountAction.REGISTER, "newbie", "a long enough password"),
    )
    assert "newbie is registered" in log.wait_line("registered").text
    logged_in(log, "newbie")
    client.drop_link()
    log.wait_line("Disconnected")
    logged_in(log, "newbie")  # the second time it was a SASL login
    assert "sasl" in client.session.caps


@pytest.mark.parametrize(
    ("name", "password", "says"),
    [
        ("alice", "a long enough password", "The account name alice is taken"),
        ("carol", "short", "too weak"),
    ],
)
def test_register_failures_are_explained(
    accounts_server: RunningServer, connect: Connect, name: str, password: str, says: str
) -> None:
    _, log = connect(
        accounts_server.host,
        accounts_server.port,
        "carol",
        **account(AccountAction.REGISTER, name, password),
    )
    log.wait_line(says)


def welcome(session: Session, caps: str) -> list[str]:
    session.start(NOW)
    session.take_outgoing()
    for line in (f":srv CAP * LS :{caps}", ":srv 001 alice :Hi"):
        session.receive(parse(line), NOW)
    return [m.format() for m in session.take_outgoing()]


def test_without_sasl_login_goes_through_nickserv() -> None:
    session = Session("alice", credentials=Credentials("alice", "pw"))
    assert "PRIVMSG NickServ :IDENTIFY alice pw" in welcome(session, "server-time")


def test_sasl_without_plain_is_not_used() -> None:
    session = Session("alice", credentials=Credentials("alice", "pw"))
    sent = welcome(session, "sasl=EXTERNAL")
    assert "CAP REQ sasl" not in sent and "PRIVMSG NickServ :IDENTIFY alice pw" in sent


def test_without_account_registration_nickserv_registers() -> None:
    session = Session("alice", credentials=Credentials("alice", "pw", AccountAction.REGISTER))
    assert "PRIVMSG NickServ :REGISTER pw" in welcome(session, "")
    session = Session("alice", credentials=Credentials("alice", "pw", AccountAction.REGISTER))
    assert "REGISTER alice * pw" in welcome(session, "draft/account-registration")


def test_plain_payload_is_cut_in_400_byte_lines() -> None:
    assert plain_chunks("a", "b") == ["AGEAYg=="]
    # 300 bytes ("\0alice\0" and 293 more) are exactly 400 of base64: a "+" ends them.
    assert [len(c) for c in plain_chunks("alice", "p" * 293)] == [400, 1]
    assert plain_chunks("alice", "p" * 293)[-1] == "+"
    assert [len(c) for c in plain_chunks("alice", "p" * 294)] == [400, 4]


def feed(session: Session, *lines: str) -> list[str]:
    """What the session sends after hearing ``lines``."""
    for line in lines:
        session.receive(parse(line), NOW)
    return [m.format() for m in session.take_outgoing()]


def test_certificate_first_then_the_password_on_904() -> None:
    session = Session("alice", credentials=Credentials("alice", "pw"), certificate=True)
    session.start(NOW)
    session.take_outgoing()
    assert feed(session, ":srv CAP * LS :sasl=PLAIN,EXTERNAL") == ["CAP REQ sasl"]
    assert feed(session, ":srv CAP * ACK :sasl") == ["AUTHENTICATE EXTERNAL"]
    assert feed(session, "AUTHENTICATE +") == ["AUTHENTICATE +"]
    assert feed(session, ":srv 904 * :SASL authentication failed") == ["AUTHENTICATE PLAIN"]
    assert feed(session, "AUTHENTICATE +") == [f"AUTHENTICATE {plain_chunks('alice', 'pw')[0]}"]
    assert feed(session, ":srv 903 * :SASL authentication successful") == ["CAP END"]


def test_certificate_is_used_only_where_external_is_offered_and_not_to_register() -> None:
    only_plain = Session("alice", certificate=True)
    only_plain.start(NOW)
    only_plain.take_outgoing()
    assert feed(only_plain, ":srv CAP * LS :sasl=PLAIN") == ["CAP END"]
    registering = Session(
        "alice", credentials=Credentials("alice", "pw", AccountAction.REGISTER), certificate=True
    )
    assert "CAP REQ sasl" not in welcome(registering, "sasl=PLAIN,EXTERNAL")


def test_refused_certificate_without_sasl_plain_falls_back_to_nickserv() -> None:
    session = Session("alice", credentials=Credentials("alice", "pw"), certificate=True)
    session.start(NOW)
    session.take_outgoing()
    feed(session, ":srv CAP * LS :sasl=EXTERNAL", ":srv CAP * ACK :sasl", "AUTHENTICATE +")
    assert feed(session, ":srv 904 * :failed") == ["CAP END"]
    assert "PRIVMSG NickServ :IDENTIFY alice pw" in feed(session, ":srv 001 alice :Hi")
