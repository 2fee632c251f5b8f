"""A sink for client updates that tests can wait on, with deadlines."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from tcpchat.client.updates import HistoryBlock, HistoryKind, Line, LineKind, Members, Update

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

    def said(self, buffer: str) -> list[str]:
        """The conversation in ``buffer`` as a window draws it from the updates seen so far:
        messages only, older history at the top, the rest in arrival order."""
        older: list[str] = []
        rest: list[str] = []
        for update in self.seen:
            if isinstance(update, HistoryBlock) and update.buffer.lower() == buffer.lower():
                texts = [line.text for line in update.lines if line.kind is LineKind.MESSAGE]
                if update.kind is HistoryKind.OLDER:
                    older[:0] = texts
                else:
                    rest += texts
            elif (
                isinstance(update, Line)
                and update.buffer.lower() == buffer.lower()
                and update.kind is LineKind.MESSAGE
            ):
                rest.append(update.text)
        return older + rest


def joined(log: UpdateLog, channel: str, *nicks: str) -> None:
    """Wait until ``channel``'s member list holds every one of ``nicks``."""

    def test(u: object) -> bool:
        if not isinstance(u, Members) or u.buffer.lower() != channel.lower():
            return False
        names = {name.lstrip("@+") for name in u.names}
        return set(nicks) <= names

    log.wait_for(test, f"{nicks} in {channel}")
