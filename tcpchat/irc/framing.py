"""Bytes to lines: the receive side of an IRC connection, with its limits.

A TCP read may hold half a line or a hundred; :class:`LineDecoder` buffers
and splits on LF (a CR before it is dropped, and a bare LF is accepted, as
PROTOCOL.md asks). A line longer than :data:`MAX_LINE_BYTES` is not kept in
memory: the decoder discards it as it arrives and reports it once, as
:data:`TOO_LONG`, so the server can answer 417 and keep the connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Final

from tcpchat.irc.message import UNSAFE

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CLIENT_TAG_BYTES",
    "MAX_LINE_BYTES",
    "TOO_LONG",
    "LineDecoder",
    "decode",
    "line_too_long",
    "text_head",
    "text_run",
]

# IRCv3 "Message Tags", "Size limit": 4094 bytes of client tags (with the
# '@' and the space) plus 512 for the rest of the message, 8191 in all
# for a line with tags sent by a client.
MAX_BODY_BYTES: Final = 512
MAX_CLIENT_TAG_BYTES: Final = 4094
MAX_LINE_BYTES: Final = 8191

TOO_LONG: Final = b"\0too-long"
"""Stands in the output of :meth:`LineDecoder.feed` where a line was too long."""


# No IRC message holds NUL, CR or LF (Modern IRC, "Message format"): one
# that did could not be quoted back in a reply, and relayed as it came, a
# CR would end the line early for a client that splits on it, so that the
# rest passed for a line from the server.
_NOT_IN_A_RUN: Final = {c: r for c, r in UNSAFE.items() if c != 10}  # LFs part a run's lines


def decode(raw: bytes) -> str:
    """Bytes of one line as text: invalid UTF-8 becomes U+FFFD, and so do
    NUL, CR and LF, never an error. Whatever a client sends, no text the
    server reads from it holds a byte that would break a line."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode(errors="replace")
    if "\r" in text or "\0" in text or "\n" in text:
        return text.translate(UNSAFE)
    return text


def text_head(line: bytes) -> bytes | None:
    """What a line of a run of texts would share with the others: all up to
    and including the first " :", such as ``PRIVMSG bob :``; None if it has none."""
    cut = line.find(b" :")
    return line[: cut + 2] if cut > 0 else None


def text_run(lines: Iterable[bytes], head: bytes, limit: int) -> list[str]:
    """The texts of the lines at the start of ``lines`` (at most ``limit``)
    that are ``head``, an ASCII ``PRIVMSG <target> :``, and a text.

    Each text is what :func:`~tcpchat.irc.parse_text` reads from
    :func:`decode` of its line; a line it would not read so (an empty text,
    another target or command) ends the run. The lines
    are decoded in one piece: a client that pastes or pipelines sends many
    such lines at once, and this costs a few C calls for all of them
    (bench/PROFILE.md). An LF cannot be inside a line that
    :class:`LineDecoder` gives, and is ASCII, so decoding the lines joined
    by LF gives each line's text. A line that is not valid UTF-8 ends the
    run: it goes on its own, so that the server can say it had to change
    it (UTF8ONLY).
    """
    size = len(head)
    run = []
    for line in islice(lines, limit):
        if len(line) <= size or not line.startswith(head):
            break
        run.append(line)
    if not run:
        return []
    data = b"\n" + b"\n".join(run)
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        text = data[: data.rfind(b"\n", 0, exc.start)].decode()
    if "\r" in text or "\0" in text:
        text = text.translate(_NOT_IN_A_RUN)
    return text.split("\n" + head.decode("ascii"))[1:]


def line_too_long(raw: bytes) -> bool:
    """Whether a complete line (without CRLF) is over the size limits.

    The body may use 510 bytes (512 with CRLF); a tags section its own 4094.
    """
    if raw[:1] == b"@":
        space = raw.find(b" ")
        tags_len = space + 1 if space != -1 else len(raw)
        # The 4094 bytes of tag data do not count the '@' and the space after.
        return tags_len - 2 > MAX_CLIENT_TAG_BYTES or len(raw) - tags_len > MAX_BODY_BYTES - 2
    return len(raw) > MAX_BODY_BYTES - 2


class LineDecoder:
    """Turns pushed bytes into complete lines (bytes, without CR/LF)."""

    __slots__ = ("_buffer", "_discarding")

    def __init__(self) -> None:
        self._buffer = b""
        # True while the rest of an over-long line is being skipped.
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the lines they complete, in order.

        Empty lines are left out. A line over the limits is returned as
        :data:`TOO_LONG` instead of its content.
        """
        buffer = self._buffer + data if self._buffer else data
        # The common read, of lines all ending in CRLF, none too long or
        # empty, is split and checked by a few C calls for all its lines
        # rather than by Python for each (bench/PROFILE.md).
        crlf = buffer.count(b"\n") == buffer.count(b"\r\n")
        lines = buffer.split(b"\r\n" if crlf else b"\n")
        self._buffer = lines.pop()
        if self._discarding and lines:
            self._discarding = False
            del lines[0]
        if not crlf:
            lines = [raw[:-1] if raw.endswith(b"\r") else raw for raw in lines]
        if b"" in lines:
            lines = [line for line in lines if line]
        if lines and max(map(len, lines)) > MAX_BODY_BYTES - 2:
            lines = [TOO_LONG if line_too_long(line) else line for line in lines]
        if len(self._buffer) > MAX_LINE_BYTES:
            if not self._discarding:
                lines.append(TOO_LONG)
            self._discarding = True
            self._buffer = b""
        return lines
