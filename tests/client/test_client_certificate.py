"""Logging in with a client certificate (SASL EXTERNAL) from the client core, against the
real server with TLS and a trustme authority as its ``tls.client_ca``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from conftest import RunningServer
from updatelog import UpdateLog

from tcpchat.client.accounts import AccountAction
from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import Say
from tcpchat.client.updates import ConnState, Line, LineKind, LoggedIn, Status
from tcpchat.server.config import AccountSettings, TlsSettings

Connect = Callable[..., tuple[ClientThread, UpdateLog]]
ConnectWith = Callable[..., tuple[ClientThread, UpdateLog]]
ALICE = {"account": "alice", "account_password": "correct horse"}


@pytest.fixture
def server(
    make_server: Callable[..., RunningServer], ca: trustme.CA, ca_file: str, tmp_path: Path
) -> RunningServer:
    """A server that asks TLS clients for certificates signed by ``ca``; accounts on."""
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return make_server(
        tls=TlsSettings(cert=str(cert), key=str(key), port=0, client_ca=ca_file),
        accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3")),
    )


def identity(ca: trustme.CA, tmp_path: Path, name: str) -> str:
    """A client certificate and its key in one PEM file, as people usually keep them."""
    path = tmp_path / f"{name}.pem"
    ca.issue_cert(f"{name}@example.org").private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def connect_with(server: RunningServer, ca_file: str, connect: Connect) -> ConnectWith:
    """``connect_with(nick, certificate_file, **settings)``: a client core over TLS."""

    def start(nick: str, cert: str, **settings: object) -> tuple[ClientThread, UpdateLog]:
        return connect(
            server.host,
            server.tls_port,
            nick,
            tls=True,
            ca_file=ca_file,
            client_cert=cert,
            **settings,
        )

    return start


def welcomed(log: UpdateLog) -> None:
    log.wait_for(lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "welcome")


def errors(log: UpdateLog) -> list[str]:
    return [u.text for u in log.seen if isinstance(u, Line) and u.kind is LineKind.ERROR]


@pytest.fixture
def alice_cert(ca: trustme.CA, tmp_path: Path, connect_with: ConnectWith) -> str:
    """alice registers with a password over TLS with her certificate, and adds it."""
    cert = identity(ca, tmp_path, "alice")
    client, log = connect_with("alice", cert, account_action=AccountAction.REGISTER, **ALICE)
    log.wait_for(lambda u: isinstance(u, LoggedIn), "registered and logged in")
    client.submit(Say("NickServ", "CERT ADD"))
    log.wait_line("Added certificate")
    client.stop("done")
    return cert


def test_the_certificate_alone_logs_in_with_external(
    server: RunningServer, alice_cert: str, connect_with: ConnectWith
) -> None:
    client, log = connect_with("alice2", alice_cert)
    # 900 comes before 903, and the welcome only after it (the client ends CAP on 903).
    found = log.wait_for(lambda u: isinstance(u, LoggedIn), "900 logged in")
    assert isinstance(found, LoggedIn) and found.account == "alice"
    welcomed(log)
    assert client.session.account == "alice" and "sasl" in client.session.caps
    assert errors(log) == []
    with server.client("bob") as bob:
        bob.send("WHOIS alice2")
        assert bob.expect("330").params[1:3] == ("alice2", "alice")


def test_a_certificate_on_no_account_is_explained(
    ca: trustme.CA, tmp_path: Path, connect_with: ConnectWith
) -> None:
    client, log = connect_with("mallory", identity(ca, tmp_path, "mallory"))
    line = log.wait_line("did not accept your certificate")
    assert line.kind is LineKind.ERROR
    assert "/msg NickServ CERT ADD while logged in" in line.text
    welcomed(log)  # and the connection goes on, without an account
    assert client.session.account == ""


def test_a_refused_certificate_falls_back_to_the_password(
    alice_cert: str, ca: trustme.CA, tmp_path: Path, connect_with: ConnectWith
) -> None:
    other = identity(ca, tmp_path, "other")
    _, log = connect_with("alice", other, account_action=AccountAction.LOGIN, **ALICE)
    assert log.wait_line("logging in with the password instead").kind is LineKind.INFO
    log.wait_for(lambda u: isinstance(u, LoggedIn) and u.account == "alice", "PLAIN login")
    welcomed(log)
    assert errors(log) == []


@pytest.mark.parametrize(
    ("key_missing", "says"),
    [
        (False, "Cannot read the client certificate"),
        (True, "does not hold a PEM client certificate and its matching"),
    ],
)
def test_an_unusable_certificate_file_is_said_and_not_retried(
    ca: trustme.CA, tmp_path: Path, connect_with: ConnectWith, key_missing: bool, says: str
) -> None:
    path = tmp_path / "client.pem"  # absent, or a certificate without its key
    if key_missing:
        ca.issue_cert("x@example.org").cert_chain_pems[0].write_to_path(str(path))
    _, log = connect_with("alice", str(path))
    assert str(path) in log.wait_line(says).text
    assert any(isinstance(u, Status) and u.state is ConnState.STOPPED for u in log.seen)
    # A retry would say so at once; the same file would fail again, so there is none.
    with pytest.raises(AssertionError, match="Trying again"):
        log.wait_line("Trying again", timeout=1.0)
