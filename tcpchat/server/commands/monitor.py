"""MONITOR + | - | C | L | S: a client's list of nicks to be told about.

Targets are nicks only (no masks), at most MONITOR= of them
(ircv3.net/specs/extensions/monitor).
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message, chunked, valid_nick
from tcpchat.irc.numerics import (
    ERR_MONLISTFULL,
    RPL_ENDOFMONLIST,
    RPL_MONLIST,
    RPL_MONOFFLINE,
    RPL_MONONLINE,
)
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.monitor import MONITOR_LIMIT

__all__ = ["COMMANDS"]

# Keep reply lines well under 512 bytes.
_CHUNK: Final = 400


def _chunks(items: list[str]) -> list[str]:
    return chunked(items, _CHUNK, ",")


def _status(ctx: Context, nicks: list[str]) -> None:
    online, offline = [], []
    for nick in nicks:
        user = ctx.state.user(nick)
        if user is not None:
            online.append(user.mask)
        else:
            offline.append(nick)
    for line in _chunks(online):
        ctx.numeric(RPL_MONONLINE, line)
    for line in _chunks(offline):
        ctx.numeric(RPL_MONOFFLINE, line)


def handle_monitor(ctx: Context, msg: Message) -> None:
    """MONITOR <+|-> <nick>{,<nick>} | MONITOR <C|L|S>"""
    monitor = ctx.core.monitor
    session = ctx.session
    action = msg.params[0]
    nicks = [n for n in msg.params[1].split(",") if n] if len(msg.params) > 1 else []
    if action == "+":
        watched = monitor.lists.get(session, set())
        wanted = [n for n in nicks if valid_nick(n, ctx.config.limits.nicklen)]
        room = MONITOR_LIMIT - len(watched)
        if len(wanted) > room:
            ctx.numeric(
                ERR_MONLISTFULL, str(MONITOR_LIMIT), ",".join(wanted), "Monitor list is full."
            )
            wanted = wanted[: max(room, 0)]
        monitor.watch(session, wanted)
        _status(ctx, wanted)
    elif action == "-":
        monitor.unwatch(session, nicks)
    elif action.upper() == "C":
        monitor.forget(session)
    elif action.upper() == "L":
        for line in _chunks(sorted(monitor.lists.get(session, set()))):
            ctx.numeric(RPL_MONLIST, line)
        ctx.numeric(RPL_ENDOFMONLIST, "End of MONITOR list")
    elif action.upper() == "S":
        _status(ctx, sorted(monitor.lists.get(session, set())))


COMMANDS: Final = {"MONITOR": CommandSpec(handle_monitor, min_params=1, registered=False)}
