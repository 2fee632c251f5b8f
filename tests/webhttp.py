"""Plain HTTP for the web side's tests: requests written byte for byte, as
a browser (or an attacker) would, and the answer read whole."""

from __future__ import annotations

import socket
from typing import Any


def raw_http(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` as it is and read until the server closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return data


def get(port: int, path: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return raw_http(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def head_of(response: bytes) -> dict[str, str]:
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


def upgrade_request(path: str = "/socket", **extra: Any) -> bytes:
    """A WebSocket handshake as a browser writes it; ``extra`` headers by name."""
    headers = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        **{k.replace("_", "-"): v for k, v in extra.items()},
    }
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items() if v is not None)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
