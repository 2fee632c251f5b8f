"""The property every cluster rests on: whatever clients do on whichever
nodes, once the stream is drained every node holds the same state.

Random commands (joins, parts, nick changes that collide, topics, modes,
kicks, messages, away, quits) go from clients spread over three nodes, sent
without waiting, so that the nodes' events interleave in the stream. Nodes
in this process are compared whole: users, channels, members and their
modes, topics, bans, WHOWAS (the snapshot form, taken on each node's own
loop). Nodes in child processes (``tcpchat server --cluster``) cannot be
dumped, so an observer on each asks its node over IRC, and the answers of
the three must be the same.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import pytest
from conftest import RunningServer
from ircclient import IrcClient
from serverprocess import ServerProcess

from tcpchat.cluster.snapshot import dump

T = TypeVar("T")
Nodes = Callable[..., RunningServer]
Connect = Callable[[str], IrcClient]
"""Opens a client on one node, registered as the nick given."""
CHANNELS = ("#a", "#b", "#c")
NICKS = tuple(f"n{i}" for i in range(12))
CHANNEL_QUERIES = ("NAMES {}", "TOPIC {}", "MODE {}", "MODE {} +b")
NICK_QUERIES = ("WHOIS {}", "WHOWAS {}")
# WHOIS's idle time and signon: only the node a user is connected to sends them.
LOCAL_ONLY = frozenset({"317"})


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


@contextlib.contextmanager
def played(seed: int, nodes: Sequence[Connect]) -> Iterator[list[str]]:
    """The random phase, done once the block starts: every node has then
    taken every line of its own clients (a fence each), though not yet
    every other node's events. Yields the nicks the clients registered with;
    those still there stay connected to the end of the block, so that their
    state is there to compare."""
    rng = random.Random(seed)
    clients = [nodes[i % 3](f"u{i}") for i in range(9)]
    names = [client.nick for client in clients]
    try:
        for _ in range(400):
            client = rng.choice(clients)
            if rng.random() < 0.02:  # a user leaves and another comes on a random node
                client.send("QUIT :gone")
                client.close()
                clients.remove(client)
                names.append(f"late{rng.randrange(10**6)}")
                clients.append(rng.choice(nodes)(names[-1]))
                continue
            client.send(random_line(rng))
        for client in clients:
            client.fence(timeout=15)
        yield names
    finally:
        for client in clients:
            client.close()


def settled(read: Callable[[], list[T]]) -> list[T]:
    """``read``'s view of each node, once they agree or at a deadline: a node
    applies the others' events as the stream brings them, a moment later."""
    deadline = time.monotonic() + 15
    views = read()
    while views.count(views[0]) < len(views) and time.monotonic() < deadline:
        time.sleep(0.1)
        views = read()
    return views


def queries(nicks: Sequence[str]) -> list[str]:
    """What an observer asks its node: each channel's members (every prefix,
    with multi-prefix), topic, modes and bans; each nick's WHOIS and WHOWAS;
    who is on, and how many."""
    return [
        *(query.format(channel) for channel in CHANNELS for query in CHANNEL_QUERIES),
        *(query.format(nick) for nick in nicks for query in NICK_QUERIES),
        f"ISON :{' '.join(nicks)}",
        "WHO *",
        "LUSERS",
    ]


def answers(observers: Sequence[IrcClient], lines: Sequence[str]) -> list[list[tuple[str, ...]]]:
    """Each observer's node's replies to ``lines``, all nodes asked at once.
    Left out: the observer's own nick (a numeric's first parameter) and what
    only a user's own node sends."""
    for observer in observers:
        observer.send(*lines)
    return [
        [
            (reply.command, *reply.params[1:])
            for reply in observer.fence(timeout=15)
            if reply.command.isdigit() and reply.command not in LOCAL_ONLY
        ]
        for observer in observers
    ]


@pytest.mark.parametrize("seed", range(3))
def test_every_node_ends_with_one_state(make_node: Nodes, seed: int) -> None:
    nodes = [make_node(name) for name in ("a", "b", "c")]
    with played(seed, [node.client for node in nodes]):
        states = settled(lambda: [state_of(node) for node in nodes])
    assert states[0] == states[1] == states[2]
    assert '"#' in states[0]  # channels there are, with members, to compare


@pytest.mark.parametrize("seed", range(3))
def test_every_node_process_answers_alike(
    node_process: Callable[..., ServerProcess], seed: int
) -> None:
    nodes = [node_process(name) for name in ("a", "b", "c")]
    with played(seed, [node.client for node in nodes]) as names, contextlib.ExitStack() as stack:
        observers = [
            stack.enter_context(node.client(f"watch{i}", ("multi-prefix",)))
            for i, node in enumerate(nodes)
        ]
        lines = queries((*NICKS, *names))
        replies = settled(lambda: answers(observers, lines))
    assert replies[0] == replies[1] == replies[2]
    members = [reply for reply in replies[0] if reply[0] == "353" and reply[-1]]
    assert members  # channels there are, with members, to compare
