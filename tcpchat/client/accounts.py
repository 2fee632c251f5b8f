"""Accounts from the client's side: log in with SASL, register with REGISTER.

What the session needs to know and say, without I/O: the credentials a
person gave, the SASL PLAIN payload in the chunks ``AUTHENTICATE`` takes
(IRCv3 "sasl-3.1": 400 bytes a line, a ``+`` after an exact multiple), and
the failures put in words a person can act on. A client certificate logs in
with SASL EXTERNAL (RFC 4422 appendix A): the TLS handshake already proved
who we are, so the response is empty. Servers without SASL get
``NickServ IDENTIFY``; servers without ``draft/account-registration`` get
``NickServ REGISTER``, which every services package understands.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from typing import Final

from tcpchat.irc import numerics as n

__all__ = [
    "EXTERNAL",
    "PLAIN",
    "SASL_CHUNK",
    "AccountAction",
    "Credentials",
    "certificate_refused",
    "offers",
    "plain_chunks",
    "register_failure",
    "sasl_failure",
]

SASL_CHUNK: Final = 400
"""Bytes of base64 per AUTHENTICATE line (IRCv3 sasl-3.1)."""
EXTERNAL: Final = "EXTERNAL"
"""The SASL mechanism of a TLS client certificate."""
PLAIN: Final = "PLAIN"
"""The SASL mechanism of an account name and password."""


class AccountAction(enum.Enum):
    """What to do with the account named in the settings on connecting."""

    NONE = "none"
    LOGIN = "login"
    REGISTER = "register"


@dataclass(frozen=True, slots=True)
class Credentials:
    account: str
    password: str
    action: AccountAction = AccountAction.LOGIN


def offers(sasl_value: str, mechanism: str) -> bool:
    """Whether a ``sasl=<mechanisms>`` offer includes ``mechanism`` (no list means any)."""
    return not sasl_value or mechanism in sasl_value.upper().split(",")


def plain_chunks(account: str, password: str) -> list[str]:
    """The PLAIN response (RFC 4616: no authzid, authcid, password) as AUTHENTICATE lines."""
    payload = base64.b64encode(f"\0{account}\0{password}".encode()).decode()
    chunks = [payload[i : i + SASL_CHUNK] for i in range(0, len(payload), SASL_CHUNK)]
    if not chunks or len(chunks[-1]) == SASL_CHUNK:
        chunks.append("+")
    return chunks


def sasl_failure(numeric: str, account: str) -> str:
    """Why logging in as ``account`` failed, for the person."""
    if numeric == n.ERR_SASLTOOLONG:
        return f"Could not log in as {account}: the password is too long for this server."
    if numeric == n.ERR_SASLABORTED:
        return f"Logging in as {account} was cancelled."
    return (
        f"Could not log in as {account}: wrong account name or password ({numeric}). "
        "Check them in Chat \u2192 Connect to\u2026"
    )


def certificate_refused(numeric: str, password_next: bool) -> str:
    """Why the client certificate did not log us in, and what happens or helps now."""
    if password_next:
        return (
            f"The server did not accept your certificate ({numeric}); "
            "logging in with the password instead."
        )
    return (
        f"The server did not accept your certificate ({numeric}): add it to your account "
        "with /msg NickServ CERT ADD while logged in (connected with this certificate)."
    )


_REGISTER_FAILURES: Final = {
    "ACCOUNT_EXISTS": "The account name {account} is taken. Choose another, or log in if it "
    "is yours.",
    "WEAK_PASSWORD": "That password is too weak for this server: {text}",
    "BAD_ACCOUNT_NAME": "{account} cannot be an account name here: {text}",
    "DISALLOWED": "This server does not let people register accounts.",
    "ALREADY_AUTHENTICATED": "You are already logged in, so no account was registered.",
}


def register_failure(code: str, account: str, text: str) -> str:
    """``FAIL REGISTER <code> <account> :<text>`` in words."""
    template = _REGISTER_FAILURES.get(code, "Could not register {account}: {text}")
    return template.format(account=account, text=text)
