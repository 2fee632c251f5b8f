"""The property every cluster rests on: whatever clients do on whichever
nodes, once the stream is drained every node holds the same state.

Random commands (joins, parts, nick changes that collide, topics, modes,
kicks, messages, away, quits) go from clients spread over three nodes, sent
without waiting, so that the nodes' events interleave in the stream. At the
end each node's state is compared whole: users, channels, members and their
modes, topics, bans, WHOWAS (the snapshot form, taken on each node's own loop).
"""

from __future__ import annotations

import concurrent.futures
import random
import time
from collections.abc import Callable

import pytest
from conftest import RunningServer

from tcpchat.cluster.snapshot import dump

Nodes = Callable[..., RunningServer]
CHANNELS = ("#a", "#b", "#c")
NICKS = tuple(f"n{i}" for i in range(12))


def state_of(node: RunningServer) -> str:
    """The node's state, read on its own loop (never while it applies an event)."""
    done: concurrent.futures.Future[str] = concurrent.futures.Future()
    node.thread.runner.call_soon_threadsafe(lambda: done.set_result(dump(node.core.state)))
    return done.result(5)


def random_line(rng: random.Random) -> str:
    channel, nick = rng.choice(CHANNELS), rng.choice(NICKS)
    return rng.choice(
        [
            f"JOIN {channel}",
            f"JOIN {channel}",
            f"PART {channel} :bye",
            f"NICK {nick}",
            f"TOPIC {channel} :topic {rng.randrange(100)}",
            f"MODE {channel} {rng.choice('+-')}{rng.choice('ov')} {nick}",
            f"MODE {channel} {rng.choice(['+k key', '-k key', '+l 5', '-l', '+m', '-m', '+i'])}",
            f"MODE {channel} +b {nick}!*@*",
            f"KICK {channel} {nick} :out",
            f"PRIVMSG {channel} :hello {rng.randrange(100)}",
            f"PRIVMSG {nick} :psst",
            f"AWAY :{rng.choice(['lunch', ''])}",
            f"INVITE {nick} {channel}",
        ]
    )


@pytest.mark.parametrize("seed", range(3))
def test_every_node_ends_with_one_state(make_node: Nodes, seed: int) -> None:
    rng = random.Random(seed)
    nodes = [make_node(name) for name in ("a", "b", "c")]
    clients = [nodes[i % 3].client(f"u{i}") for i in range(9)]
    try:
        for _ in range(400):
            client = rng.choice(clients)
            if rng.random() < 0.02:  # a user leaves and another comes on a random node
                client.send("QUIT :gone")
                client.close()
                clients.remove(client)
                clients.append(rng.choice(nodes).client(f"late{rng.randrange(10**6)}"))
                continue
            client.send(random_line(rng))
        for client in clients:  # each node has taken every line of its clients
            client.fence(timeout=15)
        deadline = time.monotonic() + 15
        while len({state_of(node) for node in nodes}) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        states = [state_of(node) for node in nodes]
        assert states[0] == states[1] == states[2]
        assert '"#' in states[0]  # channels there are, with members, to compare
    finally:
        for client in clients:
            client.close()
