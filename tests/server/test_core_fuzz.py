"""A stateful fuzz of the server core: many clients, every command family, hostile parameters.

Hypothesis plays the clients (:class:`CoreMachine`): they register with
random capabilities, join and leave channels whose names fold into each
other, flood messages of random bytes, change nicks, set modes such as
``+oooo`` and ``+l-l+l``, ask for history with selectors such as
``timestamp=9999-12-31T23:59:59.999Z``, log in and register accounts whose
password checks finish in any order, drop their connections and quit with
30 KB reasons, while the clock runs past ping timeouts and nick grace
periods. Storms of seeded random lines (:mod:`hostile`) give the volume
that drawn lines cannot. After every step the core must have raised
nothing and logged no error, its state must be consistent
(:func:`corefeed.check_core`), and every line it wrote must be one
well-formed IRC line.

CI runs a small budget with a fixed seed. ``--fuzz-lines N`` runs random
examples until N lines have been handed to the core, and prints the count.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import hostile
import pytest
from conftest import OPER_NAME, OPER_PASSWORD, server_config
from corefeed import CoreFeed, ErrorLog, FeedClient, check_core, check_lines
from hostile import ALL_CAPS, CHANNELS, MODES, NICKS, DrawChooser, RandomChooser
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tcpchat.server.config import AccountSettings, HistorySettings
from tcpchat.server.core import ServerCore
from tcpchat.store.sqlite import SqliteHistory
from tcpchat.store.sqlite_accounts import SqliteAccounts

# "About 100 sessions": storms connect newcomers up to this many.
MOST_CLIENTS = 100


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    return hostile.line(DrawChooser(draw))


@st.composite
def commands(draw: st.DrawFn) -> bytes:
    return hostile.shaped(DrawChooser(draw))


@st.composite
def floods(draw: st.DrawFn) -> list[bytes]:
    return hostile.flood(DrawChooser(draw))


class CoreMachine(RuleBasedStateMachine):
    """Clients hostile and ordinary against one ServerCore with history and accounts."""

    lines_run = 0  # across every example, for --fuzz-lines
    most_clients = 0  # the most clients one example had

    clients = Bundle("clients")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="tcpchat-fuzz-"))
        self.history = SqliteHistory(self.dir / "history.sqlite3")
        self.accounts = SqliteAccounts(self.dir / "accounts.sqlite3")
        self.errors = ErrorLog()
        self.errors.install()
        config = server_config(
            history=HistorySettings(path=str(self.dir / "history.sqlite3")),
            accounts=AccountSettings(path=str(self.dir / "accounts.sqlite3"), nick_grace=5),
        )

        def factory(**kwargs: Any) -> ServerCore:
            return ServerCore(config, history=self.history, accounts=self.accounts, **kwargs)

        self.feed = CoreFeed(factory)

    def teardown(self) -> None:
        CoreMachine.lines_run += self.feed.lines
        CoreMachine.most_clients = max(CoreMachine.most_clients, len(self.feed.clients))
        try:
            self.feed.core.shutdown("fuzz over")
            self.feed.commit_history()
            self.check()
        finally:
            self.errors.uninstall()
            self.history.close()
            self.accounts.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(
        target=clients,
        nicks=st.lists(st.sampled_from(NICKS), min_size=6, max_size=6),
        caps=st.lists(st.lists(st.sampled_from(ALL_CAPS), max_size=6), min_size=6, max_size=6),
        channels=st.lists(st.sampled_from(CHANNELS[:9]), min_size=6, max_size=6),
    )
    def crowd(self, nicks: list[str], caps: list[list[str]], channels: list[str]) -> Any:
        """A few registered clients in a few channels, so that most lines meet someone."""
        crowd = []
        for i, (nick, wanted, channel) in enumerate(zip(nicks, caps, channels, strict=True)):
            client = self.feed.connect()
            self.feed.send(client, *hostile.registration(f"{nick}{i}"[:30], wanted))
            self.feed.send(client, b"JOIN " + channel.encode() + b",#lobby")
            crowd.append(client)
        return multiple(*crowd)

    @rule(target=clients, nick=st.sampled_from(NICKS), caps=st.lists(st.sampled_from(ALL_CAPS)))
    def newcomer(self, nick: str, caps: list[str]) -> FeedClient:
        client = self.feed.connect()
        self.feed.send(client, *hostile.registration(nick, caps))
        return client

    @rule(target=clients)
    def stranger(self) -> FeedClient:
        """A connection that never registers."""
        return self.feed.connect()

    @rule(client=clients, line=lines())
    def say(self, client: FeedClient, line: bytes) -> None:
        self.feed.send(client, line)

    @rule(client=clients, line=commands())
    def command(self, client: FeedClient, line: bytes) -> None:
        self.feed.send(client, line)

    @rule(client=clients, batch=st.lists(lines(), min_size=2, max_size=10))
    def pipeline(self, client: FeedClient, batch: list[bytes]) -> None:
        self.feed.run(client, batch)

    @rule(client=clients, batch=floods())
    def flood(self, client: FeedClient, batch: list[bytes]) -> None:
        self.feed.run(client, batch)

    @rule(client=clients, nick=st.sampled_from(NICKS))
    def rename(self, client: FeedClient, nick: str) -> None:
        self.feed.send(client, b"NICK " + nick.encode())

    @rule(
        client=clients,
        channel=st.sampled_from(CHANNELS),
        mode=st.sampled_from(MODES),
        args=st.lists(st.sampled_from(hostile.KNOWN), max_size=5),
    )
    def set_modes(self, client: FeedClient, channel: str, mode: str, args: list[str]) -> None:
        self.feed.send(client, " ".join(["MODE", channel, mode, *args]).encode())

    @rule(client=clients, seed=st.integers(0, 2**32))
    def quit_long(self, client: FeedClient, seed: int) -> None:
        self.feed.send(client, b"QUIT :" + hostile.long_reason(RandomChooser(seed)))

    @rule(client=clients, reason=st.sampled_from(("Connection closed", "SendQ exceeded", "")))
    def drop(self, client: FeedClient, reason: str) -> None:
        self.feed.drop(client, reason)

    @rule(client=clients, line=lines())
    def late(self, client: FeedClient, line: bytes) -> None:
        """A line handed to the core after its session may have ended."""
        self.feed.send_late(client, line)

    @rule(client=clients)
    def become_oper(self, client: FeedClient) -> None:
        self.feed.send(client, f"OPER {OPER_NAME} {OPER_PASSWORD}".encode())

    @rule(client=clients, name=st.sampled_from((*NICKS, "*")))
    def register_account(self, client: FeedClient, name: str) -> None:
        self.feed.send(client, f"REGISTER {name} * long password".encode())

    @rule(client=clients, name=st.sampled_from(NICKS))
    def log_in(self, client: FeedClient, name: str) -> None:
        self.feed.send(client, f"PRIVMSG NickServ :IDENTIFY {name} long password".encode())

    @precondition(lambda self: self.feed.work)
    @rule(index=st.integers(min_value=0, max_value=10))
    def finish_work(self, index: int) -> None:
        self.feed.finish(index)

    @rule(seconds=st.sampled_from((0.5, 3, 6, 31, 61, 121, 200)))
    def wait(self, seconds: float) -> None:
        self.feed.advance(seconds)

    @rule()
    def commit(self) -> None:
        self.feed.commit_history()

    @rule(seed=st.integers(0, 2**64), size=st.integers(1, 400))
    def storm(self, seed: int, size: int) -> None:
        """``size`` seeded random actions: lines and floods from random
        clients, newcomers, dropped connections and long quits."""
        ch = RandomChooser(seed)
        feed = self.feed
        for _ in range(size):
            action = ch.number(0, 99)
            if action < 3 and len(feed.clients) < MOST_CLIENTS:
                client = feed.connect()
                caps = [ch.pick(ALL_CAPS) for _ in range(ch.number(0, 6))]
                feed.send(client, *hostile.registration(ch.pick(NICKS), caps))
                feed.send(client, b"JOIN " + ch.pick(CHANNELS).encode())
                continue
            client = ch.pick(feed.clients)
            if action < 5:
                feed.drop(client)
            elif action < 6:
                feed.send(client, b"QUIT :" + hostile.long_reason(ch))
            elif action < 7:
                feed.send_late(client, hostile.line(ch))
            elif action < 10:
                feed.send(client, *hostile.multiline(ch))
            elif action < 20:
                feed.run(client, hostile.flood(ch, most=50))
            elif action < 60:
                feed.send(client, hostile.shaped(ch))
            else:
                feed.send(client, hostile.line(ch))

    @invariant()
    def check(self) -> None:
        errors = self.errors.take()
        assert not errors, "\n".join(errors)
        check_lines(self.feed.take_output())
        check_core(self.feed.core)


def _settings(examples: int, steps: int, derandomize: bool) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def test_core_survives_hostile_clients(request: pytest.FixtureRequest) -> None:
    budget = request.config.getoption("--fuzz-lines")
    CoreMachine.lines_run = CoreMachine.most_clients = 0
    if not budget:
        run_state_machine_as_test(CoreMachine, settings=_settings(40, 80, derandomize=True))
        print(f"fuzz: {CoreMachine.lines_run:,} lines")
        assert CoreMachine.lines_run > 5_000
        return
    started = time.monotonic()
    examples = 0
    while CoreMachine.lines_run < budget:
        run_state_machine_as_test(CoreMachine, settings=_settings(50, 200, derandomize=False))
        examples += 50
        print(f"fuzz: {CoreMachine.lines_run:,} lines in {time.monotonic() - started:.0f} s")
    print(
        f"fuzz: {CoreMachine.lines_run:,} lines, {examples} examples, up to "
        f"{CoreMachine.most_clients} clients in one: nothing found"
    )
