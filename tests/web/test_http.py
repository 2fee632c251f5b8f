"""Request heads with no I/O: what the web port reads, and what it refuses."""

from __future__ import annotations

import pytest

from tcpchat.web.http import MAX_HEAD, HttpError, Request, RequestReader, response


def read(data: bytes) -> Request | HttpError | None:
    return RequestReader().feed(data)


def test_a_request_head() -> None:
    request = read(b"GET /app.mjs?v=2 HTTP/1.1\r\nHost: chat.lan:8080\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert isinstance(request, Request)
    assert request.method == "GET" and request.path == "/app.mjs"
    assert request.header("host") == "chat.lan:8080"
    assert request.header("x-a") == "1, 2"
    assert request.keep_alive


def test_keep_alive_and_pipelining() -> None:
    reader = RequestReader()
    first = reader.feed(
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /style.css HTTP/1.1\r\nHost: h\r\n\r\nGE"
    )
    assert isinstance(first, Request) and first.path == "/"
    second = reader.next()
    assert isinstance(second, Request) and second.path == "/style.css"
    assert reader.next() is None
    assert reader.take_rest() == b"GE"


@pytest.mark.parametrize(
    ("head", "keep"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
    ],
)
def test_connection_header(head: bytes, keep: bool) -> None:
    request = read(head)
    assert isinstance(request, Request) and request.keep_alive is keep


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nbad header\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431),
    ],
)
def test_bad_heads(head: bytes, status: int) -> None:
    error = read(head)
    assert isinstance(error, HttpError) and error.status == status


def test_a_head_that_never_ends_is_refused_at_the_limit() -> None:
    reader = RequestReader()
    assert reader.feed(b"GET / HTTP/1.1\r\nHost: h\r\n") is None
    error = reader.feed(b"X-Long: " + b"a" * MAX_HEAD)
    assert isinstance(error, HttpError) and error.status == 431


def test_response() -> None:
    data = response(404, [("Content-Type", "text/plain")], b"nope")
    assert (
        data
        == b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope"
    )
    assert response(200, body=b"x", head_only=True).endswith(b"Content-Length: 1\r\n\r\n")
