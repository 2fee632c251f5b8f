"""TLS: a second port, STS, client certificates with SASL EXTERNAL, and `tcpchat cert`."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.server.config import AccountSettings, ConfigError, TlsSettings
from tcpchat.server.tls import fingerprint


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(ca: trustme.CA, tmp_path: Path) -> TlsSettings:
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, client_ca = tmp_path / "s.crt", tmp_path / "s.key", tmp_path / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    server_cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(client_ca))
    return TlsSettings(cert=str(cert), key=str(key), port=0, client_ca=str(client_ca))


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def tls_client(server: RunningServer, context: ssl.SSLContext) -> IrcClient:
    host, port = server.thread.runner.tls_addresses[0]
    return IrcClient(host, port, tls=context)


def test_tls_and_plain_clients_talk(
    make_server: Callable[..., RunningServer], tls_files: TlsSettings, ca: trustme.CA
) -> None:
    server = make_server(tls=tls_files)
    with tls_client(server, client_context(ca)) as secure, server.client("plain") as plain:
        secure.register("secure")
        secure.send("PRIVMSG plain :over TLS")
        assert plain.expect("PRIVMSG").params == ("plain", "over TLS")
        # A flush to a TLS member goes through its transport, encrypted, not
        # straight to the socket.
        secure.join("#both")
        plain.join("#both")
        plain.send("PRIVMSG #both :to everyone")
        assert secure.expect("PRIVMSG").params == ("#both", "to everyone")
        plain.send("WHOIS secure")
        assert plain.expect("671").params[1] == "secure"
        assert "sts=duration=0" in secure.cap_ls()
        tls_port = server.thread.runner.tls_addresses[0][1]
        assert f"sts=port={tls_port}" in plain.cap_ls()
        plain.send("CAP REQ sts")
        plain.expect("CAP", "plain", "NAK")


def test_tls_only(
    make_server: Callable[..., RunningServer], tls_files: TlsSettings, ca: trustme.CA
) -> None:
    tls_only = TlsSettings(cert=tls_files.cert, key=tls_files.key, port=0, plaintext=False)
    server = make_server(tls=tls_only)
    assert server.thread.runner.addresses == []
    with tls_client(server, client_context(ca)) as c:
        c.register("alice")


def test_untrusted_certificate_is_refused_by_verifying_clients(
    make_server: Callable[..., RunningServer], tls_files: TlsSettings
) -> None:
    server = make_server(tls=tls_files)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_client(server, ssl.create_default_context())


def test_sasl_external_with_a_client_certificate(
    make_server: Callable[..., RunningServer],
    tls_files: TlsSettings,
    ca: trustme.CA,
    tmp_path: Path,
) -> None:
    server = make_server(
        tls=tls_files, accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3"))
    )
    identity = ca.issue_cert("alice@example.org")
    context = client_context(ca)
    identity.configure_cert(context)
    der = ssl.PEM_cert_to_DER_cert(identity.cert_chain_pems[0].bytes().decode())
    with tls_client(server, context) as c:
        c.register("alice")
        c.send("REGISTER * * :alice's password")
        c.expect("900")
        c.send("NS CERT ADD")
        assert fingerprint(der) in c.expect("NOTICE").params[1]
    with tls_client(server, context) as c:
        c.nick = "alice"
        c.send("CAP REQ :sasl", "NICK alice", "USER u 0 * :A", "AUTHENTICATE EXTERNAL")
        c.expect("AUTHENTICATE", "+")
        c.send("AUTHENTICATE +")
        assert c.expect("900").params[2] == "alice"
        c.expect("903")
    with tls_client(server, client_context(ca)) as anonymous:  # no certificate
        anonymous.send("CAP REQ :sasl", "NICK mallory", "USER u 0 * :M", "AUTHENTICATE EXTERNAL")
        assert anonymous.expect("908").params[1] == "PLAIN,EXTERNAL"
        anonymous.expect("904")
        anonymous.send("AUTHENTICATE PLAIN")
        anonymous.expect("AUTHENTICATE", "+")
        anonymous.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0wrong").decode())
        anonymous.expect("904")


def test_bad_certificate_paths_are_a_config_error(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        make_server(tls=TlsSettings(cert=str(tmp_path / "no.crt"), key=str(tmp_path / "no.key")))
    with pytest.raises(ConfigError, match="go together"):
        make_server(tls=TlsSettings(cert="a.crt"))


def _cert_command(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "tcpchat", "cert", *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def _without_openssl(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has no openssl program (as on Windows)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    return {**os.environ, "PATH": str(empty), "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.parametrize("maker", ["openssl", "cryptography"])
def test_cert_command_makes_a_usable_pair(
    make_server: Callable[..., RunningServer], tmp_path: Path, maker: str
) -> None:
    if maker == "openssl" and shutil.which("openssl") is None:
        pytest.skip("the openssl program is not installed")
    env = _without_openssl(tmp_path) if maker == "cryptography" else None
    result = _cert_command(tmp_path, "--name", "localhost", env=env)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("SHA-256 fingerprint: ")[1].split()[0]
    assert (tmp_path / "tcpchat.key").stat().st_mode & 0o077 == 0
    server = make_server(
        tls=TlsSettings(
            cert=str(tmp_path / "tcpchat.crt"), key=str(tmp_path / "tcpchat.key"), port=0
        )
    )
    pinned = ssl.create_default_context(cafile=str(tmp_path / "tcpchat.crt"))
    with tls_client(server, pinned) as c:
        seen = c.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        assert seen is not None and fingerprint(seen) == printed
        c.register("alice")
    again = _cert_command(tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_cert_command_without_a_way_to_make_one_says_what_to_install(tmp_path: Path) -> None:
    env = _without_openssl(tmp_path)
    blocked = tmp_path / "blocked" / "cryptography"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('not installed')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(blocked.parent), env["PYTHONPATH"]])
    result = _cert_command(tmp_path, env=env)
    assert result.returncode == 2
    assert "needs the openssl program or the Python package cryptography" in result.stderr
    assert "pip install cryptography" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tcpchat.crt").exists() and not (tmp_path / "tcpchat.key").exists()
