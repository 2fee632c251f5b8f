"""The WebSocket protocol (RFC 6455), server side, with no I/O in it.

Theory of operation. After the HTTP handshake (:func:`accept_key`) the two
sides exchange frames. :class:`FrameReader` is fed the bytes a client
sends and hands back what they complete: data messages (as ``bytes``,
fragments joined, text checked to be UTF-8) and control frames (:class:`Ping`,
:class:`Pong`, :class:`Close`), or a :class:`Failure` when the client broke
the protocol, after which it reads nothing more. The caller answers pings,
closes, and writes what :func:`frame` and :func:`frame_lines` make.

What it leaves out, on purpose: extensions (permessage-deflate is never
negotiated, so a frame with an RSV bit set is an error), and sending
fragmented messages (an IRC line is small; each goes in one frame).

Every limit is a named constant. A frame announces its length before its
payload, so a frame or message over :data:`MAX_MESSAGE` is refused as soon
as its header arrives (1009), and the reader never holds more than one
frame of unread bytes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BAD_DATA",
    "GOING_AWAY",
    "MAX_CONTROL",
    "MAX_MESSAGE",
    "NORMAL",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "POLICY",
    "PROTOCOL_ERROR",
    "TOO_BIG",
    "Close",
    "Event",
    "Failure",
    "FrameReader",
    "Ping",
    "Pong",
    "accept_key",
    "close_frame",
    "frame",
    "frame_lines",
]

# RFC 6455 section 1.3: the key's digest is taken with this GUID appended.
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Opcodes (section 5.2).
OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
_DATA: Final = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY))
_CONTROL: Final = frozenset((OP_CLOSE, OP_PING, OP_PONG))

# Close codes (section 7.4.1).
NORMAL: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
BAD_DATA: Final = 1007  # a text message that is not UTF-8
POLICY: Final = 1008
TOO_BIG: Final = 1009
# Codes a peer may send in a Close frame: the defined ones (1004-1006 and
# 1015 are reserved for reporting, never sent), and 3000-4999 for
# libraries and applications (section 7.4.2).
_SENDABLE: Final = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013))

# The largest data message (one frame, or the fragments of one message
# together) a client may send. An IRC line is at most 8191 bytes with its
# client tags (PROTOCOL.md); twice that leaves room for a client that
# sends a line's CRLF or some slack, and still bounds what one
# connection can make the server hold. Bigger is "Message Too Big" (1009).
MAX_MESSAGE: Final = 16 * 1024
# Control frames carry at most 125 bytes and are never fragmented (5.5).
MAX_CONTROL: Final = 125


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (section 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_key(key: str) -> bool:
    """Whether ``key`` is what section 4.1 asks for: 16 random bytes in base64."""
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (ValueError, UnicodeEncodeError):
        return False


# -- events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping:
    """The client asks for a Pong with the same payload."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """An answer to a Ping (or a keepalive the client sent unasked)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The client closes: ``code`` is None when its Close frame gave none."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Failure:
    """The client broke the protocol: close with ``code``, and read nothing more.

    ``reason`` is short enough for a Close frame."""

    code: int
    reason: str


Event = bytes | Ping | Pong | Close | Failure
"""What :meth:`FrameReader.feed` hands back; a data message is its payload as bytes."""


def _unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``mask`` (section 5.3), as one big integer:
    a few C calls for the whole payload, not a Python step per byte."""
    size = len(payload)
    if not size:
        return payload
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little"
    )


class FrameReader:
    """Client frames in, events out; one per connection."""

    __slots__ = ("_buffer", "_done", "_fragment_text", "_fragments", "_fragments_size")

    def __init__(self) -> None:
        self._buffer = b""
        # The frames so far of a fragmented message, and whether it is text.
        self._fragments: list[bytes] = []
        self._fragments_size = 0
        self._fragment_text = False
        # True after a Close or a Failure: nothing more is read.
        self._done = False

    def feed(self, data: bytes) -> list[Event]:
        """Add received bytes; return the events the complete frames among them make."""
        if self._done:
            return []
        buffer = self._buffer + data if self._buffer else data
        events: list[Event] = []
        pos, end = 0, len(buffer)
        while end - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            opcode, size = first & 0x0F, second & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            failure = self._check(first, second, opcode, size)
            if failure is not None:
                events.append(failure)
                break
            start = pos + head + 4
            if end - start < size:
                break
            payload = _unmask(buffer[start : start + size], buffer[pos + head : start])
            pos = start + size
            event = self._frame(first & 0x80, opcode, payload)
            if event is not None:
                events.append(event)
                if isinstance(event, Close | Failure):
                    break
        if events and isinstance(events[-1], Close | Failure):
            self._done = True
            self._buffer = b""
            self._fragments = []
        else:
            self._buffer = buffer[pos:]
        return events

    def _check(self, first: int, second: int, opcode: int, size: int) -> Failure | None:
        """What is wrong with a frame's header, before its payload is waited for."""
        if first & 0x70:
            return Failure(PROTOCOL_ERROR, "no extension was negotiated (RSV bit set)")
        if not second & 0x80:
            return Failure(PROTOCOL_ERROR, "client frames must be masked")
        if opcode in _CONTROL:
            if not first & 0x80 or size > MAX_CONTROL:
                return Failure(PROTOCOL_ERROR, "control frames are short and unfragmented")
            return None
        if opcode not in _DATA:
            return Failure(PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == OP_CONTINUATION and not self._fragments:
            return Failure(PROTOCOL_ERROR, "a continuation frame with no message to continue")
        if opcode != OP_CONTINUATION and self._fragments:
            return Failure(PROTOCOL_ERROR, "a new message inside a fragmented one")
        if self._fragments_size + size > MAX_MESSAGE:
            return Failure(TOO_BIG, f"messages are limited to {MAX_MESSAGE} bytes")
        return None

    def _frame(self, fin: int, opcode: int, payload: bytes) -> Event | None:
        """The event a complete, well-formed frame makes, if any yet."""
        if opcode == OP_PING:
            return Ping(payload)
        if opcode == OP_PONG:
            return Pong(payload)
        if opcode == OP_CLOSE:
            return _close(payload)
        if not fin:
            if opcode != OP_CONTINUATION:
                self._fragment_text = opcode == OP_TEXT
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            return None
        text = opcode == OP_TEXT
        if opcode == OP_CONTINUATION:
            self._fragments.append(payload)
            payload = b"".join(self._fragments)
            text = self._fragment_text
            self._fragments = []
            self._fragments_size = 0
        if text and not payload.isascii():
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                return Failure(BAD_DATA, "a text message must be UTF-8")
        return payload


def _close(payload: bytes) -> Close | Failure:
    """A Close frame's code and reason (section 5.5.1), checked."""
    if not payload:
        return Close(None, "")
    if len(payload) == 1:
        return Failure(PROTOCOL_ERROR, "a close code is two bytes")
    code = int.from_bytes(payload[:2], "big")
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        return Failure(PROTOCOL_ERROR, f"close code {code} may not be sent")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return Failure(BAD_DATA, "a close reason must be UTF-8")
    return Close(code, reason)


# -- writing ------------------------------------------------------------------


def _head(opcode: int, size: int) -> bytes:
    """A final, unmasked frame's header (servers never mask, section 5.1)."""
    first = 0x80 | opcode
    if size < 126:
        return bytes((first, size))
    if size < 1 << 16:
        return bytes((first, 126)) + size.to_bytes(2, "big")
    return bytes((first, 127)) + size.to_bytes(8, "big")


# The headers of text and binary frames of up to this many bytes, made once
# (some 70 KB): IRC lines with their tags are nearly all shorter, and
# framing one is then a lookup, not a header built per line (0.25 µs).
_HEADS_MADE: Final = 1024
_SHORT_HEADS: Final = {
    op: tuple(_head(op, n) for n in range(_HEADS_MADE)) for op in (OP_TEXT, OP_BINARY)
}


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame."""
    return _head(opcode, len(payload)) + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """A Close frame with ``code`` and a reason cut to fit in a control frame."""
    data = code.to_bytes(2, "big") + reason.encode("utf-8")[: MAX_CONTROL - 2]
    # Cut at a character boundary: a reason must stay UTF-8.
    data = data[:2] + data[2:].decode("utf-8", "ignore").encode("utf-8")
    return frame(OP_CLOSE, data)


def frame_lines(block: bytes, opcode: int) -> bytes:
    """IRC lines, each ending in CRLF, as one message each (IRCv3 WebSocket:
    one line per message, without its CR or LF). Bytes after the last CRLF
    are a line too."""
    lines = block.split(b"\r\n")
    if not lines[-1]:
        lines.pop()
    short = _SHORT_HEADS[opcode]
    parts: list[bytes] = []
    append = parts.append
    for line in lines:
        size = len(line)
        append(short[size] if size < _HEADS_MADE else _head(opcode, size))
        append(line)
    return b"".join(parts)
