"""The console's "Search history" window: find what was said in the channels.

The window never reads the store: a search is a
:class:`~tcpchat.server.console_search.Search` intent submitted through the
console link, and the answer arrives through the link's queue, which the
console window hands to :meth:`SearchWindow.show`. Only the answer to the
latest request is drawn, so a slow answer to a search the operator has since
replaced cannot mix into the list. *Older results* asks for the page before
the oldest one shown and adds it below.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Final

from tcpchat.gui.console_tables import Table
from tcpchat.gui.widgets import TextSafety
from tcpchat.server.console_search import HISTORY_OFF, Search, SearchHit, SearchResults
from tcpchat.server.operator_console import ConsoleLink

__all__ = ["ALL_CHANNELS", "RESULT_COLUMNS", "SearchWindow", "hit_values"]

ALL_CHANNELS: Final = "All channels"
"""The channel choice that searches every channel."""
RESULT_COLUMNS: Final = (("Time", 130), ("Channel", 90), ("Who", 110), ("Text", 420))
_HINT: Final = "Type words to look for and press Enter; newest messages come first."


def hit_values(hit: SearchHit) -> tuple[str, ...]:
    """A result as the list shows it; a date as well as a time, as history spans days."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.time))
    who = f"{hit.who} (notice)" if hit.notice else hit.who
    return (when, hit.where, who, hit.text)


class SearchWindow:
    """A window of its own beside the console, so the live log stays in view."""

    def __init__(
        self,
        root: tk.Tk,
        link: ConsoleLink,
        safety: TextSafety,
        channels: Callable[[], list[str]],
    ) -> None:
        self.link = link
        self._channels = channels
        self._request: Search | None = None  # the one whose answer is wanted
        self._older: Search | None = None  # the next page, when there is one
        self.top = tk.Toplevel(root)
        self.top.title("Search history")
        self.top.geometry("820x460")
        self.top.minsize(520, 300)
        self.top.bind("<Escape>", lambda _e: self.top.destroy())
        frame = ttk.Frame(self.top, padding=10)
        frame.pack(fill="both", expand=True)

        bar = ttk.Frame(frame)
        bar.pack(side="top", fill="x")
        ttk.Label(bar, text="Find").pack(side="left")
        self.query = ttk.Entry(bar)
        self.query.pack(side="left", fill="x", expand=True, padx=6, ipady=2)
        ttk.Label(bar, text="in").pack(side="left")
        self.channel = ttk.Combobox(bar, width=16, postcommand=self._offer_channels)
        self.channel.set(ALL_CHANNELS)
        self.channel.pack(side="left", padx=6)
        self.search_button = ttk.Button(bar, text="Search", command=self.search)
        self.search_button.pack(side="left")
        for widget in (self.query, self.channel):
            widget.bind("<Return>", self._on_enter)
            widget.bind("<KP_Enter>", self._on_enter)

        self.status = ttk.Label(frame, text=_HINT)
        self.status.pack(side="top", anchor="w", pady=(6, 4))
        buttons = ttk.Frame(frame)
        buttons.pack(side="bottom", fill="x", pady=(6, 0))
        ttk.Button(buttons, text="Close", command=self.top.destroy).pack(side="right")
        self.older_button = ttk.Button(
            buttons, text="Older results", command=self.more, state="disabled"
        )
        self.older_button.pack(side="left")
        self.results = Table(frame, RESULT_COLUMNS, safety)
        self.results.pack(side="top", fill="both", expand=True)

        if not link.history_on:
            self.status.configure(text=HISTORY_OFF)
            for control in (self.query, self.channel, self.search_button):
                control.state(["disabled"])
        self.focus()

    def focus(self) -> None:
        """Bring the window up with the cursor in the search box."""
        self.top.deiconify()
        self.top.lift()
        self.query.focus_set()

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def _offer_channels(self) -> None:
        self.channel.configure(values=[ALL_CHANNELS, *self._channels()])

    def _on_enter(self, _event: object = None) -> str:
        self.search()
        return "break"

    def search(self) -> None:
        """Search for what the box holds, replacing the results shown."""
        text = self.query.get().strip()
        if not text or not self.link.history_on:
            return
        channel = self.channel.get().strip()
        self._ask(Search(text, "" if channel == ALL_CHANNELS else channel))
        self.results.clear()

    def more(self) -> None:
        """Ask for the page of results older than those shown."""
        if self._older is not None:
            self._ask(self._older)

    def _ask(self, request: Search) -> None:
        self._request, self._older = request, None
        self.older_button.configure(state="disabled")
        self.status.configure(text="Searching…")
        self.link.submit(request)

    def show(self, answer: SearchResults) -> None:
        """Draw the answer to the latest request; answers to earlier ones are dropped."""
        if answer.request != self._request:
            return
        self._request = None
        self.results.append([hit_values(hit) for hit in answer.hits])
        if answer.older is not None:
            self._older = Search(answer.request.text, answer.request.channel, answer.older)
            self.older_button.configure(state="normal")
        shown = len(self.results.tree.get_children())
        where = answer.request.channel or "any channel"
        if answer.problem:
            self.status.configure(text=answer.problem)
        elif not shown:
            self.status.configure(text=f"No message in {where} contains “{answer.request.text}”.")
        else:
            more = "; Older results shows more" if answer.older is not None else ""
            self.status.configure(
                text=f"{shown} message{'s' if shown != 1 else ''} in {where} "
                f"contain{'s' if shown == 1 else ''} “{answer.request.text}”, newest first{more}."
            )
