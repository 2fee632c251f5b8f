"""TLS for the server: the context it listens with, and certificates for a LAN.

The context allows TLS 1.2 and later with the standard library's default
(modern, forward-secret) ciphers. Client certificates are asked for only
when ``tls.client_ca`` names the authority that signs them: the standard
library verifies any certificate a client sends, so a server that asked
every client for one would refuse the self-signed ones. A verified
certificate's SHA-256 fingerprint is what SASL EXTERNAL logs in with.
"""

from __future__ import annotations

import hashlib
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

    Uses the ``openssl`` program, which every system with Python's ssl module
    has nearby; the key file is readable by its owner only.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError("'tcpchat cert' needs the openssl program; install it and try again")
    cert.parent.mkdir(parents=True, exist_ok=True)
    key.parent.mkdir(parents=True, exist_ok=True)
    alt = f"IP:{name}" if name.replace(".", "").isdigit() or ":" in name else f"DNS:{name}"
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
    key.chmod(0o600)
    return fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text()))
