"""What the console shows of the network: its nodes, and whether Redis answers.

The console's window never calls Redis (only the Tk thread may touch Tk,
and a call to a Redis that hangs would freeze it). A task on the server's
loop asks Redis every :data:`INTERVAL` seconds instead and hands a
:class:`~tcpchat.server.console_feed.Nodes` to the console's queue, as the
tables of users and channels are handed over.
"""

from __future__ import annotations

import asyncio
from typing import Final

from tcpchat.cluster.bus import UNREACHABLE, RedisBus
from tcpchat.server.console_feed import NodeRow, Nodes, Sink

__all__ = ["INTERVAL", "watch_nodes"]

INTERVAL: Final = 2.0
"""Seconds between two looks at the nodes: heartbeats come every second, and
an age that is two seconds late still tells a live node from a silent one."""
ASK_TIMEOUT: Final = 2.0
"""Seconds an answer may take; a Redis that does not answer in that time is
unreachable to the console (the client would wait for ever)."""


async def watch_nodes(bus: RedisBus, sink: Sink) -> None:
    """Send the nodes to ``sink`` until cancelled; while Redis does not
    answer, the last rows it gave, marked unreachable."""
    rows: tuple[NodeRow, ...] = ()
    while True:
        try:
            rows = await asyncio.wait_for(_ask(bus), ASK_TIMEOUT)
        except (TimeoutError, *UNREACHABLE):
            sink(Nodes(bus.settings.redis, False, rows))
        else:
            sink(Nodes(bus.settings.redis, bus.reachable, rows))
        await asyncio.sleep(INTERVAL)


async def _ask(bus: RedisBus) -> tuple[NodeRow, ...]:
    nodes = await bus.link.nodes()
    now_ms = await bus.link.clock_ms()
    return tuple(
        NodeRow(node.name, node.users, max(0, now_ms - node.beat_ms) / 1000, node.name == bus.node)
        for node in nodes
    )
