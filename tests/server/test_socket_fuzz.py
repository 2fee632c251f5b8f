"""Garbage from several connections at once, and two ordinary clients still served.

Fuzzers on real sockets send random lines, mutations of ordinary ones, floods,
over-long lines, lines cut across writes and bytes with no line end, some
after registering and some never; they reconnect when the server drops them.
Meanwhile a witness pair in a channel of their own keep talking: every
message one sends must reach the other, and every PING be answered, within
a few seconds. At the end nothing was logged as an error and the server's
state is consistent. CI sends a small budget; ``--fuzz-lines N`` sends N.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hostile
import pytest
from conftest import RunningServer
from corefeed import check_core
from hostile import ALL_CAPS, NICKS, RandomChooser

from tcpchat.server.config import AccountSettings, HistorySettings

FUZZERS = 8
CI_LINES = 50_000
# Lines the fuzzers send between two checks of the witnesses.
CHECK_EVERY = 2_000
WITNESS_DEADLINE = 10.0  # seconds: generous, the machine is shared

TEMPLATES = (
    b"PRIVMSG #witness :hello there",
    b"JOIN #witness,#a",
    b"MODE #witness +oooo wanda walter wanda walter",
    b"CHATHISTORY LATEST #witness * 50",
    b"CAP REQ :message-tags server-time batch",
    b"NICK someone",
    b"TOPIC #witness :a topic",
    b"@label=1 WHO #witness %tcuhnfar",
    b"AUTHENTICATE PLAIN",
    b"REGISTER * * long password",
)


@dataclass(eq=False)
class Fuzzer:
    """One hostile connection, reconnected whenever the server drops it."""

    ch: RandomChooser
    sock: socket.socket | None = None
    out: bytes = b""
    drops: int = 0

    def connect(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.sock.setblocking(False)
        self.out = b""
        if self.ch.number(0, 1):
            caps = [self.ch.pick(ALL_CAPS) for _ in range(self.ch.number(0, 5))]
            nick = f"{self.ch.pick(NICKS)}{self.ch.number(0, 999)}"[:30]
            self.queue([*hostile.registration(nick, caps), b"JOIN #witness,#a,#b"])

    def queue(self, lines: list[bytes]) -> None:
        self.out += b"".join(line + self.ch.pick((b"\r\n", b"\r\n", b"\n")) for line in lines)

    def next_lines(self) -> int:
        """Queue what this fuzzer sends next; returns how many lines that is."""
        ch = self.ch
        kind = ch.number(0, 99)
        if kind < 50:
            lines = [hostile.line(ch) for _ in range(ch.number(1, 10))]
        elif kind < 75:
            lines = [hostile.mutate(ch, ch.pick(TEMPLATES)) for _ in range(ch.number(1, 10))]
        elif kind < 90:
            lines = hostile.flood(ch, most=30)
        elif kind < 95:
            lines = [ch.blob(9000)]  # over any limit, or garbage with LFs in it
        else:
            self.out += ch.blob(300)  # bytes that may end no line
            return 1
        self.queue(lines)
        return len(lines)


class Witness:
    """An ordinary client whose every line is read as it comes, on a thread."""

    def __init__(self, server: RunningServer, nick: str) -> None:
        self.client = server.client(nick, ("message-tags", "echo-message"))
        self.client.join("#witness")
        self.seen: list[tuple[str, tuple[str, ...]]] = []
        self.closed = False
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.client.read(timeout=60)
            except (OSError, ConnectionError, TimeoutError):
                break
            with self._lock:
                self.seen.append((message.command, message.params))
                self._lock.notify_all()
        with self._lock:
            self.closed = True
            self._lock.notify_all()

    def wait_for(self, command: str, params: tuple[str, ...]) -> None:
        deadline = time.monotonic() + WITNESS_DEADLINE
        with self._lock:
            while (command, params) not in self.seen:
                remaining = deadline - time.monotonic()
                assert not self.closed, f"{self.client.nick} was disconnected"
                assert remaining > 0, f"{self.client.nick} did not get {command} {params}"
                self._lock.wait(remaining)
            self.seen.clear()

    def close(self) -> None:
        self.client.close()
        self._thread.join(5)


@dataclass
class Run:
    lines: int = 0
    drops: int = 0
    checks: int = 0
    fuzzers: list[Fuzzer] = field(default_factory=list)


def _pump(run: Run, address: tuple[str, int], budget: int, check: Callable[[], None]) -> None:
    """Send the fuzzers' bytes as the server takes them, read and drop what
    it sends back, reconnect whom it closes; check the witnesses as we go."""
    selector = selectors.DefaultSelector()

    def attach(fuzzer: Fuzzer) -> None:
        fuzzer.connect(address)
        assert fuzzer.sock is not None
        selector.register(fuzzer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, fuzzer)

    def detach(fuzzer: Fuzzer) -> None:
        assert fuzzer.sock is not None
        selector.unregister(fuzzer.sock)
        fuzzer.sock.close()
        run.drops += 1

    for fuzzer in run.fuzzers:
        attach(fuzzer)
    next_check = CHECK_EVERY
    try:
        while run.lines < budget:
            for key, events in selector.select(timeout=1):
                fuzzer = key.data
                sock = fuzzer.sock
                try:
                    if events & selectors.EVENT_READ and not sock.recv(65536):
                        raise ConnectionResetError
                    if events & selectors.EVENT_WRITE:
                        if not fuzzer.out:
                            run.lines += fuzzer.next_lines()
                        sent = sock.send(fuzzer.out[:16384])
                        fuzzer.out = fuzzer.out[sent:]
                except BlockingIOError:
                    continue
                except OSError:
                    detach(fuzzer)
                    attach(fuzzer)
            if run.lines >= next_check:
                next_check += CHECK_EVERY
                check()
                run.checks += 1
    finally:
        for fuzzer in run.fuzzers:
            if fuzzer.sock is not None:
                selector.unregister(fuzzer.sock)
                fuzzer.sock.close()
        selector.close()


def test_garbage_from_many_connections_leaves_the_others_served(
    make_server: Callable[..., RunningServer],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    budget = request.config.getoption("--fuzz-lines") or CI_LINES
    server = make_server(
        history=HistorySettings(path=str(tmp_path / "history.sqlite3")),
        accounts=AccountSettings(path=str(tmp_path / "accounts.sqlite3")),
        operators=(),
    )
    # Names not in the fuzzers' words, and no operators: the garbage may do
    # anything a client may, but should not happen on a KILL of a witness.
    alice, bob = Witness(server, "wanda"), Witness(server, "walter")
    said = iter(range(1 << 30))

    def check() -> None:
        n = next(said)
        alice.client.send(f"PRIVMSG #witness :witness {n}", f"PING :still-{n}")
        bob.wait_for("PRIVMSG", ("#witness", f"witness {n}"))
        alice.wait_for("PONG", (server.core.config.name, f"still-{n}"))

    run = Run(fuzzers=[Fuzzer(RandomChooser(seed)) for seed in range(FUZZERS)])
    started = time.monotonic()
    try:
        _pump(run, (server.host, server.port), budget, check)
        check()
    finally:
        alice.close()
        bob.close()
    print(
        f"socket fuzz: {run.lines:,} lines from {FUZZERS} connections in "
        f"{time.monotonic() - started:.0f} s, {run.drops} dropped by the server, "
        f"{run.checks + 1} witness checks"
    )
    consistent = threading.Event()

    def on_loop() -> None:
        check_core(server.core)
        consistent.set()

    server.thread.runner.call_soon_threadsafe(on_loop)
    assert consistent.wait(10), "the state was not consistent (see the server thread's log)"
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == []
