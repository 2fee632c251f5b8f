"""What a valid nick and a valid channel name look like.

Nicks follow RFC 2812 section 2.3.1 (a letter or one of ``[]\\`_^{|}``
first, then letters, digits, those specials and ``-``). Channel names follow
Modern IRC: a ``#`` prefix and no space, comma or BELL. Both have lengths
that the server sets and advertises (NICKLEN, CHANNELLEN).
"""

from __future__ import annotations

import re

__all__ = ["CHANTYPES", "is_channel", "valid_channel", "valid_nick"]

CHANTYPES = "#"

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")
_CHANNEL_FORBIDDEN = re.compile(r"[\x00\x07\r\n ,:]")


def is_channel(target: str) -> bool:
    """Whether a message target names a channel rather than a nick."""
    return bool(target) and target[0] in CHANTYPES


def valid_nick(nick: str, max_length: int) -> bool:
    """Whether ``nick`` may be used as a nickname of at most ``max_length`` characters."""
    return 0 < len(nick) <= max_length and _NICK.match(nick) is not None


def valid_channel(name: str, max_length: int) -> bool:
    """Whether ``name`` may be used as a channel name of at most ``max_length`` characters."""
    return (
        1 < len(name) <= max_length and is_channel(name) and _CHANNEL_FORBIDDEN.search(name) is None
    )
