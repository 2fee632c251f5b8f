"""The WebSocket framing tcpchat ships (standard library) beside the ``websockets``
library's sans-I/O core, doing the same work; prints the figures.

Why it exists: tcpchat's web port could have used ``websockets`` (a
well-kept library with a sans-I/O core, in an optional extra) instead of
its own framing. This measures what that would cost per delivered line and
per connection. Run it on a quiet machine (it takes seconds)::

    .venv/bin/python -m bench.wslib

Needs the ``dev`` extra (``websockets`` is what the tests' client uses).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from tcpchat.web.adapter import FrameMemo
from tcpchat.web.websocket import OP_TEXT, FrameReader, frame_lines

# A channel line as a web client that asked for server-time and message-tags gets it.
LINE = (
    b"@time=2026-12-03T14:00:00.000Z;msgid=abc-123 :alice!~alice@192.168.1.20 "
    b"PRIVMSG #lobby :the quick brown fox jumps over the lazy dog 0123456789\r\n"
)
LINES = 100  # about a busy channel's turn, per member
HANDSHAKE = (
    b"GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
)


def opened() -> ServerProtocol:
    """A websockets server protocol past its handshake, as one connection holds it."""
    protocol = ServerProtocol(subprotocols=["text.ircv3.net"], max_size=16 * 1024)  # type: ignore[list-item]
    protocol.receive_data(HANDSHAKE)
    [request] = protocol.events_received()
    protocol.send_response(protocol.accept(request))  # type: ignore[arg-type]
    protocol.data_to_send()
    return protocol


def best_of(work: Callable[[], Any], rounds: int) -> float:
    """Seconds per call, the best of five batches (the least disturbed)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            work()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def per_object(make: Callable[[], Any], count: int = 1000) -> float:
    """Bytes allocated per object made, kept alive."""
    gc.collect()
    tracemalloc.start()
    kept = [make() for _ in range(count)]
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size / count


def main() -> None:
    block = LINE * LINES
    texts = [LINE[:-2]] * LINES
    library = opened()

    def library_send() -> bytes:
        for text in texts:
            library.send_text(text)
        return b"".join(library.data_to_send())

    memo = FrameMemo()
    assert library_send() == frame_lines(block, OP_TEXT) == memo.frames(block, OP_TEXT)
    send = {
        "websockets": best_of(library_send, 2000),
        "tcpchat": best_of(lambda: frame_lines(block, OP_TEXT), 2000),
        "tcpchat, the next member (memo)": best_of(
            lambda: memo.frames(bytes(block), OP_TEXT), 2000
        ),
    }
    incoming = b"".join(
        Frame(Opcode.TEXT, b"PRIVMSG #lobby :" + b"x" * 60).serialize(mask=True)
        for _ in range(LINES)
    )
    reader = opened()

    def library_read() -> list[Any]:
        reader.receive_data(incoming)
        return reader.events_received()

    assert len(library_read()) == len(FrameReader().feed(incoming)) == LINES
    read = {
        "websockets": best_of(library_read, 500),
        "tcpchat": best_of(lambda: FrameReader().feed(incoming), 500),
    }
    print(f"framing {LINES} server lines for one member (µs):")
    for name, seconds in send.items():
        print(f"  {name:<34} {seconds * 1e6:8.2f}")
    print(f"reading {LINES} masked client frames (µs):")
    for name, seconds in read.items():
        print(f"  {name:<34} {seconds * 1e6:8.2f}")
    print("protocol state per open connection (bytes):")
    print(f"  {'websockets ServerProtocol':<34} {per_object(opened):8.0f}")
    print(f"  {'tcpchat FrameReader':<34} {per_object(FrameReader):8.0f}")


if __name__ == "__main__":
    main()
