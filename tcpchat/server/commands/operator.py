"""IRC operators: OPER to become one, KILL to disconnect a user.

Operator passwords are kept only as scrypt hashes in the config file
(``tcpchat hash-password`` makes one), and compared with the hash's own
constant-time check.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message
from tcpchat.irc.numerics import (
    ERR_NOOPERHOST,
    ERR_NOSUCHNICK,
    ERR_PASSWDMISMATCH,
    RPL_YOUREOPER,
)
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.events import ModeChange, UserModeChanged
from tcpchat.server.passwords import verify_password

__all__ = ["COMMANDS"]


def handle_oper(ctx: Context, msg: Message) -> None:
    """OPER <name> <password>"""
    name, password = msg.params[0], msg.params[1]
    entry = next((op for op in ctx.config.operators if op.name == name), None)
    if entry is None:
        ctx.error(ERR_NOOPERHOST)
        return
    if not verify_password(password, entry.password_hash):
        ctx.error(ERR_PASSWDMISMATCH)
        return
    user = ctx.user
    if not user.is_oper:
        ctx.emit(UserModeChanged(user.uid, (ModeChange(True, "o"),)))
    ctx.numeric(RPL_YOUREOPER, "You are now an IRC operator")


def handle_kill(ctx: Context, msg: Message) -> None:
    """KILL <nick> [:<reason>]"""
    nick = msg.params[0]
    target = ctx.state.user(nick)
    if target is None or target.session is None:
        ctx.error(ERR_NOSUCHNICK, nick)
        return
    reason = msg.params[1] if len(msg.params) > 1 and msg.params[1] else "No reason given"
    ctx.core.quit(target.session, f"Killed ({ctx.user.nick} ({reason}))")


COMMANDS: Final = {
    "OPER": CommandSpec(handle_oper, min_params=2),
    "KILL": CommandSpec(handle_kill, min_params=1, oper=True),
}
