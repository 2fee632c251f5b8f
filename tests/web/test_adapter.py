"""The web port over real sockets: the page's files, and IRC over WebSocket
with a real WebSocket library beside real TCP clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from conftest import RunningServer
from webhttp import get, head_of, raw_http, status, upgrade_request
from websockets.exceptions import ConnectionClosed, InvalidStatus
from wsclient import BINARY, TEXT, open_socket

from tcpchat.server.config import HistorySettings, WebSettings
from tcpchat.web import adapter
from tcpchat.web.files import PAGES
from tcpchat.web.websocket import MAX_MESSAGE, TOO_BIG

# -- the page -----------------------------------------------------------------


def test_the_page_and_its_files_with_their_policy(web_server: RunningServer) -> None:
    for path in PAGES:
        answer = get(web_server.web_port, path)
        assert status(answer) == 200, path
        headers = head_of(answer)
        assert headers["x-content-type-options"] == "nosniff"
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
    page = get(web_server.web_port, "/")
    assert head_of(page)["content-type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="app.mjs">' in page
    assert b"<script>" not in page  # no inline script: the policy would refuse it


def test_the_page_is_small() -> None:
    # The budget: under 150 KB in all, uncompressed.
    from tcpchat.web.files import load_files

    files = {id(f.body): len(f.body) for f in load_files().values()}
    assert sum(files.values()) < 150_000


def test_head_and_not_modified(web_server: RunningServer) -> None:
    head = get(web_server.web_port, "/style.css", method="HEAD")
    assert status(head) == 200 and head.endswith(b"\r\n\r\n")
    etag = head_of(head)["etag"]
    again = get(web_server.web_port, "/style.css", f"If-None-Match: {etag}")
    assert status(again) == 304 and again.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    "path",
    [
        "/../../../etc/passwd",
        "/static/../server.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/tcpchat/web/server.py",
        "/static/index.html",
        "//etc/passwd",
        "/index.html/",
        "/nothing",
    ],
)
def test_anything_but_the_pages_files_is_404(web_server: RunningServer, path: str) -> None:
    answer = get(web_server.web_port, path)
    assert status(answer) == 404
    assert b"root:" not in answer and b"import" not in answer


def test_other_methods_and_bad_requests(web_server: RunningServer) -> None:
    port = web_server.web_port
    assert status(get(port, "/", method="DELETE")) == 405
    assert status(raw_http(port, b"GARBAGE\r\n\r\n")) == 400
    assert (
        status(raw_http(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 200 + b"\r\n"))
        == 431
    )


def test_keep_alive_serves_several_requests_on_one_connection(web_server: RunningServer) -> None:
    request = b"GET /irc.mjs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answer = raw_http(web_server.web_port, request * 3 + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 4


def test_a_stalled_request_times_out(
    web_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "REQUEST_TIMEOUT", 1.0)
    start = time.monotonic()
    answer = raw_http(web_server.web_port, b"GET / HTTP/1.1\r\nHost: 1", timeout=10)
    assert status(answer) == 408
    assert time.monotonic() - start < 5


# -- the WebSocket ------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ([TEXT], TEXT),
        ([BINARY], BINARY),
        ([BINARY, TEXT], BINARY),
        ([TEXT, BINARY], TEXT),
        (["something.else", BINARY], BINARY),
        ([], None),
    ],
)
def test_subprotocols_follow_the_clients_order(
    web_server: RunningServer, offered: list[str], chosen: str | None
) -> None:
    with web_server.ws_client("alice", subprotocols=offered) as a:
        assert a.ws.subprotocol == chosen
        a.send("PING :fence")
        assert a.expect("PONG").params[-1] == "fence"
        kind = bytes if chosen == BINARY else str
        a.send("PING :again")
        assert isinstance(a.ws.recv(5), kind)


@pytest.mark.parametrize("subprotocol", [TEXT, BINARY])
def test_websocket_and_tcp_users_talk_both_ways(
    web_server: RunningServer, subprotocol: str
) -> None:
    with (
        web_server.ws_client("webby", subprotocols=[subprotocol]) as w,
        web_server.client("tcpy") as t,
    ):
        w.join("#c")
        t.join("#c")
        w.expect("JOIN", "#c")
        t.send("PRIVMSG #c :hello from TCP ✓")
        got = w.expect("PRIVMSG")
        assert got.params == ("#c", "hello from TCP ✓") and got.source.startswith("tcpy!")
        w.send("PRIVMSG #c :hello from the web ✓")
        got = t.expect("PRIVMSG")
        assert got.params == ("#c", "hello from the web ✓") and got.source.startswith("webby!")
        w.send("PRIVMSG tcpy :private")
        assert t.expect("PRIVMSG").params == ("tcpy", "private")


def test_a_websocket_user_is_marked_web_and_has_its_address(web_server: RunningServer) -> None:
    with web_server.ws_client("webby") as w, web_server.client("tcpy") as t:
        t.send("WHOIS webby")
        assert t.expect("311").params[3] == "127.0.0.1"
        t.expect("318")
        session = next(s for s in web_server.core.sessions if s.nick == "webby")
        assert session.web
        assert not next(s for s in web_server.core.sessions if s.nick == "tcpy").web
        w.send("QUIT")


def test_a_line_over_the_irc_limit_gets_417_and_the_socket_lives(
    web_server: RunningServer,
) -> None:
    with web_server.ws_client("alice") as a:
        a.send("PRIVMSG #lobby :" + "x" * 600)
        assert a.expect("417").command == "417"
        a.send("PING :still here")
        assert a.expect("PONG").params[-1] == "still here"


def test_a_message_over_the_frame_cap_closes_that_socket_only(
    web_server: RunningServer,
) -> None:
    with (
        web_server.ws_client("big") as big,
        web_server.ws_client("other") as other,
        web_server.client("tcpy") as t,
    ):
        for c in (big, other, t):
            c.join("#c")
        big.ws.send("x" * (MAX_MESSAGE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                big.ws.recv(5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == TOO_BIG
        quit_ = t.expect("QUIT")
        assert quit_.source.startswith("big!") and "WebSocket 1009" in quit_.params[0]
        other.send("PRIVMSG #c :unharmed")
        assert t.expect("PRIVMSG").params[1] == "unharmed"


def test_a_fragmented_message_is_one_line(web_server: RunningServer) -> None:
    with web_server.ws_client("alice") as a, web_server.client("bob") as b:
        a.ws.send(["PRIVMSG bob :in ", "three ", "fragments ✓"])
        assert b.expect("PRIVMSG").params == ("bob", "in three fragments ✓")


def test_several_lines_in_one_message_and_a_trailing_crlf(web_server: RunningServer) -> None:
    with web_server.ws_client("alice") as a, web_server.client("bob") as b:
        a.ws.send("PRIVMSG bob :one\r\nPRIVMSG bob :two\r\n")
        assert b.expect("PRIVMSG").params[1] == "one"
        assert b.expect("PRIVMSG").params[1] == "two"


def test_invalid_utf8_from_tcp_reaches_text_sockets_as_replacement(
    web_server: RunningServer,
) -> None:
    with web_server.ws_client("webby", subprotocols=[TEXT]) as w, web_server.client("tcpy") as t:
        t.send_raw(b"PRIVMSG webby :bad \xff\xfe bytes\r\n")
        got = w.expect("PRIVMSG")  # the library would have closed on invalid UTF-8
        assert got.params[1] == "bad \ufffd\ufffd bytes"


def test_the_clients_close_is_answered_and_others_see_it_quit(
    web_server: RunningServer,
) -> None:
    with web_server.client("tcpy") as t:
        t.join("#c")
        w = web_server.ws_client("webby")
        w.join("#c")
        w.ws.close(1001, "tab closed")
        assert w.ws.protocol.close_rcvd is not None and w.ws.protocol.close_rcvd.code == 1001
        assert t.expect("QUIT").source.startswith("webby!")


def test_quit_ends_with_the_servers_close_after_its_error(web_server: RunningServer) -> None:
    with web_server.ws_client("webby") as w:
        w.send("QUIT :bye")
        assert "Quit: bye" in w.expect("ERROR").params[0]
        assert w.closed_by_server()
        assert w.ws.protocol.close_rcvd is not None and w.ws.protocol.close_rcvd.code == 1000


def test_pings_are_answered(web_server: RunningServer) -> None:
    with web_server.ws_client("alice") as a:
        pong = a.ws.ping(b"are you there")
        assert pong.wait(5)


def test_the_server_pings_a_quiet_websocket(
    make_server: Callable[..., RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "PING_INTERVAL", 0.3)
    from tcpchat.web import server as web_server_module

    monkeypatch.setattr(web_server_module, "PING_INTERVAL", 0.3)
    server = make_server(web=WebSettings(port=0))
    with socket.create_connection(("127.0.0.1", server.web_port)) as raw:
        raw.sendall(upgrade_request())
        raw.settimeout(5)
        data = b""
        while b"\x89\x00" not in data:  # an empty Ping frame from the server
            chunk = raw.recv(4096)
            assert chunk, "closed before a ping"
            data += chunk


def test_flood_control_holds_for_websockets(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(web=WebSettings(port=0), flood_rate=5, flood_burst=5, flood_excess=20)
    with server.ws_client("flood") as f, server.client("watch") as w:
        f.join("#c")
        w.join("#c")
        f.ws.send(["PRIVMSG #c :x\r\n" * 50])  # fifty lines at once
        assert "Excess Flood" in f.expect("ERROR").params[0]
        assert w.expect("QUIT").params[0] == "Excess Flood"


def test_sendq_drops_a_websocket_that_does_not_read(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(web=WebSettings(port=0), sendq=64 * 1024)
    with socket.create_connection(("127.0.0.1", server.web_port)) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.sendall(upgrade_request(Sec_WebSocket_Protocol=TEXT))
        raw.sendall(_masked(b"NICK slow") + _masked(b"USER s 0 * :s") + _masked(b"JOIN #c"))
        with server.client("loud") as loud:
            loud.join("#c")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                loud.send(*[f"PRIVMSG #c :{'z' * 400}"] * 50)
                try:
                    message = loud.read(0.05)
                except TimeoutError:
                    continue
                if message.command == "QUIT" and message.source.startswith("slow!"):
                    assert message.params[0] == "SendQ exceeded"
                    return
            raise AssertionError("the slow WebSocket was never dropped")


def _masked(payload: bytes) -> bytes:
    """A masked text frame, mask zero (no transformation), as a test writes by hand."""
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + bytes(4) + payload


def test_bytes_sent_right_after_the_handshake_are_read(web_server: RunningServer) -> None:
    with (
        web_server.client("bob") as b,
        socket.create_connection(("127.0.0.1", web_server.web_port)) as raw,
    ):
        raw.sendall(
            upgrade_request()
            + _masked(b"NICK early")
            + _masked(b"USER e 0 * :e")
            + _masked(b"PRIVMSG bob :first words")
        )
        got = b.expect("PRIVMSG")
        assert got.source.startswith("early!") and got.params[1] == "first words"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Sec_WebSocket_Version": "8"}, 426),
        ({"Sec_WebSocket_Key": "short"}, 400),
        ({"Upgrade": None}, 426),
    ],
)
def test_bad_handshakes(
    web_server: RunningServer, headers: dict[str, str | None], code: int
) -> None:
    answer = raw_http(web_server.web_port, upgrade_request(**headers))
    assert status(answer) == code


def test_history_reaches_a_websocket_user(
    make_server: Callable[..., RunningServer], tmp_path: pytest.TempPathFactory
) -> None:
    server = make_server(
        web=WebSettings(port=0),
        history=HistorySettings(path=str(tmp_path / "h.sqlite3")),  # type: ignore[operator]
    )
    with server.client("tcpy") as t:
        t.join("#c")
        t.send("PRIVMSG #c :said before the web user came")
        t.send("PING :fence")
        t.expect("PONG")
    caps = ("draft/chathistory", "batch", "server-time", "message-tags")
    with server.ws_client("webby", caps) as w:
        w.join("#c")
        w.send("CHATHISTORY LATEST #c * 10")
        got = w.expect("PRIVMSG")
        assert got.params[1] == "said before the web user came" and "batch" in got.tags


def test_an_unanswered_close_times_out(
    web_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "CLOSE_TIMEOUT", 0.5)
    with socket.create_connection(("127.0.0.1", web_server.web_port)) as raw:
        raw.sendall(upgrade_request() + _masked(b"QUIT"))  # and never answers the Close
        raw.settimeout(5)
        data = b""
        start = time.monotonic()
        while chunk := raw.recv(4096):
            data += chunk
        assert b"\x88\x02\x03\xe8" in data  # Close, 1000
        assert time.monotonic() - start < 4


def test_refused_origin_is_403(web_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(web_server.web_url("/socket", "ws"), origin="http://evil.example")
    assert refused.value.response.status_code == 403


def test_a_graceful_stop_tells_websockets_why_and_closes_them(
    web_server: RunningServer,
) -> None:
    with web_server.ws_client("webby") as w:
        web_server.thread.stop("Server going down for the night")
        assert "Server going down for the night" in w.expect("ERROR").params[0]
        assert w.closed_by_server()
        assert w.ws.protocol.close_rcvd is not None and w.ws.protocol.close_rcvd.code == 1000
