"""The command table, and the checks every command shares.

Each family module exports ``COMMANDS``, a mapping from command name to
:class:`~tcpchat.server.context.CommandSpec`; adding a command is one entry
there and one function. :func:`dispatch` runs the shared checks once:
451 before registration, 461 for missing parameters, 481 for operator
commands, 421 for unknown ones.
"""

from __future__ import annotations

from tcpchat.irc import Message
from tcpchat.irc.numerics import (
    ERR_NEEDMOREPARAMS,
    ERR_NOPRIVILEGES,
    ERR_NOTREGISTERED,
    ERR_UNKNOWNCOMMAND,
)
from tcpchat.server.commands import (
    accounts,
    capabilities,
    channels,
    help,
    history,
    messaging,
    modes,
    monitor,
    multiline,
    nickserv,
    operator,
    queries,
    readmarker,
    redaction,
    registration,
)
from tcpchat.server.context import CommandSpec, Context

__all__ = ["COMMANDS", "dispatch"]

COMMANDS: dict[str, CommandSpec] = {
    **capabilities.COMMANDS,
    **registration.COMMANDS,
    **channels.COMMANDS,
    **modes.COMMANDS,
    **messaging.COMMANDS,
    **queries.COMMANDS,
    **operator.COMMANDS,
    **history.COMMANDS,
    **accounts.COMMANDS,
    **nickserv.COMMANDS,
    **monitor.COMMANDS,
    **multiline.COMMANDS,
    **readmarker.COMMANDS,
    **redaction.COMMANDS,
}
COMMANDS.update(help.help_commands(COMMANDS))


def dispatch(ctx: Context, message: Message) -> None:
    """Run the shared checks for ``message``, then its handler."""
    spec = COMMANDS.get(message.command)
    registered = ctx.session.user is not None
    if spec is None:
        if registered:
            ctx.error(ERR_UNKNOWNCOMMAND, message.command)
        else:
            ctx.error(ERR_NOTREGISTERED)
        return
    if spec.registered and not registered:
        ctx.error(ERR_NOTREGISTERED)
        return
    if len(message.params) < spec.min_params:
        ctx.error(ERR_NEEDMOREPARAMS, message.command)
        return
    if spec.oper and not ctx.user.is_oper:
        ctx.error(ERR_NOPRIVILEGES)
        return
    spec.handler(ctx, message)
