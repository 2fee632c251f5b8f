"""The input line: text typed by a person, read as a message or a ``/command``.

:func:`parse_input` turns one line into an :class:`~tcpchat.client.intents.Intent`
for the session, or into :class:`Feedback` to show at once when the line
asks for help or cannot be carried out (an unknown command gets a helpful
line, never silence). Commands are a table, so adding one is one entry and
one function; ``/help`` is drawn from the same table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tcpchat.client.intents import (
    Away,
    ChangeNick,
    CloseBuffer,
    Intent,
    Join,
    Kick,
    OpenQuery,
    Part,
    Quit,
    Raw,
    Say,
    SetProfile,
    SetTopic,
    Whois,
)
from tcpchat.client.updates import SERVER_BUFFER
from tcpchat.irc import is_channel

__all__ = ["COMMANDS", "Feedback", "help_text", "parse_input"]


@dataclass(frozen=True, slots=True)
class Feedback:
    """Text to show in the current conversation instead of sending anything."""

    text: str
    error: bool = False


Handler = Callable[[str, str], "Intent | Feedback"]


@dataclass(frozen=True, slots=True)
class Command:
    usage: str
    summary: str
    handler: Handler


def _words(args: str, count: int) -> list[str]:
    """The first ``count - 1`` words of ``args`` and the rest as one last item."""
    return args.split(None, count - 1) if args else []


def _channel_arg(args: str, buffer: str) -> tuple[str, str]:
    """(channel, rest): a leading channel name, or else the conversation in view."""
    first, _, rest = args.partition(" ")
    if first and is_channel(first):
        return first, rest.strip()
    return (buffer if is_channel(buffer) else ""), args


def _usage(name: str) -> Feedback:
    command = COMMANDS[name]
    return Feedback(f"Usage: {command.usage} - {command.summary}", error=True)


def _join(args: str, buffer: str) -> Intent | Feedback:
    words = _words(args, 2)
    if not words:
        return _usage("join")
    channel = words[0] if is_channel(words[0]) else f"#{words[0]}"
    return Join(channel, words[1] if len(words) > 1 else "")


def _part(args: str, buffer: str) -> Intent | Feedback:
    channel, reason = _channel_arg(args, buffer)
    return Part(channel, reason) if channel else _usage("part")


def _msg(args: str, buffer: str) -> Intent | Feedback:
    words = _words(args, 2)
    if len(words) < 2:
        return _usage("msg")
    return Say(words[0], words[1])


def _query(args: str, buffer: str) -> Intent | Feedback:
    words = _words(args, 2)
    if not words or is_channel(words[0]):
        return _usage("query")
    return OpenQuery(words[0], words[1] if len(words) > 1 else "")


def _me(args: str, buffer: str) -> Intent | Feedback:
    if buffer == SERVER_BUFFER:
        return Feedback("/me works in a channel or a private chat.", error=True)
    return Say(buffer, args, action=True) if args else _usage("me")


def _nick(args: str, buffer: str) -> Intent | Feedback:
    words = args.split()
    return ChangeNick(words[0]) if len(words) == 1 else _usage("nick")


def _topic(args: str, buffer: str) -> Intent | Feedback:
    channel, text = _channel_arg(args, buffer)
    if not channel:
        return _usage("topic")
    return SetTopic(channel, text or None)


def _away(args: str, buffer: str) -> Intent | Feedback:
    return Away(args)


def _whois(args: str, buffer: str) -> Intent | Feedback:
    words = args.split()
    if not words and buffer and not is_channel(buffer):
        return Whois(buffer)
    return Whois(words[0]) if words else _usage("whois")


def _kick(args: str, buffer: str) -> Intent | Feedback:
    channel, rest = _channel_arg(args, buffer)
    words = _words(rest, 2)
    if not channel or not words:
        return _usage("kick")
    return Kick(channel, words[0], words[1] if len(words) > 1 else "")


def _quit(args: str, buffer: str) -> Intent | Feedback:
    return Quit(args)


def _display(args: str, buffer: str) -> Intent | Feedback:
    return SetProfile("display-name", args.strip())


def _colour(args: str, buffer: str) -> Intent | Feedback:
    colour = args.strip()
    if colour and not re.fullmatch(r"#[0-9A-Fa-f]{6}", colour):
        return Feedback("A colour is written #rrggbb, such as #2e7d32.", error=True)
    return SetProfile("color", colour)


def _close(args: str, buffer: str) -> Intent | Feedback:
    name = args.strip() or buffer
    if name == SERVER_BUFFER:
        return Feedback("The server window stays open; use /quit to leave.", error=True)
    return CloseBuffer(name)


def _quote(args: str, buffer: str) -> Intent | Feedback:
    return Raw(args) if args.strip() else _usage("quote")


def _help(args: str, buffer: str) -> Intent | Feedback:
    return Feedback(help_text(args.strip().lstrip("/").lower()))


COMMANDS: Final[dict[str, Command]] = {
    "join": Command("/join #channel [key]", "join a channel", _join),
    "part": Command("/part [#channel] [reason]", "leave a channel", _part),
    "msg": Command("/msg nick text", "send a private message", _msg),
    "query": Command("/query nick [text]", "open a private chat", _query),
    "me": Command("/me text", "describe what you are doing", _me),
    "nick": Command("/nick newnick", "change your nickname", _nick),
    "topic": Command("/topic [#channel] [text]", "show or set the topic", _topic),
    "away": Command("/away [reason]", "mark yourself away; without a reason, back", _away),
    "whois": Command("/whois nick", "ask who someone is", _whois),
    "kick": Command("/kick [#channel] nick [reason]", "remove someone from a channel", _kick),
    "close": Command("/close", "close this conversation", _close),
    "quote": Command("/quote LINE", "send a raw IRC line", _quote),
    "quit": Command("/quit [reason]", "disconnect and close", _quit),
    "display": Command(
        "/display [name]", "the name others see beside your nick; without one, none", _display
    ),
    "colour": Command("/colour [#rrggbb]", "the colour of your nick for others", _colour),
    "help": Command("/help [command]", "list commands, or explain one", _help),
}
"""Every command of the input line, by name."""

_ALIASES: Final = {
    "j": "join",
    "leave": "part",
    "m": "msg",
    "q": "query",
    "raw": "quote",
    "color": "colour",
}


def help_text(name: str = "") -> str:
    """All commands with a line each, or the usage of one."""
    name = _ALIASES.get(name, name)
    if name in COMMANDS:
        command = COMMANDS[name]
        return f"{command.usage} - {command.summary}"
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"  {c.usage:<{width}}  {c.summary}" for c in COMMANDS.values()]
    return "\n".join(["Commands (type // to start a message with /):", *lines])


def parse_input(text: str, buffer: str) -> Intent | Feedback | None:
    """What typing ``text`` in the conversation ``buffer`` asks for; None for nothing."""
    if not text.strip():
        return None
    if text.startswith("/") and not text.startswith("//"):
        typed, _, args = text[1:].partition(" ")
        command = COMMANDS.get(_ALIASES.get(typed.lower(), typed.lower()))
        if command is None:
            return Feedback(
                f"There is no command /{typed}. "
                "Type /help to see the commands, or // to send a line that starts with /.",
                error=True,
            )
        return command.handler(args.strip(), buffer)
    if text.startswith("//"):
        text = text[1:]
    if buffer == SERVER_BUFFER:
        return Feedback(
            "This is the server window: nothing typed here is sent. "
            "Join a channel with /join #name, or write to someone with /msg nick text.",
            error=True,
        )
    return Say(buffer, text)
