"""An IRC client over WebSocket for tests, on a real WebSocket library.

:class:`WsIrcClient` is :class:`~ircclient.IrcClient` with its socket
swapped for a ``websockets`` connection: one IRC line per message, as the
IRCv3 WebSocket spec has it, so the same ``expect`` and ``register`` work on
both kinds of client and a test can set them side by side.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

from ircclient import DEFAULT_TIMEOUT, IrcClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tcpchat.irc import Message

TEXT = "text.ircv3.net"
BINARY = "binary.ircv3.net"


def open_socket(
    url: str,
    subprotocols: Sequence[str] = (TEXT,),
    origin: str | None = None,
    tls: ssl.SSLContext | None = None,
    **options: Any,
) -> ClientConnection:
    """A WebSocket to the server, as a browser page would open it (no compression
    offered, no proxy from the environment)."""
    return connect(
        url,
        subprotocols=[Subprotocol(s) for s in subprotocols] or None,
        origin=origin,  # type: ignore[arg-type]
        ssl=tls,
        compression=None,
        proxy=None,
        open_timeout=DEFAULT_TIMEOUT,
        close_timeout=DEFAULT_TIMEOUT,
        ping_interval=None,
        legacy=True,  # opened here, closed by the caller (not a with block)
        **options,
    )


class WsIrcClient(IrcClient):
    """One IRC connection over WebSocket."""

    def __init__(self, ws: ClientConnection, timeout: float = DEFAULT_TIMEOUT) -> None:
        # IrcClient's own state but its socket (IrcClient.__init__ opens one).
        self.ws = ws
        self.timeout = timeout
        self.buffer = b""
        self.nick = ""
        self.pending: deque[Message] = deque()

    def close(self) -> None:
        self.ws.close()

    def send(self, *lines: str) -> None:
        for line in lines:
            self.send_raw(line.encode())

    def send_raw(self, data: bytes) -> None:
        """One message: text or binary as the subprotocol says."""
        if self.ws.subprotocol == BINARY:
            self.ws.send(data)
        else:
            self.ws.send(data.decode("utf-8", "replace"))

    def read_line(self, timeout: float | None = None) -> str | None:
        try:
            message = self.ws.recv(self.timeout if timeout is None else timeout)
        except ConnectionClosed:
            return None
        if isinstance(message, bytes):
            return message.decode("utf-8", "replace")
        return message
