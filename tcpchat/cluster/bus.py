"""A node's bus: its events go through Redis and come back in the network's order.

Theory of operation: :meth:`RedisBus.publish` (the core's ``emit`` in a
cluster) encodes the event and queues it; the writer appends the queue to
the stream in batches. The reader reads the stream from the last entry this
node applied and gives every node's events, its own included, to
:meth:`ServerCore.apply` in the stream's order, so every node decides every
race the same way: of two registrations of one nick, the one appended first
wins, and the other's ``then`` is told it was refused (433). An event's time
is the entry's (Redis's clock), so ``server-time`` is the same on every node
and never goes back along the order.

A node that keeps history takes what it lacks from a running node once it
has joined, and answers such requests of others (:mod:`tcpchat.cluster.handover`).

The heartbeat keeps this node a member and declares lost the nodes that
stopped. A node that finds itself declared lost (it was paused, or cut off
past the timeout) is fenced: Redis refuses its appends, so it drops its
clients, forgets the network, and joins again as a new incarnation, loading
the snapshot and the events after it, as a node that starts late does.

While Redis cannot be reached, clients stay connected: their messages wait
in the queue (and their next commands behind them) and go out, in order,
when it is back. A batch whose reply was lost is retried under the same
sequence number, which the append script takes only once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from tcpchat.cluster import codec, snapshot
from tcpchat.cluster.handover import HandOver
from tcpchat.cluster.redis_link import UNREACHABLE, Fenced, RedisLink, StreamGap, WrongEpoch
from tcpchat.server.config import ClusterSettings
from tcpchat.server.core import Applied, ServerCore
from tcpchat.server.events import Event, NodeLost, Stamp, UserQuit
from tcpchat.server.labels import LabeledReply
from tcpchat.server.state import is_console_uid
from tcpchat.store.history import HandOverStore

__all__ = ["UNREACHABLE", "RedisBus", "RedisUnavailable"]

log = logging.getLogger("tcpchat.cluster")

T = TypeVar("T")
Waiter = tuple[Applied | None, LabeledReply | None]
"""What waits for an event of this node to come back: its ``then``, and the
labeled reply of the command that made it (labels.LabeledReply)."""
Outgoing = tuple[str, str, Waiter]
"""An event on its way to the stream: its entry, its msgid, and its waiter."""

# Entries per append and per read: large enough that a flood costs few round
# trips, small enough that one batch never holds the loop for long.
BATCH: Final = 1000
# This node's events on their way (queued, or in the stream but not yet
# back): past this many, clients' lines wait (their reading paused) until
# half as many are left. Without it a flood outran Redis, and the queue grew
# without bound while deliveries lagged by seconds; 1,000 against 5,000 gave
# the saturated fan-out the same lines/s and a lower p50 (bench/).
BACKLOG: Final = 1000
# Milliseconds a read waits for new entries before it asks again.
READ_BLOCK_MS: Final = 1000
# Seconds between tries while Redis cannot be reached, growing to the last.
RETRY_DELAYS: Final = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


_WHY: Final = {
    Fenced: "was declared lost (it did not answer in time)",
    StreamGap: "fell too far behind the network",
}


LOST_NETWORK: Final = "This server lost the network; please reconnect"
"""What this node's clients are told when it was cut off from the others."""


class RedisUnavailable(Exception):
    """Redis could not be reached when the node started."""


class RedisBus:
    """The :class:`~tcpchat.server.core.Bus` of a cluster node."""

    def __init__(
        self,
        core: ServerCore,
        settings: ClusterSettings,
        network: str,
        port: int,
        on_fatal: Callable[[str], None] = lambda reason: None,
        on_joined: Callable[[], None] = lambda: None,
        on_caught_up: Callable[[], None] = lambda: None,
        on_applied: Callable[[], None] = lambda: None,
        history: HandOverStore | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.node = settings.node_name(port)
        self.link = RedisLink(settings.redis, network)
        self.incarnation = ""
        self.epoch = ""
        # The id of the last stream entry applied here.
        self.applied = "0-0"
        # Whether Redis answers now (for the log and the console).
        self.reachable = True
        # Told why, when this node cannot go on (and must stop).
        self._on_fatal = on_fatal
        # Told each time the node has joined (again), once its events go through the bus.
        self._on_joined = on_joined
        # How many of this node's events are on their way, and whether that
        # is too many (see BACKLOG); on_caught_up is told when it no longer is.
        self._unconfirmed = 0
        self._behind = False
        self._on_caught_up = on_caught_up
        # Told after each batch of entries applied (history commits what it got).
        self._on_applied = on_applied
        # The state before any event: what a node that rejoins starts from
        # when the network has no snapshot yet.
        self._initial = snapshot.dump(core.state)
        # Events not yet sent to Redis (entry, msgid, then), those being sent,
        # and the ``then`` of those sent, until they come back.
        self._outbox: list[Outgoing] = []
        self._sending: list[Outgoing] = []
        self._pending: dict[str, Waiter] = {}
        self._seq = 0
        self._wake = asyncio.Event()
        self._saved = ""
        self._task: asyncio.Task[None] | None = None
        # History hand-over, when this node keeps history.
        self.handover = None if history is None else HandOver(self.link, history, self.node)

    # -- the core's side -----------------------------------------------------

    def is_behind(self) -> bool:
        """Whether clients' lines should wait for this node's events to come back."""
        return self._behind

    def publish(self, event: Event, stamp: Stamp, then: Applied | None) -> None:
        self._unconfirmed += 1
        if self._unconfirmed >= BACKLOG:
            self._behind = True
        reply = self.core.labeled
        if reply is not None:
            reply.waiting += 1
        self._outbox.append((codec.encode(event, stamp), stamp.msgid, (then, reply)))
        self._wake.set()

    # -- running -------------------------------------------------------------

    async def start(self) -> None:
        """Join the network and load its state; RedisUnavailable if Redis does not answer."""
        try:
            await self._join()
        except UNREACHABLE as exc:
            await self.link.close()
            raise RedisUnavailable(
                f"cannot reach Redis at {self.settings.redis}: {exc}. "
                "Start it, or check cluster.redis (--cluster)"
            ) from None
        self.core.node = self.node
        self.core.bus = self
        self._on_joined()
        self._task = asyncio.create_task(self._run())

    async def stop(self, timeout: float = 2.0) -> None:
        """Leave the network gracefully: what is queued goes out first (the
        users' quits), then the node says it leaves."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._outbox or self._wake.is_set()) and (
            asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.01)
        if self.handover is not None:
            self.handover.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout)
        try:
            await asyncio.wait_for(self.link.leave(self.node, self.incarnation), timeout)
        except (TimeoutError, *UNREACHABLE) as exc:
            log.warning(
                "could not tell Redis this node leaves (%s); the others will time it out", exc
            )
        await self.link.close()

    async def _join(self) -> None:
        """Become a member as a new incarnation, then load the network: the
        snapshot, if there is one, and every entry after it."""
        self.incarnation = os.urandom(6).hex()
        self.epoch, began = await self.link.join(
            self.node, self.incarnation, os.urandom(8).hex(), self._initial
        )
        if self.handover is not None:
            if began:  # the network begins with this node: there is nothing to take
                self.handover.skip()
            else:
                self.handover.prepare()  # before anything of the stream is kept
        # The network began with a snapshot; without one (deleted by hand),
        # from the state before any event.
        self.applied, text = await self.link.snapshot() or ("0-0", self._initial.encode())
        snapshot.load(self.core.state, text)
        begins = self.applied  # what this node keeps of the stream begins after it
        caught_up = 0
        while entries := await self.link.read(self.applied, BATCH, self.epoch):
            self._apply(entries)
            caught_up += len(entries)
        log.info(
            "node %s joined the network at %s (its snapshot and %d events after it), %d users",
            self.node,
            self.settings.redis,
            caught_up,
            self.core.state.people,
        )
        if self.handover is not None and not began:
            self.handover.start(begins, self.incarnation)

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._read_loop())
                    group.create_task(self._write_loop())
                    group.create_task(self._heartbeat_loop())
                    group.create_task(self._snapshot_loop())
                    if self.handover is not None:
                        group.create_task(self.handover.serve(lambda: self.applied, self._retry))
            except ExceptionGroup as failed:
                cause = failed.exceptions[0]
                if isinstance(cause, Fenced) and cause.replaced:
                    log.error(
                        "another process took this node's name %s; stopping. Give each "
                        "node a name of its own (--node)",
                        self.node,
                    )
                    self._drop_clients()
                    self._on_fatal("Another process took this node's name")
                    return
                if isinstance(cause, WrongEpoch):
                    await self._retry(self._reseed)
                    self._on_joined()
                elif isinstance(cause, Fenced | StreamGap):
                    await self._rejoin(_WHY[type(cause)])
                else:  # a bug: serving on without the network would lie to every client
                    log.critical("the cluster bus failed; stopping this node", exc_info=cause)
                    self._drop_clients()
                    self._on_fatal("This server failed; please reconnect")
                    return

    async def _rejoin(self, why: str) -> None:
        log.warning("node %s %s: its clients are disconnected and it joins again", self.node, why)
        self._drop_clients()
        self._outbox.clear()
        self._sending.clear()
        self._pending.clear()
        self._seq = 0
        await self._retry(self._join)
        self._unconfirmed = 0  # what came back of the incarnation before counted nothing
        self._caught_up()
        self._on_joined()

    async def _reseed(self) -> None:
        """Redis lost the network's data (it restarted without it, or was
        emptied): begin the network again with what this node knows, keeping
        its clients, or join the node that did so first.

        What had not reached Redis yet goes out again; what had, and never
        came back, is lost with the data: its ``then`` hears it was refused
        (a registration is told its nick is taken; a message was never echoed).
        """
        resend = self._sending + self._outbox
        for _, msgid, _ in resend:
            self._pending.pop(msgid, None)
        lost, self._pending = self._pending, {}
        self._outbox, self._sending, self._seq = resend, [], 0
        self._unconfirmed = len(resend)
        for waiter in lost.values():
            self._answer(waiter, lambda: False)
        state = self.core.state
        nodes = sorted({u.node for u in state.by_uid.values() if u.node and u.node != self.node})
        fresh = os.urandom(8).hex()
        self.epoch, seeded = await self.link.join(
            self.node, self.incarnation, fresh, snapshot.dump(state), nodes
        )
        self.applied = "0-0"
        if seeded:
            log.warning(
                "Redis at %s had lost the network's data; this node began it again "
                "from its own state, keeping its clients",
                self.settings.redis,
            )
            return
        kept = await self.link.snapshot()
        if kept is not None:
            self.applied, text = kept
            snapshot.load(state, text)
        self._relink()
        log.warning(
            "Redis at %s had lost the network's data; this node joined the state another "
            "node began it again from, keeping its clients",
            self.settings.redis,
        )

    def _relink(self) -> None:
        """Tie this node's sessions to their users in a state just loaded
        (new objects); a session whose user the state has not is closed, and
        a user of this node with no session here quits (but for the console's,
        which has none anywhere, and takes its place again in on_joined)."""
        core, state = self.core, self.core.state
        linked = set()
        for session in list(core.sessions):
            user = session.user
            if user is None:
                continue
            fresh = state.by_uid.get(user.uid)
            if fresh is None or fresh.node != self.node:
                core.disconnect(session, LOST_NETWORK)
                continue
            fresh.session, session.user = session, fresh
            linked.add(fresh.uid)
        for user in list(state.by_uid.values()):
            if (
                user.node == self.node
                and user.uid not in linked
                and not user.service
                and not is_console_uid(user.uid)
            ):
                core.emit(UserQuit(user.uid, "Connection closed"))

    def _drop_clients(self) -> None:
        self.core.disconnect_all(LOST_NETWORK)

    async def _retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` until Redis answers; the log says when it stops and starts."""
        tries = 0
        while True:
            try:
                result = await attempt()
            except UNREACHABLE as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # The client turns a cancelled call into a lost connection:
                    # the node is stopping, not Redis gone.
                    raise asyncio.CancelledError() from exc
                if self.reachable:
                    self.reachable = False
                    log.warning(
                        "lost Redis at %s (%s); clients stay connected, retrying",
                        self.settings.redis,
                        exc,
                    )
                await asyncio.sleep(RETRY_DELAYS[min(tries, len(RETRY_DELAYS) - 1)])
                tries += 1
                continue
            if not self.reachable:
                self.reachable = True
                log.warning("Redis at %s answers again; resuming", self.settings.redis)
            return result

    # -- the loops -----------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            entries = await self._retry(
                lambda: self.link.read(self.applied, BATCH, self.epoch, READ_BLOCK_MS)
            )
            self._apply(entries)

    def _apply(self, entries: list[tuple[str, bytes]]) -> None:
        core, pending, own = self.core, self._pending, self.core.msgid_prefix
        for entry_id, data in entries:
            self.applied = entry_id
            if not data:  # not a node's (the link has said so)
                continue
            try:
                event, stamp = codec.decode(data, int(entry_id.partition("-")[0]))
            except codec.CodecError as exc:
                log.error(
                    "stream entry %s is not an event this node reads (%s); skipped", entry_id, exc
                )
                continue
            if type(event) is NodeLost and (event.node, event.incarnation) == (
                self.node,
                self.incarnation,
            ):
                raise Fenced(replaced=False)
            if stamp.msgid.startswith(own):
                self._unconfirmed -= 1
            waiter = pending.pop(stamp.msgid, None)
            try:
                if waiter is None:
                    core.apply(event, stamp)
                else:
                    self._answer(waiter, functools.partial(core.apply, event, stamp))
            except Exception:
                log.exception("applying %r failed", event)
        self._on_applied()
        if self._behind and self._unconfirmed <= BACKLOG // 2:
            self._caught_up()

    def _caught_up(self) -> None:
        self._behind = False
        self._on_caught_up()

    def _answer(self, waiter: Waiter, apply: Callable[[], bool]) -> None:
        """Apply an event of this node and tell its waiter; what it causes for
        a labeled command's sender is part of that command's reply."""
        then, reply = waiter

        def run() -> None:
            applied = apply()
            if then is not None:
                then(applied)

        if reply is None:
            run()
            return
        self.core.labeled = reply  # what ``then`` emits belongs to the reply too
        try:
            reply.catch(run)
        finally:
            self.core.labeled = None
        reply.waiting -= 1
        if not reply.waiting:
            reply.send()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            while self._outbox:
                batch = self._sending = self._outbox[:BATCH]
                del self._outbox[:BATCH]
                entries = []
                for entry, msgid, waiter in batch:
                    entries.append(entry)
                    if waiter != (None, None):  # before the append: the reader may see it first
                        self._pending[msgid] = waiter
                self._seq += 1
                append = functools.partial(
                    self.link.append, self.node, self.incarnation, self.epoch, self._seq, entries
                )
                await self._retry(append)
                self._sending = []
            self._wake.clear()

    async def _heartbeat_loop(self) -> None:
        settings = self.settings
        timeout_ms = int(settings.node_timeout * 1000)
        while True:
            await self._retry(functools.partial(self._beat, timeout_ms))
            await asyncio.sleep(settings.heartbeat)

    async def _beat(self, timeout_ms: int) -> None:
        users = sum(1 for s in self.core.sessions if s.user is not None)
        await self.link.heartbeat(
            self.node, self.incarnation, self.epoch, timeout_ms, users, self.applied
        )

    async def _snapshot_loop(self) -> None:
        interval = self.settings.snapshot_interval
        while True:
            # Spread over the interval, so that nodes started together do not all save at once.
            await asyncio.sleep(interval * random.uniform(0.75, 1.25))
            if self.applied == self._saved:
                continue
            entry_id, text = self.applied, snapshot.dump(self.core.state)
            save = functools.partial(
                self.link.save_snapshot, self.node, self.incarnation, self.epoch, entry_id, text
            )
            await self._retry(save)
            self._saved = entry_id
