"""What a cluster survives: a node killed or paused, Redis restarting, and
the mistakes of the person who starts one.

The nodes that fail run in child processes (``tcpchat server --cluster``),
so that kill -9 and SIGSTOP are real; the survivors run in this process.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient
from processes import one_line_failure
from redisnode import RedisServer, free_port
from serverprocess import ServerProcess

from tcpchat.cluster import INSTALL_HINT
from tcpchat.server.config import HistorySettings

Nodes = Callable[..., RunningServer]
TCPCHAT = [sys.executable, "-m", "tcpchat", "server"]


def in_channel(client: IrcClient, channel: str, *others: IrcClient) -> None:
    """``client`` joins ``channel``, and each of ``others`` (already in it) sees it."""
    client.join(channel)
    for other in others:
        assert other.expect("JOIN").source.startswith(client.nick + "!")


def test_three_node_processes_are_one_network(
    node_process: Callable[..., ServerProcess],
) -> None:
    # Three processes of their own, each with a client: a channel and a
    # private message cross every pair of them, a nick claimed on two at once
    # goes to one, and a node killed leaves the other two its users' quits.
    nodes = [node_process(name) for name in ("a", "b", "c")]
    with contextlib.ExitStack() as stack:
        nicks = ("ann", "ben", "cat")
        clients = [
            stack.enter_context(node.client(nick)) for node, nick in zip(nodes, nicks, strict=True)
        ]
        ann, ben, cat = clients
        ann.join("#three")
        in_channel(ben, "#three", ann)
        in_channel(cat, "#three", ann, ben)
        for sender in clients:
            sender.send(f"PRIVMSG #three :from {sender.nick}")
            for other in clients:
                if other is not sender:
                    got = other.expect("PRIVMSG")
                    assert got.params == ("#three", f"from {sender.nick}")
        cat.send("PRIVMSG ann :just you")
        assert ann.expect("PRIVMSG").params == ("ann", "just you")
        ben.send("NICK prize")
        cat.send("NICK prize")
        answers = {}
        for client in (ben, cat):
            own = client.nick + "!"
            answers[client.nick] = client.expect_where(
                lambda m, own=own: (
                    m.command == "433" or (m.command == "NICK" and (m.source or "").startswith(own))
                ),
                "its own NICK or 433",
            ).command
        assert sorted(answers.values()) == ["433", "NICK"]
        winner = next(nick for nick, answer in answers.items() if answer == "NICK")
        seen = ann.expect("NICK")
        assert seen.source.startswith(winner + "!") and seen.params == ("prize",)
        nodes[2].signal(signal.SIGKILL)
        for survivor in (ann, ben):
            quit_ = survivor.expect("QUIT", timeout=15)
            assert quit_.source.split("!")[0] in ("cat", "prize")
            assert quit_.params == ("tcpchat.local c",)  # the netsplit style


def test_a_killed_node_s_users_quit_within_15_seconds(
    make_node: Nodes, node_process: Callable[..., ServerProcess]
) -> None:
    survivor = make_node("a", cluster_settings={"heartbeat": 1.0, "node_timeout": 10.0})
    doomed = node_process("b", quick=False)  # the defaults: 1 s heartbeats, 10 s timeout
    with survivor.client("alice") as alice, doomed.client("bob") as bob:
        alice.join("#x")
        in_channel(bob, "#x", alice)
        doomed.signal(signal.SIGKILL)
        killed = time.monotonic()
        quit_ = alice.expect("QUIT", timeout=15)
        assert time.monotonic() - killed < 15
        assert quit_.source.startswith("bob!") and quit_.params == ("test.server b",)
        with survivor.client("bob") as again:  # the nick is free again
            in_channel(again, "#x", alice)


def test_a_node_killed_mid_stream_kept_every_message_its_clients_saw(
    make_node: Nodes, node_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    files = {name: tmp_path / f"{name}.sqlite3" for name in ("a", "b")}
    survivor = make_node("a", history=HistorySettings(path=str(files["a"])))
    doomed = node_process("b", history=files["b"])
    seen: list[str] = []
    with survivor.client("sender") as sender, doomed.client("reader", ("message-tags",)) as reader:
        sender.join("#crash")
        in_channel(reader, "#crash", sender)
        stop = threading.Event()

        def stream() -> None:
            for i in range(20_000):
                if stop.is_set():
                    return
                sender.send(f"PRIVMSG #crash :message {i}")

        feeder = threading.Thread(target=stream)
        feeder.start()
        try:
            while len(seen) < 500:
                message = reader.read(timeout=10)
                if message.command == "PRIVMSG":
                    seen.append(message.tags["msgid"])
            doomed.signal(signal.SIGKILL)  # mid-stream: no chance to write anything more
            doomed.stop()
            while True:  # what reached the reader before its socket died counts too
                try:
                    line = reader.read_line(timeout=2)
                except (TimeoutError, OSError):
                    break
                if line is None:
                    break
                if " PRIVMSG " in line:
                    seen.append(line.split("msgid=")[1].split(";")[0].split(" ")[0])
        finally:
            stop.set()
            feeder.join(10)
    for name in ("b", "a"):  # the killed node's own file, and the survivor's
        with contextlib.closing(sqlite3.connect(files[name])) as db:
            stored = {row[0] for row in db.execute("SELECT msgid FROM messages")}
        assert [msgid for msgid in seen if msgid not in stored] == [], name


def test_a_paused_node_does_not_come_back_as_a_ghost(
    make_node: Nodes, node_process: Callable[..., ServerProcess]
) -> None:
    survivor = make_node("a")
    paused = node_process("b")
    with survivor.client("alice") as alice, paused.client("bob") as bob:
        alice.join("#x")
        in_channel(bob, "#x", alice)
        paused.signal(signal.SIGSTOP)
        assert alice.expect("QUIT", timeout=10).source.startswith("bob!")
        with survivor.client("bob"):  # the nick has a new owner
            paused.signal(signal.SIGCONT)
            # The old node learns it was declared lost: it drops its clients...
            assert "lost the network" in bob.expect("ERROR", timeout=10).params[0]
            assert bob.closed_by_server()
            paused.wait_for("joins again")
            # ...and, back as a new incarnation, serves without a ghost of bob.
            with paused.client("carol") as carol:
                carol.send("NICK bob")
                assert carol.expect("433").params[1] == "bob"
                carol.join("#x")
                carol.send("NAMES #x")
                assert sorted(carol.expect("353").params[-1].split()) == ["@alice", "carol"]


def test_redis_restarting_with_its_data_loses_no_one(
    make_node: Nodes, redis_server: RedisServer
) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("alice") as alice, b.client("bob") as bob:
        alice.join("#x")
        in_channel(bob, "#x", alice)
        redis_server.stop()
        alice.send("PRIVMSG #x :while redis was down")
        time.sleep(1.0)
        redis_server.start()
        assert bob.expect("PRIVMSG", timeout=15).params[1] == "while redis was down"
        bob.send("PRIVMSG #x :and after")
        assert alice.expect("PRIVMSG").params[1] == "and after"
        for node in (a, b):
            assert node.core.state.people == 2
        alice.send("NAMES #x")
        assert sorted(alice.expect("353").params[-1].split()) == ["@alice", "bob"]


def test_redis_restarting_without_its_data_loses_no_one(
    make_node: Nodes, redis_server: RedisServer
) -> None:
    a, b = make_node("a"), make_node("b")
    with a.client("alice") as alice, b.client("bob") as bob:
        alice.join("#x")
        in_channel(bob, "#x", alice)
        alice.send("TOPIC #x :kept across")
        bob.expect("TOPIC")
        redis_server.kill()
        redis_server.forget()
        redis_server.start()
        bob.send("PRIVMSG #x :after the data was lost")
        assert alice.expect("PRIVMSG", timeout=30).params[1] == "after the data was lost"
        alice.send("PRIVMSG #x :and back")
        assert bob.expect("PRIVMSG").params[1] == "and back"
        for node in (a, b):
            assert node.core.state.people == 2
        with a.client("carol") as carol:  # the network as both knew it, once each
            carol.send("NICK bob", "JOIN #x")
            assert carol.expect("433").params[1] == "bob"
            assert carol.expect("332").params[-1] == "kept across"
            assert sorted(carol.expect("353").params[-1].split()) == ["@alice", "bob", "carol"]


def test_without_redis_the_node_says_so_in_one_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    line = one_line_failure([*TCPCHAT, "--port", "0", "--no-web", "--cluster", url])
    assert line.startswith(f"tcpchat: cannot reach Redis at {url}")
    assert "cluster.redis" in line


def test_without_the_extra_the_node_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['redis'] = None; from tcpchat.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", code, "server", "--port", "0", "--no-web"]
    line = one_line_failure([*command, "--cluster", "redis://127.0.0.1:1/0"])
    assert line == f"tcpchat: {INSTALL_HINT}"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--cluster", "http://127.0.0.1:6379"], "cluster.redis = 'http://127.0.0.1:6379'"),
        (["--cluster", "redis://127.0.0.1:1/0", "--node", "bad name"], "cluster.node"),
    ],
)
def test_bad_cluster_settings_are_refused_in_one_line(flags: list[str], says: str) -> None:
    line = one_line_failure([*TCPCHAT, "--port", "0", "--no-web", *flags])
    assert says in line


def test_the_help_names_the_cluster_flags() -> None:
    result = subprocess.run([*TCPCHAT, "--help"], capture_output=True, text=True, check=True)
    assert "--cluster URL" in result.stdout and "--node NAME" in result.stdout
