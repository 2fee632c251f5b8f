"""IRC operators: OPER, and what only they may do: KILL, KLINE, UNKLINE,
WALLOPS, REHASH.

Operator passwords are kept only as scrypt hashes in the config file
(``tcpchat hash-password`` makes one); checking one runs off the event
loop and failures count against the login throttle, like account logins.
Everyone else gets 481 from the command table before a handler runs.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message, casefold
from tcpchat.irc.masks import mask_matches
from tcpchat.irc.numerics import (
    ERR_NOOPERHOST,
    ERR_NOSUCHNICK,
    ERR_PASSWDMISMATCH,
    RPL_REHASHING,
    RPL_YOUREOPER,
)
from tcpchat.server.config import ConfigError
from tcpchat.server.context import CommandSpec, Context, when_applied
from tcpchat.server.events import (
    ModeChange,
    ServerBanAdded,
    ServerBanRemoved,
    UserModeChanged,
    UserQuit,
)
from tcpchat.server.passwords import verify_password
from tcpchat.server.state import is_console_uid

__all__ = ["COMMANDS", "kline_mask"]

# KLINE durations are in minutes, as in other servers; a year at most.
_MAX_MINUTES: Final = 525_600


def handle_oper(ctx: Context, msg: Message) -> None:
    """OPER <name> <password>"""
    name, password = msg.params[0], msg.params[1]
    entry = next((op for op in ctx.config.operators if op.name == name), None)
    if entry is None:
        ctx.error(ERR_NOOPERHOST)
        return
    core = ctx.core
    keys = ("ip " + ctx.session.ip, "oper " + name)
    if core.login_throttle.blocked(keys, ctx.now):
        ctx.error(ERR_PASSWDMISMATCH)
        return

    def done(ok: bool) -> None:
        if ctx.session not in core.sessions:
            return
        if not ok:
            core.login_throttle.failed(keys, core.clock())
            ctx.error(ERR_PASSWDMISMATCH)
            return
        user = ctx.user
        if user.is_oper:
            ctx.numeric(RPL_YOUREOPER, "You are now an IRC operator")
            return
        ctx.emit(
            UserModeChanged(user.uid, (ModeChange(True, "o"),)),
            when_applied(lambda: ctx.numeric(RPL_YOUREOPER, "You are now an IRC operator")),
        )

    ctx.offload(lambda: verify_password(password, entry.password_hash), done)


def handle_kill(ctx: Context, msg: Message) -> None:
    """KILL <nick> [:<reason>]"""
    nick = msg.params[0]
    target = ctx.state.user(nick)
    # The server's own pseudo-users (NickServ, the console's operator) cannot be killed.
    if (
        target is None
        or target.service
        or is_console_uid(target.uid)  # of this node or another
        or (target.session is None and target.node == ctx.core.node)
    ):
        ctx.error(ERR_NOSUCHNICK, nick)
        return
    reason = msg.params[1] if len(msg.params) > 1 and msg.params[1] else "No reason given"
    reason = f"Killed ({ctx.user.nick} ({reason}))"
    if target.session is not None:
        ctx.core.quit(target.session, reason)
    else:  # on another node, which ends its connection when the quit has its turn
        ctx.emit(UserQuit(target.uid, reason))


def kline_mask(text: str) -> str:
    """A KLINE target as a ``user@host`` mask: a bare host bans every user there."""
    return text if "@" in text else f"*@{text}"


def _notice(ctx: Context, text: str) -> None:
    ctx.send(ctx.config.name, "NOTICE", ctx.user.nick, text)


def handle_kline(ctx: Context, msg: Message) -> None:
    """KLINE [<minutes>] <user@host> [:<reason>]"""
    params = list(msg.params)
    minutes = 0
    if params[0].isdigit():
        minutes = int(params.pop(0))
    if not params or minutes > _MAX_MINUTES:
        _notice(ctx, f"Syntax: KLINE [minutes, at most {_MAX_MINUTES}] <user@host> [:reason]")
        return
    mask = kline_mask(params[0])
    if mask_matches(casefold(mask), casefold(f"{ctx.user.username}@{ctx.user.host}")):
        _notice(ctx, f"{mask} would ban you too; choose a narrower mask")
        return
    reason = params[1] if len(params) > 1 and params[1] else "No reason given"
    expires = int((ctx.now + minutes * 60) * 1000) if minutes else 0
    # Each node removes its own users the ban falls on when it has its turn.
    folded = casefold(mask)
    banned = sum(
        1
        for user in ctx.state.users.values()
        if not user.service
        and user.uid != ctx.user.uid
        and mask_matches(folded, casefold(f"{user.username}@{user.host}"))
    )
    ctx.emit(ServerBanAdded(ctx.user.uid, mask, reason, expires))
    how_long = f"for {minutes} minutes" if minutes else "until lifted"
    _notice(ctx, f"Banned {mask} {how_long}; {banned} connected user(s) removed")


def handle_unkline(ctx: Context, msg: Message) -> None:
    """UNKLINE <user@host>"""
    mask = kline_mask(msg.params[0])
    if casefold(mask) not in ctx.state.server_bans:
        _notice(ctx, f"No server ban on {mask}")
        return
    ctx.emit(ServerBanRemoved(ctx.user.uid, mask))
    _notice(ctx, f"Lifted the server ban on {mask}")


def handle_wallops(ctx: Context, msg: Message) -> None:
    """WALLOPS :<text>: a message to every operator."""
    line = f":{ctx.user.mask} WALLOPS :{msg.params[0]}\r\n".encode()
    for user in ctx.state.users.values():
        if user.is_oper and user.session is not None:
            user.session.write(line)


def handle_rehash(ctx: Context, msg: Message) -> None:
    """REHASH: read the config file again, keeping every connection."""
    try:
        source = ctx.core.rehash()
    except ConfigError as exc:
        _notice(ctx, f"REHASH failed, the old settings stay: {exc}")
        return
    ctx.numeric(RPL_REHASHING, source, "Rehashing")


COMMANDS: Final = {
    "OPER": CommandSpec(handle_oper, min_params=2),
    "KILL": CommandSpec(handle_kill, min_params=1, oper=True),
    "KLINE": CommandSpec(handle_kline, min_params=1, oper=True),
    "UNKLINE": CommandSpec(handle_unkline, min_params=1, oper=True),
    "WALLOPS": CommandSpec(handle_wallops, min_params=1, oper=True),
    "REHASH": CommandSpec(handle_rehash, oper=True),
}
