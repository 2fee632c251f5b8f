"""TLS in the client core against the real server, with trustme certificates."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from conftest import RunningServer
from cryptography.hazmat.primitives import serialization
from updatelog import UpdateLog, joined

from tcpchat.client.connection import ClientThread
from tcpchat.client.trust import check_client_certificate, fingerprint, readable_fingerprint
from tcpchat.client.updates import CertificateProblem, ConnState, Status
from tcpchat.server.config import TlsSettings

Connect = Callable[..., tuple[ClientThread, UpdateLog]]


@pytest.fixture
def tls_server(
    make_server: Callable[..., RunningServer], ca: trustme.CA, tmp_path: Path
) -> tuple[RunningServer, str]:
    """A server with a TLS port, and its certificate's fingerprint."""
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    server = make_server(tls=TlsSettings(cert=str(cert), key=str(key), port=0))
    der = ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())
    return server, fingerprint(der)


def problem(log: UpdateLog) -> CertificateProblem:
    found = log.wait_for(lambda u: isinstance(u, CertificateProblem), "a certificate problem")
    assert isinstance(found, CertificateProblem)
    return found


def test_verified_certificate_connects(
    tls_server: tuple[RunningServer, str], ca_file: str, connect: Connect
) -> None:
    server, _ = tls_server
    _client, log = connect(server.host, server.tls_port, "alice", "#s", tls=True, ca_file=ca_file)
    joined(log, "#s", "alice")
    with server.client("bob") as bob:
        bob.send("WHOIS alice")
        assert bob.expect("671").params[1] == "alice"  # RPL_WHOISSECURE: the server agrees


def test_untrusted_certificate_is_shown_and_refused_until_trusted(
    tls_server: tuple[RunningServer, str], connect: Connect
) -> None:
    server, expected = tls_server
    client, log = connect(server.host, server.tls_port, "alice", "#s", tls=True)
    found = problem(log)
    assert found.fingerprint == expected and found.pinned == ""
    assert found.address == f"{server.host}:{server.tls_port}"
    assert readable_fingerprint(expected) in found.reason and "not trusted" in found.reason
    assert not any(isinstance(u, Status) and u.state is ConnState.CONNECTED for u in log.seen)
    with server.client("watcher") as watcher:  # it never registered, and does not retry
        watcher.send("WHOIS alice")
        watcher.expect("401")
    trusted = client.settings.trusting(found.fingerprint)
    _, again = connect(
        server.host, server.tls_port, "alice", "#s", tls=True, trusted=trusted.trusted
    )
    joined(again, "#s", "alice")


def test_a_changed_certificate_is_refused_with_a_warning(
    tls_server: tuple[RunningServer, str], connect: Connect
) -> None:
    server, expected = tls_server
    address = f"{server.host}:{server.tls_port}"
    _, log = connect(
        server.host, server.tls_port, "alice", tls=True, trusted=((address, "ab" * 32),)
    )
    found = problem(log)
    assert found.pinned == "ab" * 32 and found.fingerprint == expected
    assert "has CHANGED" in found.reason
    shown = [u for u in log.seen if getattr(u, "text", "") == found.reason]
    assert shown, "the warning is a line in the server buffer too"


def test_tls_to_a_plain_port_is_explained(
    tls_server: tuple[RunningServer, str], connect: Connect
) -> None:
    server, _ = tls_server
    _, log = connect(server.host, server.port, "alice", tls=True)
    assert "TLS port" in log.wait_line("over TLS").text


def test_a_key_with_a_passphrase_is_refused_without_asking_on_the_terminal(
    ca: trustme.CA, tmp_path: Path
) -> None:
    issued = ca.issue_cert("alice@example.org")
    key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = tmp_path / "locked.pem"
    path.write_bytes(locked + issued.cert_chain_pems[0].bytes())
    assert "protected by a passphrase" in str(check_client_certificate(str(path)))
    issued.private_key_and_cert_chain_pem.write_to_path(str(path))
    assert check_client_certificate(str(path)) is None
