"""HTTP/1.1 requests in, responses out, with no I/O: the little the page needs.

The web side serves a handful of files and one WebSocket, so it reads only
request heads (a request line and headers, RFC 9112 section 2): no bodies,
no chunked encoding, no ranges. :class:`RequestReader` is fed bytes and
hands back a :class:`Request` once a head is complete, or an
:class:`HttpError` for a head that is malformed, too large, or carries a
body, after which the connection should answer and close. Keep-alive works:
the bytes after one head are the start of the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_HEAD", "HttpError", "Request", "RequestReader", "response"]

# The most a request head (request line and headers) may take. Browsers
# send well under 2 KiB to a page with no cookies of its own; 8 KiB is the
# common default of servers (nginx, Apache) and bounds what a client that
# never finishes its head can make the server hold.
MAX_HEAD: Final = 8 * 1024
# The most header lines in one head: more is an attack, not a browser.
MAX_HEADERS: Final = 64

_REASONS: Final = {
    101: "Switching Protocols",
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# RFC 9110 section 5.6.2: a token; header names are tokens.
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REQUEST_LINE: Final = re.compile(rb"([A-Z]+) (\S+) HTTP/(\d)\.(\d)\Z")


@dataclass(frozen=True, slots=True)
class HttpError:
    """A request the server will not read: answer ``status`` and close."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Request:
    """A request head. Header names are lower-cased; values keep their case."""

    method: str
    target: str
    version: tuple[int, int]
    headers: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower-case); repeated headers joined by commas."""
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> list[str]:
        """A comma-separated header's items, stripped, in order (e.g. Connection)."""
        value = self.header(name)
        if value is None:
            return []
        return [item.strip() for item in value.split(",") if item.strip()]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response (RFC 9112 section 9.3)."""
        connection = [t.lower() for t in self.tokens("connection")]
        if self.version >= (1, 1):
            return "close" not in connection
        return "keep-alive" in connection


class RequestReader:
    """Bytes in, request heads out; one per connection."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> Request | HttpError | None:
        """Add received bytes; return the next complete head, an error, or None for more."""
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end == -1:
            if len(self._buffer) > MAX_HEAD:
                return HttpError(431, "the request head is too large")
            return None
        if end > MAX_HEAD:
            return HttpError(431, "the request head is too large")
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        return _parse(head)

    def take_rest(self) -> bytes:
        """The bytes read past the last head (after an upgrade, the first frames)."""
        rest, self._buffer = self._buffer, b""
        return rest

    def next(self) -> Request | HttpError | None:
        """The next head among bytes already fed (a pipelined request), if complete."""
        return self.feed(b"")


def _parse(head: bytes) -> Request | HttpError:
    lines = head.split(b"\r\n")
    match = _REQUEST_LINE.match(lines[0])
    if match is None:
        return HttpError(400, "the request line is not 'METHOD target HTTP/1.1'")
    method, target, major, minor = match.groups()
    version = (int(major), int(minor))
    if version[0] != 1:
        return HttpError(505, "only HTTP/1.x is spoken here")
    if len(lines) - 1 > MAX_HEADERS:
        return HttpError(431, "too many header lines")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            return HttpError(400, "a header line is not 'Name: value'")
        try:
            text = value.strip(b" \t").decode("ascii")
        except UnicodeDecodeError:
            text = value.strip(b" \t").decode("latin-1")
        if any(c in text for c in "\r\n\0"):
            return HttpError(400, "a header value holds a control character")
        headers.append((name.decode("ascii").lower(), text))
    request = Request(method.decode("ascii"), target.decode("latin-1"), version, tuple(headers))
    if request.header("transfer-encoding") is not None:
        return HttpError(413, "requests here carry no body")
    length = request.header("content-length")
    if length is not None and length.strip() != "0":
        return HttpError(413, "requests here carry no body")
    if version >= (1, 1) and request.header("host") is None:
        return HttpError(400, "an HTTP/1.1 request needs a Host header")
    return request


def response(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    head_only: bool = False,
    length: bool = True,
) -> bytes:
    """A response: status line, headers (and Content-Length unless ``length`` is
    False, as for 101 and 304), the body unless ``head_only`` (a HEAD request)."""
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data if head_only else data + body
