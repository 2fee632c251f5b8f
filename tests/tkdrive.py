"""Driving real Tk widgets in GUI tests: typing as a keyboard would, waiting with a deadline."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # Tk is imported by the tests that use it, which skip where it is missing
    import tkinter as tk
    from tkinter import ttk

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


def pump_until(
    root: tk.Misc, test: Callable[[], bool], what: str, deadline: float = DEADLINE
) -> None:
    """Run Tk's loop until ``test()`` holds; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not test():
        if time.monotonic() > end:
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


def xdotool(*args: str) -> str:
    """Run xdotool (real X input, as a person's keyboard and mouse make it); its output."""
    done = subprocess.run(
        ["xdotool", *args], capture_output=True, text=True, timeout=DEADLINE, check=True
    )
    return done.stdout


def need_xdotool() -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (Debian package xdotool)")


def settle(root: tk.Misc, rounds: int = 20) -> None:
    """Let Tk handle what the X server has for it (input from xdotool, redraws)."""
    for _ in range(rounds):
        root.update()
        time.sleep(0.01)


def focus_window(root: tk.Tk) -> None:
    """Give the window the keyboard focus, as a window manager does when it is clicked.

    The X window to focus is Tk's wrapper of the toplevel, the one that
    carries its title (``winfo_id`` is the inner window, and without a window
    manager ``wm frame`` names that one too).
    """
    root.update()
    title = f"^{re.escape(root.title())}$"
    wrappers = xdotool("search", "--sync", "--name", title).split()
    xdotool("windowfocus", "--sync", wrappers[-1])
    settle(root)


def click(widget: tk.Misc, x: int, y: int, button: int = 1) -> None:
    """Click at (x, y) inside ``widget`` with the real mouse."""
    widget.update()
    at = (str(widget.winfo_rootx() + x), str(widget.winfo_rooty() + y))
    xdotool("mousemove", "--sync", *at, "click", str(button))
    settle(widget)


def press_keys(root: tk.Misc, *keys: str) -> None:
    """Press keys (xdotool's names: ``Prior``, ``alt+1``, ``ctrl+Next``) in the focused window."""
    xdotool("key", "--delay", "20", *keys)
    settle(root)


def type_text(root: tk.Misc, text: str) -> None:
    """Type ``text`` with the real keyboard into whatever has the focus."""
    xdotool("type", "--delay", "20", text)
    settle(root)


def unfocus_windows(root: tk.Misc) -> None:
    """Take the keyboard focus away from every window, as clicking on the desktop does."""
    (screen,) = xdotool("search", "--maxdepth", "0", "").split()
    xdotool("windowfocus", "--sync", screen)
    settle(root)
