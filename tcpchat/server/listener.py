"""Listening sockets, the event loop, and a graceful stop.

:class:`ServerRunner` owns one :class:`~tcpchat.server.core.ServerCore` and
its sockets. It can run in the main thread (``tcpchat server``) or in a
background thread (the console, the tests); :meth:`ServerRunner.request_stop`
may be called from any thread. Stopping follows the usual order: stop
accepting, tell every client why (``ERROR``), let them flush, then close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from tcpchat.server.config import Config, ConfigError
from tcpchat.server.connection import Connection, Flusher
from tcpchat.server.core import ConfigSource, ServerCore
from tcpchat.server.tls import server_context
from tcpchat.store.accounts import AccountStore
from tcpchat.store.sqlite import HistoryDatabaseError, SqliteHistory
from tcpchat.store.sqlite_accounts import AccountDatabaseError, SqliteAccounts
from tcpchat.web.server import WebServer

if TYPE_CHECKING:
    from tcpchat.cluster.bus import RedisBus

__all__ = ["ServerRunner", "ServerThread", "new_event_loop", "stop_on_signals"]

log = logging.getLogger("tcpchat.server")

# Seconds between timeout sweeps (registration and ping).
TICK_INTERVAL: Final = 1.0
# Seconds clients get to receive their ERROR line before the sockets close.
SHUTDOWN_GRACE: Final = 2.0
# What asks a server in a terminal to stop: Ctrl-C, a service manager's
# SIGTERM, and on Windows Ctrl-Break.
STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name)
)
# Connections the kernel holds for accept(): a class connecting at once.
BACKLOG: Final = 1024


def new_event_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """An event loop: uvloop when asked for, or when ``auto`` and it is installed."""
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def open_history(config: Config) -> SqliteHistory | None:
    """The history store the config asks for, or None when history is off."""
    settings = config.history
    if not settings.enabled:
        return None
    try:
        return SqliteHistory(config.history_file, settings.max_age_days, settings.max_per_target)
    except HistoryDatabaseError as exc:
        raise ConfigError(str(exc)) from None


def open_accounts(config: Config) -> AccountStore | None:
    """The account store the config asks for, or None when accounts are off:
    a cluster's nodes share theirs in Redis, a server on its own keeps a file."""
    if not config.accounts.enabled:
        return None
    if config.cluster.enabled:
        try:
            from tcpchat.cluster.accounts import RedisAccounts
        except ImportError:
            from tcpchat.cluster import INSTALL_HINT

            raise ConfigError(INSTALL_HINT) from None
        return RedisAccounts(config.cluster.redis, config.network)
    try:
        return SqliteAccounts(config.accounts_file)
    except AccountDatabaseError as exc:
        raise ConfigError(str(exc)) from None


def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Call ``stop`` on ``loop`` when the process is asked to end (STOP_SIGNALS).

    Only POSIX event loops take signal handlers of their own; Windows's raise
    NotImplementedError. There the process-wide handler hands the stop to the
    loop, whose signal wake-up descriptor ends its wait at once.
    """
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, stop)
        except NotImplementedError:
            signal.signal(sig, lambda _sig, _frame: loop.call_soon_threadsafe(stop))


class ServerRunner:
    """Runs a server on the current event loop until asked to stop."""

    def __init__(self, config: Config, reload: ConfigSource | None = None) -> None:
        self.config = config
        self.history = open_history(config)
        self.accounts = open_accounts(config)
        self.core = ServerCore(
            config,
            history=self.history,
            accounts=self.accounts,
            offload=self._offload,
            reload=reload,
        )
        # Where the server listens, without and with TLS.
        self.addresses: list[tuple[str, int]] = []
        self.tls_addresses: list[tuple[str, int]] = []
        self._servers: list[asyncio.Server] = []
        # The page and its WebSocket, when [web] is enabled.
        self.web: WebServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_reason: asyncio.Future[str] | None = None
        self._connections: set[Connection] = set()
        # The cluster's bus, when [cluster] redis is set (see _join_cluster).
        self.bus: RedisBus | None = None
        # Called on the loop whenever the server has its network: once before it
        # listens, and in a cluster again after each rejoin (which forgets what
        # the node had made, such as the console's pseudo-user).
        self.on_network: list[Callable[[], None]] = []
        # Work beside the server (see spawn), cancelled when it stops.
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind and listen; raises OSError when the address cannot be used."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop_reason = loop.create_future()
        flusher = Flusher(loop, self.core.durability)

        def factory() -> Connection:
            conn = Connection(self.core, flusher)
            self._connections.add(conn)
            return conn

        def track(conn: Connection) -> None:
            self._connections.add(conn)  # a WebSocket's, for the graceful stop

        tls = self.config.tls
        context = server_context(tls) if tls.enabled else None  # before binding anything
        if self.config.cluster.enabled:
            await self._join_cluster(flusher)
        else:
            self._network_ready()
        reuse_port = self.config.cluster.share_port or None
        # reuse_address is left to asyncio's default: set on POSIX, so a restart
        # can bind while old connections linger in TIME_WAIT; unset on Windows,
        # where it would let a second server take a port in use without a word.
        try:
            if tls.plaintext:
                server = await loop.create_server(
                    factory,
                    self.config.host,
                    self.config.port,
                    backlog=BACKLOG,
                    reuse_port=reuse_port,
                )
                self._servers.append(server)
                self.addresses = [s.getsockname()[:2] for s in server.sockets]
            if context is not None:
                server = await loop.create_server(
                    factory,
                    self.config.host,
                    tls.port,
                    backlog=BACKLOG,
                    ssl=context,
                    reuse_port=reuse_port,
                )
                self._servers.append(server)
                self.tls_addresses = [s.getsockname()[:2] for s in server.sockets]
                self.core.tls_port = self.tls_addresses[0][1]
            if self.config.web.enabled:
                self.web = WebServer(self.core, flusher, self.config, context, track)
                await self.web.start()
        except OSError:
            for server in self._servers:
                server.close()
            if self.bus is not None:
                await self.bus.stop()
            raise
        for host, port in self.addresses:
            log.info("listening on %s:%d", host, port)
        for host, port in self.tls_addresses:
            log.info("listening with TLS on %s:%d", host, port)
        if self.web is not None:
            for url in self.web.urls():
                log.info("web page: %s (give people this address)", url)
        self._tick(loop)

    async def _join_cluster(self, flusher: Flusher) -> None:
        """Join the network through Redis before any client is let in.

        The Redis client is an optional extra: without it, one line says
        what to install. A node whose name another process takes over
        stops (two processes of one name would fence each other in turn).
        """
        try:
            from tcpchat.cluster.bus import RedisBus, RedisUnavailable
        except ImportError:
            from tcpchat.cluster import INSTALL_HINT

            raise ConfigError(INSTALL_HINT) from None
        bus = RedisBus(
            self.core,
            self.config.cluster,
            self.config.network,
            self.config.port,
            on_fatal=self.request_stop,
            on_joined=self._network_ready,
            on_caught_up=flusher.resume_parked,
            on_applied=flusher.commit_soon,
            history=self.history,
        )
        flusher.holds.append(bus.is_behind)
        self.bus = bus  # before it joins: what on_network calls may ask for it
        try:
            await bus.start()
        except RedisUnavailable as exc:
            self.bus = None
            raise ConfigError(str(exc)) from None

    def _network_ready(self) -> None:
        """Call the on_network hooks; one that fails is logged, and the others still run."""
        for hook in self.on_network:
            try:
                hook()
            except Exception:
                log.exception("a hook on joining the network failed")

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the loop beside the server until it stops; call on the loop."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._stop_reason is not None and self._stop_reason.done():
            return
        # The next tick is due whatever this one meets: a tick that raised
        # once stopped every timeout for good.
        loop.call_later(TICK_INTERVAL, self._tick, loop)
        self._connections = {c for c in self._connections if not c.closed}
        self.core.tick()

    async def serve(self) -> None:
        """Serve until :meth:`request_stop`, then stop gracefully."""
        assert self._stop_reason is not None, "call start() first"
        reason = await self._stop_reason
        await self.stop(reason)

    def request_stop(self, reason: str = "Server shutting down") -> None:
        """Ask the server to stop; safe from any thread and more than once."""
        loop, future = self._loop, self._stop_reason
        if loop is None or future is None:
            return

        def settle() -> None:
            if not future.done():
                future.set_result(reason)

        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(settle)

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the server's loop, from any thread (the console's intents).

        Dropped once the loop has closed: a stopped server has nobody to act on.
        """
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback)

    async def stop(self, reason: str) -> None:
        log.info("shutting down: %s", reason)
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers:
            server.close()
        if self.web is not None:
            self.web.close()
        self.core.shutdown(reason)
        if self.bus is not None:
            await self.bus.stop()  # the users' quits go out first
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE
        while (
            any(
                (c.transport is not None and not c.transport.is_closing()) or c.out
                for c in self._connections
            )
            and asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.01)
        for conn in self._connections:
            if conn.transport is not None:
                conn.transport.abort()
        for server in self._servers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_GRACE)
        if self.web is not None:
            await self.web.wait_closed(SHUTDOWN_GRACE)
        if self.history is not None:
            self.history.close()
        if self.accounts is not None:
            self.accounts.close()

    def _offload(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Run ``work`` in the loop's thread pool; ``then`` its result on the loop."""
        assert self._loop is not None
        future = self._loop.run_in_executor(None, work)

        def finished(done: asyncio.Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                then(done.result())
            elif not done.cancelled():
                log.error("background work failed", exc_info=done.exception())

        future.add_done_callback(finished)


class ServerThread:
    """A server running in a background thread with its own event loop.

    For the console and the tests: ``start()`` returns once the server is
    listening (or raises what binding raised), ``stop()`` stops it gracefully.
    """

    def __init__(self, config: Config) -> None:
        self.runner = ServerRunner(config)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="tcpchat-server", daemon=True)

    def _main(self) -> None:
        loop = new_event_loop(self.runner.config.event_loop)
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        try:
            await self.runner.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self.runner.serve()

    def start(self) -> ServerRunner:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.runner

    def stop(self, reason: str = "Server shutting down", timeout: float = 10.0) -> None:
        self.runner.request_stop(reason)
        self._thread.join(timeout)
