"""The client's network side: one asyncio loop in one background thread.

Theory of operation. :class:`ClientThread` owns a :class:`Session` and a
socket. It reads bytes, cuts them into lines with the shared
:class:`~tcpchat.irc.LineDecoder`, feeds the session and hands every update
to ``sink`` (the GUI passes a thread-safe queue's ``put``). Intents from
other threads arrive through :meth:`ClientThread.submit`, which only
schedules work on the loop with ``call_soon_threadsafe``; nothing here
ever touches Tk.

When the link fails (refused, reset, closed, silent) the session is told,
the person sees why, and the next attempt waits for a delay from
:class:`~tcpchat.client.reconnect.Backoff`. A connection that gets no
welcome in time was probably made to something that is not an IRC server,
and is dropped with a line that says so. Every wait has a deadline.

With ``tls`` the link is TLS (:mod:`~tcpchat.client.trust`): verified as
usual, or, for a server whose fingerprint the person trusted, checked
against that pin. A certificate that fails either way ends the thread with
a :class:`CertificateProblem` update instead of retrying: the same
certificate would fail again, and only the person can decide. So does a
client certificate of our own that cannot be loaded (a file moved away).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from tcpchat.client.intents import Intent, Quit
from tcpchat.client.reconnect import Backoff
from tcpchat.client.session import Session
from tcpchat.client.settings import Settings
from tcpchat.client.trust import (
    ClientCertificateError,
    check_pin,
    load_client_certificate,
    pinning_context,
    untrusted,
    verifying_context,
)
from tcpchat.client.updates import SERVER_BUFFER, CertificateProblem, ConnState, Status, Update
from tcpchat.irc import TOO_LONG, FormatError, LineDecoder, ProtocolError, decode, parse

__all__ = ["ClientThread", "describe_error"]

CONNECT_TIMEOUT: Final = 10.0
"""Seconds for the TCP handshake; a host that does not answer is not worth more."""
REGISTRATION_TIMEOUT: Final = 30.0
"""Seconds from connecting to the welcome (001); servers use the same bound."""
IDLE_BEFORE_PING: Final = 90.0
"""Seconds of silence before we ask the server whether it is still there."""
PING_TIMEOUT: Final = 30.0
"""Seconds the server has to answer that PING before the link counts as dead."""
UNRESOLVED_TRIES: Final = 3
"""Tries for a server name that no resolver knows before giving up: a name that fails
three times running is mistyped, not a network's passing hiccup."""
STOP_TIMEOUT: Final = 5.0
"""Seconds :meth:`ClientThread.stop` waits for QUIT to go out and the thread to end."""
READ_SIZE: Final = 65536


def describe_error(exc: BaseException, address: str) -> str:
    """Why connecting to ``address`` failed, in words a person can act on."""
    if isinstance(exc, ssl.SSLError):
        return (
            f"Could not connect to {address} over TLS ({exc.reason or exc}). "
            "Is that the server's TLS port (often 6697)?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Could not connect to {address}: the connection was refused. "
            "Is the server running, and is the port right?"
        )
    if isinstance(exc, TimeoutError):
        return f"Could not connect to {address}: no answer within {CONNECT_TIMEOUT:.0f} seconds."
    if isinstance(exc, socket.gaierror):
        return f"Could not connect to {address}: no such host. Check the server name."
    if isinstance(exc, OSError) and exc.errno == errno.ENETUNREACH:
        return f"Could not connect to {address}: the network is unreachable."
    return f"Could not connect to {address}: {exc}"


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), CONNECT_TIMEOUT)


def _peer_certificate(writer: asyncio.StreamWriter) -> bytes | None:
    ssl_object = writer.get_extra_info("ssl_object")
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClientThread:
    """A session connected to one server from a background thread, reconnecting as needed."""

    def __init__(
        self,
        settings: Settings,
        sink: Callable[[Update], None],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        registration_timeout: float = REGISTRATION_TIMEOUT,
        ca_file: str = "",
    ) -> None:
        self.settings = settings
        self._ca_file = ca_file  # authorities to trust instead of the system's (tests)
        self.session = Session(
            settings.nick,
            server=settings.address,
            password=settings.password,
            channels=settings.channels,
            history_lines=settings.history_lines,
            credentials=settings.credentials(),
            certificate=settings.presents_certificate,
        )
        self._sink = sink
        self._now = now
        self._clock = clock
        self._backoff = Backoff(rng or random.Random(), clock)
        self._registration_timeout = registration_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tcpchat-client", daemon=True)
        self._main: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stopping = False

    # ------------------------------------------------------------ any thread

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        """Whether the thread still connects or tries to (False once it has given up)."""
        return self._thread.is_alive()

    def submit(self, intent: Intent) -> None:
        """Hand an intent to the session; safe from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            self._loop.call_soon_threadsafe(self._perform, intent)

    def drop_link(self) -> None:
        """Cut the connection as a network failure would, so it reconnects (for tests)."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._abort)

    def stop(self, reason: str = "", timeout: float = STOP_TIMEOUT) -> None:
        """Say QUIT, close the link and end the thread, waiting at most ``timeout``."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._shutdown, reason)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------ loop thread

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._main = self._loop.create_task(self._connect_forever())
        try:
            self._loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        finally:
            # Transports closed on the way out release their sockets on the next pass.
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def _emit(self, updates: list[Update]) -> None:
        for update in updates:
            self._sink(update)

    def _say(self, text: str, error: bool = False) -> None:
        self._emit([self.session.info(SERVER_BUFFER, text, self._now(), error)])

    def _give_up(self, why: str) -> None:
        """Stop trying: what comes next is for the person to choose."""
        self._emit([Status(ConnState.STOPPED, self.settings.address, self.session.nick)])
        self._say(why, error=True)

    async def _connect_forever(self) -> None:
        address = self.settings.address
        unresolved = 0
        while not self._stopping:
            self._emit([Status(ConnState.CONNECTING, address, self.session.nick)])
            self._say(f"Connecting to {address}…")
            try:
                opened = await self._open()
            except (OSError, TimeoutError) as exc:
                unresolved = unresolved + 1 if isinstance(exc, socket.gaierror) else 0
                if unresolved >= UNRESOLVED_TRIES:
                    self._give_up(
                        f"Gave up: no server called {self.settings.host} could be found "
                        f"({unresolved} tries). Check the name, then choose Chat → "
                        "Connect to… (Ctrl+N)."
                    )
                    return
                self._emit([Status(ConnState.DISCONNECTED, address, self.session.nick)])
                self._say(describe_error(exc, address), error=True)
            except ClientCertificateError as exc:
                # The file will not mend itself: wait for the person to choose another.
                self._give_up(str(exc))
                return
            else:
                if isinstance(opened, CertificateProblem):
                    # Trying again would meet the same certificate: wait for the person.
                    self._give_up(opened.reason)
                    self._emit([opened])
                    return
                reader, writer = opened
                self._backoff.connected()
                self._writer = writer
                self._emit(self.session.start(self._now()))
                self._flush()
                reason = await self._read_until_lost(reader)
                self._writer = None
                writer.close()
                if self._stopping:
                    return
                self._emit(self.session.connection_lost(reason, self._now()))
            delay = self._backoff.next_delay()
            self._say(f"Trying again in {delay:.1f} seconds.")
            await asyncio.sleep(delay)

    async def _open(
        self,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | CertificateProblem:
        """A connection, over TLS if asked; or why its certificate cannot be trusted."""
        host, port, address = self.settings.host, self.settings.port, self.settings.address
        if not self.settings.tls:
            return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        pinned = self.settings.pinned()
        context = pinning_context() if pinned else verifying_context(self._ca_file)
        if self.settings.presents_certificate:
            load_client_certificate(context, self.settings.client_cert, self.settings.client_key)
        try:
            reader, writer = await self._open_tls(context)
        except ssl.SSLCertVerificationError as exc:
            _, peeked = await self._open_tls(pinning_context())  # only to read the certificate
            der = _peer_certificate(peeked)
            await _close(peeked)
            return untrusted(address, der, exc.verify_message or str(exc))
        problem = check_pin(address, _peer_certificate(writer), pinned) if pinned else None
        if problem is not None:
            await _close(writer)
            return problem
        return reader, writer

    async def _open_tls(
        self, context: ssl.SSLContext
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.settings.host, self.settings.port
        return await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=context, server_hostname=host, ssl_handshake_timeout=CONNECT_TIMEOUT
            ),
            CONNECT_TIMEOUT,
        )

    async def _read_until_lost(self, reader: asyncio.StreamReader) -> str:
        """Feed the session until the link fails; return why, in words."""
        decoder = LineDecoder()
        welcome_by = self._clock() + self._registration_timeout
        pinged = False
        while True:
            if self.session.registered:
                wait = PING_TIMEOUT if pinged else IDLE_BEFORE_PING
            else:
                wait = max(0.0, welcome_by - self._clock())
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), wait)
            except TimeoutError:
                if not self.session.registered:
                    return (
                        "the server did not welcome us in time. "
                        "Is it an IRC server, and is the port right?"
                    )
                if pinged:
                    return "the server stopped answering"
                pinged = True
                self._write_line(b"PING :tcpchat\r\n")
                continue
            except OSError as exc:
                return exc.strerror or str(exc)
            if not data:
                return "the server closed the connection"
            pinged = False
            for raw in decoder.feed(data):
                if raw == TOO_LONG:
                    continue
                try:
                    msg = parse(decode(raw))
                except ProtocolError:
                    continue
                self._emit(self.session.receive(msg, self._now()))
            self._flush()

    def _perform(self, intent: Intent) -> None:
        self._emit(self.session.perform(intent, self._now()))
        self._flush()

    def _flush(self) -> None:
        for msg in self.session.take_outgoing():
            try:
                line = msg.to_bytes()
            except FormatError as exc:
                self._say(f"Cannot send that: {exc}", error=True)
                continue
            self._write_line(line)

    def _write_line(self, line: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(line)

    def _abort(self) -> None:
        if self._writer is not None:
            transport = self._writer.transport
            transport.abort()

    def _shutdown(self, reason: str) -> None:
        self._stopping = True
        if self.session.registered:
            self._perform(Quit(reason))
        if self._writer is not None:
            self._writer.close()
        if self._main is not None:
            # Give QUIT a moment to leave, then end the reading or the waiting.
            self._loop.call_later(0.2, self._main.cancel)
