"""Tk widgets shared by tcpchat's windows: the message view, lists, the status bar.

They draw and nothing else: no protocol, no sockets. The client window and
the server console both use them, which is why they live apart.
Every string that reaches Tk goes through :class:`TextSafety` first, so a
Tk build that cannot take characters beyond the Basic Multilingual Plane
(emoji on Tk 8.6 with narrow strings) shows a stand-in instead of failing,
while copying still gives the real text.
"""

from __future__ import annotations

import functools
import queue
import re
import tkinter as tk
import webbrowser
import zlib
from collections.abc import Callable
from tkinter import ttk
from typing import Final, Generic, TypeVar

from tcpchat.irc import casefold

__all__ = [
    "NICK_COLOURS",
    "MessageView",
    "QueueDrain",
    "Runs",
    "StatusBar",
    "TextSafety",
    "find_urls",
    "nick_colour",
    "selected_index",
]

T = TypeVar("T")

POLL_INTERVAL_MS: Final = 50
"""How often a queue is looked at when it was empty: quick to the eye, idle to the CPU."""
POLL_AGAIN_MS: Final = 1
"""When a batch left items waiting, come back at once, after Tk has drawn."""
MAX_BATCH: Final = 200
"""Items handled per tick, so input and redraws are never starved by a busy network."""

STAND_IN: Final = "\ufffd"
"""Drawn for a character this Tk cannot take; the real one is kept for copying."""

NICK_COLOURS: Final = (
    "#c0392b",
    "#2471a3",
    "#1e8449",
    "#8e44ad",
    "#b9770e",
    "#117a65",
    "#a93226",
    "#5b2c6f",
    "#1a5276",
    "#7d6608",
    "#943126",
    "#0e6655",
)
"""Dark enough to read on white, far enough apart to tell nicks apart."""

Runs = list[tuple[str, tuple[str, ...]]]
"""A line as runs of text, each with the tags that style it."""
_PREPEND: Final = "prepend"
_ANNOTATE: Final = "annotate"
_URL: Final = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Punctuation that ends a sentence rather than a URL ("see https://x.org.").
_URL_TRAILING: Final = ".,;:!?)]}'\""


def nick_colour(nick: str) -> str:
    """The same colour for the same nick (in any case), in every window and run."""
    return NICK_COLOURS[zlib.crc32(casefold(nick).encode()) % len(NICK_COLOURS)]


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of each web address in ``text``, without trailing punctuation."""
    spans = []
    for match in _URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        spans.append((match.start(), end))
    return spans


class TextSafety:
    """Whether this Tk takes astral-plane characters, found by trying once."""

    def __init__(self, root: tk.Misc) -> None:
        probe = tk.Text(root)
        sample = "\U0001f600"
        try:
            probe.insert("1.0", sample)
            self.astral_ok = probe.get("1.0", "end-1c") == sample
        except tk.TclError:
            self.astral_ok = False
        finally:
            probe.destroy()

    def needs_stand_in(self, char: str) -> bool:
        return not self.astral_ok and ord(char) > 0xFFFF

    def clean(self, text: str) -> str:
        """``text`` with the characters Tk cannot take replaced by the stand-in."""
        if self.astral_ok:
            return text
        return "".join(STAND_IN if ord(c) > 0xFFFF else c for c in text)


class MessageView(ttk.Frame):
    """A read-only, scrolling conversation with styled runs and clickable links.

    Text is added as runs of (text, tags). Links get the ``url`` style and
    open in the browser on click. Stand-ins carry a tag naming the real
    character so that copying a selection gives back exactly what was said.
    """

    def __init__(
        self,
        master: tk.Misc,
        safety: TextSafety,
        open_url: Callable[[str], object] = webbrowser.open,
    ) -> None:
        super().__init__(master)
        self._safety = safety
        self._open_url = open_url
        self._links: dict[str, str] = {}
        self._originals: dict[str, str] = {}
        self.text = tk.Text(
            self,
            font="TkDefaultFont",
            wrap="word",
            state="disabled",
            cursor="arrow",
            borderwidth=0,
            highlightthickness=0,
            padx=8,
            pady=6,
            spacing1=2,
            spacing3=2,
        )
        # Called when the person scrolls to the top, to fetch older history.
        self.on_top: Callable[[], object] | None = None
        scroll = ttk.Scrollbar(self, orient="vertical", command=self.scroll)
        self.text.configure(yscrollcommand=scroll.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.text.tag_configure("url", foreground="#1a5fb4", underline=True)
        self.text.tag_bind("url", "<Enter>", lambda _e: self.text.configure(cursor="hand2"))
        self.text.tag_bind("url", "<Leave>", lambda _e: self.text.configure(cursor="arrow"))
        self.text.bind("<<Copy>>", self._copy)
        # Read-only, but selectable and copyable with the keyboard.
        self.text.bind("<1>", lambda _e: self.text.focus_set())
        # The wheel (X11 sends buttons 4 and 5) and Page Up scroll first, then we look.
        for sequence in ("<MouseWheel>", "<Button-4>", "<Prior>"):
            self.text.bind(sequence, lambda _e: self.after_idle(self._scrolled), add=True)

    def style(self, tag: str, **options: object) -> None:
        """Configure how runs with ``tag`` are drawn."""
        self.text.tag_configure(tag, **options)  # type: ignore[call-overload]

    def add_line(self, runs: Runs, line_tags: tuple[str, ...]) -> None:
        """Append one line made of ``runs``; ``line_tags`` apply to the whole of it."""
        at_end = self.text.yview()[1] >= 0.999
        self.text.configure(state="normal")
        self._insert_line("end", runs, line_tags)
        self.text.configure(state="disabled")
        if at_end:
            self.text.see("end")

    def clear(self) -> None:
        """Remove every line (the console redraws its log when the filter changes)."""
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")

    def trim(self, keep: int) -> None:
        """Drop the oldest lines beyond the last ``keep``, so a long run cannot grow memory."""
        excess = int(self.text.index("end-1c").split(".")[0]) - 1 - keep
        if excess > 0:
            self.text.configure(state="normal")
            self.text.delete("1.0", f"{excess + 1}.0")
            self.text.configure(state="disabled")

    def prepend_lines(self, lines: list[tuple[Runs, tuple[str, ...]]]) -> None:
        """Put ``lines`` above everything, keeping in view what the person was reading."""
        first_visible = self.text.index("@0,0")
        self.text.configure(state="normal")
        # A mark with right gravity moves along as text goes in, so lines keep their order.
        self.text.mark_set(_PREPEND, "1.0")
        self.text.mark_gravity(_PREPEND, "right")
        for runs, line_tags in lines:
            self._insert_line(_PREPEND, runs, line_tags)
        self.text.mark_unset(_PREPEND)
        self.text.configure(state="disabled")
        self.text.yview(f"{first_visible} + {len(lines)} lines")

    def _insert_line(self, at: str, runs: Runs, line_tags: tuple[str, ...]) -> None:
        start = self.text.index(f"{at}-1c" if at == "end" else at)
        for run, tags in runs:
            self._insert_linked(at, run, tags)
        # The newline belongs to the line, so a background fills the whole row.
        self.text.insert(at, "\n")
        for tag in line_tags:
            self.text.tag_add(tag, start, f"{at}-1c" if at == "end" else at)

    def _insert_linked(self, at: str, run: str, tags: tuple[str, ...]) -> None:
        pos = 0
        for start, end in find_urls(run):
            self._insert_safe(at, run[pos:start], tags)
            link = f"link{len(self._links)}"
            self._links[link] = run[start:end]
            self.text.tag_bind(link, "<Button-1>", functools.partial(self._follow, link))
            self._insert_safe(at, run[start:end], (*tags, "url", link))
            pos = end
        self._insert_safe(at, run[pos:], tags)

    def _follow(self, link: str, _event: object) -> None:
        self._open_url(self._links[link])

    def _insert_safe(self, at: str, run: str, tags: tuple[str, ...]) -> None:
        if not run:
            return
        if self._safety.clean(run) == run:
            self.text.insert(at, run, tags)
            return
        for char in run:
            if self._safety.needs_stand_in(char):
                original = f"orig{len(self._originals)}"
                self._originals[original] = char
                self.text.insert(at, STAND_IN, (*tags, original))
            else:
                self.text.insert(at, char, tags)

    def _scrolled(self) -> None:
        """After the person scrolled: at the very top, ask for what came before."""
        if self.text.yview()[0] <= 0.0 and self.on_top is not None:
            self.on_top()

    def scroll(self, *args: str) -> None:
        """What the scroll bar asks (``moveto 0.0``, ``scroll -1 pages``), as a person would."""
        self.text.yview(*args)
        self._scrolled()

    def plain_text(self, first: str = "1.0", last: str = "end-1c") -> str:
        """The text between two indices as it was said, stand-ins put back."""
        out: list[str] = []
        active: set[str] = set()
        for key, value, _index in self.text.dump(first, last, text=True, tag=True):
            if key == "tagon":
                active.add(value)
            elif key == "tagoff":
                active.discard(value)
            elif key == "text":
                originals = [self._originals[t] for t in active if t in self._originals]
                out.append(originals[0] if originals else value)
        return "".join(out)

    def _copy(self, _event: object) -> str:
        ranges = self.text.tag_ranges("sel")
        if ranges:
            self.clipboard_clear()
            self.clipboard_append(self.plain_text(str(ranges[0]), str(ranges[1])))
        return "break"

    # Lines that change after they are drawn (a deleted message, reactions):
    # each such line carries a tag of its own, which these find it by.

    def tags_at(self, x: int, y: int) -> tuple[str, ...]:
        """The tags of the text under the point ``x, y`` of the view."""
        return tuple(str(t) for t in self.text.tag_names(f"@{x},{y}"))

    def restyle(self, line_tag: str, style: str) -> bool:
        """Draw the line tagged ``line_tag`` with ``style`` too; False if no such line."""
        ranges = self.text.tag_ranges(line_tag)
        if not ranges:
            return False
        self.text.tag_add(style, ranges[0], ranges[-1])
        return True

    def annotate(self, line_tag: str, key: str, runs: Runs, line_tags: tuple[str, ...]) -> bool:
        """Put a line below the one tagged ``line_tag``, in place of the last one
        put there under ``key`` (no line, for empty ``runs``); False if there
        is no such line."""
        ranges = self.text.tag_ranges(line_tag)
        if not ranges:
            return False
        self.text.configure(state="normal")
        old = self.text.tag_ranges(key)
        if old:
            self.text.delete(old[0], old[-1])
        if runs:
            at = str(self.text.tag_ranges(line_tag)[-1])  # the start of the next line
            self.text.mark_set(_ANNOTATE, at)
            self.text.mark_gravity(_ANNOTATE, "right")
            self._insert_line(_ANNOTATE, runs, (*line_tags, key))
            self.text.mark_unset(_ANNOTATE)
        self.text.configure(state="disabled")
        return True


class StatusBar(ttk.Frame):
    """One line at the bottom: a coloured dot and what the connection is doing."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=(8, 3))
        self._dot = tk.Label(self, text="\u25cf", fg="#999999")
        self._label = ttk.Label(self, text="")
        self._dot.pack(side="left")
        self._label.pack(side="left", padx=(4, 0))

    def show(self, text: str, colour: str) -> None:
        self._dot.configure(fg=colour)
        self._label.configure(text=text)

    @property
    def text(self) -> str:
        return str(self._label.cget("text"))


class QueueDrain(Generic[T]):
    """Hands what another thread put in a queue to ``handle``, on Tk's own thread.

    The other thread only fills the queue; this polls it with ``after()``,
    up to :data:`MAX_BATCH` items a tick, and comes back at once when more
    are waiting, so a flood cannot freeze the window.
    """

    def __init__(self, widget: tk.Misc, items: queue.Queue[T], handle: Callable[[T], None]) -> None:
        self._widget = widget
        self._items = items
        self._handle = handle
        self._job: str | None = None

    def start(self) -> None:
        if self._job is None:
            self._tick()

    def stop(self) -> None:
        if self._job is not None:
            self._widget.after_cancel(self._job)
            self._job = None

    def _tick(self) -> None:
        for _ in range(MAX_BATCH):
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                delay = POLL_INTERVAL_MS
                break
            self._handle(item)
        else:
            delay = POLL_AGAIN_MS
        self._job = self._widget.after(delay, self._tick)


def selected_index(listbox: tk.Listbox) -> int | None:
    """The row selected in a single-selection list, if any."""
    selection: tuple[int, ...] = listbox.curselection()  # type: ignore[no-untyped-call]
    return selection[0] if selection else None
