"""Driving the sans-IO server core with no sockets, and checking what it keeps.

:class:`CoreFeed` is what the asyncio connection is to a real client, cut
down to the core's contract: it opens sessions, hands them lines one by one
(:meth:`ServerCore.handle_line`) or as runs (:meth:`ServerCore.handle_run`),
holds a session's later lines while a command of its runs in the background
(password checks), moves a clock of its own and ticks. Background work
waits until the test finishes it, in any order, as a thread pool would.

:func:`check_core` is what must hold after anything the core was given:
the state's indexes agree with each other and with the sessions, and every
line written is one well-formed IRC line.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tcpchat.irc import LineDecoder, casefold, parse
from tcpchat.server.core import ServerCore
from tcpchat.server.durability import Withdrawal
from tcpchat.server.session import Session
from tcpchat.server.state import SERVICES_UID

__all__ = ["CoreFeed", "ErrorLog", "FeedClient", "check_core", "check_lines"]

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z: a clock far from 0 and from now


@dataclass(eq=False)
class FeedClient:
    """One session and what its connection would keep: output read, lines waiting."""

    session: Session
    closed: bool = False
    waiting: deque[bytes] = field(default_factory=deque)
    received: list[bytes] = field(default_factory=list)


class CoreFeed:
    """A ServerCore fed from the test's own hands: lines, time and background work."""

    def __init__(self, core_factory: Callable[..., ServerCore]) -> None:
        self.now = START
        self.work: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []
        self.core = core_factory(clock=lambda: self.now, offload=self._offload)
        self.clients: list[FeedClient] = []
        self.lines = 0  # lines handed to the core, counting each line of a run
        self._ports = iter(range(10_000, 1 << 30))

    def _offload(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.work.append((work, then))

    def connect(self, ip: str = "127.0.0.1") -> FeedClient:
        client: FeedClient

        def close() -> None:
            client.closed = True

        session = self.core.open_session(ip, next(self._ports), lambda: None, close)
        client = FeedClient(session)
        session.resume = lambda: self._resume(client)
        self.clients.append(client)
        return client

    def send(self, client: FeedClient, *lines: bytes) -> None:
        """Lines read from ``client``, handled in order as its connection would:
        while a command of its is still finishing they wait, and nothing is
        read once the core has closed it."""
        if client.closed:
            return
        client.waiting.extend(lines)
        self._resume(client)

    def send_late(self, client: FeedClient, line: bytes) -> None:
        """A line a transport read before it learnt the session was closed:
        given to the core even so, which must ignore it."""
        self.lines += 1
        self.core.handle_line(client.session, line)

    def _resume(self, client: FeedClient) -> None:
        session = client.session
        while client.waiting and not session.busy and not client.closed:
            self.lines += 1
            self.core.handle_line(session, client.waiting.popleft())

    def run(self, client: FeedClient, lines: Sequence[bytes]) -> int:
        """A read of several lines, split as the connection's decoder splits
        them, the first of them taken as one run if the core will (as the
        connection asks it); the rest one by one."""
        lines = LineDecoder().feed(b"".join(line + b"\r\n" for line in lines))
        if not lines or client.closed or client.waiting or client.session.busy:
            self.send(client, *lines)
            return 0
        taken = self.core.handle_run(client.session, lines, len(lines)) if len(lines) > 1 else 0
        self.lines += taken
        self.send(client, *lines[taken:])
        return taken

    def drop(self, client: FeedClient, reason: str = "Connection closed") -> None:
        """The connection broke."""
        client.closed = True
        self.core.quit(client.session, reason)

    def finish(self, index: int) -> None:
        """Finish one piece of background work (the oldest is 0)."""
        if self.work:
            work, then = self.work.pop(index % len(self.work))
            then(work())

    def finish_all(self) -> None:
        while self.work:
            self.finish(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.core.tick()

    def take_output(self) -> list[bytes]:
        """Every chunk written to any session since the last call."""
        chunks = []
        for client in self.clients:
            out = client.session.out
            if out:
                chunks += out
                client.received += out
                out.clear()
        return chunks

    def commit_history(self) -> None:
        """Make the history appended so far durable, as the connections'
        Flusher does, and wait for it."""
        durability = self.core.durability
        if durability is None or not durability.pending():
            return
        done = threading.Event()
        failures: list[Withdrawal] = []

        def committed(failed: Withdrawal | None) -> None:
            if failed is not None:
                failures.append(failed)
            done.set()

        durability.commit(committed)
        assert done.wait(30), "the history commit did not finish"
        assert not failures, f"the history commit failed: {failures[0].error}"


def check_lines(chunks: Sequence[bytes]) -> None:
    """Each chunk is whole lines, each of them one IRC line that parses.

    A line fanned out to a channel is one bytes object in every member's
    queue, so each object is looked at once.
    """
    for chunk in {id(chunk): chunk for chunk in chunks}.values():
        assert chunk.endswith(b"\r\n"), f"a chunk that does not end a line: {chunk[-80:]!r}"
        lines = chunk[:-2].split(b"\r\n")
        for line in lines:
            assert line, f"an empty line in {chunk[:200]!r}"
            assert b"\r" not in line and b"\n" not in line and b"\0" not in line, (
                f"a line with CR, LF or NUL in it: {line!r}"
            )
            parse(line.decode())


def check_core(core: ServerCore) -> None:
    """The state's indexes agree, and agree with the sessions."""
    state = core.state
    assert len(state.users) == len(state.by_uid), "nick map and uid map differ in size"
    people = 0
    for folded, user in state.users.items():
        assert user.folded == folded == casefold(user.nick), f"{user.nick} filed as {folded}"
        assert state.by_uid.get(user.uid) is user, f"{user.nick} missing from by_uid"
        people += not user.service
        for key, channel in user.channels.items():
            assert state.channels.get(key) is channel, f"{user.nick} is in a gone {key}"
            assert user in channel.members, f"{user.nick} lists {key}, which does not list them"
        if user.session is not None:
            assert user.session.user is user, f"{user.nick}'s session is someone else's"
            assert user.session in core.sessions, f"{user.nick}'s session is closed"
    assert state.people == people, f"{state.people} people counted, {people} there"
    for folded, channel in state.channels.items():
        assert channel.folded == folded == casefold(channel.name), f"{channel.name} as {folded}"
        assert channel.members or channel.permanent, f"{channel.name} is empty and kept"
        for member, modes in channel.members.items():
            assert state.by_uid.get(member.uid) is member, f"{channel.name} has a gone member"
            assert member.channels.get(folded) is channel, f"{member.nick} forgot {channel.name}"
            assert set(modes) <= {"o", "v"}, f"{member.nick} has modes {modes!r}"
    for session in core.sessions:
        user = session.user
        if user is not None:
            assert state.by_uid.get(user.uid) is user, f"session of a gone user {user.nick}"
            assert user.session is session
    if core.accounts is not None:
        assert SERVICES_UID in state.by_uid, "NickServ is gone"
    monitor = core.monitor
    for session, nicks in monitor.lists.items():
        assert session in core.sessions, "a closed session still monitors"
        for nick in nicks:
            assert session in monitor._watchers.get(nick, ()), f"{nick} watch not indexed"


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger: a bug caught and logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def install(self) -> None:
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)

    def take(self) -> list[str]:
        """The records caught since the last call, formatted with their tracebacks."""
        found = [self.format(r) for r in self.records]
        self.records.clear()
        return found
