"""Reading a console link's queue as the console window reads it, with a deadline."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from tcpchat.server.console_feed import FeedItem, LogEntry
from tcpchat.server.operator_console import ConsoleLink

DEADLINE = 5.0


def wait_for(
    link: ConsoleLink, test: Callable[[FeedItem], bool], what: str, deadline: float = DEADLINE
) -> FeedItem:
    """The first item from the link's queue that passes ``test``, within ``deadline`` seconds."""
    end = time.monotonic() + deadline
    seen: list[FeedItem] = []
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {what}; got {seen[-10:]}")
        try:
            item = link.items.get(timeout=remaining)
        except queue.Empty:
            continue
        if test(item):
            return item
        seen.append(item)


def log_line(link: ConsoleLink, kind: str, text: str, deadline: float = DEADLINE) -> LogEntry:
    """The first log entry of ``kind`` that contains ``text``."""
    found = wait_for(
        link,
        lambda i: isinstance(i, LogEntry) and i.kind == kind and text in i.text,
        f"{kind} line with {text!r}",
        deadline,
    )
    assert isinstance(found, LogEntry)
    return found
