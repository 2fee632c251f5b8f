"""HELP and HELPOP (Modern IRC, "HELP message"): the commands, and how to use one.

The help is read from the command table: every handler's docstring starts
with its syntax (STYLE.md), so what HELP says is what the table runs, and
a new command has its help with no second place to write it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Final

from tcpchat.irc import Message, chunked
from tcpchat.irc.numerics import ERR_HELPNOTFOUND, RPL_ENDOFHELP, RPL_HELPSTART, RPL_HELPTXT
from tcpchat.server.context import CommandSpec, Context

__all__ = ["help_commands"]

# Keep each 705 line well under 512 bytes with room for the prefix and subject.
_LIST_CHUNK: Final = 300
_INDEX: Final = "*"
"""The subject of the help index (HELP with no subject)."""


def _index(table: Mapping[str, CommandSpec], oper: bool) -> list[str]:
    names = sorted(name for name, spec in table.items() if oper or not spec.oper)
    return [
        "tcpchat speaks IRC. Commands you can use:",
        *chunked(names, _LIST_CHUNK),
        "HELP <command> shows how to use one.",
    ]


def _topic(spec: CommandSpec) -> list[str]:
    doc = inspect.getdoc(spec.handler) or ""
    lines = [line for line in doc.splitlines() if line.strip()]
    if spec.oper:
        lines.append("(for IRC operators)")
    return lines or ["No help written yet."]


def help_commands(table: Mapping[str, CommandSpec]) -> dict[str, CommandSpec]:
    """HELP and HELPOP, answering from ``table`` (which they join)."""

    def handle_help(ctx: Context, msg: Message) -> None:
        """HELP [<command>]: the list of commands, or how to use one (also HELPOP)."""
        wanted = msg.params[0] if msg.params and msg.params[0] else ""
        if not wanted:
            subject, lines = _INDEX, _index(table, ctx.user.is_oper)
        else:
            spec = table.get(wanted.upper())
            if spec is None:
                ctx.error(ERR_HELPNOTFOUND, wanted)
                return
            subject, lines = wanted.upper(), _topic(spec)
        ctx.numeric(RPL_HELPSTART, subject, lines[0])
        for line in lines[1:]:
            ctx.numeric(RPL_HELPTXT, subject, line)
        ctx.numeric(RPL_ENDOFHELP, subject, "End of /HELP")

    spec = CommandSpec(handle_help)
    return {"HELP": spec, "HELPOP": spec}
