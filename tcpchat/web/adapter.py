"""One TCP connection to the web port: HTTP for the page, then IRC over WebSocket.

Theory of operation. A :class:`WebConnection` is the asyncio protocol of
the socket. It starts in HTTP: it answers requests for the page's files
(keep-alive, as browsers expect) until one asks to upgrade ``/socket``
to a WebSocket. Then it makes an ordinary IRC
:class:`~tcpchat.server.connection.Connection` and stands in front of it
as its transport (:class:`WebSocketTransport`), the way asyncio's own TLS
layer stands between a socket and a protocol:

- In: frames are read (:class:`~tcpchat.web.websocket.FrameReader`), each
  message is a line, and the lines of one read go to the Connection as
  one CRLF-separated read. From there on a web user is a TCP user: the
  same line limits (417), flood control, turn budget, history and
  accounts, because it is the same code.
- Out: the Connection writes blocks of CRLF-terminated lines as it would
  to a socket; the transport turns each line into a frame. Members of a
  channel are written the same block in a turn, so the frames of the
  last block are kept (:class:`FrameMemo`) and the rest of them cost a
  comparison; the frames go straight to the socket's descriptor while
  the socket's buffer is empty, as TCP output does.
- Flow control is the socket's: the Connection's pause and resume of
  reading go to it, and its pause and resume of writing come from it, so
  sendq counts the framed bytes a slow reader has not taken.

Pings from the client are answered; the server pings every WebSocket now
and then (:data:`PING_INTERVAL`) so that proxies do not drop a quiet one.
Closing is the close handshake: a Close frame, then the socket closes when
the client's Close comes back, or after :data:`CLOSE_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Final, cast

from tcpchat.server import connection
from tcpchat.server.connection import Connection
from tcpchat.web.http import HttpError, Request, RequestReader, response
from tcpchat.web.websocket import (
    NORMAL,
    OP_BINARY,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Close,
    Failure,
    FrameReader,
    Ping,
    accept_key,
    close_frame,
    frame,
    frame_lines,
    valid_key,
)

if TYPE_CHECKING:
    from tcpchat.web.server import WebServer

__all__ = ["CLOSE_TIMEOUT", "PING_INTERVAL", "FrameMemo", "WebConnection", "WebSocketTransport"]

log = logging.getLogger("tcpchat.server")

# Seconds a connection may take to send a complete request head, and may
# then sit idle between requests, before it is closed: long enough for a
# phone on a poor link, short enough that idle or half-open connections
# (slowloris) do not pile up.
REQUEST_TIMEOUT: Final = 10.0
# Seconds a connection that was answered and closed on our side may still
# send before it is cut off.
LINGER: Final = 2.0
# Seconds to wait for the client's Close after ours before the socket closes.
CLOSE_TIMEOUT: Final = 5.0
# Seconds between the server's pings to each WebSocket. Reverse proxies drop
# a WebSocket that carries nothing for a minute by default (nginx's
# proxy_read_timeout); IRC's own PING comes only after 120 s of silence.
PING_INTERVAL: Final = 30.0
# Blocks of output whose frames the memo keeps; a bigger one is framed
# afresh each time rather than kept alive.
MEMO_MAX: Final = 256 * 1024

SUBPROTOCOLS: Final = ("text.ircv3.net", "binary.ircv3.net")
"""IRCv3 WebSocket subprotocols; the client's order of preference decides."""


class WebSocketError(Exception):
    """Why a WebSocket ended that the IRC side should hear as its quit reason."""


def choose_subprotocol(offered: list[str]) -> str | None:
    """The first subprotocol the client offers that is spoken here (IRCv3 WebSocket:
    respect the client's order), or None: then the client gets text, as browsers'
    clients that predate the spec expect."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


class FrameMemo:
    """The frames of the last block written, per opcode, for the next WebSocket
    that is written the same block (a channel's members, one after another)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # opcode -> (block, its frames); one tuple, replaced whole, so a
        # reader never sees one block with another's frames.
        self._last: dict[int, tuple[bytes, bytes]] = {OP_TEXT: (b"", b""), OP_BINARY: (b"", b"")}

    def frames(self, block: bytes, opcode: int) -> bytes:
        block_seen, framed = self._last[opcode]
        if block is block_seen or block == block_seen:
            return framed
        # A text frame must be UTF-8 (RFC 6455 5.6). The server's lines are
        # made from text, so this holds; should a line ever carry other
        # bytes, the client sees U+FFFD rather than a closed socket (IRCv3
        # WebSocket: servers MUST NOT relay non-UTF-8 in text messages).
        source = block
        if opcode == OP_TEXT and not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                block = block.decode("utf-8", "replace").encode("utf-8")
        framed = frame_lines(block, opcode)
        if len(source) <= MEMO_MAX:
            self._last[opcode] = (source, framed)
        return framed


class WebSocketTransport(asyncio.Transport):
    """What the IRC Connection of a WebSocket writes to: lines in, frames to the socket."""

    __slots__ = (
        "_closing",
        "_fd",
        "_memo",
        "_opcode",
        "_owner",
        "_peer",
        "_real",
        "_subprotocol",
    )

    def __init__(
        self,
        owner: WebConnection,
        real: asyncio.Transport,
        opcode: int,
        memo: FrameMemo,
        peer: tuple[str, int],
        subprotocol: str | None,
    ) -> None:
        super().__init__()
        self._owner = owner
        self._real = real
        self._opcode = opcode
        self._memo = memo
        self._peer = peer
        self._subprotocol = subprotocol or ""
        self._closing = False
        # The socket's descriptor for writes that skip asyncio's write while
        # its buffer is empty (as Connection.send does); none under TLS, and
        # none where a socket is not a file (connection.DIRECT_WRITES).
        sock = real.get_extra_info("socket")
        plain = connection.DIRECT_WRITES and real.get_extra_info("ssl_object") is None
        self._fd: int | None = sock.fileno() if plain and sock is not None else None

    # -- what the Connection asks ------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peer
        if name == "socket":
            # No descriptor for the Connection's own direct writes: its bytes
            # must be framed first.
            return None
        if name == "websocket":  # the IRCv3 subprotocol, "" for none
            return self._subprotocol
        return self._real.get_extra_info(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        framed = self._memo.frames(bytes(data), self._opcode)
        self.send_frames(framed)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def send_frames(self, framed: bytes) -> None:
        """Frames to the socket: to its descriptor while nothing waits before
        them, the rest (or all, under TLS) through asyncio's transport."""
        real, fd = self._real, self._fd
        if fd is not None and not real.get_write_buffer_size():
            try:
                sent = os.write(fd, framed)
            except OSError:  # full, or broken: the transport's write meets it again
                sent = 0
            if sent == len(framed):
                return
            real.write(memoryview(framed)[sent:])
            return
        real.write(framed)

    def close(self) -> None:
        """The Connection is done: the close handshake, after what it wrote."""
        if not self._closing:
            self._closing = True
            self._owner.start_close(NORMAL)

    def abort(self) -> None:
        self.lose_socket()
        self._real.abort()

    def lose_socket(self) -> None:
        """Nothing more is written; the descriptor is forgotten before the socket closes."""
        self._closing = True
        self._fd = None

    def is_closing(self) -> bool:
        return self._closing or self._real.is_closing()

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def is_reading(self) -> bool:
        return self._real.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._real.get_write_buffer_limits()

    def can_write_eof(self) -> bool:
        return False


class WebConnection(asyncio.Protocol):
    """One socket on the web port, from accept to close (see the module's docstring)."""

    __slots__ = (
        "closing",
        "conn",
        "deadline",
        "frames",
        "next_ping",
        "peer",
        "requests",
        "server",
        "transport",
        "ws",
    )

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("unknown", 0)
        # HTTP: the request reader until the upgrade; then the frame reader,
        # the IRC Connection and the transport it writes to.
        self.requests: RequestReader | None = RequestReader()
        self.frames: FrameReader | None = None
        self.conn: Connection | None = None
        self.ws: WebSocketTransport | None = None
        # When the server's sweep closes this connection (a request not
        # finished, an idle keep-alive, a close handshake not answered); None
        # while a WebSocket is open. When it pings a WebSocket next.
        self.deadline: float | None = None
        self.next_ping = 0.0
        # Our Close frame went out; the socket closes when the client's comes.
        self.closing = False

    # -- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("unknown", 0)
        self.peer = (str(peer[0]), int(peer[1]))
        if not self.server.opened(self):
            transport.write(self._error(503, "too many connections from your address"))
            self._hang_up()
            return
        self.deadline = self.server.now() + REQUEST_TIMEOUT

    def data_received(self, data: bytes) -> None:
        if self.frames is not None:
            self._frames_received(data)
            return
        requests = self.requests
        if requests is None:
            return
        result = requests.feed(data)
        while result is not None and self.requests is not None:
            if isinstance(result, HttpError):
                self._refuse(result.status, result.reason)
                return
            self._request(result)
            if self.requests is None:  # upgraded, or closing
                break
            result = requests.next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.closed(self)
        self.requests = None
        self.frames = None
        if self.ws is not None:
            self.ws.lose_socket()
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.conn.pause_writing()

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.conn.resume_writing()

    # -- HTTP --------------------------------------------------------------

    def _request(self, request: Request) -> None:
        transport = self.transport
        assert transport is not None
        path = request.path
        if path == "/socket":
            self._upgrade(request)
            return
        if request.method not in ("GET", "HEAD"):
            self._refuse(405, "only GET and HEAD are served here", (("Allow", "GET, HEAD"),))
            return
        host = request.header("host") or ""
        page = self.server.files.get(path)
        if page is None:
            self._answer(request, self._error(404, "there is no such page here", host))
            return
        headers = [
            ("Content-Type", page.content_type),
            ("Cache-Control", "no-cache"),
            ("ETag", page.etag),
            *self.server.headers(host),
        ]
        if request.header("if-none-match") == page.etag:
            data = response(304, headers, length=False)
        else:
            data = response(200, headers, page.body, head_only=request.method == "HEAD")
        self._answer(request, data)

    def _answer(self, request: Request, data: bytes) -> None:
        """Send a response; keep the connection for the next request, if both sides want."""
        assert self.transport is not None
        keep = request.keep_alive
        if not keep:
            data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        self.transport.write(data)
        if keep:
            self.deadline = self.server.now() + REQUEST_TIMEOUT
        else:
            self._hang_up()

    def _error(self, status: int, text: str, host: str = "") -> bytes:
        body = f"{status}: {text}\n".encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), *self.server.headers(host)]
        return response(status, headers, body)

    def _refuse(self, status: int, text: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        """Answer an error and close: the rest of what the client sent is not read."""
        assert self.transport is not None
        data = self._error(status, text)
        if extra:
            head, _, body = data.partition(b"\r\n\r\n")
            lines = "".join(f"\r\n{k}: {v}" for k, v in extra).encode("latin-1")
            data = head + lines + b"\r\nConnection: close\r\n\r\n" + body
        else:
            data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        self.transport.write(data)
        self._hang_up()

    def _hang_up(self) -> None:
        """Close after the response: our side first, reading (and dropping) what
        the client still sends for a moment, so that closing with its request
        unread does not reset the connection and lose the response (RFC 9112
        section 9.6). Under TLS, which cannot half-close, the close is at once."""
        transport = self.transport
        assert transport is not None
        self.requests = None
        if transport.can_write_eof():
            transport.write_eof()
            self.deadline = self.server.now() + LINGER
            self.server.closing(self)
        else:
            self.deadline = None
            transport.close()

    # -- the upgrade -------------------------------------------------------

    def _upgrade(self, request: Request) -> None:
        """RFC 6455 section 4.2: check the handshake, answer 101, hand over to IRC."""
        transport, server = self.transport, self.server
        assert transport is not None and self.requests is not None
        if request.method != "GET":
            self._refuse(405, "the WebSocket is opened with GET", (("Allow", "GET"),))
            return
        upgrade = [t.lower() for t in request.tokens("upgrade")]
        connection = [t.lower() for t in request.tokens("connection")]
        if "websocket" not in upgrade or "upgrade" not in connection:
            self._refuse(
                426,
                "this address is for WebSocket clients; open / for the page",
                (("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")),
            )
            return
        if request.header("sec-websocket-version") != "13":
            self._refuse(426, "WebSocket version 13 only", (("Sec-WebSocket-Version", "13"),))
            return
        key = request.header("sec-websocket-key") or ""
        if not valid_key(key):
            self._refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64")
            return
        origin = request.header("origin")
        if origin is not None and not server.origin_allowed(origin, request.header("host") or ""):
            log.warning("refused a WebSocket from %s: origin %s", self.peer[0], origin)
            self._refuse(403, "this page's chat is not for other sites")
            return
        subprotocol = choose_subprotocol(request.tokens("sec-websocket-protocol"))
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_key(key)),
        ]
        if subprotocol is not None:
            headers.append(("Sec-WebSocket-Protocol", subprotocol))
        transport.write(response(101, headers, length=False))
        rest = self.requests.take_rest()
        self.requests = None
        self.deadline = None
        self.frames = FrameReader()
        self.next_ping = server.now() + PING_INTERVAL
        ip = server.client_ip(self.peer[0], request.header("x-forwarded-for"))
        opcode = OP_BINARY if subprotocol == "binary.ircv3.net" else OP_TEXT
        self.ws = WebSocketTransport(
            self, transport, opcode, server.memo, (ip, self.peer[1]), subprotocol
        )
        self.conn = conn = server.connection()
        server.upgraded(self)
        conn.connection_made(self.ws)
        if rest:
            self._frames_received(rest)

    # -- WebSocket ---------------------------------------------------------

    def _frames_received(self, data: bytes) -> None:
        frames, conn = self.frames, self.conn
        if frames is None or conn is None:
            return
        lines: list[bytes] = []
        for event in frames.feed(data):
            if type(event) is bytes:
                if not self.closing:
                    lines.append(event.rstrip(b"\r\n"))
                continue
            if lines:  # what came before a control frame is handled before it
                conn.data_received(b"\r\n".join(lines) + b"\r\n")
                lines = []
            if isinstance(event, Ping):
                if not self.closing and self.ws is not None:
                    self.ws.send_frames(frame(OP_PONG, event.payload))
            elif isinstance(event, Close):
                self._closed_by_client(event)
                return
            elif isinstance(event, Failure):
                self._fail(event)
                return
        if lines:
            conn.data_received(b"\r\n".join(lines) + b"\r\n")

    def _closed_by_client(self, event: Close) -> None:
        """The client's Close: answer it (unless it answers ours), then close the socket."""
        if self.closing:
            self._close_socket()
            return
        self.closing = True
        if self.ws is not None:
            self.ws.send_frames(close_frame(event.code or NORMAL))
        self._close_socket()

    def _fail(self, failure: Failure) -> None:
        """The client broke the protocol: say why in a Close frame, and close at once."""
        log.info("WebSocket from %s failed: %s (%d)", self.peer[0], failure.reason, failure.code)
        if not self.closing and self.ws is not None:
            self.ws.send_frames(close_frame(failure.code, failure.reason))
        self.closing = True
        conn = self.conn
        self._close_socket()
        if conn is not None:
            # The IRC side hears the reason now; the socket's loss comes later.
            self.conn = None
            conn.connection_lost(WebSocketError(f"{failure.reason} (WebSocket {failure.code})"))

    def start_close(self, code: int, reason: str = "") -> None:
        """Send our Close; the socket closes when the client answers or the sweep gives up."""
        if self.closing or self.transport is None:
            return
        self.closing = True
        ws = self.ws
        if ws is not None:
            ws.send_frames(close_frame(code, reason))
            ws.lose_socket()
        self.deadline = self.server.now() + CLOSE_TIMEOUT
        self.server.closing(self)

    def _close_socket(self) -> None:
        if self.ws is not None:
            self.ws.lose_socket()
        self.frames = None
        self.deadline = None
        if self.transport is not None:
            self.transport.close()

    # -- the server's sweep ------------------------------------------------

    def expire(self) -> None:
        """The deadline passed: a request never finished, a Close never answered,
        or the client never closed after an answer that ended the connection."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.ws is not None:
            self._close_socket()
        elif self.requests is not None:
            transport.write(self._error(408, "the request took too long"))
            self._hang_up()
        else:
            transport.abort()

    def ping(self, now: float) -> None:
        """The keepalive ping, if due."""
        if now >= self.next_ping and not self.closing and self.ws is not None:
            self.next_ping = now + PING_INTERVAL
            self.ws.send_frames(frame(OP_PING, b""))
