"""The web port's policies: origins, forwarded addresses, limits, TLS, the
addresses it gives people, and how it is started and configured."""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from conftest import RunningServer
from webhttp import get, raw_http, status, upgrade_request
from websockets.exceptions import InvalidStatus
from wsclient import WsIrcClient, open_socket

from tcpchat.server.config import Config, ConfigError, TlsSettings, WebSettings, load_config
from tcpchat.web import addresses
from tcpchat.web.server import HTTP_PER_IRC_CONNECTION, client_address

# -- Origin: cross-site WebSocket hijacking -----------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser: nothing to hijack
        ("http://127.0.0.1:{port}", True),  # the page's own
        ("HTTP://127.0.0.1:{port}/", True),
        ("http://evil.example", False),
        ("http://127.0.0.1:1", False),  # another port is another origin
        ("https://127.0.0.1:{port}", False),  # and another scheme
        ("null", False),
    ],
)
def test_only_the_pages_own_origin_may_open_the_websocket(
    web_server: RunningServer, origin: str | None, allowed: bool
) -> None:
    port = web_server.web_port
    answer = raw_http(
        port,
        upgrade_request(
            Host=f"127.0.0.1:{port}", Origin=origin.format(port=port) if origin else None
        ),
        timeout=1,
    )
    assert status(answer) == (101 if allowed else 403)


def test_configured_origins_may(make_server: Callable[..., RunningServer]) -> None:
    server_ = make_server(web=WebSettings(port=0, allowed_origins=("https://gamja.example",)))
    with WsIrcClient(
        open_socket(server_.web_url("/socket", "ws"), origin="https://gamja.example")
    ) as c:
        c.register("fromgamja")
    with pytest.raises(InvalidStatus):
        open_socket(server_.web_url("/socket", "ws"), origin="https://other.example")
    anyone = make_server(web=WebSettings(port=0, allowed_origins=("*",)))
    with WsIrcClient(open_socket(anyone.web_url("/socket", "ws"), origin="https://x.example")) as c:
        c.register("fromanywhere")


# -- the client's address -----------------------------------------------------


def _forwarded(server_: RunningServer, address: str) -> WsIrcClient:
    return WsIrcClient(
        open_socket(
            server_.web_url("/socket", "ws"), additional_headers={"X-Forwarded-For": address}
        )
    )


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    make_server: Callable[..., RunningServer],
) -> None:
    trusting = make_server(
        web=WebSettings(port=0, trusted_proxies=("127.0.0.0/8",)), max_clients_per_ip=1
    )
    with (
        _forwarded(trusting, "203.0.113.7") as a,
        _forwarded(trusting, "198.51.100.1, 127.0.0.1") as b,
        trusting.client("watch") as w,
    ):
        a.register("alice")
        b.register("bob")
        for nick, ip in (("alice", "203.0.113.7"), ("bob", "198.51.100.1")):
            w.send(f"WHOIS {nick}")
            assert w.expect("311").params[3] == ip
        # The per-address limit counts the forwarded address: a second alice is refused.
        with _forwarded(trusting, "203.0.113.7") as again:
            assert "Too many connections" in again.expect("ERROR").params[0]
    doubting = make_server(web=WebSettings(port=0), max_clients_per_ip=1)
    with _forwarded(doubting, "203.0.113.7") as a, _forwarded(doubting, "203.0.113.8") as b:
        a.register("alice")
        # Not trusted: both are 127.0.0.1, whatever they claim, so the second is refused.
        assert "Too many connections" in b.expect("ERROR").params[0]


def test_the_forwarded_list_is_read_from_the_right_as_far_as_proxies_wrote_it() -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("10.0.0.1", "192.0.2.5, 10.0.0.2", proxies) == "192.0.2.5"
    assert client_address("10.0.0.1", "192.0.2.1, 192.0.2.5", proxies) == "192.0.2.5"
    assert client_address("10.0.0.1", "not-an-address, 10.0.0.2", proxies) == "10.0.0.2"
    assert client_address("192.0.2.9", "10.0.0.3", proxies) == "192.0.2.9"  # no proxy
    assert client_address("10.0.0.1", "[2001:db8::1]", proxies) == "2001:db8::1"
    assert client_address("10.0.0.1", None, proxies) == "10.0.0.1"


def test_connection_limits_per_address_hold_for_websockets(
    make_server: Callable[..., RunningServer],
) -> None:
    limited = make_server(web=WebSettings(port=0), max_clients_per_ip=2)
    with limited.client("tcpy"), limited.ws_client("webby"), limited.ws_client() as third:
        assert "Too many connections" in third.expect("ERROR").params[0]
        assert third.closed_by_server()


def test_unfinished_requests_per_address_are_capped(
    make_server: Callable[..., RunningServer],
) -> None:
    web_server = make_server(web=WebSettings(port=0), max_clients_per_ip=3)
    sockets = []
    try:
        for _ in range(3 * HTTP_PER_IRC_CONNECTION):
            sock = socket.create_connection(("127.0.0.1", web_server.web_port))
            sock.sendall(b"GET / HTTP/1.1\r\n")  # and never finishes
            sockets.append(sock)
        time.sleep(0.3)
        answer = get(web_server.web_port, "/")
        assert status(answer) == 503
    finally:
        for sock in sockets:
            sock.close()
    deadline = time.monotonic() + 5
    while status(get(web_server.web_port, "/")) != 200:
        assert time.monotonic() < deadline, "the cap never lifted"
        time.sleep(0.1)


# -- TLS ----------------------------------------------------------------------


@pytest.fixture
def tls_files(ca: trustme.CA, tmp_path: Path) -> TlsSettings:
    issued = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = tmp_path / "s.crt", tmp_path / "s.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return TlsSettings(cert=str(cert), key=str(key), port=0)


def test_with_tls_the_web_port_is_https_and_wss(
    make_server: Callable[..., RunningServer], tls_files: TlsSettings, ca: trustme.CA
) -> None:
    server_ = make_server(tls=tls_files, web=WebSettings(port=0))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        socket.create_connection(("127.0.0.1", server_.web_port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert status(answer) == 200 and b"<!doctype html>" in answer
    url = f"wss://localhost:{server_.web_port}/socket"
    with WsIrcClient(
        open_socket(url, tls=context, origin=f"https://localhost:{server_.web_port}")
    ) as w:
        w.register("secure")
        w.send("WHOIS secure")
        assert w.expect("671").command == "671"  # is using a secure connection
    assert server_.thread.runner.web is not None
    assert server_.thread.runner.web.urls()[0].startswith("https://")
    # Plain HTTP on the TLS port is not served.
    assert not raw_http(
        server_.web_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2
    ).startswith(b"HTTP/1.1 200")


# -- the addresses to give people ---------------------------------------------


def test_urls_for_one_address_and_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    assert addresses.page_urls([("127.0.0.1", 8080)], "http") == ["http://127.0.0.1:8080/"]
    assert addresses.page_urls([("::1", 443)], "https") == ["https://[::1]/"]
    monkeypatch.setattr(addresses, "local_addresses", lambda family=0: ["192.168.1.20", "10.1.2.3"])
    assert addresses.page_urls([("0.0.0.0", 8080)], "http") == [
        "http://192.168.1.20:8080/",
        "http://10.1.2.3:8080/",
    ]


def test_local_addresses_leave_out_loopback() -> None:
    for address in addresses.local_addresses():
        assert not address.startswith("127.") and address != "::1"


# -- starting it --------------------------------------------------------------

TCPCHAT = [sys.executable, "-m", "tcpchat"]


def test_the_server_turns_the_web_on_by_default_and_says_where() -> None:
    assert Config().web.enabled and Config().web.port == 8080
    proc = subprocess.Popen(
        [*TCPCHAT, "server", "--port", "0", "--web-port", "0", "--no-history", "--no-accounts"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 15
        url = None
        while url is None and time.monotonic() < deadline:
            match = re.search(r"web page: (http://127\.0\.0\.1:\d+/)", proc.stderr.readline())
            url = match.group(1) if match else None
        assert url is not None, "no web page line in the log"
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        assert status(get(port, "/")) == 200
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_the_web_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*TCPCHAT, "server", "--port", "0", "--web-port", str(port), "--no-history"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr and "--web-port" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_web_serves_no_page(make_server: Callable[..., RunningServer]) -> None:
    server_ = make_server()  # the tests' default: web off
    assert server_.thread.runner.web is None
    assert load_config(web_enabled=False).web.enabled is False
    assert load_config(web_port=8181).web.port == 8181


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[web]\nport = 70000\n", "web.port = 70000 is out of range"),
        ("[web]\nallowed_origins = 'x'\n", "web.allowed_origins = 'x' should be a list of strings"),
        ("[web]\nallowed_origins = ['chat.example.org']\n", "is not an origin"),
        ("[web]\nallowed_origins = ['https://a.example/path']\n", "is not an origin"),
        ("[web]\ntrusted_proxies = ['proxy.lan']\n", "is not an address or network"),
        ("[web]\nenabled = 'yes'\n", "web.enabled = 'yes' should be true/false"),
        ("[web]\nbogus = 1\n", "unknown setting web.bogus"),
    ],
)
def test_bad_web_settings_are_explained(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(path)


def test_good_web_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[web]\nhost = '0.0.0.0'\nport = 8443\nallowed_origins = ['https://gamja.example', '*']\n"
        "trusted_proxies = ['127.0.0.1', '10.0.0.0/8', '::1']\n"
    )
    web = load_config(path).web
    assert web.port == 8443 and web.host == "0.0.0.0"
    assert web.allowed_origins == ("https://gamja.example", "*")
    assert web.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
