"""The asyncio side of one client: bytes in, lines to the core, bytes out.

Contract: this is the only module that touches a transport or a socket. It
never blocks and never reorders a client's lines.

- In: the decoder splits lines; one client's lines are handled for at most
  :data:`TURN_BUDGET` seconds (and :data:`LINES_PER_TURN` steps: a line, or
  a run of up to :data:`RUN_LINES` plain messages to one user) per
  event-loop turn, so a flooder cannot make everyone else wait behind a
  whole read of its lines; a token bucket (flood control) may hold them
  back further. Lines that wait keep their
  order, with reading paused; too many waiting under flood control is
  "Excess Flood".
- Out: the core's writes are queued per connection and flushed by the
  :class:`Flusher` once a burst of reads is over, so a burst of N messages
  to one client costs one ``send()``, not N (see ARCHITECTURE.md, "Writes
  and backpressure"); with history, through the
  :class:`~tcpchat.server.history_gate.HistoryGate`. A client whose unsent
  output passes ``sendq`` bytes is cut off ("SendQ exceeded"); while its
  transport is paused, its own commands are not read.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Final, cast

from tcpchat.irc import LineDecoder, text_head
from tcpchat.server.core import ServerCore
from tcpchat.server.durability import Durability
from tcpchat.server.history_gate import HistoryGate
from tcpchat.server.session import Session
from tcpchat.server.tls import fingerprint

__all__ = ["Connection", "Flusher"]

log = logging.getLogger("tcpchat.server")

# The transport pauses us (and we stop reading that client) past this many
# unsent bytes; well below sendq, so a slow reader is throttled before cut off.
WRITE_HIGH_WATER: Final = 64 * 1024
# How long one client's lines may hold the event loop per turn before the
# other clients get theirs. One asyncio read can hold thousands of lines;
# handling them all at once made a flood's turn last hundreds of
# milliseconds. A shorter turn means lower latency under a flood, a longer
# one more lines per flush (per send() to each recipient). A budget of time
# rather than of lines, because lines differ in cost: a message to a
# 200-member channel costs as much as dozens of private messages, so a turn
# takes about ten of the first, and up to LINES_PER_TURN of the second
# (0.2 ms: the saturated fan-out's latency as with ten lines a turn, and
# pairs about 10 % faster; bench/PROFILE.md).
TURN_BUDGET: Final = 0.000_2
# ...and at most this many lines, so that a flood of cheap lines still lets
# the others in (ngIRCd handles 3 per turn).
LINES_PER_TURN: Final = 100
# The most lines taken together as one step of a turn: plain messages to one
# user in a row (ServerCore.handle_run), which together cost about 0.2 µs
# each (against 3.7 one by one), so a run of this many takes about half a
# TURN_BUDGET (bench/PROFILE.md).
RUN_LINES: Final = 500
# How long a flush may wait for more reads. Lines come in bursts (people's
# clients on a timer, a network's netsplit), a read each; flushed after
# each read, every member got a send() per line of the burst. So a flush
# waits while loop turns keep reading lines, up to this long after the
# output it writes was queued. At the paced fixed rate (ten senders on one
# tick) that halved the sends and the server's CPU, and lowered its p50
# (bench/PROFILE.md, step 17).
FLUSH_WAIT: Final = 0.001
# Writes straight to a socket's descriptor (Connection.send) need sockets that
# are file descriptors, as on POSIX. Elsewhere (Windows: os.write cannot take
# a socket handle) every write goes through the transport.
DIRECT_WRITES = os.name == "posix"


def _describe(exc: Exception) -> str:
    """A quit reason for a broken connection, without errno noise."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"Connection error: {exc}"


class Flusher:
    """Writes the connections' queued output once a burst of reads is over
    (FLUSH_WAIT), through the history gate when there is history; and holds
    back clients' lines while the gate, or a cluster's bus, is behind."""

    __slots__ = (
        "_first",
        "_history",
        "_loop",
        "_parked",
        "_pending",
        "_scheduled",
        "_seen",
        "batch",
        "holds",
        "reads",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, history: Durability | None = None) -> None:
        self._loop = loop
        self._history = HistoryGate(loop, history) if history is not None else None
        self._pending: list[Connection] = []
        self._scheduled = False
        # When the output due was first queued, and the reads seen since.
        self._first = 0.0
        self._seen = -1
        # Reads of lines so far (Connection.data_received counts them).
        self.reads = 0
        # Connections whose lines wait for a hold to end.
        self._parked: list[Connection] = []
        # Commits begun: lines handled now go in commit number ``batch``
        # (each connection notes the last it added lines to: Connection.fed).
        self.batch = 0
        # Reasons for every client's lines to wait: a cluster's bus with too
        # many of this node's events on their way (RedisBus.is_behind, which
        # calls resume_parked when it has caught up).
        self.holds: list[Callable[[], bool]] = []

    def behind(self) -> bool:
        """Whether the history gate is behind: the batch for the next commit is full."""
        return self._history is not None and self._history.behind()

    def stalled(self, conn: Connection) -> bool:
        """Whether ``conn``'s lines should wait: a hold is on, or the history
        gate is behind and ``conn`` has lines in the batch that waits.

        A client with none there may still add a step (Connection._drain),
        so one client's flood holds back its own lines, not everyone's: a
        line typed in a flooded channel goes in the next commit, not in the
        one after the flood's backlog (the saturated fan-out's p50 with
        history; bench/PROFILE.md, step 21). The backlog then grows by at
        most a step per client.
        """
        if conn.fed == self.batch and self.behind():
            return True
        return any(hold() for hold in self.holds)

    def park(self, conn: Connection) -> None:
        """Go on with ``conn``'s lines when the holds end (resume_parked)."""
        self._parked.append(conn)

    def resume_parked(self) -> None:
        """Go on with the lines of the connections that waited."""
        parked, self._parked = self._parked, []
        for conn in parked:
            self._loop.call_soon(conn._drain)

    def commit_soon(self) -> None:
        """Commit what history holds soon, though no one here has output
        waiting: a cluster node keeps every message, also those with no
        recipient of its own, and must not hold them back until one of its
        clients is written to."""
        history = self._history
        if history is not None and history.due() and not history.committing:
            self._schedule()

    def add(self, conn: Connection) -> None:
        self._pending.append(conn)
        if self._history is None or not self._history.committing:
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._first = self._loop.time()
            self._seen = -1
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        """Flush, unless the last loop turn read more lines and FLUSH_WAIT
        allows another: then in the next turn, with what those lines made."""
        if self.reads != self._seen and self._loop.time() - self._first < FLUSH_WAIT:
            self._seen = self.reads
            self._loop.call_soon(self._run)
            return
        self._scheduled = False
        self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        history = self._history
        if history is None or not history.due():
            for conn in pending:
                conn.flush()
            return
        self.batch += 1
        history.commit(pending, self._flush, self._committed)

    def _committed(self) -> None:
        """A commit ended: output queued meanwhile waited long enough already;
        and items kept meanwhile with no output waiting for them (commit_soon
        passed them over while this commit ran) go in the next commit too,
        unless that one began already (HistoryGate.commit's ``next_batch``)."""
        history = self._history
        if history is None:
            due = bool(self._pending)
        else:
            due = not history.committing and (bool(self._pending) or history.due())
        if due:
            self._flush()
        self.resume_parked()


class Connection(asyncio.Protocol):
    """One client connection, from accept to close."""

    # Slots, and the inbox made only when lines wait: ten thousand idle
    # clients should cost little more than their sockets (bench "idle").
    __slots__ = (
        "closed",
        "closing",
        "core",
        "decoder",
        "fd",
        "fed",
        "flood_rate",
        "flusher",
        "inbox",
        "loop",
        "out",
        "queued",
        "refilled",
        "resume_timer",
        "session",
        "tokens",
        "transport",
        "write_paused",
    )

    def __init__(self, core: ServerCore, flusher: Flusher) -> None:
        self.core = core
        self.flusher = flusher
        limits = core.config.limits
        # Set once in connection_made.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.decoder = LineDecoder()
        # Output, flushed by the Flusher: the session's queue (see Session),
        # until the session ends; queued: this connection waits in the flusher.
        self.out: list[bytes] = []
        self.queued = False
        # closed: the session is over, nothing more is read or queued;
        # closing: the transport closes once the queued output is written.
        self.closed = False
        self.closing = False
        # The socket's descriptor, for writes that skip the transport's own
        # (see send); None where the transport encrypts (TLS), and once closed.
        self.fd: int | None = None
        # Flow control: reading pauses while the client's output is stuck or
        # while its lines wait (throttled, or behind a command still finishing).
        self.write_paused = False
        # Flood control, a token bucket refilled on the loop's monotonic clock.
        self.flood_rate = limits.flood_rate
        self.tokens = float(limits.flood_burst)
        self.refilled = 0.0
        # Lines waiting to be handled, in order; None while none wait.
        self.inbox: deque[bytes] | None = None
        # The scheduled _drain of waiting lines: next turn, or when tokens refill.
        self.resume_timer: asyncio.Handle | None = None
        # The commit (Flusher.batch) that this client's last lines went in.
        self.fed = -1

    # -- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("unknown", 0)
        ip, port = str(peer[0]), int(peer[1])
        refusal = self.core.refuse_reason(ip)
        if refusal is not None:
            log.warning("refused %s: %s", ip, refusal)
            transport.write(f"ERROR :Closing Link: {ip} ({refusal})\r\n".encode())
            transport.close()
            self.closed = True
            return
        # Never above sendq, so a client past sendq is always paused, and only
        # a paused client's buffer needs measuring (see send).
        transport.set_write_buffer_limits(high=min(WRITE_HIGH_WATER, self.core.config.limits.sendq))
        self.loop = asyncio.get_running_loop()
        self.refilled = self.loop.time()
        # A WebSocket's transport (tcpchat.web) says so, and frames what is written.
        web = transport.get_extra_info("websocket") is not None
        self.session = self.core.open_session(ip, port, self._schedule, self.close, web=web)
        self.out = self.session.out
        self.session.resume = self._resume
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self.session.tls = True
            der = tls.getpeercert(binary_form=True)
            self.session.certfp = fingerprint(der) if der else None
        else:
            sock = transport.get_extra_info("socket")
            self.fd = sock.fileno() if DIRECT_WRITES and sock is not None else None

    def data_received(self, data: bytes) -> None:
        if self.closed or self.session is None:
            return
        lines = self.decoder.feed(data)
        if not lines:
            return
        self.flusher.reads += 1
        # A lone line, the usual read of a client at a human pace, skips the
        # inbox (going through it cost the fixed-rate fan-out 0.05 ms of median
        # latency; bench/PROFILE.md). Its token is spent last: a line that
        # must wait keeps it.
        session = self.session
        if (
            len(lines) == 1
            and self.inbox is None
            and not session.busy
            and not self.flusher.stalled(self)
            and self._spend_token()
        ):
            self.fed = self.flusher.batch
            self.core.handle_line(session, lines[0])
            return
        if self.inbox is None:
            self.inbox = deque(lines)
        else:
            self.inbox.extend(lines)
        self._drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        # Before the transport closes the descriptor, which a new connection
        # may then be given: it never gets this client's lines.
        self.fd = None
        if self.resume_timer is not None:
            self.resume_timer.cancel()
        if self.session is not None:
            reason = "Connection closed" if exc is None else _describe(exc)
            self.core.quit(self.session, reason)

    def pause_writing(self) -> None:
        self.write_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._set_reading()

    # -- flood control -----------------------------------------------------

    def _drain(self) -> None:
        """Handle waiting lines, in order, for up to TURN_BUDGET seconds and
        LINES_PER_TURN steps, while the session is not busy and the bucket
        has tokens (one per line); the rest wait for the next turn (or for
        tokens), with reading paused. A step is one line, or a run of plain
        messages to one user taken together (ServerCore.handle_run)."""
        self.resume_timer = None
        session, loop = self.session, self.loop
        if self.closed or session is None or loop is None:
            return
        limits = self.core.config.limits
        limited = self.flood_rate > 0
        if limited:
            self._refill(loop)
        inbox = self.inbox
        if inbox is None:
            self._set_reading()
            return
        flusher = self.flusher
        if flusher.stalled(self):
            flusher.park(self)
            self._set_reading()
            return
        self.fed = flusher.batch
        handle, run = self.core.handle_line, self.core.handle_run
        popleft = inbox.popleft
        clock = loop.time
        deadline = clock() + TURN_BUDGET
        # Past a full history batch (see Flusher.stalled): one step.
        steps = 1 if flusher.behind() else LINES_PER_TURN
        # The core is asked for a run only where the next two lines start
        # alike, and not again in this turn for a head it refused: lines that
        # start the same way then go one by one (a paste to a user whose
        # client takes tags paid for the question on every line, and a
        # channel flood would).
        refused: bytes | None = None
        while inbox and steps and not session.busy and not self.closed:
            allowed = RUN_LINES
            if limited:
                if self.tokens < 1:
                    break
                allowed = min(allowed, int(self.tokens))
            taken = 0
            if len(inbox) > 1 and allowed > 1:
                head = text_head(inbox[0])
                if head is not None and head != refused and inbox[1].startswith(head):
                    taken = run(session, inbox, allowed)
                    if not taken:
                        refused = head
            if taken:
                for _ in range(taken):
                    popleft()
            else:
                taken = 1
                handle(session, popleft())
            if limited:
                self.tokens -= taken
            steps -= 1
            if clock() >= deadline:
                break
        if self.closed:
            return
        if limited and len(inbox) > limits.flood_excess:
            self.core.quit(session, "Excess Flood")
            return
        if not inbox:
            self.inbox = None
        self._set_reading()
        if inbox and not session.busy and self.resume_timer is None:
            if not limited or self.tokens >= 1:
                self.resume_timer = loop.call_soon(self._drain)
            else:
                wait = (1 - self.tokens) / self.flood_rate
                self.resume_timer = loop.call_later(wait, self._drain)

    def _refill(self, loop: asyncio.AbstractEventLoop) -> None:
        """Add the tokens earned since the last refill, up to the burst."""
        now = loop.time()
        burst = float(self.core.config.limits.flood_burst)
        self.tokens = min(burst, self.tokens + (now - self.refilled) * self.flood_rate)
        self.refilled = now

    def _spend_token(self) -> bool:
        """Take the token for one line handled now; False, taking nothing,
        when the bucket is empty. Always True with flood control off."""
        if self.flood_rate <= 0:
            return True
        if self.loop is None:
            return False
        self._refill(self.loop)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _resume(self) -> None:
        """The session's background work finished: go on with the lines that waited."""
        if self.loop is not None:
            self.loop.call_soon(self._drain)

    def _set_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        paused = self.write_paused or bool(self.inbox)
        if paused and transport.is_reading():
            transport.pause_reading()
        elif not paused and not transport.is_reading():
            transport.resume_reading()

    # -- output ------------------------------------------------------------

    def _schedule(self) -> None:
        """Flush at the end of this loop turn (the session's ``wake``: it queued
        output). Once the transport is closing, the flush does nothing."""
        if not self.queued:
            self.queued = True
            self.flusher.add(self)

    def take(self) -> list[bytes]:
        """Everything queued, line by line; the queue is left empty.

        The lines are joined only when written, after the commit, once for
        all the members holding the same lines: joined here, the output held
        through a commit was a fresh copy per recipient, all alive at once
        and out of the CPU's caches by the time it was written (15 % of the
        CPU of a fan-out with history; bench/PROFILE.md).
        """
        self.queued = False
        out = self.out
        lines = out.copy()
        out.clear()
        return lines

    def flush(self) -> None:
        """Write everything queued now: :meth:`send` of :meth:`take`, joined,
        without take's copy of the queue, as nothing is held."""
        self.queued = False
        out = self.out
        self.send(b"".join(out))
        out.clear()

    def send(self, data: bytes) -> None:
        """Write taken output, joined, to the socket; then close, if the
        session has ended.

        Straight to the socket's descriptor where one is (no TLS to encrypt,
        DIRECT_WRITES) and the transport holds none of the client's output,
        which the write would overtake; the transport takes only what the
        socket does not: asyncio's ``write`` is a dozen lines of Python
        around the same system call. A closing transport has had the last
        word: nothing is written after it."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if data:
            fd = self.fd
            if fd is not None and not transport.get_write_buffer_size():
                try:
                    sent = os.write(fd, data)
                except OSError:  # the transport's write meets it again, and reports it
                    sent = 0
                if sent < len(data):
                    transport.write(memoryview(data)[sent:])
            else:
                transport.write(data)
            # Checked after the write, which takes what the kernel will, so only
            # bytes the client has not read count: a burst in one loop turn does
            # not. The write pauses the client first if it passes the high-water
            # mark, so the size is measured only for paused clients.
            sendq = self.core.config.limits.sendq
            if self.write_paused and transport.get_write_buffer_size() > sendq:
                self._overflow()
                return
        if self.closing:
            transport.close()

    def _overflow(self) -> None:
        """The client does not read: drop what it has not taken and cut it off."""
        assert self.session is not None and self.transport is not None
        self.closed = True
        self.out.clear()
        self.session.out = []  # whatever is queued from now on goes nowhere
        self.transport.abort()
        self.core.quit(self.session, "SendQ exceeded")

    def close(self) -> None:
        """Called by the core when the session ends: send what is queued, then close.

        The closing goes through the flusher, behind any output held for history.
        """
        if self.closing or self.transport is None:
            return
        self.closed = True
        self.closing = True
        if self.session is not None:
            self.session.out = []  # whatever is queued from now on goes nowhere
        self._schedule()
