"""TLS for the server: the context it listens with, and certificates for a LAN.

The context allows TLS 1.2 and later with the standard library's default
(modern, forward-secret) ciphers. Client certificates are asked for only
when ``tls.client_ca`` names the authority that signs them: the standard
library verifies any certificate a client sends, so a server that asked
every client for one would refuse the self-signed ones. A verified
certificate's SHA-256 fingerprint is what SASL EXTERNAL logs in with.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import shutil
import ssl
import subprocess
from pathlib import Path

from tcpchat.server.config import ConfigError, TlsSettings

__all__ = ["fingerprint", "make_self_signed", "server_context"]


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """The server's TLS context; a bad certificate or key is a ConfigError."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(Path(settings.cert).expanduser(), Path(settings.key).expanduser())
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the TLS certificate {settings.cert} and key {settings.key}: {exc}. "
            "Check both paths, or make a pair with 'tcpchat cert'."
        ) from None
    if settings.client_ca:
        try:
            context.load_verify_locations(Path(settings.client_ca).expanduser())
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load tls.client_ca {settings.client_ca}: {exc}") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint, lower-case hex without colons."""
    return hashlib.sha256(der).hexdigest()


def make_self_signed(name: str, days: int, cert: Path, key: Path) -> str:
    """Write a self-signed certificate for ``name`` and its key; return its fingerprint.

    With the ``openssl`` program where it is on the PATH (Linux, macOS), else
    with the ``cryptography`` package where that is installed (Windows has
    no openssl of its own); the key file is readable by its owner only.
    """
    cert.parent.mkdir(parents=True, exist_ok=True)
    key.parent.mkdir(parents=True, exist_ok=True)
    # The key's file is made private before anything is written to it.
    os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    key.chmod(0o600)  # an older file keeps its mode through O_CREAT
    openssl = shutil.which("openssl")
    try:
        if openssl is not None:
            _with_openssl(openssl, name, days, cert, key)
        else:
            _with_cryptography(name, days, cert, key)
    except ConfigError:
        key.unlink(missing_ok=True)  # nothing half-made in the way of the next try
        cert.unlink(missing_ok=True)
        raise
    return fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text()))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _with_openssl(openssl: str, name: str, days: int, cert: Path, key: Path) -> None:
    alt = f"IP:{name}" if _is_address(name) else f"DNS:{name}"
    result = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            str(days),
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName={alt},DNS:localhost,IP:127.0.0.1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"openssl could not make the certificate: {result.stderr.strip()}")


def _with_cryptography(name: str, days: int, cert: Path, key: Path) -> None:
    """The same pair as openssl's: P-256, the names as alternative names, a
    certificate that is its own authority (what a pinned certificate is)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise ConfigError(
            "'tcpchat cert' needs the openssl program or the Python package cryptography, "
            "and neither is here: install one (Debian/Ubuntu: sudo apt install openssl; "
            "elsewhere: python3 -m pip install cryptography) and try again"
        ) from None
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(name)) if _is_address(name) else x509.DNSName(name),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    public = private.public_key()
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
