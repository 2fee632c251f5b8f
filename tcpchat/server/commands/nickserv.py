"""NickServ: accounts for clients that know no IRCv3, by private message.

``/msg NickServ REGISTER <password> [email]`` registers the current nick,
``IDENTIFY [account] <password>`` logs in, ``LOGOUT`` logs out, ``CERT
ADD|DEL|LIST [fingerprint]`` manages the client certificates that log in
with SASL EXTERNAL, ``INFO [account]`` and ``HELP``. ``NS`` is a shortcut
command many clients know. Replies are NOTICEs from NickServ.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from tcpchat.irc import Message
from tcpchat.irc.numerics import ERR_UNKNOWNCOMMAND
from tcpchat.server.accounts import (
    NICKSERV,
    check_password,
    log_in,
    log_out,
    register_account,
    services_notice,
)
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import format_time
from tcpchat.store.accounts import Account
from tcpchat.store.health import StoreUnavailable

__all__ = ["COMMANDS", "handle_nickserv_text"]

_FINGERPRINT: Final = re.compile(r"[0-9a-fA-F:]{40,128}\Z")
HELP: Final = (
    "REGISTER <password> [email]  register your current nick as an account",
    "IDENTIFY [account] <password>  log in",
    "LOGOUT  log out",
    "CERT ADD|DEL|LIST [fingerprint]  client certificates that log you in (SASL EXTERNAL)",
    "INFO [account]  when an account was registered",
)


def _register(ctx: Context, args: list[str]) -> None:
    if not args:
        services_notice(ctx, "Syntax: REGISTER <password> [email]")
        return
    user = ctx.user
    if user.account:
        services_notice(ctx, f"You are already logged in as {user.account}.")
        return

    def done(error: str | None, text: str) -> None:
        services_notice(ctx, text + ("" if error else "; you are now logged in."))
        if error is None:
            log_in(ctx, user.nick)

    register_account(ctx, user.nick, args[1] if len(args) > 1 else "", args[0], done)


def _identify(ctx: Context, args: list[str]) -> None:
    if not args:
        services_notice(ctx, "Syntax: IDENTIFY [account] <password>")
        return
    # With two or more words the first names the account (so a password with
    # spaces needs the account named too).
    name, password = (args[0], " ".join(args[1:])) if len(args) > 1 else (ctx.user.nick, args[0])

    def done(account: Account | None, throttled: bool) -> None:
        if account is not None:
            log_in(ctx, account.name)
            services_notice(ctx, f"You are now logged in as {account.name}.")
        elif throttled:
            services_notice(ctx, "Too many failed attempts; try again later.")
        else:
            services_notice(ctx, "Invalid account name or password.")

    check_password(ctx, name, password, done)


def _logout(ctx: Context, args: list[str]) -> None:
    if not ctx.user.account:
        services_notice(ctx, "You are not logged in.")
        return
    log_out(ctx)
    services_notice(ctx, "You are now logged out.")


def _cert(ctx: Context, args: list[str]) -> None:
    store = ctx.core.accounts
    account = ctx.user.account
    assert store is not None
    if account is None:
        services_notice(ctx, "Log in first.")
        return
    action = args[0].upper() if args else "LIST"
    if action == "LIST":
        prints = store.certfps(account)
        services_notice(ctx, "Certificates: " + (", ".join(prints) if prints else "none"))
        return
    fingerprint = (args[1] if len(args) > 1 else ctx.session.certfp or "").replace(":", "")
    if action not in ("ADD", "DEL") or not _FINGERPRINT.match(fingerprint):
        services_notice(
            ctx,
            "Syntax: CERT ADD|DEL [fingerprint] (connect with TLS and a client "
            "certificate to add the one you use)",
        )
        return
    if action == "ADD":
        store.add_certfp(account, fingerprint)
        services_notice(ctx, f"Added certificate {fingerprint.lower()} to {account}.")
    elif store.remove_certfp(account, fingerprint):
        services_notice(ctx, f"Removed certificate {fingerprint.lower()} from {account}.")
    else:
        services_notice(ctx, "That certificate is not on your account.")


def _info(ctx: Context, args: list[str]) -> None:
    store = ctx.core.accounts
    assert store is not None
    name = args[0] if args else (ctx.user.account or ctx.user.nick)
    account = store.get(name)
    if account is None:
        services_notice(ctx, f"{name} is not registered.")
    else:
        services_notice(ctx, f"{account.name} was registered {format_time(account.created_ms)}.")


def _help(ctx: Context, args: list[str]) -> None:
    for line in HELP:
        services_notice(ctx, line)


_ACTIONS: Final[dict[str, Callable[[Context, list[str]], None]]] = {
    "REGISTER": _register,
    "IDENTIFY": _identify,
    "LOGIN": _identify,
    "LOGOUT": _logout,
    "CERT": _cert,
    "INFO": _info,
    "HELP": _help,
}


def handle_nickserv_text(ctx: Context, text: str) -> None:
    """A message to NickServ: one of its commands and the command's words."""
    words = text.split()
    action = _ACTIONS.get(words[0].upper()) if words else None
    if action is None:
        services_notice(ctx, f"Unknown command. /msg {NICKSERV} HELP lists them.")
        return
    try:
        action(ctx, words[1:])
    except StoreUnavailable as exc:  # the store has said why in the log
        services_notice(ctx, f"Sorry: {exc}. Try again later.")


def handle_ns(ctx: Context, msg: Message) -> None:
    """NS <command> [<arguments>]: /msg NickServ without the typing."""
    if ctx.core.accounts is None:
        ctx.error(ERR_UNKNOWNCOMMAND, msg.command)
        return
    handle_nickserv_text(ctx, " ".join(msg.params))


COMMANDS: Final = {
    "NS": CommandSpec(handle_ns),
    "NICKSERV": CommandSpec(handle_ns),
}
