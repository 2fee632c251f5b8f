"""Whether to trust a TLS server: the usual certificate checks, or a pinned fingerprint.

A server with a certificate from a known authority is checked the usual
way (chain and host name). A server on a LAN usually has a self-signed one
(``tcpchat cert``), which no authority vouches for; the person can compare
its SHA-256 fingerprint with the one the server's operator printed, and
trust it. That fingerprint is then pinned for this host and port: the
connection goes ahead only while the server shows the very same
certificate, and a different one is refused, whoever signed it, since a
changed certificate is what someone in the middle would show.
"""

from __future__ import annotations

import hashlib
import ssl

from tcpchat.client.updates import CertificateProblem

__all__ = [
    "check_pin",
    "fingerprint",
    "pinning_context",
    "readable_fingerprint",
    "untrusted",
    "verifying_context",
]


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
