"""Accounts: REGISTER, NickServ, SASL PLAIN, account tags, nick protection."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.server.config import AccountSettings

ACCOUNT_CAPS = ("sasl", "account-tag", "account-notify", "extended-join", "message-tags")


@pytest.fixture
def accounts_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(
        accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3"), nick_grace=1)
    )


def plain(account: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{account}\0{password}".encode()).decode()


def register(server: RunningServer, nick: str, password: str) -> None:
    with server.client(nick) as c:
        c.send(f"REGISTER * * :{password}")
        assert c.expect("REGISTER").params[:2] == ("SUCCESS", nick)
        c.expect("900")


def sasl_connect(server: RunningServer, account: str, password: str) -> tuple[IrcClient, list[str]]:
    c = server.client()
    c.nick = account
    ls = c.cap_ls()
    c.send(f"CAP REQ :{' '.join(ACCOUNT_CAPS)}", "NICK " + account, "USER u 0 * :Real")
    c.expect("CAP", "*", "ACK")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE", "+")
    c.send("AUTHENTICATE " + plain(account, password))
    return c, ls


def test_caps_advertise_sasl_mechanisms(accounts_server: RunningServer) -> None:
    with accounts_server.client() as c:
        caps = c.cap_ls()
        assert "sasl=PLAIN,EXTERNAL" in caps
        assert "draft/account-registration=before-connect,custom-account-name" in caps
        assert {"account-tag", "account-notify"} <= set(caps)


def test_register_command(accounts_server: RunningServer) -> None:
    with accounts_server.client("alice") as a:
        a.send("REGISTER * alice@example.org :short")
        assert a.expect("FAIL").params[:3] == ("REGISTER", "WEAK_PASSWORD", "alice")
        a.send("REGISTER * alice@example.org :a good long password")
        assert a.expect("REGISTER").params[:2] == ("SUCCESS", "alice")
        assert a.expect("900").params[1:3] == ("alice!~u@127.0.0.1", "alice")
        a.send("REGISTER * * :another password")
        assert a.expect("FAIL").params[1] == "ALREADY_AUTHENTICATED"
    with accounts_server.client("bob") as b:
        b.send("REGISTER alice * :whatever12345")
        assert b.expect("FAIL").params[1:3] == ("ACCOUNT_EXISTS", "alice")
        b.send("REGISTER 1bad * :whatever12345")
        assert b.expect("FAIL").params[1] == "BAD_ACCOUNT_NAME"


def test_sasl_plain_login_before_registration(accounts_server: RunningServer) -> None:
    register(accounts_server, "alice", "correct horse")
    c, _ = sasl_connect(accounts_server, "alice", "correct horse")
    with (
        c,
        accounts_server.client("watcher", ("extended-join", "account-tag", "message-tags")) as w,
    ):
        assert c.expect("900").params[2] == "alice"
        c.expect("903")
        c.send("CAP END")
        c.expect("001")
        w.join("#acc")
        c.join("#acc")
        assert w.expect("JOIN").params == ("#acc", "alice", "Real")
        c.send("PRIVMSG #acc :signed")
        assert w.expect("PRIVMSG").tags["account"] == "alice"
        w.send("WHOIS alice")
        assert w.expect("330").params[1:3] == ("alice", "alice")


def test_sasl_failures(accounts_server: RunningServer) -> None:
    register(accounts_server, "alice", "correct horse")
    c, _ = sasl_connect(accounts_server, "alice", "wrong horse")
    with c:
        c.expect("904")
        c.send("AUTHENTICATE SCRAM-SHA-256")
        assert c.expect("908").params[1] == "PLAIN,EXTERNAL"
        c.expect("904")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE *")
        c.expect("906")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE not-base64!")
        c.expect("904")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE " + "A" * 401)
        c.expect("905")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE " + plain("alice", "correct horse", authzid="bob"))
        c.expect("904")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE " + plain("alice", "correct horse"))
        c.expect("903")
        c.send("AUTHENTICATE PLAIN")
        c.expect("907")


def test_long_sasl_payload_in_chunks(accounts_server: RunningServer) -> None:
    password = "p" * 350  # more than 400 bytes of base64: two chunks
    register(accounts_server, "alice", password)
    c = accounts_server.client()
    with c:
        c.send("CAP REQ :sasl", "NICK alice", "USER u 0 * :R", "AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        payload = plain("alice", password)
        chunks = [payload[i : i + 400] for i in range(0, len(payload), 400)]
        if len(chunks[-1]) == 400:
            chunks.append("+")
        for chunk in chunks:
            c.send("AUTHENTICATE " + chunk)
        c.expect("903")


def test_failed_logins_are_throttled(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = make_server(
        accounts=AccountSettings(path=str(tmp_path / "a.sqlite3"), login_failures=3)
    )
    register(server, "alice", "correct horse")
    with server.client("mallory") as m:
        for _ in range(3):
            m.send("PRIVMSG NickServ :IDENTIFY alice guess")
            assert "Invalid" in m.expect("NOTICE").params[1]
        m.send("PRIVMSG NickServ :IDENTIFY alice correct horse")  # right, but too late
        assert "Too many failed attempts" in m.expect("NOTICE").params[1]


def test_nickserv(accounts_server: RunningServer) -> None:
    with accounts_server.client("carol", ("account-notify",)) as watcher:
        watcher.join("#ns")
        with accounts_server.client("dave") as d:
            d.join("#ns")
            d.send("PRIVMSG NickServ :REGISTER hunter22hunter22 dave@example.org")
            assert "registered" in d.expect("NOTICE").params[1]
            assert watcher.expect("ACCOUNT").params == ("dave",)
            d.send("NS LOGOUT")
            d.expect("901")
            assert watcher.expect("ACCOUNT").params == ("*",)
            d.send("NS IDENTIFY hunter22hunter22")
            d.expect("900")
            assert "logged in" in d.expect("NOTICE").params[1]
            d.send("NS INFO dave")
            assert "was registered" in d.expect("NOTICE", "dave").params[1]
            d.send("NS FROB")
            assert "Unknown command" in d.expect("NOTICE").params[1]
        watcher.send("WHOIS NickServ")
        assert watcher.expect("311").params[1] == "NickServ"


def test_registered_nick_is_taken_back(accounts_server: RunningServer) -> None:
    register(accounts_server, "erin", "erins password")
    with accounts_server.client() as intruder:
        burst = intruder.register("erin")
        assert burst[-1].command == "376"
        warning = intruder.expect("NOTICE")
        assert warning.source is not None and warning.source.startswith("NickServ!")
        assert "registered nickname" in warning.params[1]
        renamed = intruder.expect("NICK", timeout=5)
        assert renamed.params[0].startswith("Guest")


def test_accounts_survive_restart(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    settings = AccountSettings(path=str(tmp_path / "kept.sqlite3"))
    first = make_server(accounts=settings)
    register(first, "frank", "franks-password")
    first.thread.stop()
    second = make_server(accounts=settings)
    with second.client("frank") as f:
        f.send("NS IDENTIFY franks-password")
        f.expect("900")
