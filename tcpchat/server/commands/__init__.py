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
    metadata,
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

__all__ = ["COMMANDS", "dispatch", "warn_invalid_utf8"]

COMMANDS: dict[str, CommandSpec] = {
    **capabilities.COMMANDS,
    **registration.COMMANDS,
    **channels.COMMANDS,
    **modes.COMMANDS,
    **messaging.COMMANDS,
    **metadata.COMMANDS,
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


def _shown(command: str) -> str:
    """A command as a reply may name it: ``*`` for what is no command (binary
    noise, such as a TLS hello sent to the plain port)."""
    return command if command.isascii() and command.isalnum() else "*"


def warn_invalid_utf8(ctx: Context, command: str) -> None:
    """UTF8ONLY: a line that is not UTF-8 goes on with U+FFFD in place of what
    could not be read (nothing is lost); the sender is told (IRCv3 utf8-only)."""
    ctx.send(
        ctx.config.name,
        "WARN",
        _shown(command),
        "INVALID_UTF8",
        "Your message was not correctly encoded as UTF-8 and had to be modified",
    )


def dispatch(ctx: Context, message: Message, mangled: bool = False) -> None:
    """Run the shared checks for ``message``, then its handler; ``mangled``:
    the line was not UTF-8 (see :func:`warn_invalid_utf8`, and
    ``CommandSpec.strict_utf8`` for commands that refuse it instead)."""
    spec = COMMANDS.get(message.command)
    if mangled:
        if spec is not None and spec.strict_utf8:
            ctx.send(
                ctx.config.name,
                "FAIL",
                _shown(message.command),
                "INVALID_UTF8",
                "Refused: this server takes UTF-8 only, and this was not",
            )
            return
        warn_invalid_utf8(ctx, message.command)
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
