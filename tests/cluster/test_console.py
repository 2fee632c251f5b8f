"""The console of a cluster's node: the network's nodes, each user's node, Redis
lost and back, and an operator of its own on every node.

Real nodes with console links attached (as the console window has them) on a
real redis-server; the links' queues are read as the window reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from conftest import RunningServer
from consolefeed import log_line, wait_for
from redisnode import RedisServer

from tcpchat.server.config import ConsoleSettings
from tcpchat.server.console_feed import FeedItem, LogEntry, Nodes, Snapshot
from tcpchat.server.operator_console import Command, ConsoleLink, Say

ConsoleNodes = Callable[..., tuple[RunningServer, ConsoleLink]]


def nodes_where(link: ConsoleLink, test: Callable[[Nodes], bool], what: str) -> Nodes:
    """The first nodes table from ``link`` that passes ``test`` (they come every 2 s)."""
    found = wait_for(link, lambda i: isinstance(i, Nodes) and test(i), what, deadline=10)
    assert isinstance(found, Nodes)
    return found


def snapshot(link: ConsoleLink) -> Snapshot:
    link.refresh()
    found = wait_for(link, lambda i: isinstance(i, Snapshot), "snapshot")
    assert isinstance(found, Snapshot)
    return found


def test_the_console_shows_the_nodes_and_each_user_s_node(console_node: ConsoleNodes) -> None:
    a, link_a = console_node("a")
    b, _link_b = console_node("b", console=ConsoleSettings(operator_nick="ServerB"))
    with a.client("alice") as alice, b.client("bob") as bob:
        alice.join("#x")
        bob.join("#x")
        assert alice.expect("JOIN").source.startswith("bob!")  # a has applied bob's registration
        shown = nodes_where(
            link_a,
            lambda n: {(r.name, r.users) for r in n.rows} == {("a", 1), ("b", 1)},
            "nodes a and b with a user each",
        )
        assert shown.reachable and shown.redis.startswith("redis://127.0.0.1:")
        assert [(r.name, r.here) for r in shown.rows] == [("a", True), ("b", False)]
        assert all(0 <= r.beat_age < 2 for r in shown.rows)
        # The whole network's people, each with its node; no console's operator among them.
        users = {u.nick: u for u in snapshot(link_a).users}
        assert sorted(users) == ["alice", "bob"]
        assert (users["alice"].node, users["bob"].node) == ("a", "b")
        assert users["alice"].address.startswith("127.0.0.1:") and users["alice"].idle is not None
        assert (users["bob"].address, users["bob"].idle) == ("127.0.0.1", None)


def test_each_node_s_console_speaks_as_its_own_operator(console_node: ConsoleNodes) -> None:
    a, link_a = console_node("a")
    b, link_b = console_node("b", console=ConsoleSettings(operator_nick="ServerB"))
    with a.client("alice") as alice, b.client("bob") as bob:
        bob.join("#lobby")
        alice.join("#lobby")
        bob.expect("JOIN")
        link_a.submit(Say("#lobby", "from a"))
        link_b.submit(Say("#lobby", "from b"))
        said = {bob.expect("PRIVMSG").source.split("!")[0] for _ in range(2)}
        assert said == {"Server", "ServerB"}
        # Another node's console operator is no one to KILL, as this node's is not.
        link_a.submit(Command("/kill ServerB go away"))
        log_line(link_a, "error", "ServerB: No such nick/channel")
        link_b.submit(Say("#lobby", "still here"))
        assert alice.expect("PRIVMSG", "#lobby", "still here").source.startswith("ServerB!")


def test_a_nick_taken_on_the_network_is_said_in_the_console(
    console_node: ConsoleNodes,
) -> None:
    a, _link_a = console_node("a")
    b, link_b = console_node("b")  # the same operator nick, Server, as a's
    refused = log_line(link_b, "error", "The nick Server is taken on the network")
    assert "(by a user on node a)" in refused.text and "operator_nick" in refused.text
    with a.client("alice") as alice, b.client("carol") as carol:
        alice.join("#lobby")
        carol.join("#lobby")
        alice.expect("JOIN")
        link_b.submit(Say("#lobby", "who am I?"))
        log_line(link_b, "error", "this console cannot act or talk")
        # A fence: what b's console had sent would be in the stream before carol's line.
        carol.send("PRIVMSG #lobby :after")
        heard = alice.expect("PRIVMSG")
        assert (heard.source.split("!")[0], heard.params[1]) == ("carol", "after")


def both(link: ConsoleLink, log_text: str, reachable: bool) -> Nodes:
    """A log line with ``log_text`` and a nodes table that is ``reachable``, in
    either order (the bus logs on its own time, the nodes come every 2 s)."""
    logged: list[FeedItem] = []
    tables: list[Nodes] = []

    def test(item: FeedItem) -> bool:
        if isinstance(item, LogEntry) and log_text in item.text:
            logged.append(item)
        elif isinstance(item, Nodes) and item.reachable == reachable:
            tables.append(item)
        return bool(logged and tables)

    wait_for(link, test, f"{log_text!r} and a table with reachable={reachable}", deadline=15)
    return tables[0]


def test_the_console_says_when_redis_is_lost_and_back(
    console_node: ConsoleNodes, redis_server: RedisServer
) -> None:
    _a, link = console_node("a")
    nodes_where(link, lambda n: n.reachable, "Redis answering")
    redis_server.stop()
    lost = both(link, "lost Redis at", reachable=False)
    assert [r.name for r in lost.rows] == ["a"]  # the last it told, kept
    redis_server.start()
    both(link, "answers again", reachable=True)


def test_each_console_keeps_its_operator_when_redis_lost_its_data(
    console_node: ConsoleNodes, redis_server: RedisServer
) -> None:
    a, link_a = console_node("a")
    b, link_b = console_node("b", console=ConsoleSettings(operator_nick="ServerB"))
    with a.client("alice") as alice, b.client("bob") as bob:
        bob.join("#lobby")
        alice.join("#lobby")
        bob.expect("JOIN")
        redis_server.kill()
        redis_server.forget()
        redis_server.start()
        # One node begins the network again, the other joins its state: neither
        # console's operator is left out or made to quit.
        bob.send("PRIVMSG #lobby :after the data was lost")
        alice.expect("PRIVMSG", "#lobby", "after the data was lost", timeout=30)
        link_a.submit(Say("#lobby", "a still talks"))
        link_b.submit(Say("#lobby", "b still talks"))
        for client in (alice, bob):
            heard = {client.expect("PRIVMSG").source.split("!")[0] for _ in range(2)}
            assert heard == {"Server", "ServerB"}
        alice.send("NAMES #lobby")
        names = {n.lstrip("@") for n in alice.expect("353").params[-1].split()}
        assert {"Server", "ServerB", "alice", "bob"} <= names


def test_a_console_s_operator_takes_no_connection_of_its_address(
    console_node: ConsoleNodes,
) -> None:
    a, _link = console_node("a", max_clients_per_ip=1)
    deadline = time.monotonic() + 10
    while a.core.state.user("Server") is None:  # the operator has joined the network
        assert time.monotonic() < deadline, "the console's operator never registered"
        time.sleep(0.05)
    with a.client("only") as only:  # the one connection 127.0.0.1 may have
        only.send("WHOIS Server")
        assert only.expect("311").params[1] == "Server"
