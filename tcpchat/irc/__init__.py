"""The IRC protocol with no I/O in it: lines, names and numerics.

This package turns bytes into :class:`Message` values and back, folds and
validates names, and names the numeric replies. It never touches a socket,
an event loop, a clock or a file, so the server, the client and the tests
share it, and it can be tested and fuzzed on its own.
"""

from tcpchat.irc.casemap import CASEMAPPING, casefold
from tcpchat.irc.framing import (
    TOO_LONG,
    LineDecoder,
    decode,
    line_too_long,
    text_head,
    text_run,
)
from tcpchat.irc.message import (
    FormatError,
    Message,
    ProtocolError,
    chunked,
    format_params,
    format_tags,
    parse,
    parse_tags,
    parse_text,
    quote_params,
)
from tcpchat.irc.validate import CHANTYPES, is_channel, valid_channel, valid_nick

__all__ = [
    "CASEMAPPING",
    "CHANTYPES",
    "TOO_LONG",
    "FormatError",
    "LineDecoder",
    "Message",
    "ProtocolError",
    "casefold",
    "chunked",
    "decode",
    "format_params",
    "format_tags",
    "is_channel",
    "line_too_long",
    "parse",
    "parse_tags",
    "parse_text",
    "quote_params",
    "text_head",
    "text_run",
    "valid_channel",
    "valid_nick",
]
