"""The console's tables of users, channels and nodes, redrawn from each snapshot.

Rows are keyed by casefolded name, so a redraw every second keeps the
operator's selection and scroll position instead of rebuilding the table.
A list of search results is the same widget, filled a page at a time.
The keyboard reaches a table as the mouse does: Tab goes into it (and the
first row is chosen when none is), the arrows choose a row, Enter does
what a double click does.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from tcpchat.gui.widgets import TextSafety
from tcpchat.irc import casefold
from tcpchat.server.console_feed import ChannelRow, NodeRow, UserRow

__all__ = [
    "CHANNEL_COLUMNS",
    "NODE_COLUMN",
    "NODE_COLUMNS",
    "USER_COLUMNS",
    "Table",
    "channel_values",
    "format_duration",
    "node_values",
    "user_values",
]

USER_COLUMNS = (("Nick", 90), ("Address", 130), ("Channels", 130), ("Idle", 60), ("Since", 55))
NODE_COLUMN = ("Node", 70)
"""The users table's last column in a cluster: the node each user is connected to."""
CHANNEL_COLUMNS = (("Channel", 90), ("Members", 75), ("Topic", 240), ("Modes", 60))
NODE_COLUMNS = (("Node", 120), ("Users", 60), ("Last heartbeat", 110), ("This node", 80))
VISIBLE_ROWS = 6
"""Rows a table asks room for; it grows with the window, and both tables and their
buttons still fit a small one."""
NODE_ROWS = 3
"""Rows the nodes table asks room for: a network has a few nodes, the users matter more."""
NO_VALUE = "\u2014"  # an em dash: nothing to show (in no channel, not known here)


def format_duration(seconds: float) -> str:
    """A short, readable span: 42s, 3m 04s, 2h 05m, 3d 04h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def user_values(row: UserRow, with_node: bool = False) -> tuple[str, ...]:
    """The row's cells; ``with_node`` adds the node's (the table of a cluster's console)."""
    since = time.strftime("%H:%M", time.localtime(row.since))
    channels = " ".join(row.channels) or NO_VALUE
    idle = NO_VALUE if row.idle is None else format_duration(row.idle)  # another node's user
    values = (row.nick, row.address, channels, idle, since)
    return (*values, row.node) if with_node else values


def node_values(row: NodeRow) -> tuple[str, ...]:
    return (row.name, str(row.users), f"{row.beat_age:.0f}s ago", "yes" if row.here else "")


def channel_values(row: ChannelRow) -> tuple[str, ...]:
    return (row.name, str(row.members), row.topic, row.modes)


class Table(ttk.Frame):
    """A Treeview with a scrollbar whose rows are replaced in place by :meth:`show`."""

    def __init__(
        self,
        master: tk.Misc,
        columns: Sequence[tuple[str, int]],
        safety: TextSafety,
        rows: int = VISIBLE_ROWS,
    ) -> None:
        super().__init__(master)
        self._safety = safety
        names = [name for name, _width in columns]
        self.tree = ttk.Treeview(
            self, columns=names, show="headings", selectmode="browse", height=rows
        )
        for name, width in columns:
            self.tree.heading(name, text=name, anchor="w")
            self.tree.column(name, width=width, minwidth=40, stretch=True, anchor="w")
        scroll = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.tree.configure(takefocus=True)
        self.tree.bind("<FocusIn>", lambda _e: self._choose_first())

    def on_activate(self, action: Callable[[], None]) -> None:
        """Do ``action`` on a double click on a row, and on Enter."""
        for sequence in ("<Double-1>", "<Return>", "<KP_Enter>"):
            self.tree.bind(sequence, lambda _e: action())

    def _choose_first(self) -> None:
        """Coming in by the keyboard with nothing chosen: the first row, so arrows move."""
        rows = self.tree.get_children()
        if not rows:
            return
        if not self.tree.selection():
            self.tree.selection_set(rows[0])
        if not self.tree.focus():
            self.tree.focus(self.tree.selection()[0])

    def show(self, rows: Sequence[tuple[str, ...]]) -> None:
        """Make the table hold ``rows`` (first value is the key), sorted by that key."""
        wanted = {casefold(values[0]): values for values in rows}
        for iid in self.tree.get_children():
            if iid not in wanted:
                self.tree.delete(iid)
        for index, key in enumerate(sorted(wanted)):
            values = tuple(self._safety.clean(v) for v in wanted[key])
            if self.tree.exists(key):
                self.tree.item(key, values=values)
                self.tree.move(key, "", index)
            else:
                self.tree.insert("", index, iid=key, values=values)

    def append(self, rows: Sequence[tuple[str, ...]]) -> None:
        """Add ``rows`` at the end, in their order (for a list that is not keyed)."""
        for values in rows:
            self.tree.insert("", "end", values=tuple(self._safety.clean(v) for v in values))

    def clear(self) -> None:
        self.tree.delete(*self.tree.get_children())

    def selected_key(self) -> str | None:
        """The key (casefolded name) of the selected row, if any."""
        selection = self.tree.selection()
        return str(selection[0]) if selection else None

    def select(self, name: str) -> None:
        key = casefold(name)
        if self.tree.exists(key):
            self.tree.selection_set(key)
            self.tree.see(key)
