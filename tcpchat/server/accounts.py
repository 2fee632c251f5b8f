"""Accounts on the server: logging in, registering, throttling, protecting nicks.

The commands that reach accounts (SASL ``AUTHENTICATE``, ``REGISTER``,
NickServ) all come through here, so the rules are written once. Password
hashing is slow on purpose (scrypt), so it runs off the event loop through
:meth:`ServerCore.offload`; the continuation checks that the session is
still there before it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tcpchat.irc import casefold, valid_nick
from tcpchat.irc.numerics import RPL_LOGGEDIN, RPL_LOGGEDOUT
from tcpchat.server.context import Context, when_applied
from tcpchat.server.events import AccountChanged, NickChanged
from tcpchat.server.passwords import hash_password, verify_password
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.health import StoreUnavailable

__all__ = [
    "NICKSERV",
    "check_password",
    "enforce_nick",
    "log_in",
    "log_out",
    "protect_nick",
    "register_account",
    "services_notice",
]

NICKSERV: Final = "NickServ"
# Compared against when an account does not exist, so that a failed login
# takes as long whether or not the name is registered.
_DUMMY_HASH: Final = hash_password("tcpchat-dummy", salt=b"tcpchat-dummy-salt")


def services_notice(ctx: Context, text: str) -> None:
    ctx.send(f"{NICKSERV}!services@{ctx.config.name}", "NOTICE", ctx.session.display_nick, text)


def log_in(ctx: Context, name: str) -> None:
    """Mark the session as logged in to account ``name`` and say so (900)."""
    session = ctx.session
    user = session.user
    if user is not None:
        # Imported here: the command families import this module.
        from tcpchat.server.commands.metadata import restore_metadata

        ctx.emit(AccountChanged(user.uid, name))
        if casefold(user.nick) == casefold(name):
            session.nick_deadline = None
        restore_metadata(ctx, name)
        mask = user.mask
    else:
        session.account = name
        mask = f"{session.nick or '*'}!{session.username or '*'}@{session.host}"
    ctx.numeric(RPL_LOGGEDIN, mask, name, f"You are now logged in as {name}")


def log_out(ctx: Context) -> None:
    user = ctx.user
    ctx.emit(AccountChanged(user.uid, None), when_applied(lambda: protect_nick(ctx)))
    ctx.numeric(RPL_LOGGEDOUT, user.mask, "You are now logged out")


def check_password(
    ctx: Context, name: str, password: str, then: Callable[[Account | None, bool], None]
) -> None:
    """Verify a login off the event loop; ``then(account or None, throttled)``.

    Failures count against both the client's address and the account, so
    neither many guesses from one place nor one account from many places get far.
    """
    core = ctx.core
    store = core.accounts
    assert store is not None
    keys = ("ip " + ctx.session.ip, "account " + casefold(name))
    if core.login_throttle.blocked(keys, ctx.now):
        then(None, True)
        return
    account = store.get(name)
    stored = account.password_hash if account is not None else _DUMMY_HASH

    def done(ok: bool) -> None:
        if ctx.session not in core.sessions:
            return
        if ok and account is not None:
            then(account, False)
        else:
            core.login_throttle.failed(keys, core.clock())
            then(None, False)

    ctx.offload(lambda: verify_password(password, stored), done)


def register_account(
    ctx: Context, name: str, email: str, password: str, then: Callable[[str | None, str], None]
) -> None:
    """Create an account off the event loop; ``then(error code or None, message)``.

    Error codes are those of IRCv3 account-registration (BAD_ACCOUNT_NAME,
    ACCOUNT_EXISTS, WEAK_PASSWORD, DISALLOWED, TEMPORARILY_UNAVAILABLE).
    """
    core = ctx.core
    store = core.accounts
    settings = ctx.config.accounts
    assert store is not None
    if not settings.allow_registration:
        then("DISALLOWED", "This server does not let people register accounts")
        return
    if not valid_nick(name, ctx.config.limits.nicklen) or casefold(name) == casefold(NICKSERV):
        then("BAD_ACCOUNT_NAME", "An account name must be a valid nickname")
        return
    holder = ctx.state.user(name)
    if store.get(name) is not None or (holder is not None and holder.session is not ctx.session):
        then("ACCOUNT_EXISTS", f"{name} is already taken")
        return
    if len(password) < settings.min_password_length:
        then("WEAK_PASSWORD", f"Use at least {settings.min_password_length} characters")
        return
    created = int(ctx.now * 1000)

    def done(password_hash: str) -> None:
        if ctx.session not in core.sessions:
            return
        try:
            store.create(Account(name, password_hash, email, created))
        except AccountExists:
            then("ACCOUNT_EXISTS", f"{name} is already taken")
            return
        except StoreUnavailable as exc:  # the store has said why in the log
            then("TEMPORARILY_UNAVAILABLE", f"Not registered: {exc}; try again later")
            return
        then(None, f"Account {name} registered")

    ctx.offload(lambda: hash_password(password), done)


def protect_nick(ctx: Context) -> None:
    """If the user's nick is someone's account and the user is not logged in
    to it, warn that it will be taken back after the grace period."""
    store = ctx.core.accounts
    grace = ctx.config.accounts.nick_grace
    user = ctx.user
    session = ctx.session
    session.nick_deadline = None
    if store is None or grace <= 0 or casefold(user.account or "") == user.folded:
        return
    try:
        registered = store.get(user.nick) is not None
    except StoreUnavailable:  # unreadable (the log says why): the nick cannot be claimed
        return
    if not registered:
        return
    session.nick_deadline = ctx.now + grace
    services_notice(
        ctx,
        f"{user.nick} is a registered nickname. Log in within {int(grace)} seconds "
        f"(/msg {NICKSERV} IDENTIFY <password>) or you will be renamed.",
    )


def enforce_nick(ctx: Context, guest: str) -> None:
    """The grace period ran out: rename the user to ``guest``."""
    user = ctx.user
    ctx.session.nick_deadline = None
    if casefold(user.account or "") == user.folded or ctx.state.user(guest) is not None:
        return
    services_notice(ctx, f"You did not log in to {user.nick}; you are now {guest}.")

    def renamed(applied: bool) -> None:
        if not applied and ctx.session.user is not None:
            ctx.session.nick_deadline = ctx.now  # the guest nick was taken first: another

    ctx.emit(NickChanged(user.uid, guest), renamed)
