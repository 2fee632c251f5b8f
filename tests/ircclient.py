"""A small blocking IRC client for tests: exact lines in, parsed messages out.

Tests assert on what the server put on the wire, so this client adds
nothing of its own: it sends the lines it is given and parses what comes
back with :mod:`tcpchat.irc`. Every wait has a deadline.

A check that something did *not* arrive needs a fence: :meth:`IrcClient.expect`
skips what does not match, so on its own it cannot fail for a line that
should not be there. :meth:`IrcClient.fence` reads everything up to the
answer to a PING of its own, and :meth:`IrcClient.expect_none` asserts on it.
"""

from __future__ import annotations

import itertools
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Self

from tcpchat.irc import Message, parse

DEFAULT_TIMEOUT = 5.0

_fence_tokens = itertools.count(1)


class IrcClient:
    """One raw connection to a server."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = DEFAULT_TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        self.sock = tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        self.timeout = timeout
        self.buffer = b""
        self.nick = ""
        # Messages read past by another client's fence, for this one's later reads.
        self.pending: deque[Message] = deque()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self, timeout: float | None = None) -> str | None:
        """The next line, or None when the server closed the connection."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line from the server; have {self.buffer[:200]!r}")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read(self, timeout: float | None = None) -> Message:
        if self.pending:
            return self.pending.popleft()
        line = self.read_line(timeout)
        if line is None:
            raise ConnectionError("the server closed the connection")
        return parse(line)

    def expect(self, command: str, *params: str, timeout: float | None = None) -> Message:
        """Read until a message with ``command`` whose params start with ``params``."""
        return self.expect_where(
            lambda m: m.command == command and m.params[: len(params)] == params,
            f"{command} {' '.join(params)}",
            timeout,
        )

    def expect_where(
        self, test: Callable[[Message], bool], what: str, timeout: float | None = None
    ) -> Message:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {what}; got {seen[-20:]}")
            message = self.read(remaining)
            if test(message):
                return message
            seen.append(message.format())

    def fence(self, timeout: float | None = None) -> list[Message]:
        """Everything the server sends this client until it answers a PING sent
        now (its PONG left out).

        The server handles one client's lines in order and writes to it in
        order, so the list holds all it owed this client for the lines sent
        before, and for every event it handled before this PING: what is not
        in it did not happen then.
        """
        token = f"fence-{next(_fence_tokens)}"
        self.send(f"PING :{token}")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        before: list[Message] = []
        while True:
            message = self.read(max(0.01, deadline - time.monotonic()))
            if message.command == "PONG" and message.params[-1:] == (token,):
                return before
            before.append(message)

    def expect_none(
        self, command: str | None = None, *, after: Iterable[IrcClient] = ()
    ) -> list[Message]:
        """Assert that no ``command`` (nothing at all, when None) arrives before
        a fence; return what did arrive, which later reads still see.

        ``after``: the clients whose lines sent so far the server must have
        handled first, such as the sender of a message this client must not
        get. Each is fenced first (and keeps what it read for its later reads).
        """
        for other in after:
            other.pending.extend(other.fence())
        got = self.fence()
        self.pending.extend(got)
        unwanted = [m.format() for m in got if command is None or m.command == command]
        assert not unwanted, f"expected no {command or 'message'}; got {unwanted}"
        return got

    def cap_ls(self, *then: str) -> list[str]:
        """Send ``CAP LS 302`` (and the lines ``then``) and return every
        capability offered, from all the lines of the reply (a ``*`` before
        the list: more lines follow)."""
        self.send("CAP LS 302", *then)
        caps: list[str] = []
        while True:
            reply = self.expect("CAP")
            caps += reply.params[-1].split()
            if reply.params[-2] != "*":
                return caps

    def batch(self) -> list[Message]:
        """The lines of the next batch, without its BATCH lines; each must carry its tag."""
        return self.batch_lines(self.expect("BATCH"))

    def batch_lines(self, start: Message) -> list[Message]:
        """The lines of the batch that ``start`` opened, up to its closing line."""
        ref = start.params[0][1:]
        lines = []
        while True:
            msg = self.read()
            if msg.command == "BATCH" and msg.params[0] == "-" + ref:
                return lines
            assert msg.tags.get("batch") == ref
            lines.append(msg)

    def collect_until(self, command: str, timeout: float | None = None) -> list[Message]:
        """All messages up to and including the first ``command``."""
        out: list[Message] = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            message = self.read(max(0.01, deadline - time.monotonic()))
            out.append(message)
            if message.command == command:
                return out

    def register(self, nick: str, caps: Iterable[str] = (), user: str = "u") -> list[Message]:
        """Register as ``nick`` (requesting ``caps``); return the burst up to end of MOTD."""
        self.nick = nick
        caps = list(caps)
        if caps:
            self.send("CAP LS 302")
            self.send(f"CAP REQ :{' '.join(caps)}")
        self.send(f"NICK {nick}", f"USER {user} 0 * :Real {nick}")
        if caps:
            self.expect("CAP", "*", "ACK")
            self.send("CAP END")
        return self.collect_until_any(("376", "422"))

    def collect_until_any(self, commands: tuple[str, ...]) -> list[Message]:
        out: list[Message] = []
        deadline = time.monotonic() + self.timeout
        while True:
            message = self.read(max(0.01, deadline - time.monotonic()))
            out.append(message)
            if message.command in commands:
                return out

    def join(self, *channels: str) -> None:
        """Join each channel in turn, waiting for its end of NAMES."""
        for channel in channels:
            self.send(f"JOIN {channel}")
            self.expect("366", self.nick, channel)

    def closed_by_server(self, timeout: float | None = None) -> bool:
        """Read until EOF; True if the server closed the connection in time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            try:
                if self.read_line(deadline - time.monotonic()) is None:
                    return True
            except (TimeoutError, ConnectionError, OSError):
                return time.monotonic() < deadline
        return False
