"""A sink for client updates that tests can wait on, with deadlines."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from tcpchat.client.updates import Line, Update

DEFAULT_TIMEOUT = 10.0


class UpdateLog:
    """Collects what a :class:`~tcpchat.client.connection.ClientThread` emits."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Update] = queue.Queue()
        self.seen: list[Update] = []

    def put(self, update: Update) -> None:
        self.queue.put(update)

    def wait_for(
        self, test: Callable[[Update], bool], what: str, timeout: float = DEFAULT_TIMEOUT
    ) -> Update:
        """The next update that passes ``test``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = list(self.seen[-15:])
                raise AssertionError(f"expected {what}; recent updates: {recent}")
            try:
                update = self.queue.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            self.seen.append(update)
            if test(update):
                return update

    def wait_line(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> Line:
        """The next line whose text contains ``text``."""
        line = self.wait_for(lambda u: isinstance(u, Line) and text in u.text, repr(text), timeout)
        assert isinstance(line, Line)
        return line
