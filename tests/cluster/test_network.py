"""Several nodes, one network: what a single server does works across nodes,
in one order, with one owner per nick, and a node that starts late sees it all.

Each test runs real nodes (in this process, each on its own event loop and
socket) on a real redis-server. A fence on one node proves only what that
node has applied; where a test needs another node to have caught up, it
waits for a line that comes after, through the stream, instead.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from conftest import OPER_NAME, OPER_PASSWORD, RunningServer
from ircclient import IrcClient
from redisnode import RedisServer, free_port

from tcpchat.cluster.bus import BACKLOG
from tcpchat.server.config import HistorySettings

Nodes = Callable[..., RunningServer]
TAGS = ("server-time", "message-tags", "echo-message")


def texts_from(client: IrcClient, count: int) -> list[tuple[str, str]]:
    """The next ``count`` channel messages ``client`` gets, as (nick, text)."""
    got = []
    while len(got) < count:
        message = client.expect("PRIVMSG")
        got.append((message.source.split("!")[0], message.params[1]))
    return got


def test_a_channel_spans_nodes(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("alice", TAGS) as alice, b.client("bob", TAGS) as bob, a.client("carol") as carol:
        alice.join("#x")
        bob.join("#x")
        assert alice.expect("JOIN").source.startswith("bob!")
        carol.join("#x")
        bob.expect("JOIN")
        alice.send("PRIVMSG #x :hello from a")
        echo, seen = alice.expect("PRIVMSG"), bob.expect("PRIVMSG")
        assert seen.params == ("#x", "hello from a") and seen.source.startswith("alice!")
        # One msgid and one server-time, whichever node delivers it.
        assert (echo.tags["msgid"], echo.tags["time"]) == (seen.tags["msgid"], seen.tags["time"])
        assert carol.expect("PRIVMSG").params[1] == "hello from a"
        bob.send("PRIVMSG alice :psst", "NOTICE #x :notice from b")
        assert alice.expect("PRIVMSG").params == ("alice", "psst")
        assert carol.expect("NOTICE").params == ("#x", "notice from b")
        carol.send("NAMES #x")
        names = carol.expect("353").params[-1].split()
        assert sorted(names) == ["@alice", "bob", "carol"]


def test_two_senders_on_two_nodes_are_seen_in_one_order(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    with (
        a.client("alice") as alice,
        b.client("bob") as bob,
        a.client("wa") as watch_a,
        b.client("wb") as watch_b,
    ):
        for client in (alice, bob, watch_a, watch_b):
            client.join("#race")
        watch_a.send("PRIVMSG #race :ready")  # every node has every join once this is back
        assert watch_b.expect("PRIVMSG").params[1] == "ready"

        def flood(client: IrcClient) -> None:
            for i in range(100):
                client.send(f"PRIVMSG #race :{client.nick} {i}")

        senders = [threading.Thread(target=flood, args=(c,)) for c in (alice, bob)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        seen_a, seen_b = texts_from(watch_a, 200), texts_from(watch_b, 200)
        assert seen_a == seen_b
        for nick in ("alice", "bob"):
            assert [t for n, t in seen_a if n == nick] == [f"{nick} {i}" for i in range(100)]


def test_two_clients_racing_for_a_nick_on_two_nodes_one_wins(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    for round_ in range(50):
        nick = f"racer{round_}"
        with a.client() as x, b.client() as y:
            for client in (x, y):
                client.send(f"NICK {nick}", "USER u 0 * :r")
            replies = [
                c.expect_where(lambda m: m.command in ("001", "433"), "001 or 433") for c in (x, y)
            ]
            assert sorted(r.command for r in replies) == ["001", "433"], nick


def test_channel_life_across_nodes(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("op") as op, b.client("guest") as guest:
        op.join("#room")
        guest.join("#room")
        op.expect("JOIN")
        op.send("TOPIC #room :plans for today")
        assert guest.expect("TOPIC").params == ("#room", "plans for today")
        op.send("MODE #room +v guest")
        assert guest.expect("MODE").params == ("#room", "+v", "guest")
        guest.send("NICK visitor")
        assert op.expect("NICK").params == ("visitor",)
        guest.nick = "visitor"
        guest.expect("NICK")
        guest.send("AWAY :lunch", "PRIVMSG op :back soon")
        guest.expect("306")
        op.expect("PRIVMSG")  # came after the AWAY, through the same order
        op.send("PRIVMSG visitor :are you there?")
        assert op.expect("301").params[-1] == "lunch"
        op.send("WHOIS visitor")
        assert op.expect("312").params[-1].endswith("(node b)")
        op.send("ISON visitor nobody")
        assert op.expect("303").params[-1].split() == ["visitor"]
        op.send("MODE #room +b *!*@nowhere", "INVITE visitor #elsewhere")
        assert guest.expect("MODE").params == ("#room", "+b", "*!*@nowhere")
        op.send("KICK #room visitor :out you go")
        assert guest.expect("KICK").params == ("#room", "visitor", "out you go")
        guest.send("NAMES #room")
        assert guest.expect("353").params[-1].split() == ["@op"]


def test_an_operator_kills_a_user_of_another_node(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("oper") as oper, b.client("victim") as victim:
        oper.join("#k")
        victim.join("#k")
        oper.expect("JOIN")
        oper.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
        oper.expect("381")
        oper.send("KILL victim :behave")
        assert oper.expect("QUIT").source.startswith("victim!")
        assert "Killed (oper (behave))" in victim.expect("ERROR").params[0]
        assert victim.closed_by_server()
        with b.client("victim") as again:  # the nick is free on every node
            again.send("WHOIS oper")
            again.expect("311")


def test_a_node_started_late_sees_the_network(make_node: Nodes) -> None:
    a = make_node("a")
    with a.client("alice") as alice:
        alice.join("#old")
        alice.send("TOPIC #old :from before", "MODE #old +k key")
        alice.expect("MODE")
        late = make_node("late")
        with late.client("bob") as bob:
            bob.send("JOIN #old")
            assert bob.expect("475").params[1] == "#old"  # +k holds on the late node too
            bob.send("JOIN #old key")
            assert bob.expect("332").params[-1] == "from before"
            assert sorted(bob.expect("353").params[-1].split()) == ["@alice", "bob"]
            assert alice.expect("JOIN").source.startswith("bob!")


def test_a_node_joining_after_a_snapshot_starts_from_it(
    make_node: Nodes, redis_server: RedisServer
) -> None:
    a = make_node("a", cluster_settings={"snapshot_interval": 1.0})
    direct = redis.Redis(port=redis_server.port)
    with a.client("alice") as alice:
        alice.join("#snap")
        for i in range(3):  # snapshots at two entries or more trim the one before
            alice.send(f"PRIVMSG #snap :{i}")
            alice.send("PING :x")
            alice.expect("PONG")
            first = direct.hget("tcpchat:tcpchat:snapshot", "id")
            while direct.hget("tcpchat:tcpchat:snapshot", "id") == first:
                threading.Event().wait(0.1)
        assert direct.get("tcpchat:tcpchat:trimmed") is not None
        assert direct.xlen("tcpchat:tcpchat:events") < 10
        late = make_node("late")
        assert late.core.state.channel("#snap") is not None
        with late.client("bob") as bob:
            bob.send("WHOIS alice")
            assert bob.expect("319").params[-1] == "@#snap"


def test_history_is_the_same_on_every_node(make_node: Nodes, tmp_path: Path) -> None:
    def history(name: str) -> HistorySettings:
        return HistorySettings(path=str(tmp_path / f"{name}.sqlite3"))

    caps = ("batch", "server-time", "message-tags", "echo-message", "draft/chathistory")
    a, b = make_node("a", history=history("a")), make_node("b", history=history("b"))
    with a.client("alice", caps) as alice, b.client("bob", caps) as bob:
        alice.join("#h")
        bob.join("#h")
        for i in range(5):
            (alice if i % 2 else bob).send(f"PRIVMSG #h :line {i}")
        live = [texts_from(client, 5) for client in (alice, bob)]  # their own echoed
        assert live[0] == live[1]
        replies = []
        for client in (alice, bob):
            client.send("CHATHISTORY LATEST #h * 10")
            lines = [m for m in client.batch() if m.command == "PRIVMSG"]
            replies.append([(m.tags["msgid"], m.params[1]) for m in lines])
        assert replies[0] == replies[1]
        assert [text for _, text in replies[0]] == [text for _, text in live[0]]


def test_a_node_that_stops_takes_its_users_with_it(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("stays") as stays, b.client("leaves") as leaves:
        stays.join("#q")
        leaves.join("#q")
        stays.expect("JOIN")
        b.thread.stop("Node going down for maintenance")
        quit_ = stays.expect("QUIT")
        assert quit_.source.startswith("leaves!")
        assert quit_.params[0] == "Node going down for maintenance"
        with a.client("leaves") as back:  # the nick is free
            back.join("#q")


def test_a_malformed_entry_in_the_stream_is_logged_and_skipped(
    make_node: Nodes, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make_node("a"), make_node("b")
    direct = redis.Redis(port=redis_server.port)
    epoch = direct.get("tcpchat:tcpchat:epoch")
    assert epoch is not None
    with a.client("alice") as alice, b.client("bob") as bob:
        alice.join("#m")
        bob.join("#m")
        alice.expect("JOIN")
        for fields in (
            {"e": '[2, "Messaged", "x", 1, []]', "p": epoch},  # another version
            {"e": "{not json", "p": epoch},
            {"e": '[1, "Joined", "x", 1, ["ghost", "#m", ""]]', "p": epoch},
            {"p": epoch},  # no event at all
            {"e": '[1, "UserQuit", "x", 1, ["u", "r"]]'},  # no epoch
            {"junk": "x"},
        ):
            direct.xadd("tcpchat:tcpchat:events", fields)  # type: ignore[arg-type]
        alice.send("PRIVMSG #m :still here")
        assert bob.expect("PRIVMSG").params[1] == "still here"
        bob.send("PRIVMSG #m :me too")
        assert alice.expect("PRIVMSG").params[1] == "me too"
    logged = [r.getMessage() for r in caplog.records if r.name == "tcpchat.cluster"]
    assert sum("codec version 2" in line for line in logged) == 2  # once per node
    assert sum("names no epoch" in line for line in logged) == 4
    assert sum("holds no event" in line for line in logged) == 2


def test_the_limit_of_connections_per_address_is_network_wide(make_node: Nodes) -> None:
    a, b = make_node("a", max_clients_per_ip=2), make_node("b", max_clients_per_ip=2)
    with a.client("one") as one, b.client("two") as two:
        one.join("#ip")
        two.join("#ip")
        assert one.expect("JOIN").source.startswith("two!")
        with a.client() as third:  # node a counts two, on node b
            error = third.expect("ERROR")
            assert "Too many connections from your address" in error.params[0]
        two.send("QUIT")
        assert one.expect("QUIT").source.startswith("two!")
        with a.client("ok") as fine:  # two has left the network: room for one more
            fine.join("#ip")


def test_a_labeled_command_is_answered_once_its_events_are_back(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    caps = ("labeled-response", "echo-message", "batch", "message-tags")
    with a.client("alice", caps) as alice, b.client("bob") as bob:
        bob.join("#l")
        alice.send("@label=j1 JOIN #l")
        start = alice.expect("BATCH")
        assert (start.tags["label"], start.params[1]) == ("j1", "labeled-response")
        commands = [m.command for m in alice.batch_lines(start)]
        assert commands[0] == "JOIN" and "353" in commands and commands[-1] == "366"
        alice.send("@label=m1 PRIVMSG #l :labeled")
        echo = alice.expect("PRIVMSG")
        assert (echo.tags["label"], echo.params[1]) == ("m1", "labeled")
        assert bob.expect("PRIVMSG").params[1] == "labeled"
        alice.send("@label=n1 NICK alicia")
        nick = alice.expect("NICK")
        assert (nick.tags["label"], nick.params[0]) == ("n1", "alicia")
        alice.send("@label=w1 WHOIS bob")  # no event: answered at once, as on one server
        assert alice.expect("BATCH").tags["label"] == "w1"


def test_kline_monitor_whowas_and_tagmsg_across_nodes(make_node: Nodes) -> None:
    a, b = make_node("a"), make_node("b")
    caps = ("message-tags",)
    with a.client("oper", caps) as oper, b.client() as watcher:
        watcher.register("watcher", caps, user="watch")
        watcher.send("MONITOR + friend")
        assert watcher.expect("731").params[1] == "friend"
        with a.client("friend") as friend:
            assert watcher.expect("730").params[1].startswith("friend!")
            friend.join("#t")
            watcher.join("#t")
            friend.expect("JOIN")
            friend.send("@+typing=active TAGMSG #t")
            assert watcher.expect("TAGMSG").tags["+typing"] == "active"
            friend.send("QUIT :see you")
            assert watcher.expect("731").params[1] == "friend"
        watcher.send("WHOWAS friend")
        assert watcher.expect("314").params[1] == "friend"
        oper.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
        oper.expect("381")
        oper.send("KLINE ~watch@127.0.0.1 :not today")
        error = watcher.expect("ERROR")  # the ban reaches the users of node b
        assert "K-Lined: not today" in error.params[0]
        with IrcClient(b.host, b.port) as banned:
            banned.send("NICK late", "USER watch 0 * :x")
            assert banned.expect("465")


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT here")
def test_nodes_on_one_machine_can_share_one_port(make_node: Nodes) -> None:
    port = free_port()
    shared = {"cluster_settings": {"share_port": True}, "port": port}
    a, b = make_node("a", **shared), make_node("b", **shared)
    assert a.port == b.port == port
    clients = [IrcClient("127.0.0.1", port) for _ in range(16)]
    try:
        for i, client in enumerate(clients):
            client.register(f"c{i}")
            client.join("#shared")
        served = {node.core.node: len(node.core.sessions) for node in (a, b)}
        assert sum(served.values()) == 16 and min(served.values()) > 0, served
        clients[0].send("PRIVMSG #shared :to everyone, on both nodes")
        for client in clients[1:]:
            assert client.expect("PRIVMSG").params[1] == "to everyone, on both nodes"
    finally:
        for client in clients:
            client.close()


def test_a_flood_waits_for_the_stream_instead_of_piling_up(
    make_node: Nodes, redis_server: RedisServer
) -> None:
    a, b = make_node("a"), make_node("b")
    bus = a.thread.runner.bus
    assert bus is not None and redis_server.process is not None
    flood = 4 * BACKLOG
    with a.client("flooder") as flooder, b.client("reader") as reader:
        reader.join("#f")
        flooder.join("#f")  # a channel: its messages go one by one, never as a run
        flooder.send("PRIVMSG #f :first")
        reader.expect("PRIVMSG")
        redis_server.process.send_signal(signal.SIGSTOP)  # a Redis that cannot keep up
        try:
            flooder.sock.sendall("".join(f"PRIVMSG #f :{i}\r\n" for i in range(flood)).encode())
            deadline = time.monotonic() + 10
            while not bus.is_behind():
                assert time.monotonic() < deadline, "the node never held its clients back"
                time.sleep(0.01)
            time.sleep(0.5)  # the flooder's lines keep coming; none are taken now
            held = bus._unconfirmed  # a test's look inside
            assert BACKLOG <= held < BACKLOG + 2000, held
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        texts = [int(reader.expect("PRIVMSG", timeout=30).params[1]) for _ in range(flood)]
        assert texts == list(range(flood))  # all of it, in order, once Redis keeps up


def test_a_pasted_run_reaches_a_tag_taking_recipient_on_another_node_as_its_messages(
    make_node: Nodes, tmp_path: Path
) -> None:
    def history(name: str) -> HistorySettings:
        return HistorySettings(path=str(tmp_path / f"{name}.sqlite3"))

    caps = ("batch", "server-time", "message-tags", "draft/chathistory")
    a, b = make_node("a", history=history("a")), make_node("b", history=history("b"))
    with a.client("paster") as paster, b.client("reader", caps) as reader:
        # Node a knows the reader once the reader's join, which came after its
        # registration through the stream, is back on a.
        paster.join("#fence")
        reader.join("#fence")
        assert paster.expect("JOIN").source.startswith("reader!")
        paster.send_raw(b"".join(f"PRIVMSG reader :line {i}\r\n".encode() for i in range(50)))
        got = [reader.expect("PRIVMSG") for _ in range(50)]
        assert [m.params[1] for m in got] == [f"line {i}" for i in range(50)]
        ids = [m.tags["msgid"] for m in got]
        assert len(set(ids)) == 50 and all("time" in m.tags for m in got)
        assert any("." in msgid for msgid in ids)  # some came as a run, split here
        reader.send("CHATHISTORY LATEST paster * 50")
        kept = [m.tags["msgid"] for m in reader.batch() if m.command == "PRIVMSG"]
        assert kept == ids  # the msgids history has, on the node that split them
