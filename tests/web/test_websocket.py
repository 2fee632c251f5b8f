"""The WebSocket framing with no I/O: frames written by a real library
(``websockets``, as a browser would write them) in, events out."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from tcpchat.web.websocket import (
    BAD_DATA,
    MAX_MESSAGE,
    OP_BINARY,
    OP_TEXT,
    PROTOCOL_ERROR,
    TOO_BIG,
    Close,
    Failure,
    FrameReader,
    Ping,
    Pong,
    accept_key,
    close_frame,
    frame_lines,
    valid_key,
)


def client(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    """A frame as a client sends it: masked, by the websockets library."""
    return Frame(opcode, data, fin).serialize(mask=True)


def forged(first: int, data: bytes) -> bytes:
    """A masked frame with any first byte, such as no library would send
    (the mask is zero, so the payload stands as it is)."""
    assert len(data) < 126
    return bytes((first, 0x80 | len(data))) + bytes(4) + data


def test_accept_key_is_rfc_6455s_example() -> None:
    # RFC 6455 section 1.3.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert valid_key("dGhlIHNhbXBsZSBub25jZQ==")
    assert not valid_key("short") and not valid_key("not base64 at all!!") and not valid_key("")


def test_text_and_binary_messages() -> None:
    reader = FrameReader()
    data = client(Opcode.TEXT, "PRIVMSG #a :héllo".encode()) + client(Opcode.BINARY, b"\xff\x00")
    assert reader.feed(data) == ["PRIVMSG #a :héllo".encode(), b"\xff\x00"]


def test_a_frame_in_pieces_and_many_in_one_read() -> None:
    reader = FrameReader()
    data = b"".join(client(Opcode.TEXT, f"line {i}".encode() * 30) for i in range(20))
    events: list[object] = []
    for i in range(0, len(data), 7):
        events += reader.feed(data[i : i + 7])
    assert events == [f"line {i}".encode() * 30 for i in range(20)]


@pytest.mark.parametrize("size", [0, 125, 126, 1000, MAX_MESSAGE])
def test_each_length_up_to_the_limit(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert FrameReader().feed(client(Opcode.BINARY, payload)) == [payload]


def test_a_short_frame_with_a_long_length_field() -> None:
    # The 8-byte length, though the payload is short: read, not refused.
    data = bytes((0x82, 0x80 | 127)) + (3).to_bytes(8, "big") + bytes(4) + b"abc"
    assert FrameReader().feed(data) == [b"abc"]


def test_fragments_are_joined_with_control_frames_between() -> None:
    reader = FrameReader()
    text = "a message in three parts: ü".encode()
    data = (
        client(Opcode.TEXT, text[:5], fin=False)
        + client(Opcode.PING, b"p")
        + client(Opcode.CONT, text[5:27], fin=False)  # splits the ü's two bytes
        + client(Opcode.CONT, text[27:])
    )
    assert reader.feed(data) == [Ping(b"p"), text]


def test_pong_and_close() -> None:
    reader = FrameReader()
    data = client(Opcode.PONG, b"x") + client(Opcode.CLOSE, struct.pack("!H", 1001) + b"bye")
    assert reader.feed(data) == [Pong(b"x"), Close(1001, "bye")]
    assert reader.feed(client(Opcode.TEXT, b"after close")) == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (Frame(Opcode.TEXT, b"unmasked").serialize(mask=False), PROTOCOL_ERROR),
        (forged(0x80 | 0x40 | 0x1, b"x"), PROTOCOL_ERROR),
        (
            bytes((0x89, 0x80 | 126)) + (200).to_bytes(2, "big") + bytes(4) + b"x" * 200,
            PROTOCOL_ERROR,
        ),
        (forged(0x09, b"x"), PROTOCOL_ERROR),
        (client(Opcode.CONT, b"no start"), PROTOCOL_ERROR),
        (client(Opcode.TEXT, b"a", fin=False) + client(Opcode.TEXT, b"b"), PROTOCOL_ERROR),
        (client(Opcode.TEXT, b"\xff\xfe not utf-8"), BAD_DATA),
        (client(Opcode.CLOSE, b"\x03"), PROTOCOL_ERROR),
        (client(Opcode.CLOSE, struct.pack("!H", 1005)), PROTOCOL_ERROR),
        (client(Opcode.CLOSE, struct.pack("!H", 1000) + b"\xff"), BAD_DATA),
    ],
    ids=[
        "unmasked",
        "rsv bit",
        "long ping",
        "fragmented ping",
        "stray continuation",
        "new message in a fragmented one",
        "text not utf-8",
        "one-byte close code",
        "reserved close code",
        "close reason not utf-8",
    ],
)
def test_protocol_errors_fail_the_connection(data: bytes, code: int) -> None:
    reader = FrameReader()
    events = reader.feed(data)
    assert len(events) <= 2 and isinstance(events[-1], Failure)
    assert events[-1].code == code
    assert reader.feed(client(Opcode.TEXT, b"more")) == []


def test_unknown_opcode() -> None:
    [failure] = FrameReader().feed(forged(0x80 | 0x3, b"x"))
    assert isinstance(failure, Failure) and failure.code == PROTOCOL_ERROR


def test_too_big_is_refused_from_the_header_alone() -> None:
    # Only the header of a 1 GiB frame: refused before any of it is waited for.
    header = bytes((0x82, 0x80 | 127)) + (1 << 30).to_bytes(8, "big") + b"mask"
    [failure] = FrameReader().feed(header)
    assert isinstance(failure, Failure) and failure.code == TOO_BIG


def test_fragments_together_over_the_limit() -> None:
    half = b"x" * (MAX_MESSAGE // 2 + 1)
    data = client(Opcode.BINARY, half, fin=False) + client(Opcode.CONT, half)
    [failure] = FrameReader().feed(data)
    assert isinstance(failure, Failure) and failure.code == TOO_BIG


def test_frame_lines_is_one_frame_per_line_without_crlf() -> None:
    block = b":a PRIVMSG #c :hi\r\n" + b":b NOTICE x :" + b"y" * 200 + b"\r\n"
    framed = frame_lines(block, OP_TEXT)
    lines = []
    while framed:
        assert framed[0] == 0x81  # final text frame, never masked
        size, head = framed[1], 2
        if size == 126:
            size, head = int.from_bytes(framed[2:4], "big"), 4
        lines.append(framed[head : head + size])
        framed = framed[head + size :]
    assert lines == [b":a PRIVMSG #c :hi", b":b NOTICE x :" + b"y" * 200]
    assert frame_lines(b"a\r\n", OP_BINARY) == b"\x82\x01a"


def test_close_frame_reason_is_cut_at_a_character() -> None:
    data = close_frame(1000, "é" * 100)
    assert len(data) <= 2 + 125 and data[0] == 0x88
    data[4:].decode("utf-8")


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(1, 50))
def test_any_messages_in_any_pieces(messages: list[bytes], step: int) -> None:
    data = b"".join(client(Opcode.BINARY, m) for m in messages)
    reader = FrameReader()
    events: list[object] = []
    for i in range(0, len(data), step):
        events += reader.feed(data[i : i + step])
    assert events == messages


@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    FrameReader().feed(data)
