"""Helpers for tests of the real client window: wait on it, read it back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcpchat.gui.client_window import ClientWindow

DEADLINE = 10.0


def pump_until(window: ClientWindow, test: Callable[[], bool], what: str) -> None:
    """Run Tk's loop until ``test()`` holds; fail after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"window never showed {what}")
        window.root.update()
        time.sleep(0.01)


def view_text(window: ClientWindow, buffer: str) -> str:
    conversation = window.conversations.get(buffer.lower())
    return conversation.view.plain_text() if conversation else ""
