"""Driving real Tk widgets in GUI tests: typing as a keyboard would, waiting with a deadline."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcpchat.gui.client_window import ClientWindow

DEADLINE = 10.0

_KEYSYMS = {
    " ": "space",
    "/": "slash",
    "!": "exclam",
    ",": "comma",
    ".": "period",
    "#": "numbersign",
}


def pump_until(root: tk.Misc, test: Callable[[], bool], what: str) -> None:
    """Run Tk's loop until ``test()`` holds; fail after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"window never showed {what}")
        root.update()
        time.sleep(0.01)


def type_and_enter(entry: ttk.Entry, text: str) -> None:
    """Type into an input line as a person would, and press Enter."""
    entry.focus_force()
    entry.update()
    for char in text:
        keysym = _keysym(char)
        if keysym is None:  # no key for it on this keyboard: enter it as an input method would
            entry.insert("insert", char)
        else:
            entry.event_generate("<KeyPress>", keysym=keysym, when="now")
    entry.event_generate("<Return>", when="now")
    entry.update()


def _keysym(char: str) -> str | None:
    if char in _KEYSYMS:
        return _KEYSYMS[char]
    return char if char.isascii() and char.isalnum() else None


def view_text(window: ClientWindow, buffer: str) -> str:
    """What a conversation of the client window shows, as plain text."""
    conversation = window.conversations.get(buffer.lower())
    return conversation.view.plain_text() if conversation else ""
