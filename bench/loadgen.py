"""A load generator for IRC servers: many clients, plain IRC, loopback only.

Theory of operation: a scenario is a list of client *roles* (who sends what
to whom, at which pace). The parent process deals the roles out to worker
processes, round robin; each worker runs its clients on one event loop
(uvloop when installed, else asyncio). Workers and parent speak over a pipe
in four steps:

1. ``setup``: the worker connects and registers its clients (and joins the
   channel), with a bounded number of registrations in flight, then says
   ``ready``.
2. ``go``: the parent names a window ``[t0, t1]`` on ``CLOCK_MONOTONIC``,
   which all processes of one machine share. Senders run during the window;
   every client counts the lines it receives (``bytes.count(b"\\n")``, with
   no parsing, so receiving stays cheap) and the counts are read at t0 and t1.
3. The worker reports its counts, latencies and errors.
4. ``close``: the worker says QUIT on every client and exits.

The parent reads CPU time (``/proc/PID/stat``) of the server and of every
worker at t0 and t1, so each report shows the generator's CPU beside the
server's.

Pacing: a flood sender writes one batch of lines per event-loop turn while
its transport is not paused; the transport pauses it above a small
high-water mark, and the kernel's socket buffer holds the rest, so the
generator's own buffers stay bounded however slow the server is.
Latency: a message carries the sender's ``time.monotonic_ns()`` after a
marker (``@LAT``); a probe receiver looks for the marker in what it reads
(``bytes.find``) and subtracts. Two figures: to when the probe *read* the
line, and to when the line *arrived* in the probe's socket (the kernel's
receive timestamp, SO_TIMESTAMPNS, where the platform has it). A probe
shares its worker process with about a hundred other receivers, and reads
the line only once that process has read those served before it; the
arrival figure leaves that, the generator's own work, out. A read that
holds several lines has one timestamp, its last segment's, so the arrival
figure can overstate an earlier line's latency, never understate it.
Every client sets TCP_NODELAY.

Clusters: a server may listen on several ports, one per node of a tcpchat
cluster. A role's ``node`` says which port its client connects to; the
scenarios take the number of nodes and place their roles so that traffic
crosses between nodes (members spread round robin, senders on the first
node and receivers on the last).

WebSocket clients (roles with ``web``; tcpchat's web port, IRCv3 WebSocket,
text frames) take part in ``fanout-web`` (every other member of the
channel) and ``idle-web``. They frame what they send with a zero mask (a
mask the server cannot tell from any other, that costs the generator
nothing), and count received lines by the flood text that ends every
benchmark line, as their frames carry no newline.

Run one scenario by hand (prints JSON)::

    python -m bench.loadgen fanout --port 6667 --clients 200 --senders 10 --duration 5
    python -m bench.loadgen pairs --port 6667 6668    # a two-node cluster, pairs across it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any, Final

__all__ = [
    "SCENARIOS",
    "Role",
    "Scenario",
    "connect_scenario",
    "fanout_paced_scenario",
    "fanout_rate_scenario",
    "fanout_scenario",
    "fanout_web_scenario",
    "idle_scenario",
    "idle_web_scenario",
    "pairs_scenario",
    "proc_cpu_seconds",
    "proc_cpu_times",
    "run_scenario",
]

# Text of each flood line: about the size of a chat message.
PAYLOAD: Final = b"the quick brown fox jumps over the lazy dog 0123456789"
# Lines per write for flood senders: big enough to amortise a syscall, small
# enough (about 4 KiB) that a sender reacts to pause_writing promptly.
FLOOD_BATCH: Final = 50
# A flood sender's transport pauses above this many unsent bytes.
SENDER_HIGH_WATER: Final = 32 * 1024
# SO_SNDBUF of a flood sender's socket (the kernel doubles it).
SENDER_SNDBUF: Final = 64 * 1024
# After the window, wait for latency probes still in flight: until none has
# arrived for DRAIN_QUIET seconds, at most DRAIN_MAX.
DRAIN_QUIET: Final = 1.0
DRAIN_MAX: Final = 5.0
# Marks a line that carries a send timestamp.
LAT_MARK: Final = b"@LAT "
# Probe sender rate in the saturated fan-out: slow, so it measures, not loads.
PROBE_RATE: Final = 20.0
# Every scenario, in the order the runner runs them.
SCENARIOS: Final = (
    "idle",
    "idle-web",
    "connect",
    "fanout",
    "fanout-web",
    "fanout-rate",
    "fanout-paced",
    "pairs",
)
# fanout-paced: a sender's PING after every this many lines, and the bytes a
# receiver's socket holds before it wakes the receiver (SO_RCVLOWAT).
PACED_PING_EVERY: Final = 20
PACED_LOWAT: Final = 6000
PACED_PROBE_RATE: Final = 50.0
# Settle time after setup and before t0, so join bursts have drained.
SETTLE: Final = 0.3
# Seconds for one registration (connect + NICK/USER + 001) before it counts as failed.
REGISTER_TIMEOUT: Final = 30.0
CHANNEL: Final = "#bench"
# The kernel's receive timestamps (Linux; the socket module does not name them).
SO_TIMESTAMPNS: Final = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)

_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
# What a WebSocket client counts as a line: the end of every flood and probe line.
WEB_LINE_MARK: Final = PAYLOAD[-20:]
WEB_HANDSHAKE: Final = (
    b"GET /socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
)


def ws_frames(lines: bytes) -> bytes:
    """CRLF-terminated lines as masked WebSocket text frames, one a line (mask zero)."""
    out = []
    for line in lines.split(b"\r\n")[:-1]:
        size = len(line)
        head = (
            bytes((0x81, 0x80 | size))
            if size < 126
            else bytes((0x81, 0xFE)) + size.to_bytes(2, "big")
        )
        out.append(head + b"\0\0\0\0" + line)
    return b"".join(out)


def proc_cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` (all its threads), from /proc.

    Apart, because a server that relays to many sockets spends most of its
    time in the kernel's send(), where no server's own code can save much.
    """
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # The command name may hold spaces; fields resume after its closing ")".
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` (all its threads)."""
    return sum(proc_cpu_times(pid))


def raise_nofile() -> int:
    """Raise the soft open-file limit to the hard one; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# -- scenarios --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Role:
    """One client: its nick and what it does in the window.

    ``kind`` is ``idle`` (registers, reads), ``flood`` (sends to ``target``
    as fast as the server takes it), ``rate`` (sends timestamped lines to
    ``target`` at ``rate`` per second) or ``register`` (the connect
    scenario: registers inside the window, timed).
    ``probe`` marks a receiver that measures latency; ``web``, a client that
    connects over WebSocket; ``node``, which of the server's ports (a
    cluster's nodes) the client connects to. ``ping_every``: a ``rate``
    sender that also writes a PING after every that many lines, as clients
    check the link; ``lowat``: a receiver whose socket wakes it only once
    that many bytes wait (SO_RCVLOWAT), as a busy client reads in chunks.
    """

    nick: str
    kind: str = "idle"
    target: str = ""
    rate: float = 0.0
    phase: float = 0.0
    probe: bool = False
    join: bool = False
    web: bool = False
    node: int = 0
    ping_every: int = 0
    lowat: int = 0


@dataclass(slots=True)
class Scenario:
    """A named list of roles and how long the window lasts."""

    name: str
    roles: list[Role]
    duration: float
    # Registrations in flight at once, over all workers.
    in_flight: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def fanout_scenario(
    clients: int, senders: int, duration: float, prefix: str = "f", nodes: int = 1
) -> Scenario:
    """``clients`` in one channel; ``senders`` of them flood it; a probe pair measures latency.

    Over ``nodes``, the members (senders too) are dealt out round robin, and
    the probe pair is split between the first node and the last, so the
    probe's latency crosses the cluster.
    """
    if clients < senders + 2:
        raise ValueError("fanout needs at least senders + 2 clients")
    last = nodes - 1
    roles = [
        Role(f"{prefix}{i}", "flood", CHANNEL, join=True, node=i % nodes) for i in range(senders)
    ]
    roles.append(Role(f"{prefix}{senders}", "rate", CHANNEL, rate=PROBE_RATE, join=True))
    roles += [
        Role(f"{prefix}{i}", join=True, node=i % nodes) for i in range(senders + 1, clients - 1)
    ]
    roles.append(Role(f"{prefix}{clients - 1}", probe=True, join=True, node=last))
    return Scenario("fanout", roles, duration)


def fanout_web_scenario(clients: int, senders: int, duration: float) -> Scenario:
    """``fanout`` with every other receiving member on WebSocket: the senders and
    the probe pair stay on TCP, so the figures differ from fanout's only by what
    WebSocket members cost."""
    base = fanout_scenario(clients, senders, duration, prefix="w")
    roles = [
        Role(r.nick, r.kind, r.target, r.rate, r.phase, r.probe, r.join, web=i % 2 == 1)
        if r.kind == "idle" and not r.probe
        else r
        for i, r in enumerate(base.roles)
    ]
    return Scenario("fanout-web", roles, duration)


def fanout_rate_scenario(
    clients: int,
    senders: int,
    rate: float,
    duration: float,
    probes: int = 4,
    prefix: str = "r",
    nodes: int = 1,
) -> Scenario:
    """``senders`` send ``rate`` timestamped lines a second in all into a channel of ``clients``.

    Over ``nodes``, the senders are on the first node and every receiver on
    the last, so each line timed has crossed the cluster.
    """
    if clients < senders + probes:
        raise ValueError("fanout-rate needs at least senders + probes clients")
    each = rate / senders
    last = nodes - 1
    roles = [
        Role(f"{prefix}{i}", "rate", CHANNEL, rate=each, phase=i / senders / each, join=True)
        for i in range(senders)
    ]
    receivers = clients - senders
    # Probes spread over the receivers (and so over the worker processes).
    probe_at = {senders + (k * receivers) // probes for k in range(probes)}
    roles += [
        Role(f"{prefix}{i}", probe=i in probe_at, join=True, node=last)
        for i in range(senders, clients)
    ]
    return Scenario("fanout-rate", roles, duration, extra={"rate": rate})


def fanout_paced_scenario(
    receivers: int,
    senders: int,
    rate: float,
    duration: float,
    probe_rate: float = PACED_PROBE_RATE,
    prefix: str = "q",
) -> Scenario:
    """The fixed rate as people's clients make it: ``senders`` write a line
    each on the same tick (``rate`` lines a second in all, each line its own
    write) and a PING after every PACED_PING_EVERY lines; ``receivers``
    read in chunks of PACED_LOWAT bytes (SO_RCVLOWAT); a probe pair of its
    own, at ``probe_rate``, times the lines. Unlike ``fanout-rate``, whose
    senders take turns and whose every receiver reads each line at once,
    lines here come in bursts and the receivers' reads cost the generator
    little, so the server's own cost per line shows.
    """
    each = rate / senders
    roles = [
        Role(f"{prefix}{i}", "rate", CHANNEL, rate=each, join=True, ping_every=PACED_PING_EVERY)
        for i in range(senders)
    ]
    roles.append(Role(f"{prefix}s", "rate", CHANNEL, rate=probe_rate, join=True))
    roles.append(Role(f"{prefix}p", probe=True, join=True))
    roles += [
        Role(f"{prefix}{senders + i}", join=True, lowat=PACED_LOWAT) for i in range(receivers)
    ]
    return Scenario("fanout-paced", roles, duration, extra={"rate": rate, "probe_rate": probe_rate})


def pairs_scenario(pairs: int, duration: float, prefix: str = "p", nodes: int = 1) -> Scenario:
    """``pairs`` pairs of clients, each flooding private messages at the other.

    Over ``nodes``, one of each pair is on the first node and the other on
    the last, so every message crosses the cluster.
    """
    roles: list[Role] = []
    for i in range(pairs):
        a, b = f"{prefix}{i}a", f"{prefix}{i}b"
        roles += [Role(a, "flood", b), Role(b, "flood", a, node=nodes - 1)]
    return Scenario("pairs", roles, duration)


def connect_scenario(clients: int, in_flight: int = 50, prefix: str = "k") -> Scenario:
    """Register ``clients`` with ``in_flight`` registrations at once; timed."""
    roles = [Role(f"{prefix}{i}", "register") for i in range(clients)]
    return Scenario("connect", roles, duration=0.0, in_flight=in_flight)


def idle_scenario(clients: int, in_flight: int = 50, prefix: str = "i") -> Scenario:
    """Hold ``clients`` registered, silent clients (for the server's memory per client)."""
    roles = [Role(f"{prefix}{i}") for i in range(clients)]
    return Scenario("idle", roles, duration=0.0, in_flight=in_flight)


def idle_web_scenario(clients: int, in_flight: int = 50, prefix: str = "v") -> Scenario:
    """``idle`` over WebSocket: the server's memory per WebSocket client."""
    roles = [Role(f"{prefix}{i}", web=True) for i in range(clients)]
    return Scenario("idle-web", roles, duration=0.0, in_flight=in_flight)


# -- one client ---------------------------------------------------------------


class ClientError(Exception):
    """The server closed a client, refused it, or did not answer in time."""


class Client(asyncio.Protocol):
    """One IRC connection driven by its role; counts what it receives."""

    def __init__(self, worker: Worker, role: Role) -> None:
        self.worker = worker
        self.role = role
        self.loop = worker.loop
        self.transport: Any = None
        self.lines = 0
        self.closed = False
        # Setup: a marker we wait for (b" 001 ", b" 366 ") and its future.
        self.wait_for: bytes | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.tail = b""
        # Sending.
        self.sending = False
        self.paused = False
        self.pump_pending = False
        self.sent = 0
        self.batch = b""
        self.batch_lines = 0
        # A probe's own handle on its socket, read with the arrival timestamps
        # into a buffer of its own (a fresh 256 KiB per read cost more than the read).
        self.stamped: socket.socket | None = None
        self.stamped_buffer = bytearray()
        self.web_tail = b""

    # -- asyncio.Protocol

    def connection_made(self, transport: Any) -> None:
        # Any: uvloop's transports are not subclasses of asyncio.Transport.
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.role.kind == "flood":
            transport.set_write_buffer_limits(high=SENDER_HIGH_WATER)
            if sock is not None:
                # A small kernel buffer too, so "sent" means nearly "taken by the server"
                # and a flood cannot park megabytes in the generator's socket.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SENDER_SNDBUF)

    def data_received(self, data: bytes, arrived: int | None = None) -> None:
        if self.role.web:
            # The mark may straddle two reads: the tail kept is one byte short
            # of it, so no mark is counted twice.
            both = self.web_tail + data
            self.lines += both.count(WEB_LINE_MARK)
            self.web_tail = both[-(len(WEB_LINE_MARK) - 1) :]
        else:
            self.lines += data.count(b"\n")
        if self.wait_for is not None or self.role.probe:
            buf = self.tail + data
            # Frames carry no newline: a WebSocket client looks at all it has,
            # keeping a little for a marker cut in two.
            cut = len(buf) if self.role.web else buf.rfind(b"\n") + 1
            self.tail = buf[-16:] if self.role.web else buf[cut:][-4096:]
            if self.role.probe:
                self.worker.take_latencies(buf[:cut], arrived)
            if self.wait_for is not None:
                self._scan(buf[:cut])
        if b"PING " in data:
            self._pong(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._unstamp()
        self.closed = True
        self.sending = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ClientError(f"{self.role.nick}: connection closed"))
        self.worker.client_lost(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.sending and not self.pump_pending:
            self.pump_pending = True
            self.loop.call_soon(self._pump)

    # -- setup

    def _scan(self, lines: bytes) -> None:
        assert self.wait_for is not None and self.waiter is not None
        for line in lines.split(b"\n"):
            if self.wait_for in line:
                self.wait_for = None
                if not self.waiter.done():
                    self.waiter.set_result(None)
                return
            if line.startswith(b"ERROR") or b" 433 " in line or b" 465 " in line:
                if not self.waiter.done():
                    self.waiter.set_exception(
                        ClientError(f"{self.role.nick}: {line.decode(errors='replace')[:200]}")
                    )
                return

    def _pong(self, data: bytes) -> None:
        assert self.transport is not None
        if self.role.web:  # a PING's frame: its token runs to the next frame
            at = data.find(b"PING ")
            token = data[at + 5 : at + 5 + 64].split(b"\x81")[0]
            self.transport.write(ws_frames(b"PONG " + token + b"\r\n"))
            return
        for line in data.split(b"\n"):
            if line.startswith(b"PING "):
                self.transport.write(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")

    async def expect(self, marker: bytes, send: bytes, timeout: float, framed: bool = True) -> None:
        """Send ``send`` (in frames, over WebSocket) and wait until ``marker`` arrives."""
        assert self.transport is not None
        self.wait_for = marker
        self.waiter = self.loop.create_future()
        self.transport.write(ws_frames(send) if self.role.web and framed else send)
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.wait_for = None
            self.waiter = None

    async def register(
        self, host: str, ports: Sequence[int], timeout: float, web_port: int = 0
    ) -> None:
        nick = self.role.nick
        port = ports[self.role.node]
        if self.role.web:
            if not web_port:
                raise ClientError("a WebSocket client needs the server's web port")
            port = web_port
        await asyncio.wait_for(self.loop.create_connection(lambda: self, host, port), timeout)
        if self.role.web:
            await self.expect(b" 101 ", WEB_HANDSHAKE, timeout, framed=False)
        hello = f"NICK {nick}\r\nUSER {nick} 0 * :tcpchat bench\r\n".encode()
        await self.expect(b" 001 ", hello, timeout)
        if self.role.join:
            await self.expect(b" 366 ", f"JOIN {self.role.target or CHANNEL}\r\n".encode(), timeout)

    # -- arrival timestamps (probes)

    def read_stamped(self) -> None:
        """From now on read with the kernel's receive timestamps: through a
        duplicate of the socket, as the transport's reads do not return them."""
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if SO_TIMESTAMPNS is None or sock is None or self.closed:
            return
        stamped = socket.socket(fileno=os.dup(sock.fileno()))
        try:
            stamped.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            stamped.close()
            return
        stamped.setblocking(False)
        self.stamped = stamped
        self.stamped_buffer = bytearray(64 * 1024)
        self.transport.pause_reading()
        self.loop.add_reader(stamped.fileno(), self._read_stamped)

    def _read_stamped(self) -> None:
        assert self.stamped is not None
        buffer = self.stamped_buffer
        try:
            size, ancillary, _, _ = self.stamped.recvmsg_into([buffer], socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.connection_lost(exc)
            return
        if not size:
            self.connection_lost(None)
            return
        data = bytes(buffer[:size])
        arrived = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", payload[:16])
                # The stamp is on the real-time clock; latencies are on the monotonic one.
                arrived = sec * 1_000_000_000 + nsec - (time.time_ns() - time.monotonic_ns())
        self.data_received(data, arrived)

    def _unstamp(self) -> None:
        if self.stamped is not None:
            self.loop.remove_reader(self.stamped.fileno())
            self.stamped.close()
            self.stamped = None

    # -- sending

    def start(self, t0: float, t1: float) -> None:
        """Send, by role, from monotonic time t0 until t1."""
        role = self.role
        if role.probe:
            self.read_stamped()
        if role.lowat:
            sock = self.transport.get_extra_info("socket") if self.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, role.lowat)
        if role.kind == "flood":
            line = f"PRIVMSG {role.target} :".encode() + PAYLOAD + b"\r\n"
            self.batch = line * FLOOD_BATCH
            if role.web:
                self.batch = ws_frames(self.batch)
            self.batch_lines = FLOOD_BATCH
            self.loop.call_later(max(0.0, t0 - time.monotonic()), self._begin_flood)
            self.loop.call_later(max(0.0, t1 - time.monotonic()), self.stop)
        elif role.kind == "rate":
            self.sending = True
            self.loop.call_later(max(0.0, t0 - time.monotonic()), self._tick, t0, 0, t1)

    def stop(self) -> None:
        self.sending = False

    def _begin_flood(self) -> None:
        self.sending = True
        if not self.pump_pending:
            self.pump_pending = True
            self._pump()

    def _pump(self) -> None:
        self.pump_pending = False
        transport = self.transport
        if not self.sending or self.paused or self.closed or transport is None:
            return
        transport.write(self.batch)
        self.sent += self.batch_lines
        if not self.paused:
            self.pump_pending = True
            self.loop.call_soon(self._pump)

    def _tick(self, start: float, k: int, t1: float) -> None:
        """Send line ``k`` of a fixed-rate schedule (no omission: late lines go at once)."""
        if not self.sending or self.closed or self.transport is None:
            return
        role = self.role
        now = time.monotonic()
        if now >= t1:
            self.sending = False
            return
        due = start + role.phase + k / role.rate
        while due <= now:
            stamp = time.monotonic_ns()
            self.transport.write(
                f"PRIVMSG {role.target} :".encode()
                + LAT_MARK
                + str(stamp).encode()
                + b" "
                + PAYLOAD
                + b"\r\n"
            )
            self.sent += 1
            k += 1
            if role.ping_every and k % role.ping_every == 0:
                self.transport.write(b"PING :" + str(k).encode() + b"\r\n")
            due = start + role.phase + k / role.rate
        self.loop.call_later(due - now, self._tick, start, k, t1)

    def quit(self) -> None:
        self._unstamp()
        if self.transport is not None and not self.closed:
            self.sending = False
            with contextlib.suppress(Exception):
                quit_ = b"QUIT :bench done\r\n"
                self.transport.write(ws_frames(quit_) if self.role.web else quit_)
                self.transport.close()


# -- one worker process -------------------------------------------------------


class Worker:
    """The clients of one process and their counters."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, host: str, ports: Sequence[int], web_port: int = 0
    ) -> None:
        self.loop = loop
        self.host = host
        self.ports = ports
        self.web_port = web_port
        self.clients: list[Client] = []
        self.latencies: list[int] = []
        self.arrivals: list[int] = []
        self.window = (0, 0)  # ns; latencies count for lines sent inside it
        self.lost = 0
        self.lost_in_window = 0
        self.in_window = False
        self.errors: list[str] = []

    def client_lost(self, client: Client) -> None:
        self.lost += 1
        if self.in_window:
            self.lost_in_window += 1

    def take_latencies(self, lines: bytes, arrived: int | None = None) -> None:
        """Latencies of the timestamped lines in ``lines``: to now, when they
        were read, and to ``arrived``, the kernel's timestamp of the read."""
        now = time.monotonic_ns()
        lo, hi = self.window
        at = lines.find(LAT_MARK)
        while at >= 0:
            start = at + len(LAT_MARK)
            end = lines.find(b" ", start)
            try:
                stamp = int(lines[start:end])
            except ValueError:
                stamp = 0
            if lo <= stamp <= hi:
                self.latencies.append(now - stamp)
                if arrived is not None:
                    self.arrivals.append(arrived - stamp)
            at = lines.find(LAT_MARK, start)

    async def register_all(self, roles: list[Role], in_flight: int) -> list[float]:
        """Register clients for ``roles``, ``in_flight`` at once; returns seconds per client."""
        slots = asyncio.Semaphore(max(1, in_flight))
        times: list[float] = []

        async def one(role: Role) -> None:
            async with slots:
                client = Client(self, role)
                begun = time.monotonic()
                try:
                    await client.register(self.host, self.ports, REGISTER_TIMEOUT, self.web_port)
                except (OSError, ClientError, TimeoutError) as exc:
                    self.errors.append(f"{role.nick}: {type(exc).__name__}: {exc}")
                    client.quit()
                    return
                times.append(time.monotonic() - begun)
                self.clients.append(client)

        await asyncio.gather(*(one(role) for role in roles))
        return times

    def total_lines(self) -> int:
        return sum(c.lines for c in self.clients)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _recv(pipe: Pipe) -> Any:
    """The next message from the parent, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = pipe.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        if not pipe.poll():
            await ready
    finally:
        loop.remove_reader(fd)
    return pipe.recv()


async def _worker(pipe: Pipe, spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(loop, spec["host"], spec["ports"], spec.get("web_port", 0))
    roles: list[Role] = [Role(**r) for r in spec["roles"]]
    kind = spec["scenario"]
    in_flight = spec["in_flight"]
    result: dict[str, Any] = {"pid": os.getpid(), "loop": type(loop).__module__}
    if kind != "connect":
        await worker.register_all(roles, in_flight)
        result["registered"] = len(worker.clients)
    pipe.send({"ready": True, "registered": len(worker.clients), "errors": worker.errors[:20]})
    go = await _recv(pipe)
    t0, t1 = go["t0"], go["t1"]
    if kind == "connect":
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        times = await worker.register_all(roles, in_flight)
        result.update(registered=len(times), finished=time.monotonic(), reg_times=times)
    elif kind not in ("idle", "idle-web"):
        worker.window = (int(t0 * 1e9), int(t1 * 1e9))
        for client in worker.clients:
            client.start(t0, t1)
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        worker.in_window = True
        c0, s0, w0 = worker.total_lines(), sum(c.sent for c in worker.clients), time.monotonic()
        await asyncio.sleep(max(0.0, t1 - time.monotonic()))
        c1, s1, w1 = worker.total_lines(), sum(c.sent for c in worker.clients), time.monotonic()
        timed = sum(c.sent for c in worker.clients if c.role.kind == "rate")
        worker.in_window = False
        for client in worker.clients:
            client.stop()
        # Probe lines sent late in the window are still on their way: let them land.
        if any(c.role.probe for c in worker.clients):
            end = time.monotonic() + DRAIN_MAX
            seen = -1
            while len(worker.latencies) != seen and time.monotonic() < end:
                seen = len(worker.latencies)
                await asyncio.sleep(DRAIN_QUIET)
        result.update(
            lines=c1 - c0,
            sent=s1 - s0,
            elapsed=w1 - w0,
            latencies=worker.latencies,
            arrivals=worker.arrivals,
            timed_sent=timed,
            probes=sum(c.role.probe for c in worker.clients),
        )
    result.update(lost=worker.lost, lost_in_window=worker.lost_in_window, errors=worker.errors[:20])
    pipe.send(result)
    await _recv(pipe)  # close
    for client in worker.clients:
        client.quit()
    await asyncio.sleep(0.1)


def _worker_main(pipe: Pipe, spec: dict[str, Any]) -> None:
    raise_nofile()
    loop = _new_loop()
    try:
        loop.run_until_complete(_worker(pipe, spec))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    except Exception:
        # Tell the parent what broke instead of leaving it a closed pipe.
        with contextlib.suppress(OSError):
            pipe.send({"worker_error": traceback.format_exc()})
    finally:
        loop.close()


# -- the parent ----------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(pid)
    return total


def _server_cpu(pids: Sequence[int]) -> list[tuple[float, float]]:
    """CPU seconds in all, and in the kernel, of each of the server's processes
    (a cluster has several); zeros for one that is gone."""
    out = []
    for pid in pids:
        try:
            user, kernel = proc_cpu_times(pid)
        except OSError:
            user, kernel = 0.0, 0.0
        out.append((user + kernel, kernel))
    return out


def run_scenario(
    scenario: Scenario,
    host: str = "127.0.0.1",
    ports: Sequence[int] = (6667,),
    procs: int = 2,
    server_pids: Sequence[int] = (),
    on_ready: Callable[[int], dict[str, Any]] | None = None,
    timeout: float = 120.0,
    web_port: int = 0,
) -> dict[str, Any]:
    """Run ``scenario`` against host:ports with ``procs`` worker processes; return a report.

    ``ports`` holds one port per node (a role's ``node`` indexes it); one for
    a single server. ``web_port`` is where roles with ``web`` connect
    (tcpchat's web port). The server's CPU is summed over ``server_pids``,
    and given for each of them too (``server_cpu_each``).

    ``on_ready`` is called with the number of clients set up, once all are
    and before the window (the idle scenario measures the server's memory
    there); what it returns is merged into the report. Every wait is bounded by ``timeout``.
    """
    procs = max(1, min(procs, len(scenario.roles)))
    ctx = multiprocessing.get_context("spawn")
    deadline = time.monotonic() + timeout
    shares = [scenario.roles[w::procs] for w in range(procs)]
    flights = [scenario.in_flight // procs + (w < scenario.in_flight % procs) for w in range(procs)]
    workers: list[tuple[Any, Pipe]] = []
    report: dict[str, Any] = {"scenario": scenario.name, "clients": len(scenario.roles)}
    report.update(scenario.extra)

    def recv_all() -> list[dict[str, Any]]:
        out = []
        for proc, pipe in workers:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"worker {proc.pid} did not answer in time")
            try:
                message = pipe.recv()
            except EOFError:
                raise RuntimeError(f"worker {proc.pid} exited early") from None
            if isinstance(message, dict) and "worker_error" in message:
                raise RuntimeError(f"worker {proc.pid} failed:\n{message['worker_error']}")
            out.append(message)
        return out

    try:
        for w in range(procs):
            mine, theirs = ctx.Pipe()
            spec = {
                "host": host,
                "ports": list(ports),
                "web_port": web_port,
                "scenario": scenario.name,
                "in_flight": flights[w],
                "roles": [_role_dict(r) for r in shares[w]],
            }
            proc = ctx.Process(target=_worker_main, args=(theirs, spec), daemon=True)
            proc.start()
            theirs.close()
            workers.append((proc, mine))
        ready = recv_all()
        report["setup_errors"] = [e for r in ready for e in r["errors"]][:20]
        if on_ready is not None:
            report.update(on_ready(sum(r["registered"] for r in ready)))
        duration = scenario.duration
        t0 = time.monotonic() + SETTLE
        t1 = t0 + duration
        for _, pipe in workers:
            pipe.send({"t0": t0, "t1": t1})
        pids = [proc.pid for proc, _ in workers]
        time.sleep(max(0.0, t0 - time.monotonic()))
        gen0 = _cpu(pids)
        srv0 = _server_cpu(server_pids)
        w0 = time.monotonic()
        if duration > 0:
            time.sleep(max(0.0, t1 - time.monotonic()))
            gen1 = _cpu(pids)
            srv1 = _server_cpu(server_pids)
            w1 = time.monotonic()
        results = recv_all()
        if duration <= 0:
            gen1 = _cpu(pids)
            srv1 = _server_cpu(server_pids)
            w1 = time.monotonic()
        for _, pipe in workers:
            pipe.send("close")
        for proc, _ in workers:
            proc.join(max(1.0, min(10.0, deadline - time.monotonic())))
    finally:
        for proc, pipe in workers:
            if proc.is_alive():
                proc.kill()  # only our own workers, by their handle
                proc.join(5)
            pipe.close()

    wall = max(1e-9, w1 - w0)
    report["procs"] = procs
    report["loop"] = results[0].get("loop", "")
    report["lost"] = sum(r["lost"] for r in results)
    report["lost_in_window"] = sum(r["lost_in_window"] for r in results)
    report["errors"] = [e for r in results for e in r["errors"]][:20]
    report["gen_cpu"] = (gen1 - gen0) / wall  # cores busy
    used = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(srv0, srv1, strict=True)]
    server_seconds = sum(total for total, _ in used)
    if server_pids:
        report["server_cpu"] = server_seconds / wall
        report["server_kernel_cpu"] = sum(kernel for _, kernel in used) / wall
        report["server_cpu_each"] = [total / wall for total, _ in used]
    if scenario.name == "connect":
        registered = sum(r["registered"] for r in results)
        elapsed = max(r["finished"] for r in results) - t0
        times = sorted(t for r in results for t in r["reg_times"])
        report.update(
            registered=registered,
            seconds=elapsed,
            per_second=registered / elapsed if elapsed > 0 else 0.0,
            register_p50_ms=_percentile(times, 0.5) * 1e3,
            register_p99_ms=_percentile(times, 0.99) * 1e3,
        )
    elif scenario.name in ("idle", "idle-web"):
        report["registered"] = sum(r["registered"] for r in results)
    else:
        lines = sum(r["lines"] for r in results)
        rate = sum(r["lines"] / r["elapsed"] for r in results if r["elapsed"] > 0)
        lat = sorted(x / 1e6 for r in results for x in r["latencies"])
        arrived = sorted(x / 1e6 for r in results for x in r["arrivals"])
        report.update(
            seconds=duration,
            lines=lines,
            lines_per_s=rate,
            sent_per_s=sum(r["sent"] / r["elapsed"] for r in results if r["elapsed"] > 0),
            latency_samples=len(lat),
            # Timestamped lines sent in the window times probe receivers: samples expected.
            latency_expected=sum(r["timed_sent"] for r in results)
            * sum(r["probes"] for r in results),
            p50_ms=_percentile(lat, 0.5),
            p99_ms=_percentile(lat, 0.99),
            arrival_samples=len(arrived),
            arrival_p50_ms=_percentile(arrived, 0.5),
            arrival_p99_ms=_percentile(arrived, 0.99),
            max_ms=lat[-1] if lat else float("nan"),
        )
        if server_pids and lines:
            report["server_cpu_ms_per_1k"] = server_seconds * 1e3 / (rate * wall / 1e3)
            report["gen_cpu_ms_per_1k"] = (gen1 - gen0) * 1e3 / (rate * wall / 1e3)
    return report


def _role_dict(role: Role) -> dict[str, Any]:
    return {name: getattr(role, name) for name in Role.__slots__}


# -- command line ---------------------------------------------------------------


def build_scenario(args: argparse.Namespace) -> Scenario:
    nodes = len(args.port)
    if args.scenario == "fanout":
        return fanout_scenario(args.clients, args.senders, args.duration, nodes=nodes)
    if args.scenario == "fanout-web":
        return fanout_web_scenario(args.clients, args.senders, args.duration)
    if args.scenario == "fanout-rate":
        return fanout_rate_scenario(
            args.clients, args.senders, args.rate, args.duration, nodes=nodes
        )
    if args.scenario == "fanout-paced":
        return fanout_paced_scenario(args.clients, args.senders, args.rate, args.duration)
    if args.scenario == "pairs":
        return pairs_scenario(args.pairs, args.duration, nodes=nodes)
    if args.scenario == "connect":
        return connect_scenario(args.clients, args.in_flight)
    if args.scenario == "idle-web":
        return idle_web_scenario(args.clients)
    return idle_scenario(args.clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen", description="IRC load generator (one scenario)."
    )
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, nargs="+", default=[6667], help="one port per node of a cluster"
    )
    parser.add_argument(
        "--web-port", type=int, default=0, help="tcpchat's web port (-web scenarios)"
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="fanout-rate, fanout-paced: lines/s in all"
    )
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--procs", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--server-pid", type=int, nargs="*", default=[], help="read these processes' CPU time"
    )
    parser.add_argument("--hold", type=float, default=0.0, help="idle: seconds to hold")
    args = parser.parse_args(argv)
    raise_nofile()
    scenario = build_scenario(args)

    def hold(registered: int) -> dict[str, Any]:
        time.sleep(args.hold)
        return {}

    report = run_scenario(
        scenario,
        args.host,
        args.port,
        procs=args.procs,
        server_pids=args.server_pid,
        on_ready=hold if args.hold else None,
        web_port=args.web_port,
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
