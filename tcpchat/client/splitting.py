"""Long text split into messages that fit IRC's 512-byte line, never cut.

A server relays our PRIVMSG as ``:nick!user@host PRIVMSG target :text``
CRLF, and that whole line must fit in 512 bytes (RFC 1459 section 2.3;
Modern IRC, "Message format"). So the room for text is what is left after
that prefix, which the session computes from what it knows of its own
hostmask. The text is split at a space where one is near enough, else
between characters, and never inside a UTF-8 sequence.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc.framing import MAX_BODY_BYTES

__all__ = ["MIN_ROOM", "split_text", "text_room"]

# A look-back for a space: split at one if it lies within the last quarter
# of a chunk, so words stay whole without making chunks much shorter.
_SPACE_WINDOW: Final = 4
MIN_ROOM: Final = 16
"""The least room a chunk may have, so a strange prefix cannot loop forever."""

# What a hostmask may take when we do not know ours yet: USERLEN 10 plus a
# "~", and 63 bytes of host name (RFC 1035's limit for one label, and what
# servers commonly cap displayed hosts at).
_UNKNOWN_USER: Final = 11
_UNKNOWN_HOST: Final = 63


def text_room(nick: str, user: str, host: str, command: str, target: str) -> int:
    """Bytes left for our text once the server has added its prefix to relay it.

    ``user`` and ``host`` may be empty when we do not know them yet; then the
    most they may take is assumed.
    """
    user_len = len(user.encode()) if user else _UNKNOWN_USER
    host_len = len(host.encode()) if host else _UNKNOWN_HOST
    # ":" nick "!" user "@" host " " command " " target " :" ... CRLF
    prefix = 1 + len(nick.encode()) + 1 + user_len + 1 + host_len + 1
    overhead = prefix + len(command) + 1 + len(target.encode()) + 2 + 2
    return MAX_BODY_BYTES - overhead


def split_text(text: str, room: int) -> list[str]:
    """``text`` as chunks of at most ``room`` UTF-8 bytes each, in order.

    Line breaks start a new chunk; blank lines are dropped (IRC cannot send
    an empty message). Joining the chunks with spaces and line breaks gives
    back the text's words unchanged.
    """
    room = max(room, MIN_ROOM)
    chunks: list[str] = []
    for line in text.splitlines():
        if line.strip():
            chunks.extend(_split_line(line, room))
    return chunks


def _split_line(line: str, room: int) -> list[str]:
    out: list[str] = []
    data = line.encode()
    while len(data) > room:
        cut = room
        # Step back over UTF-8 continuation bytes (10xxxxxx) to a character start.
        while cut > 0 and data[cut] & 0xC0 == 0x80:
            cut -= 1
        space = data.rfind(b" ", cut - cut // _SPACE_WINDOW, cut + 1)
        if space > 0:
            out.append(data[:space].decode())
            data = data[space + 1 :]
        else:
            out.append(data[:cut].decode())
            data = data[cut:]
    if data:
        out.append(data.decode())
    return out
