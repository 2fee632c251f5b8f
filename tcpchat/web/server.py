"""The web port: listening, the policies of the handshake, and the timers.

:class:`WebServer` belongs to a :class:`~tcpchat.server.listener.ServerRunner`
and shares its core and its flusher: a WebSocket user's IRC connection is
made exactly as a TCP user's is. It decides what the connections ask of
it: whether an ``Origin`` may open the WebSocket (the page's own, or one
configured), which address is the client's (``X-Forwarded-For`` only from
a trusted proxy), and how many unfinished requests one address may hold.
One sweep a second closes what timed out; another pings WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

from tcpchat.server.config import Config
from tcpchat.server.connection import Connection, Flusher
from tcpchat.server.core import ServerCore
from tcpchat.web.adapter import PING_INTERVAL, FrameMemo, WebConnection
from tcpchat.web.addresses import page_urls
from tcpchat.web.files import load_files, security_headers

__all__ = ["WebListenError", "WebServer", "client_address"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

log = logging.getLogger("tcpchat.server")

# Connections from one address still in HTTP (loading the page, idle in
# keep-alive, or not yet upgraded), as a multiple of the IRC connections it
# may have (limits.max_clients_per_ip; 0, no limit, lifts this one too). A
# browser opens up to six to a host for a page and keeps them a while; this
# lets a class behind one NAT load the page at once, while one client
# cannot hold thousands of half-open requests (slowloris).
HTTP_PER_IRC_CONNECTION: Final = 4
SWEEP_INTERVAL: Final = 1.0


class WebListenError(OSError):
    """The web port could not be opened; ``where`` says which address it was."""

    def __init__(self, where: str, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror)
        self.where = where


def _origin_key(origin: str) -> str:
    """An origin in one spelling: lower case, without its scheme's default port."""
    origin = origin.strip().lower().rstrip("/")
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


def _within(ip: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_address(peer: str, forwarded: str | None, proxies: Sequence[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy;
    then the nearest address in X-Forwarded-For that is not one too. Each
    proxy appends the address it heard from, so the list is read from the
    right, and only as far as trusted proxies wrote it: whatever stands
    left of that, the client may have made up."""
    if not forwarded or not _within(peer, proxies):
        return peer
    found = peer
    for item in reversed(forwarded.split(",")):
        try:
            address = ipaddress.ip_address(item.strip().strip("[]"))
        except ValueError:
            break  # made up: stop at the last proxy's word
        found = str(address)
        if not _within(found, proxies):
            break
    return found


class WebServer:
    """The page and the WebSocket for one server."""

    def __init__(
        self,
        core: ServerCore,
        flusher: Flusher,
        config: Config,
        context: ssl.SSLContext | None,
        register: Callable[[Connection], None],
    ) -> None:
        self.core = core
        self.flusher = flusher
        self.settings = config.web
        self.host = config.web.host or config.host
        self.context = context
        self._register = register
        self.files = load_files()
        self.memo = FrameMemo()
        self._origins = {_origin_key(o) for o in config.web.allowed_origins}
        self._proxies: list[Network] = [
            ipaddress.ip_network(p, strict=False) for p in config.web.trusted_proxies
        ]
        self.addresses: list[tuple[str, int]] = []
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Connections still in HTTP (and how many each address has), those
        # with a deadline (in HTTP, or closing), and the WebSockets.
        self._http: set[WebConnection] = set()
        self._timed: set[WebConnection] = set()
        self._sockets: set[WebConnection] = set()
        self._http_per_ip: Counter[str] = Counter()
        self._timers: list[asyncio.TimerHandle] = []

    @property
    def secure(self) -> bool:
        return self.context is not None

    async def start(self) -> None:
        """Listen; raises WebListenError when the port cannot be had."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: WebConnection(self),
                self.host,
                self.settings.port,
                reuse_address=True,
                backlog=1024,
                ssl=self.context,
            )
        except OSError as exc:
            raise WebListenError(f"{self.host}:{self.settings.port}", exc) from None
        self.addresses = [s.getsockname()[:2] for s in self._server.sockets]
        self._timers = [loop.call_later(SWEEP_INTERVAL, self._sweep)]
        self._timers.append(loop.call_later(PING_INTERVAL / 3, self._ping))

    def urls(self) -> list[str]:
        """The addresses to give people, one URL each."""
        return page_urls(self.addresses, "https" if self.secure else "http")

    def close(self) -> None:
        """Stop listening and drop connections still in HTTP; WebSockets end with
        their IRC sessions (the core's shutdown), as TCP clients do."""
        for timer in self._timers:
            timer.cancel()
        if self._server is not None:
            self._server.close()
        for web in list(self._http):
            if web.transport is not None:
                web.transport.abort()

    async def wait_closed(self, timeout: float) -> None:
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout)

    # -- asked by the connections ------------------------------------------

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def opened(self, web: WebConnection) -> bool:
        """A new socket; False when its address holds too many unfinished requests."""
        ip = web.peer[0]
        cap = self.core.config.limits.max_clients_per_ip * HTTP_PER_IRC_CONNECTION
        if cap and self._http_per_ip[ip] >= cap:
            return False
        self._http_per_ip[ip] += 1
        self._http.add(web)
        self._timed.add(web)
        return True

    def upgraded(self, web: WebConnection) -> None:
        self._leave_http(web)
        self._timed.discard(web)
        self._sockets.add(web)

    def closing(self, web: WebConnection) -> None:
        self._timed.add(web)

    def closed(self, web: WebConnection) -> None:
        self._leave_http(web)
        self._timed.discard(web)
        self._sockets.discard(web)

    def _leave_http(self, web: WebConnection) -> None:
        if web in self._http:
            self._http.discard(web)
            ip = web.peer[0]
            self._http_per_ip[ip] -= 1
            if not self._http_per_ip[ip]:
                del self._http_per_ip[ip]

    def connection(self) -> Connection:
        """The IRC connection for a new WebSocket, made and tracked as a TCP one is."""
        conn = Connection(self.core, self.flusher)
        self._register(conn)
        return conn

    def headers(self, host: str) -> list[tuple[str, str]]:
        return security_headers(host)

    def origin_allowed(self, origin: str, host: str) -> bool:
        """Whether a page from ``origin`` may open the WebSocket: the page's own
        origin (what the browser calls this server, its ``Host``), or a configured one.
        This is what stops another site's page from chatting as its visitor
        (cross-site WebSocket hijacking): browsers always send Origin."""
        key = _origin_key(origin)
        own = _origin_key(("https://" if self.secure else "http://") + host)
        return key == own or key in self._origins or "*" in self._origins

    def client_ip(self, peer: str, forwarded: str | None) -> str:
        return client_address(peer, forwarded, self._proxies)

    # -- timers ------------------------------------------------------------

    def _sweep(self) -> None:
        now = self.now()
        for web in [w for w in self._timed if w.deadline is not None and now >= w.deadline]:
            web.expire()
        assert self._loop is not None
        self._timers[0] = self._loop.call_later(SWEEP_INTERVAL, self._sweep)

    def _ping(self) -> None:
        now = self.now()
        for web in self._sockets:
            web.ping(now)
        assert self._loop is not None
        self._timers[1] = self._loop.call_later(PING_INTERVAL / 3, self._ping)
