"""The console's live log: every entry coloured by kind, a filter box, a bounded past.

The log follows the newest line while its view is at the bottom and stays
put once the operator scrolls up to read (that rule lives in
:class:`MessageView`). The filter keeps the entries themselves, not
just the drawn text, so changing it redraws what matches from what is kept.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections import deque
from tkinter import ttk
from typing import Final

from tcpchat.gui.widgets import MessageView, TextSafety, nick_colour
from tcpchat.irc import casefold
from tcpchat.server.console_feed import LogEntry

__all__ = ["KIND_COLOURS", "LOG_KEEP", "LogPane"]

LOG_KEEP: Final = 5000
"""Entries kept and drawn: hours of a busy classroom, a few megabytes at most."""

KIND_COLOURS: Final = {
    "message": "#1f2933",
    "private": "#5b2c6f",
    "notice": "#8d5524",
    "register": "#2471a3",
    "join": "#1e8449",
    "part": "#6b7280",
    "quit": "#6b7280",
    "nick": "#b9770e",
    "kick": "#c0392b",
    "topic": "#117a65",
    "mode": "#8e44ad",
    "server": "#4a5a70",
    "error": "#c62828",
    "other": "#4a5a70",
}
"""One colour per kind of entry, so joins, kicks and talk can be told apart at a glance."""


class LogPane(ttk.Frame):
    """A filter box over a :class:`MessageView` of :class:`LogEntry` lines."""

    def __init__(self, master: tk.Misc, safety: TextSafety) -> None:
        super().__init__(master)
        self.entries: deque[LogEntry] = deque(maxlen=LOG_KEEP)
        self._nick_tags: set[str] = set()
        # The bar is open to the window, which puts its own buttons after the filter.
        self.bar = bar = ttk.Frame(self)
        bar.pack(side="top", fill="x", pady=(0, 4))
        ttk.Label(bar, text="Filter:").pack(side="left")
        self.filter = ttk.Entry(bar)
        self.filter.pack(side="left", fill="x", expand=True, padx=(6, 0))
        self.filter.bind("<KeyRelease>", lambda _e: self.redraw())
        self.view = MessageView(self, safety)
        self.view.pack(side="top", fill="both", expand=True)
        # A modest asked-for width leaves the tables room; the log grows with the window.
        self.view.text.configure(font="TkFixedFont", spacing1=1, spacing3=1, width=64)
        self.view.style("time", foreground="#8a8f98")
        self.view.style("actor", font=("TkFixedFont", 10, "bold"))
        for kind, colour in KIND_COLOURS.items():
            self.view.style(f"kind-{kind}", foreground=colour)
        self.view.style("kind-error", font=("TkFixedFont", 10, "bold"))

    def add(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        if self._matches(entry):
            self._draw(entry)
            self.view.trim(LOG_KEEP)

    def say(self, kind: str, text: str) -> None:
        """A line of the console's own (a mistake, a hint), as if from the server."""
        self.add(LogEntry(time.time(), kind, text))

    def redraw(self) -> None:
        """Draw again the kept entries that match the filter, and show the newest."""
        self.view.clear()
        for entry in self.entries:
            if self._matches(entry):
                self._draw(entry)
        self.view.follow()

    def shown_text(self) -> str:
        return self.view.plain_text()

    def _matches(self, entry: LogEntry) -> bool:
        wanted = casefold(self.filter.get().strip())
        return not wanted or wanted in casefold(f"{entry.kind} {entry.text}")

    def _draw(self, entry: LogEntry) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
        kind = f"kind-{entry.kind if entry.kind in KIND_COLOURS else 'other'}"
        runs: list[tuple[str, tuple[str, ...]]] = [(f"{stamp}  ", ("time",))]
        at = entry.text.find(entry.actor) if entry.actor else -1
        if at < 0:
            runs.append((entry.text, (kind,)))
        else:
            end = at + len(entry.actor)
            runs += [
                (entry.text[:at], (kind,)),
                (entry.actor, (kind, "actor", self._nick_tag(entry.actor))),
                (entry.text[end:], (kind,)),
            ]
        self.view.add_line(runs, ())

    def _nick_tag(self, nick: str) -> str:
        tag = f"nick-{casefold(nick)}"
        if tag not in self._nick_tags:
            self.view.style(tag, foreground=nick_colour(nick))
            self._nick_tags.add(tag)
        return tag
