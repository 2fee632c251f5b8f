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
from collections.abc import Callable, Sequence
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
# What moves a text's view: the wheel (X11 sends buttons 4 and 5), the keys,
# a selection dragged past the top or bottom edge, the middle button's drag.
_SCROLLING: Final = (
    "<MouseWheel>",
    "<Button-4>",
    "<Button-5>",
    "<Prior>",
    "<Next>",
    "<Up>",
    "<Down>",
    "<Control-Home>",
    "<Control-End>",
    "<B1-Motion>",
    "<ButtonRelease-1>",
    "<B2-Motion>",
)
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

    Following: the view shows its newest line and keeps showing it as lines
    come (``following``), until the person scrolls away from the bottom;
    scrolling back down follows again. That is a state changed only by what
    the person does (the scroll bar, the wheel, the keys, :meth:`page`), not
    read back from where the text happens to be: a view filled before it
    has its size (history arriving with a join) reports a position that
    means nothing, and one that is resized keeps its top line. So a
    following view goes to its end again whenever its size changes. While
    it does not follow, a marker at the bottom counts the lines added below
    ("↓ 3 new messages below"); a click on it goes down to them.
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
        self.following = True
        self.unseen = 0  # lines added below while the person reads above
        self.marker = tk.Label(
            self,
            text="",
            cursor="hand2",
            background="#4a6fa5",
            foreground="#ffffff",
            padx=10,
            pady=2,
        )
        self.marker.bind("<Button-1>", lambda _e: self.follow())
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
        # The wheel (X11 sends buttons 4 and 5), the keys that move the view, and a
        # selection dragged past an edge scroll first (Tk's own bindings), then we look.
        for sequence in _SCROLLING:
            self.text.bind(sequence, lambda _e: self.after_idle(self._scrolled), add=True)
        self.text.bind("<Configure>", lambda _e: self._keep_following(), add=True)

    def style(self, tag: str, **options: object) -> None:
        """Configure how runs with ``tag`` are drawn."""
        self.text.tag_configure(tag, **options)  # type: ignore[call-overload]

    def add_line(self, runs: Runs, line_tags: tuple[str, ...]) -> None:
        """Append one line made of ``runs``; ``line_tags`` apply to the whole of it."""
        self.text.configure(state="normal")
        self._insert_line("end", runs, line_tags)
        self.text.configure(state="disabled")
        if self.following:
            self.text.yview_moveto(1.0)
        else:
            self.unseen += 1
            self._show_marker()

    def follow(self) -> None:
        """Show the newest line, and keep showing it as lines come."""
        self.following = True
        self.unseen = 0
        self.text.yview_moveto(1.0)
        self._show_marker()

    def page(self, pages: int) -> None:
        """Scroll by ``pages`` (up when negative), as Page Up and Page Down do."""
        self.scroll("scroll", str(pages), "pages")

    def clear(self) -> None:
        """Remove every line (the console redraws its log when the filter changes)."""
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        self.unseen = 0
        self._show_marker()

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
        # Older lines above do not move the newest one, unless it no longer fits in view.
        self.following = self.following and self.text.yview()[1] >= 1.0

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
        """After the person scrolled: follow again at the bottom; at the very top, ask
        for what came before."""
        first, last = self.text.yview()
        self.following = last >= 1.0
        if self.following:
            self.unseen = 0
        self._show_marker()
        if first <= 0.0 and self.on_top is not None:
            self.on_top()

    def _keep_following(self) -> None:
        if self.following:
            self.text.yview_moveto(1.0)

    def _show_marker(self) -> None:
        if self.following or not self.unseen:
            self.marker.place_forget()
            return
        plural = "s" if self.unseen != 1 else ""
        self.marker.configure(text=f"\u2193 {self.unseen} new message{plural} below")
        self.marker.place(relx=0.5, rely=1.0, y=-8, anchor="s")

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

    def copy_selection(self) -> None:
        """Put the selected text on the clipboard as it was said, if any is selected."""
        ranges = self.text.tag_ranges("sel")
        if ranges:
            self.clipboard_clear()
            self.clipboard_append(self.plain_text(str(ranges[0]), str(ranges[1])))

    def _copy(self, _event: object) -> str:
        self.copy_selection()
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
    """One line at the bottom: a coloured dot, what the connection is doing, and what
    the person can do about it (buttons at the right, such as "Stop trying")."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=(8, 3))
        self._dot = tk.Label(self, text="\u25cf", fg="#999999")
        self._label = ttk.Label(self, text="")
        self._dot.pack(side="left")
        self._label.pack(side="left", padx=(4, 0))
        self.buttons: list[ttk.Button] = []

    def show(
        self,
        text: str,
        colour: str,
        offers: Sequence[tuple[str, Callable[[], object]]] = (),
    ) -> None:
        self._dot.configure(fg=colour)
        self._label.configure(text=text)
        if [b.cget("text") for b in self.buttons] != [label for label, _ in offers]:
            for button in self.buttons:
                button.destroy()
            self.buttons = [
                ttk.Button(self, text=label, command=command, takefocus=False)
                for label, command in offers
            ]
            for button in reversed(self.buttons):  # packed from the right edge
                button.pack(side="right", padx=(6, 0))

    @property
    def text(self) -> str:
        return str(self._label.cget("text"))


class QueueDrain(Generic[T]):
    """Hands what another thread put in a queue to ``handle``, on Tk's own thread.

    The other thread only fills the queue; this polls it with ``after()``,
    up to :data:`MAX_BATCH` items a tick, and comes back at once when more
    are waiting, so a flood cannot freeze the window. A handler that raises
    does not stop the polling: the next tick is booked first, then the error
    goes on to Tk, which hands it to ``report_callback_exception`` (the
    windows show it to the person and log it).
    """

    def __init__(self, widget: tk.Misc, items: queue.Queue[T], handle: Callable[[T], None]) -> None:
        self._widget = widget
        self._items = items
        self._handle = handle
        self._job: str | None = None
        self._running = False

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._tick()

    def stop(self) -> None:
        """No more ticks, even when called by a handler in the middle of one."""
        self._running = False
        if self._job is not None:
            self._widget.after_cancel(self._job)
            self._job = None

    def _tick(self) -> None:
        self._job = None
        delay = POLL_AGAIN_MS  # after an error, what was behind it is still waiting
        try:
            for _ in range(MAX_BATCH):
                if not self._running:
                    return
                try:
                    item = self._items.get_nowait()
                except queue.Empty:
                    delay = POLL_INTERVAL_MS
                    break
                self._handle(item)
        finally:
            if self._running:
                self._job = self._widget.after(delay, self._tick)


def selected_index(listbox: tk.Listbox) -> int | None:
    """The row selected in a single-selection list, if any."""
    selection: tuple[int, ...] = listbox.curselection()  # type: ignore[no-untyped-call]
    return selection[0] if selection else None
