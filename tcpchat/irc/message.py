"""IRC messages: one line of text in, one :class:`Message` out, and back.

Theory of operation: a line is ``[@tags SPACE] [:source SPACE] command
[params] [SPACE :trailing]`` (Modern IRC, "Message format"; IRCv3 "Message
Tags"). Parsing is lenient where the specs ask for leniency (several spaces
between parameters, a trailing ``\\`` in a tag value) and strict where a
mistake would change meaning (a line with no command). Formatting is the
reverse and refuses to build a line that would parse into something else,
such as a middle parameter that contains a space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tcpchat.frozen import fast_init

__all__ = [
    "FormatError",
    "Message",
    "ProtocolError",
    "chunked",
    "escape_tag_value",
    "format_tags",
    "parse",
    "parse_tags",
    "parse_text",
    "quote_params",
    "unescape_tag_value",
]


class ProtocolError(ValueError):
    """The remote side sent a line that is not an IRC message.

    This is the only exception :func:`parse` raises, whatever the input.
    """


class FormatError(ValueError):
    """The local side asked to format a message that cannot be sent as one line."""


_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
# A parameter that may stand in the middle of a line: no space, no leading
# colon, not empty. Anything else must be the final ("trailing") parameter.
_FORBIDDEN_ANYWHERE = ("\r", "\n", "\0")


@fast_init
@dataclass(frozen=True, slots=True)
class Message:
    """One IRC message, as parsed from or to be formatted into a line."""

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def format(self) -> str:
        """The line for this message, without the trailing CRLF."""
        head = f"@{format_tags(self.tags)} " if self.tags else ""
        if self.source is not None:
            if not self.source or " " in self.source or _has_forbidden(self.source):
                raise FormatError(f"invalid source {self.source!r}")
            head += f":{self.source} "
        if not self.command or " " in self.command or _has_forbidden(self.command):
            raise FormatError(f"invalid command {self.command!r}")
        return head + self.command + format_params(self.params)

    def to_bytes(self) -> bytes:
        """The line for this message, encoded as UTF-8 and ended with CRLF."""
        return (self.format() + "\r\n").encode()


def _has_forbidden(text: str) -> bool:
    return any(c in text for c in _FORBIDDEN_ANYWHERE)


def format_params(params: tuple[str, ...] | list[str]) -> str:
    """The parameters as they follow the command, each preceded by a space.

    The last parameter is written as trailing (``:text``) only when it has to
    be, which is what most servers do and what byte-exact tests expect.
    """
    if not params:
        return ""
    out = []
    last = len(params) - 1
    for i, param in enumerate(params):
        if _has_forbidden(param):
            raise FormatError(f"parameter {param!r} contains CR, LF or NUL")
        if i == last and (not param or " " in param or param[0] == ":"):
            out.append(" :" + param)
        elif not param or " " in param or param[0] == ":":
            raise FormatError(f"middle parameter {param!r} is empty, has a space or a colon")
        else:
            out.append(" " + param)
    return "".join(out)


UNSAFE: Final = dict.fromkeys(map(ord, _FORBIDDEN_ANYWHERE), 0xFFFD)
"""A ``str.translate`` table that turns what no line may hold into U+FFFD."""


def quote_params(params: tuple[str, ...] | list[str]) -> str:
    """:func:`format_params` for a reply that quotes what a client sent: never raises.

    A client's words may not fit where a reply puts them: a trailing
    parameter with a space (``NAMES :#a b``), an empty one or one that
    starts with a colon cannot stand in the middle of a line, so there it
    becomes ``*``, the usual placeholder; a CR, LF or NUL anywhere becomes
    U+FFFD. The strict formatter runs first, so only a reply that needs
    it pays for the repair.
    """
    try:
        return format_params(params)
    except FormatError:
        last = len(params) - 1
        return format_params([_quotable(p, i == last) for i, p in enumerate(params)])


def _quotable(param: str, trailing: bool) -> str:
    if _has_forbidden(param):
        param = param.translate(UNSAFE)
    if not trailing and (not param or " " in param or param[0] == ":"):
        return "*"
    return param


def chunked(items: list[str], limit: int, sep: str = " ") -> list[str]:
    """``items`` joined by ``sep`` into as few pieces as keep each within
    ``limit`` characters (an item longer than that stands alone): a long list
    over several reply lines, each fitting IRC's line limit."""
    out: list[str] = []
    current = ""
    for item in items:
        if current and len(current) + len(sep) + len(item) > limit:
            out.append(current)
            current = ""
        current = f"{current}{sep}{item}" if current else item
    if current:
        out.append(current)
    return out


def escape_tag_value(value: str) -> str:
    """Escape a tag value (IRCv3 Message Tags, "Escaping values")."""
    return value.translate(_ESCAPES)


def unescape_tag_value(value: str) -> str:
    """Undo :func:`escape_tag_value`; an unknown escape stands for its letter."""
    if "\\" not in value:
        return value
    out = []
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == "\\":
            i += 1
            if i < n:
                nxt = value[i]
                out.append(_UNESCAPES.get(nxt, nxt))
            # a lone backslash at the end is dropped, as the spec says
        else:
            out.append(c)
        i += 1
    return "".join(out)


def format_tags(tags: Mapping[str, str]) -> str:
    """The tags part of a line, without the leading ``@``."""
    parts = []
    for key, value in tags.items():
        if not key or " " in key or ";" in key or "=" in key or _has_forbidden(key):
            raise FormatError(f"invalid tag key {key!r}")
        parts.append(f"{key}={escape_tag_value(value)}" if value else key)
    return ";".join(parts)


def parse_tags(text: str) -> dict[str, str]:
    """Parse the tags part of a line (without ``@``); a key that repeats keeps its last value."""
    tags: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key:
            continue
        tags[key] = unescape_tag_value(value)
    return tags


def parse(line: str) -> Message:
    """Parse one line (with or without its CRLF) into a :class:`Message`.

    Raises :class:`ProtocolError` when the line holds no command; the text
    is taken as it is, so decode bytes first (see :mod:`tcpchat.irc.framing`).
    """
    line = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    source = None
    rest = line
    if rest[:1] == "@":
        end = rest.find(" ")
        if end == -1:
            raise ProtocolError("a line with tags and no command")
        tags = parse_tags(rest[1:end])
        rest = rest[end:].lstrip(" ")
    elif rest[:1] == " ":
        rest = rest.lstrip(" ")
    if rest[:1] == ":":
        end = rest.find(" ")
        if end == -1:
            raise ProtocolError("a line with a source and no command")
        source = rest[1:end]
        rest = rest[end:].lstrip(" ")
    # rest starts at the command; what follows " :" is the trailing parameter.
    colon = rest.find(" :")
    trailing = None
    if colon != -1:
        trailing = rest[colon + 2 :]
        rest = rest[:colon]
    words = rest.split(" ")
    if "" in words:  # several spaces between parameters, or none at all
        words = [w for w in words if w]
        if not words:
            raise ProtocolError("a line with no command")
    command = words[0].upper()
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return Message(command, tuple(params), source or None, tags)


_TEXT_COMMANDS: Final = frozenset(("PRIVMSG", "NOTICE"))


def parse_text(line: str) -> tuple[str, str, str] | None:
    """``(command, target, text)`` if ``line`` is ``PRIVMSG`` or ``NOTICE`` to
    one target, with a trailing text and no tags or source; otherwise None.

    Most of what a chat server reads is such a line, and this reads it with
    three string operations instead of building a :class:`Message`. For any
    line it accepts, :func:`parse` gives the same command and parameters;
    everything else (several targets or spaces, tags, a lower-case command)
    is left to :func:`parse`.
    """
    command, _, rest = line.partition(" ")
    if command not in _TEXT_COMMANDS:
        return None
    target, colon, text = rest.partition(" :")
    if not colon or not target or not text or " " in target or "," in target:
        return None
    if target[0] == ":" or text[-1] == "\r":  # what parse reads otherwise
        return None
    return command, target, text
