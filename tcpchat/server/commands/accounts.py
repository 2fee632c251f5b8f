"""Logging in and registering: SASL ``AUTHENTICATE`` and IRCv3 ``REGISTER``.

SASL (ircv3.net/specs/extensions/sasl-3.1): the client names a mechanism,
the server answers ``AUTHENTICATE +``, the client sends its credentials in
base64, 400 bytes a line (a line of exactly 400 means more follows; ``+``
alone is an empty line). PLAIN carries ``authzid NUL authcid NUL password``;
EXTERNAL uses the TLS client certificate's fingerprint.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from tcpchat.irc import Message, casefold
from tcpchat.irc.numerics import (
    ERR_SASLABORTED,
    ERR_SASLALREADY,
    ERR_SASLFAIL,
    ERR_SASLTOOLONG,
    ERR_UNKNOWNCOMMAND,
    RPL_SASLMECHS,
    RPL_SASLSUCCESS,
)
from tcpchat.server.accounts import check_password, log_in, register_account
from tcpchat.server.context import CommandSpec, Context
from tcpchat.store.accounts import Account
from tcpchat.store.health import StoreUnavailable

__all__ = ["COMMANDS", "MECHANISMS"]

MECHANISMS: Final = ("PLAIN", "EXTERNAL")
_CHUNK: Final = 400
# A PLAIN payload is two names and a password; 8 KiB of base64 is plenty.
_MAX_PAYLOAD: Final = 8192


def _logged_in(ctx: Context) -> bool:
    user = ctx.session.user
    return bool(ctx.session.account or (user is not None and user.account))


def _finish(ctx: Context, account: Account | None, throttled: bool = False) -> None:
    if account is None:
        text = "Too many failed attempts; try again later" if throttled else None
        if text:
            ctx.numeric(ERR_SASLFAIL, text)
        else:
            ctx.error(ERR_SASLFAIL)
        return
    log_in(ctx, account.name)
    ctx.numeric(RPL_SASLSUCCESS, "SASL authentication successful")


def _plain(ctx: Context, payload: bytes) -> None:
    parts = payload.split(b"\0")
    if len(parts) != 3:
        ctx.error(ERR_SASLFAIL)
        return
    try:
        authzid, authcid, password = (p.decode() for p in parts)
    except UnicodeDecodeError:
        ctx.error(ERR_SASLFAIL)
        return
    if not authcid or (authzid and casefold(authzid) != casefold(authcid)):
        ctx.error(ERR_SASLFAIL)
        return
    check_password(
        ctx, authcid, password, lambda account, throttled: _finish(ctx, account, throttled)
    )


def _external(ctx: Context, payload: bytes) -> None:
    store = ctx.core.accounts
    assert store is not None
    account = store.by_certfp(ctx.session.certfp) if ctx.session.certfp else None
    wanted = payload.decode(errors="replace")
    if account is not None and wanted and casefold(wanted) != casefold(account.name):
        account = None
    _finish(ctx, account)


def handle_authenticate(ctx: Context, msg: Message) -> None:
    """AUTHENTICATE <mechanism> | <base64> | + | *"""
    session = ctx.session
    arg = msg.params[0]
    if ctx.core.accounts is None or "sasl" not in session.caps:
        ctx.error(ERR_SASLFAIL)
        return
    if session.sasl is None:
        if arg == "*":
            ctx.error(ERR_SASLABORTED)
        elif _logged_in(ctx):
            ctx.error(ERR_SASLALREADY)
        elif arg.upper() not in MECHANISMS or (arg.upper() == "EXTERNAL" and not session.certfp):
            ctx.numeric(RPL_SASLMECHS, ",".join(MECHANISMS), "are available SASL mechanisms")
            ctx.error(ERR_SASLFAIL)
        else:
            session.sasl = (arg.upper(), "")
            ctx.send_line("AUTHENTICATE +")
        return
    mechanism, received = session.sasl
    if arg == "*":
        session.sasl = None
        ctx.error(ERR_SASLABORTED)
        return
    if len(arg) > _CHUNK:
        session.sasl = None
        ctx.error(ERR_SASLTOOLONG)
        return
    if len(received) + len(arg) > _MAX_PAYLOAD:  # endless chunks: give up on this login
        session.sasl = None
        ctx.error(ERR_SASLFAIL)
        return
    if arg != "+":
        received += arg
    if len(arg) == _CHUNK:
        session.sasl = (mechanism, received)  # more to come
        return
    session.sasl = None
    try:
        payload = base64.b64decode(received, validate=True)
    except (binascii.Error, ValueError):
        ctx.error(ERR_SASLFAIL)
        return
    try:
        (_plain if mechanism == "PLAIN" else _external)(ctx, payload)
    except StoreUnavailable as exc:  # the store has said why in the log
        ctx.numeric(ERR_SASLFAIL, f"SASL authentication failed: {exc}")


def handle_register(ctx: Context, msg: Message) -> None:
    """REGISTER <account> <email> <password> (IRCv3 draft/account-registration)"""
    if ctx.core.accounts is None:
        ctx.error(ERR_UNKNOWNCOMMAND, msg.command)
        return
    name, email, password = msg.params[0], msg.params[1], msg.params[2]
    session = ctx.session

    def fail(code: str, *params: str) -> None:
        ctx.send(ctx.config.name, "FAIL", "REGISTER", code, *params)

    if _logged_in(ctx):
        fail("ALREADY_AUTHENTICATED", name, "You are already logged in")
        return
    if session.user is None and not ctx.config.accounts.register_before_connect:
        fail("COMPLETE_CONNECTION_REQUIRED", name, "Register after connecting")
        return
    if ctx.config.accounts.require_email and ("@" not in email or email == "*"):
        fail("INVALID_EMAIL", name, "This server needs an email address to register")
        return
    if name == "*":
        name = session.user.nick if session.user is not None else session.wanted_nick or ""
    if not name:
        fail("BAD_ACCOUNT_NAME", "*", "Choose a nickname first, or name the account")
        return

    def done(error: str | None, text: str) -> None:
        if error is not None:
            fail(error, name, text)
            return
        ctx.send(ctx.config.name, "REGISTER", "SUCCESS", name, text)
        log_in(ctx, name)

    register_account(ctx, name, "" if email == "*" else email, password, done)


COMMANDS: Final = {
    "AUTHENTICATE": CommandSpec(handle_authenticate, min_params=1, registered=False),
    "REGISTER": CommandSpec(handle_register, min_params=3, registered=False),
}
