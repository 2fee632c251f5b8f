"""METADATA: user and channel metadata (IRCv3 ``draft/metadata-2``).

``METADATA <target> <subcommand> ...``, the target a nick, a channel, or
``*`` for oneself (the only one before registration: ``before-connect``).
Anyone may read a user's metadata, and a channel's where they could see
its members (a member, an IRC operator, or any channel neither secret nor
invite-only). A user sets its own, a channel operator its channel's, an
IRC operator anyone's. What a logged-in user sets on itself is kept with
its account and comes back when it logs in again. Errors are standard
replies (``FAIL METADATA <code>``); the limits are in
:mod:`tcpchat.server.metadata` and in the capability's value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from tcpchat.irc import Message, is_channel
from tcpchat.irc.numerics import (
    ERR_NEEDMOREPARAMS,
    ERR_NOTREGISTERED,
    RPL_METADATASUBOK,
    RPL_METADATASUBS,
    RPL_METADATAUNSUBOK,
)
from tcpchat.server.commands.channels import is_chanop
from tcpchat.server.commands.history import in_batch
from tcpchat.server.context import CommandSpec, Context, when_applied
from tcpchat.server.delivery import with_tag
from tcpchat.server.events import MetadataSet
from tcpchat.server.metadata import (
    CAPS,
    MAX_KEYS,
    MAX_SUBS,
    MAX_VALUE_BYTES,
    SET_RATE,
    key_line,
    notification,
    speaks_metadata,
    subscribed_lines,
    valid_key,
)
from tcpchat.server.state import Channel, User
from tcpchat.store.health import StoreUnavailable

__all__ = ["COMMANDS", "restore_metadata", "send_own_metadata"]

Target = User | Channel | None
"""What a METADATA command is about: a user, a channel, or (None) the
session itself before registration."""

# The subcommands that work before registration, on "*" (before-connect).
_BEFORE_CONNECT: Final = frozenset({"GET", "LIST", "SET", "CLEAR", "SUB", "UNSUB", "SUBS"})


def _fail(ctx: Context, code: str, *params: str) -> None:
    ctx.send(ctx.config.name, "FAIL", "METADATA", code, *params)


def _values(ctx: Context, target: Target) -> dict[str, str]:
    return ctx.session.metadata if target is None else target.metadata


def _shown(ctx: Context, target: Target) -> str:
    if target is None:
        return "*"
    return target.name if isinstance(target, Channel) else target.nick


def _readable(ctx: Context, target: Target) -> bool:
    if not isinstance(target, Channel):
        return True
    me = ctx.user
    return me in target.members or me.is_oper or not ({"s", "i"} & target.modes)


def _writable(ctx: Context, target: Target) -> bool:
    if target is None:
        return True
    me = ctx.user
    if isinstance(target, Channel):
        return me.is_oper or is_chanop(target, me)
    return target is me or me.is_oper


def _write(ctx: Context, batch: str, data: bytes) -> None:
    ctx.session.write(with_tag(data, f"batch={batch}") if batch else data)


def _key_reply(
    ctx: Context, batch: str, target: Target, key: str, value: str | None = None
) -> None:
    """RPL_KEYVALUE or RPL_KEYNOTSET for ``key``: of ``value`` when given, else
    of the target's value now."""
    if value is None:
        value = _values(ctx, target).get(key)
    shown = _shown(ctx, target)
    _write(ctx, batch, key_line(ctx.config.name, ctx.session.display_nick, shown, key, value))


def _unset_reply(ctx: Context, batch: str, target: Target, key: str) -> None:
    shown = _shown(ctx, target)
    _write(ctx, batch, key_line(ctx.config.name, ctx.session.display_nick, shown, key, None))


def _get(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    shown = _shown(ctx, target)
    readable = _readable(ctx, target)

    def fill(batch: str) -> None:
        for key in params:
            if not valid_key(key):
                _fail(ctx, "KEY_INVALID", key, "invalid key")
            elif not readable:
                _fail(ctx, "KEY_NO_PERMISSION", shown, key, "permission denied")
            else:
                _key_reply(ctx, batch, target, key)

    in_batch(ctx, "metadata", (shown,), fill)


def _list(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    shown = _shown(ctx, target)
    if not _readable(ctx, target):
        _fail(ctx, "KEY_NO_PERMISSION", shown, "*", "permission denied")
        return

    def fill(batch: str) -> None:
        for key in sorted(_values(ctx, target)):
            _key_reply(ctx, batch, target, key)

    in_batch(ctx, "metadata", (shown,), fill)


def _change(
    ctx: Context,
    target: Target,
    key: str,
    value: str | None,
    source: str,
    then: Callable[[], None] | None = None,
) -> None:
    """Set (or, for None, unset) a key, then ``then``: an event once
    registered, the session's own before; what a logged-in user sets on
    itself is kept."""
    if target is None:
        if value is None:
            ctx.session.metadata.pop(key, None)
        else:
            ctx.session.metadata[key] = value
        if then is not None:
            then()
        return
    owner = target.name if isinstance(target, Channel) else target.uid
    ctx.emit(MetadataSet(source, owner, key, value), when_applied(then) if then else None)
    accounts = ctx.core.accounts
    if isinstance(target, User) and target.account and accounts is not None and source:
        accounts.set_metadata(target.account, key, value)


def _set(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    if not params:
        ctx.error(ERR_NEEDMOREPARAMS, "METADATA")
        return
    key, value = params[0], params[1] if len(params) > 1 else None
    shown = _shown(ctx, target)
    values = _values(ctx, target)
    if not valid_key(key):
        _fail(ctx, "KEY_INVALID", key, "invalid key")
    elif not _writable(ctx, target):
        _fail(ctx, "KEY_NO_PERMISSION", shown, key, "permission denied")
    elif value is not None and len(value.encode()) > MAX_VALUE_BYTES:
        # draft/metadata-2 names this VALUE_INVALID; the newer draft INVALID_VALUE.
        code = "INVALID_VALUE" if speaks_metadata(ctx.session) == CAPS[1] else "VALUE_INVALID"
        _fail(ctx, code, key, f"value is longer than {MAX_VALUE_BYTES} bytes")
    elif value is None and key not in values:
        _fail(ctx, "KEY_NOT_SET", shown, key, "key not set")
    elif value is not None and key not in values and len(values) >= MAX_KEYS:
        _fail(ctx, "LIMIT_REACHED", shown, f"metadata limit of {MAX_KEYS} keys reached")
    elif target is not None and not ctx.core.metadata_throttle.allow(ctx.user.uid, ctx.now):
        wait = str(math.ceil(1 / SET_RATE))
        _fail(ctx, "RATE_LIMITED", shown, key, wait, "too many changes; wait a little")
    else:
        source = ctx.user.uid if target is not None else ""
        if value is None:
            _change(ctx, target, key, None, source, lambda: _unset_reply(ctx, "", target, key))
        else:
            _change(
                ctx, target, key, value, source, lambda: _key_reply(ctx, "", target, key, value)
            )


def _clear(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    shown = _shown(ctx, target)
    if not _writable(ctx, target):
        _fail(ctx, "KEY_NO_PERMISSION", shown, "*", "permission denied")
        return
    source = ctx.user.uid if target is not None else ""

    def fill(batch: str) -> None:
        for key in sorted(_values(ctx, target)):
            _change(ctx, target, key, None, source)
            _unset_reply(ctx, batch, target, key)

    in_batch(ctx, "metadata", (shown,), fill)


def _sub(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    subs = set(ctx.session.metadata_subs)
    done: list[str] = []
    for key in params:
        if not valid_key(key):
            _fail(ctx, "KEY_INVALID", key, "invalid key")
        elif key not in subs and len(subs) >= MAX_SUBS:
            _fail(ctx, "TOO_MANY_SUBS", key, f"at most {MAX_SUBS} subscriptions")
            break
        else:
            subs.add(key)
            done.append(key)
    ctx.session.metadata_subs = frozenset(subs)
    if done:
        ctx.numeric(RPL_METADATASUBOK, *done)


def _unsub(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    done: list[str] = []
    for key in params:
        if not valid_key(key):
            _fail(ctx, "KEY_INVALID", key, "invalid key")
        else:
            ctx.session.metadata_subs -= {key}
            done.append(key)
    if done:
        ctx.numeric(RPL_METADATAUNSUBOK, *done)


def _subs(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    def fill(batch: str) -> None:
        for key in sorted(ctx.session.metadata_subs):
            line = f":{ctx.config.name} {RPL_METADATASUBS} {ctx.session.display_nick} {key}\r\n"
            _write(ctx, batch, line.encode())

    in_batch(ctx, "metadata-subs", (), fill)


def _tell(ctx: Context, batch: str, owner: User | Channel) -> None:
    for data in subscribed_lines(ctx.session, ctx.config.name, owner):
        _write(ctx, batch, data)


def _sync(ctx: Context, target: Target, params: tuple[str, ...]) -> None:
    shown = _shown(ctx, target)
    if target is None or not _readable(ctx, target):
        _fail(ctx, "KEY_NO_PERMISSION", shown, "*", "permission denied")
        return

    def fill(batch: str) -> None:
        _tell(ctx, batch, target)
        if isinstance(target, Channel):
            for member in target.members:
                if member is not ctx.user:
                    _tell(ctx, batch, member)

    in_batch(ctx, "metadata", (shown,), fill)


_SUBCOMMANDS: Final[dict[str, Callable[[Context, Target, tuple[str, ...]], None]]] = {
    "GET": _get,
    "LIST": _list,
    "SET": _set,
    "CLEAR": _clear,
    "SUB": _sub,
    "UNSUB": _unsub,
    "SUBS": _subs,
    "SYNC": _sync,
}


def handle_metadata(ctx: Context, msg: Message) -> None:
    """METADATA <target> <GET|LIST|SET|CLEAR|SUB|UNSUB|SUBS|SYNC> [<key> [:<value>]]:
    metadata of users and channels (a display name, an avatar, a colour)."""
    name, sub = msg.params[0], msg.params[1].upper()
    handler = _SUBCOMMANDS.get(sub)
    if handler is None:
        _fail(ctx, "SUBCOMMAND_INVALID", msg.params[1], "invalid subcommand")
        return
    user = ctx.session.user
    if user is None and (name != "*" or sub not in _BEFORE_CONNECT):
        ctx.error(ERR_NOTREGISTERED)
        return
    target: Target
    if user is None:
        target = None
    elif name == "*":
        target = user
    elif is_channel(name):
        target = ctx.state.channel(name)
    else:
        target = ctx.state.user(name)
    if user is not None and target is None:
        _fail(ctx, "INVALID_TARGET", name, "invalid metadata target")
        return
    handler(ctx, target, msg.params[2:])


def send_own_metadata(ctx: Context, metadata: dict[str, str]) -> None:
    """At registration: a client that speaks metadata is told its own
    (``metadata``, as :func:`restore_metadata` made it), in a batch, empty
    if it has none (metadata, "Notifications")."""
    if not speaks_metadata(ctx.session):
        return
    nick = ctx.user.nick

    def fill(batch: str) -> None:
        for key, value in sorted(metadata.items()):
            _write(ctx, batch, notification(ctx.session, ctx.config.name, nick, key, value))

    in_batch(ctx, "metadata", (nick,), fill)


def restore_metadata(ctx: Context, account: str | None) -> dict[str, str]:
    """On registration or login to ``account``: the metadata kept with it
    comes back, then what the client set before registration (and is now
    kept). Returns the user's metadata as these changes leave it."""
    user = ctx.user
    result = dict(user.metadata)
    accounts = ctx.core.accounts
    try:
        kept = accounts.metadata(account) if account and accounts is not None else {}
    except StoreUnavailable:  # unreadable now (the log says why): what is kept stays there
        kept = {}
    for key, value in kept.items():
        if result.get(key) != value:
            ctx.emit(MetadataSet("", user.uid, key, value))
            result[key] = value
    pending, ctx.session.metadata = ctx.session.metadata, {}
    for key, value in pending.items():
        _change(ctx, user, key, value, user.uid)
        result[key] = value
    return result


COMMANDS: Final = {
    "METADATA": CommandSpec(handle_metadata, min_params=2, registered=False, strict_utf8=True)
}
