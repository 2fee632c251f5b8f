"""Clients' output waits for the history it shows to be durable.

Theory of operation: with a history store, the :class:`~tcpchat.server.
connection.Flusher` hands the gate the connections whose output is due.
If the lines behind that output made history items, the gate takes the
output (every connection's, not only those with messages: lines to one
client never overtake each other), has the store commit the items on its
own thread, and writes the output when the commit is durable. Lines
handled meanwhile make the next commit (group commit: one fsync for many
messages). So no client ever sees a message a crash could take out of
history. A commit that fails hands back a
:class:`~tcpchat.server.durability.Withdrawal`: the batch's messages are
taken out of the held output before it is written, and their senders told.

A commit that lags must not let output pile up without bound: while one
is under way, lines are handled (they make the next batch) until
:data:`HISTORY_BACKLOG` deliveries wait (:meth:`Durability.backlog`); then
the lines of clients with lines in that batch wait (:meth:`HistoryGate.behind`,
``Flusher.stalled``) until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from tcpchat.server.durability import Durability, Withdrawal

if TYPE_CHECKING:
    from tcpchat.server.connection import Connection

__all__ = ["HISTORY_BACKLOG", "HistoryGate"]

# Lines held for the next commit, counted as deliveries (a message to a
# channel of 200 counts 200, a private message 1), before clients' lines
# wait. Counted in items, a 10-sender flood into a 200-member channel held
# 2,000 messages, 400,000 lines, per commit, and its latency was a quarter
# of a second; in deliveries, the batch is as big as the work of releasing
# it, about 2 ms of it (bench/PROFILE.md, step 18).
HISTORY_BACKLOG: Final = 20_000

Held = list[tuple["Connection", list[bytes]]]


class HistoryGate:
    """The commits that output waits for, one at a time."""

    __slots__ = ("_durability", "_loop", "committing")

    def __init__(self, loop: asyncio.AbstractEventLoop, durability: Durability) -> None:
        self._loop = loop
        self._durability = durability
        self.committing = False

    def due(self) -> bool:
        """Whether output due now must wait for a commit: history items wait."""
        return self._durability.pending() > 0

    def behind(self) -> bool:
        """Whether clients' lines should wait: the commit under way has
        HISTORY_BACKLOG deliveries queued behind it."""
        return self.committing and self._durability.backlog() >= HISTORY_BACKLOG

    def commit(
        self, conns: list[Connection], next_batch: Callable[[], None], then: Callable[[], None]
    ) -> None:
        """Take ``conns``' output, commit what history holds, and write the
        output once it is durable; then call ``then`` (on the loop's thread).

        When the commit is durable and history holds more already,
        ``next_batch`` is called before the output is written, to start the
        next commit: the writer thread then works on it while the loop writes
        (bench/PROFILE.md, step 22). The output it takes comes after this
        commit's in every connection, so no client's lines change order.
        """
        held = [(conn, conn.take()) for conn in conns]
        self.committing = True
        self._durability.commit(
            lambda failed: self._call_soon_threadsafe(
                self._committed, held, failed, next_batch, then
            )
        )

    def _call_soon_threadsafe(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(callback, *args)

    def _committed(
        self,
        held: Held,
        failed: Withdrawal | None,
        next_batch: Callable[[], None],
        then: Callable[[], None],
    ) -> None:
        self.committing = False
        if failed is None and self.due():
            next_batch()
        # The members of a busy channel hold the same lines, the same objects,
        # a commit's worth: joined once for all of them, as comparing the
        # lists costs a pointer a line.
        last: list[bytes] | None = None
        data = b""
        for conn, taken in held:
            lines = taken if failed is None else failed.unsent(taken)
            if lines != last:
                last, data = lines, b"".join(lines)
            conn.send(data)
        if failed is not None:
            failed.tell()
        then()
