"""Whether to trust a TLS server: the usual certificate checks, or a pinned fingerprint.

A server with a certificate from a known authority is checked the usual
way (chain and host name). A server on a LAN usually has a self-signed one
(``tcpchat cert``), which no authority vouches for; the person can compare
its SHA-256 fingerprint with the one the server's operator printed, and
trust it. That fingerprint is then pinned for this host and port: the
connection goes ahead only while the server shows the very same
certificate, and a different one is refused, whoever signed it, since a
changed certificate is what someone in the middle would show.

The client can show a certificate of its own too (a PEM file with the
certificate and its key, or two files): a server that asks for one can log
the person in with it (SASL EXTERNAL). A file that cannot be used is said
in words before any connection is tried, never as a traceback.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from tcpchat.client.updates import CertificateProblem

__all__ = [
    "ClientCertificateError",
    "check_client_certificate",
    "check_pin",
    "fingerprint",
    "load_client_certificate",
    "pinning_context",
    "readable_fingerprint",
    "untrusted",
    "verifying_context",
]


class ClientCertificateError(Exception):
    """A client certificate that cannot be used; the message says why, for the person."""


class _Encrypted(Exception):
    """Raised by the passphrase callback: there is no terminal to ask for one on."""


def _no_passphrase() -> bytes:
    raise _Encrypted


def load_client_certificate(context: ssl.SSLContext, cert: str, key: str = "") -> None:
    """Have ``context`` present the certificate in ``cert`` (its key there or in ``key``).

    Raises :class:`ClientCertificateError`. The standard library would ask for
    a key's passphrase on the terminal, out of sight of a window; a key with
    one is refused instead.
    """
    cert_path = Path(cert).expanduser()
    key_path = Path(key).expanduser() if key else None
    where = f"{cert} and {key}" if key else cert
    for path in (cert_path, key_path):  # named here: the ssl module's errors do not say which
        if path is not None and not path.is_file():
            raise ClientCertificateError(
                f"Cannot read the client certificate: there is no file {path}. Check the path."
            )
    try:
        context.load_cert_chain(cert_path, key_path, password=_no_passphrase)
    except _Encrypted:
        raise ClientCertificateError(
            f"The key for the client certificate {cert} is protected by a passphrase, which "
            "tcpchat cannot ask for. Write an unprotected copy that only you can read "
            "((umask 077; openssl pkey -in KEY -out KEY.plain)) and use that."
        ) from None
    except ssl.SSLError as exc:  # before OSError, of which it is a kind
        detail = f" ({exc.reason})" if exc.reason else ""  # else only "PEM lib": no help
        raise ClientCertificateError(
            f"{where} does not hold a PEM client certificate and its matching private "
            f"key{detail}. Give both in one file, or the key as a second file."
        ) from None
    except OSError as exc:
        raise ClientCertificateError(
            f"Cannot read the client certificate {where}: {exc.strerror or exc}. Check the path."
        ) from None


def check_client_certificate(cert: str, key: str = "") -> str | None:
    """What is wrong with a client certificate's files, in words; None when they load."""
    try:
        load_client_certificate(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), cert, key)
    except ClientCertificateError as exc:
        return str(exc)
    return None


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint, lower-case hex, as ``tcpchat cert`` prints it."""
    return hashlib.sha256(der).hexdigest()


def readable_fingerprint(hex_digest: str) -> str:
    """``AB:CD:…`` in groups of two, the way browsers and ``openssl x509`` show it."""
    upper = hex_digest.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def verifying_context(ca_file: str = "") -> ssl.SSLContext:
    """The usual checks against the system's authorities (or ``ca_file``'s), TLS 1.2+."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def pinning_context() -> ssl.SSLContext:
    """A context that lets any certificate through the handshake, for us to compare.

    Used only with a pinned fingerprint (checked by :func:`check_pin` before a
    byte is sent) or to read the certificate of an untrusted server to show it.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def check_pin(address: str, der: bytes | None, pinned: str) -> CertificateProblem | None:
    """None if the certificate ``der`` is the one pinned for ``address``; else the problem."""
    seen = fingerprint(der) if der else ""
    if seen == pinned:
        return None
    return CertificateProblem(
        address,
        seen,
        pinned,
        f"The certificate of {address} has CHANGED since you trusted it. It may have been "
        "replaced by its owner, or someone may be intercepting the connection, so tcpchat "
        f"will not connect. Trusted: {readable_fingerprint(pinned)}; now: "
        f"{readable_fingerprint(seen)}. If the server's operator confirms the new "
        "fingerprint, remove the old one from the settings file and connect again.",
    )


def untrusted(address: str, der: bytes | None, why: str) -> CertificateProblem:
    """The problem of a certificate no known authority vouches for."""
    seen = fingerprint(der) if der else ""
    return CertificateProblem(
        address,
        seen,
        "",
        f"The certificate of {address} is not trusted ({why}). Its SHA-256 fingerprint is "
        f"{readable_fingerprint(seen)}. Trust it only if it matches the one the server's "
        "operator gave you.",
    )
