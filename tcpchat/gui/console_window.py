"""The server console: the original server window, grown into an operator's console.

Theory of operation. The server runs in its own thread; this window never
reads its state. Everything drawn arrives as values in the
:class:`~tcpchat.server.operator_console.ConsoleLink`'s queue (log entries
as events happen, a snapshot of the tables once a second), which a
:class:`~tcpchat.gui.widgets.QueueDrain` drains with ``after()``, a capped
batch per tick.
What the operator does becomes an intent (Say, Kick, Ban, ...) handed to
:meth:`ConsoleLink.submit`, which runs it on the server thread, where the
operator is the pseudo-user ``Server``. A history search is one more intent;
its results come back through the same queue to the search window
(:mod:`tcpchat.gui.console_search`). No Tk call is made off the Tk thread.

On a node of a cluster the users table is the network's, with each user's
node, and a nodes table shows the network's nodes every two seconds (asked
of Redis on the server's loop, never here); while Redis does not answer,
the status line and the title say so.
"""

from __future__ import annotations

import logging
import tkinter as tk
import traceback
from collections import deque
from collections.abc import Callable
from tkinter import ttk
from types import TracebackType
from typing import Final

from tcpchat.gui.console_log import LogPane
from tcpchat.gui.console_search import SearchWindow
from tcpchat.gui.console_tables import (
    CHANNEL_COLUMNS,
    NODE_COLUMN,
    NODE_COLUMNS,
    NODE_ROWS,
    USER_COLUMNS,
    Table,
    channel_values,
    format_duration,
    node_values,
    user_values,
)
from tcpchat.gui.dialogs import FormDialog, FormField, ask_yes_no
from tcpchat.gui.widgets import QueueDrain, StatusBar, TextSafety
from tcpchat.irc import casefold
from tcpchat.server.console_feed import (
    ChannelRow,
    FeedItem,
    LogEntry,
    Nodes,
    Snapshot,
    UserRow,
)
from tcpchat.server.console_search import SearchResults
from tcpchat.server.operator_console import (
    Ban,
    Command,
    ConsoleLink,
    Disconnect,
    Kick,
    NoticeAll,
    Say,
    SetTopic,
    Unban,
)

__all__ = ["ConsoleWindow"]

log = logging.getLogger("tcpchat.console")

REFRESH_MS: Final = 1000
"""How often the tables and counters are asked for: a second is fresh enough for idle times."""
RATE_WINDOW: Final = 6
"""Snapshots the messages-per-second figure is averaged over (five seconds)."""
STOP_REASON: Final = "Server shutting down"
MAX_BAN_MINUTES: Final = 525_600
"""A year: the longest a Disconnect… ban may be (KLINE's own bound)."""

Ask = Callable[[str, list[FormField]], list[str] | None]
Confirm = Callable[[str, str], bool]


class ConsoleWindow:
    """One window onto one running server; closing it stops the server."""

    def __init__(
        self,
        root: tk.Tk,
        link: ConsoleLink,
        address: str,
        stop_server: Callable[[str], None],
        default_channel: str,
    ) -> None:
        self.root = root
        self.link = link
        self.address = address
        self.stop_server = stop_server
        self.safety = TextSafety(root)
        self.users: dict[str, UserRow] = {}
        self.channels: dict[str, ChannelRow] = {}
        # In a cluster: whether Redis answered when last asked.
        self.redis_reachable = True
        self._rates: deque[tuple[float, int]] = deque(maxlen=RATE_WINDOW)
        self._drain = QueueDrain(root, link.items, self._show)
        self._refresh_job = ""
        self.search_window: SearchWindow | None = None
        self.stopped = False
        # Replaceable by tests, which cannot click in a modal dialog of their own.
        self.ask: Ask = lambda title, fields: FormDialog(root, title, fields).show()
        self.confirm: Confirm = lambda title, question: ask_yes_no(root, title, question)
        root.report_callback_exception = self.report_callback_exception
        self.title = f"tcpchat console: {address}" + (
            f" (node {link.node})" if link.cluster else ""
        )
        root.title(self.title)
        root.geometry("1180x680")
        root.minsize(760, 420)
        root.protocol("WM_DELETE_WINDOW", self.ask_to_stop)
        self._build(default_channel)
        self._drain.start()
        self._refresh()

    # ---------------------------------------------------------------- layout

    def _build(self, default_channel: str) -> None:
        root = self.root
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Header.TFrame", background="#2b303b")
        style.configure("Header.TLabel", background="#2b303b", foreground="#dfe3ea")
        style.configure("Title.TLabel", background="#2b303b", foreground="#ffffff")
        style.configure("Treeview", rowheight=22)

        menu = tk.Menu(root)
        server = tk.Menu(menu, tearoff=False)
        server.add_command(label="Notice to everyone…", command=self.notice_all)
        server.add_command(
            label="Search history…", accelerator="Ctrl+F", command=self.search_history
        )
        server.add_separator()
        server.add_command(label="Stop server…", accelerator="Ctrl+Q", command=self.ask_to_stop)
        menu.add_cascade(label="Server", menu=server)
        root.configure(menu=menu)
        root.bind("<Control-q>", lambda _e: self.ask_to_stop())
        root.bind("<Control-f>", lambda _e: self.search_history())

        header = ttk.Frame(root, style="Header.TFrame", padding=(12, 8))
        header.pack(side="top", fill="x")
        node = f"   ·   node {self.link.node}" if self.link.cluster else ""
        ttk.Label(
            header,
            text=f"Listening on {self.address}{node}",
            style="Title.TLabel",
            font=("TkDefaultFont", 12, "bold"),
        ).pack(side="left")
        self.stats = ttk.Label(header, text="", style="Header.TLabel")
        self.stats.pack(side="right")

        self.status = StatusBar(root)
        self.status.pack(side="bottom", fill="x")
        self._show_running()

        panes = ttk.PanedWindow(root, orient="horizontal")
        panes.pack(side="top", fill="both", expand=True, padx=8, pady=8)

        left = ttk.Frame(panes)
        talk = ttk.Frame(left)
        talk.pack(side="bottom", fill="x", pady=(6, 0))
        ttk.Label(talk, text=f"{self.link.nick} to").pack(side="left")
        self.target = ttk.Combobox(talk, width=16)
        self.target.set(default_channel)
        self.target.pack(side="left", padx=6)
        self.entry = ttk.Entry(talk)
        self.entry.pack(side="left", fill="x", expand=True, ipady=3)
        self.entry.bind("<Return>", self._on_enter)
        self.entry.bind("<KP_Enter>", self._on_enter)
        ttk.Button(talk, text="Send", command=self._on_enter).pack(side="left", padx=(6, 0))
        self.log = LogPane(left, self.safety)
        self.log.pack(side="top", fill="both", expand=True)
        ttk.Button(self.log.bar, text="Search history…", command=self.search_history).pack(
            side="left", padx=(6, 0)
        )
        panes.add(left, weight=3)

        right = ttk.Frame(panes)
        self.user_label = ttk.Label(right, text="Users", font=("TkDefaultFont", 10, "bold"))
        self.user_label.pack(side="top", anchor="w")
        user_columns = (*USER_COLUMNS, NODE_COLUMN) if self.link.cluster else USER_COLUMNS
        self.user_table = Table(right, user_columns, self.safety)
        self.user_table.pack(side="top", fill="both", expand=True, pady=(2, 4))
        self.user_table.on_activate(self.message_selected_user)
        self.user_table.tree.bind("<Delete>", lambda _e: self.kick_selected())
        self._buttons(
            right,
            ("Message", self.message_selected_user),
            ("Kick…", self.kick_selected),
            ("Ban…", self.ban_selected),
            ("Unban…", self.unban),
            ("Disconnect…", self.disconnect_selected),
        )
        self.channel_label = ttk.Label(right, text="Channels", font=("TkDefaultFont", 10, "bold"))
        self.channel_label.pack(side="top", anchor="w", pady=(8, 0))
        self.channel_table = Table(right, CHANNEL_COLUMNS, self.safety)
        self.channel_table.pack(side="top", fill="both", expand=True, pady=(2, 4))
        self.channel_table.on_activate(self.talk_in_selected_channel)
        self._buttons(
            right,
            ("Talk here", self.talk_in_selected_channel),
            ("Set topic…", self.topic_selected),
            ("Notice to everyone…", self.notice_all),
            ("Stop server…", self.ask_to_stop),
        )
        self.node_label = ttk.Label(right, text="Nodes", font=("TkDefaultFont", 10, "bold"))
        self.node_table = Table(right, NODE_COLUMNS, self.safety, rows=NODE_ROWS)
        if self.link.cluster:
            self.node_label.pack(side="top", anchor="w", pady=(8, 0))
            self.node_table.pack(side="top", fill="both", expand=True, pady=(2, 0))
        panes.add(right, weight=2)
        self.entry.focus_set()

    def _buttons(self, master: tk.Misc, *buttons: tuple[str, Callable[[], None]]) -> None:
        row = ttk.Frame(master)
        row.pack(side="top", fill="x")
        for text, command in buttons:
            ttk.Button(row, text=text, command=command).pack(side="left", padx=(0, 4))

    # ---------------------------------------------------------------- drawing

    def _show(self, item: FeedItem) -> None:
        if isinstance(item, LogEntry):
            self.log.add(item)
        elif isinstance(item, SearchResults):
            if self.search_window is not None and self.search_window.exists():
                self.search_window.show(item)
        elif isinstance(item, Nodes):
            self._show_nodes(item)
        else:
            self._show_snapshot(item)

    def _show_running(self) -> None:
        self.status.show(
            f"Running. You are {self.link.nick}: type below and press Enter to talk; "
            "/help lists the commands.",
            "#2e7d32",
        )

    def _refresh(self) -> None:
        self.link.refresh()
        self._refresh_job = self.root.after(REFRESH_MS, self._refresh)

    def _show_snapshot(self, snap: Snapshot) -> None:
        self.users = {casefold(u.nick): u for u in snap.users}
        self.channels = {casefold(c.name): c for c in snap.channels}
        self.user_table.show([user_values(u, self.link.cluster) for u in snap.users])
        self.channel_table.show([channel_values(c) for c in snap.channels])
        here = sum(1 for u in snap.users if u.node == self.link.node)
        counted = f"{here} here, {len(snap.users)} in all" if self.link.cluster else len(snap.users)
        self.user_label.configure(text=f"Users ({counted})")
        self.channel_label.configure(text=f"Channels ({len(snap.channels)})")
        self.target.configure(values=[c.name for c in snap.channels] + [u.nick for u in snap.users])
        self._rates.append((snap.time, snap.messages))
        (first_time, first_count), (last_time, last_count) = self._rates[0], self._rates[-1]
        rate = (
            (last_count - first_count) / (last_time - first_time) if last_time > first_time else 0
        )
        self.stats.configure(
            text=f"up {format_duration(snap.time - snap.started)}   ·   "
            f"{len(snap.users)} user{'s' if len(snap.users) != 1 else ''}   ·   "
            f"{len(snap.channels)} channel{'s' if len(snap.channels) != 1 else ''}   ·   "
            f"{rate:.1f} messages/s"
        )

    def _show_nodes(self, nodes: Nodes) -> None:
        """The nodes table, and whether Redis answers, in the title and the status line."""
        self.node_table.show([node_values(n) for n in nodes.rows])
        if nodes.reachable:
            self.node_label.configure(text=f"Nodes ({len(nodes.rows)})")
        else:
            self.node_label.configure(text=f"Nodes ({len(nodes.rows)}, as Redis last told)")
        if nodes.reachable == self.redis_reachable:
            return
        self.redis_reachable = nodes.reachable
        if nodes.reachable:
            self.root.title(self.title)
            self._show_running()
        else:
            self.root.title(f"{self.title}: Redis unreachable")
            self.status.show(
                f"Redis at {nodes.redis} does not answer: this node's users stay connected "
                "and what they say waits until it is back. Trying again…",
                "#c62828",
            )

    # ---------------------------------------------------------------- talking

    def _on_enter(self, _event: object = None) -> str:
        text = self.entry.get()
        self.entry.delete(0, "end")
        self.send_text(text)
        return "break"

    def send_text(self, text: str) -> None:
        """Say ``text`` as the operator to the channel or nick chosen beside the input;
        a line that starts with ``/`` is a command (``//`` says one that starts with ``/``)."""
        target = self.target.get().strip()
        if not text.strip():
            return
        if text.startswith("/") and not text.startswith("//"):
            self.link.submit(Command(text))
            return
        if text.startswith("//"):
            text = text[1:]
        if not target:
            self.log.say("error", "Choose a channel or a nick to talk to, left of the input.")
            return
        self.link.submit(Say(target, text))

    def talk_to(self, name: str) -> None:
        self.target.set(name)
        self.entry.focus_set()

    def message_selected_user(self) -> None:
        user = self._selected_user()
        if user is not None:
            self.talk_to(user.nick)

    def talk_in_selected_channel(self) -> None:
        channel = self._selected_channel()
        if channel is not None:
            self.talk_to(channel.name)

    # ---------------------------------------------------------------- actions

    def search_history(self) -> None:
        """Open the history search (or bring it up again, with what it holds)."""
        if self.search_window is not None and self.search_window.exists():
            self.search_window.focus()
        else:
            self.search_window = SearchWindow(
                self.root, self.link, self.safety, lambda: [c.name for c in self.channels.values()]
            )

    def kick_selected(self) -> None:
        """Kick the selected user from one of their channels, with a reason."""
        self._remove_selected(Kick, "Please behave", among_all=False)

    def ban_selected(self) -> None:
        """Ban the selected user's nick from a channel, and kick them if there."""
        self._remove_selected(Ban, "Banned", among_all=True)

    def _remove_selected(self, action: type[Kick | Ban], reason: str, among_all: bool) -> None:
        """Ask for the channel (theirs, or ``among_all`` channels) and reason, then act."""
        user = self._selected_user()
        if user is None:
            return
        choices = tuple(c.name for c in self.channels.values()) if among_all else user.channels
        if not choices:
            self.log.say("error", f"{user.nick} is in no channel.")
            return
        answer = self.ask(
            f"{action.__name__} {user.nick}",
            [
                FormField("Channel", self._preferred(user.channels or choices), choices),
                FormField("Reason", reason),
            ],
        )
        if answer is not None and answer[0]:
            self.link.submit(action(answer[0], user.nick, answer[1] or self.link.nick))

    def unban(self) -> None:
        """Lift one of the channels' bans, chosen from a list of them all."""
        bans = [f"{c.name} {mask}" for c in self.channels.values() for mask in c.bans]
        if not bans:
            self.log.say("error", "No channel has a ban.")
            return
        current = casefold(self.target.get().strip())
        first = next((b for b in bans if casefold(b.split()[0]) == current), bans[0])
        answer = self.ask("Unban", [FormField("Ban to lift", first, tuple(bans))])
        if answer is not None and answer[0] in bans:
            channel, mask = answer[0].split(" ", 1)
            self.link.submit(Unban(channel, mask))

    def disconnect_selected(self) -> None:
        """End the selected user's connection, and ban their address for a while if asked."""
        user = self._selected_user()
        if user is None:
            return
        address = user.address.rpartition(":")[0]
        answer = self.ask(
            f"Disconnect {user.nick}",
            [
                FormField("Reason", "Goodbye"),
                FormField(f"and ban {address} for minutes (0: no ban)", "0"),
            ],
        )
        if answer is None:
            return
        minutes = answer[1].strip() or "0"
        if not minutes.isdigit() or int(minutes) > MAX_BAN_MINUTES:
            self.log.say(
                "error", f"The ban is a number of minutes, 0 to {MAX_BAN_MINUTES}: not {minutes}."
            )
            return
        self.link.submit(Disconnect(user.nick, answer[0] or "No reason given", int(minutes)))

    def topic_selected(self) -> None:
        channel = self._selected_channel()
        if channel is None:
            return
        answer = self.ask(f"Topic of {channel.name}", [FormField("Topic", channel.topic)])
        if answer is not None:
            self.link.submit(SetTopic(channel.name, answer[0]))

    def notice_all(self) -> None:
        answer = self.ask("Notice to everyone", [FormField("Notice", "")])
        if answer is not None and answer[0]:
            self.link.submit(NoticeAll(answer[0]))

    def _preferred(self, channels: tuple[str, ...]) -> str:
        """The channel being talked in, if among ``channels``, else the first of them."""
        current = casefold(self.target.get().strip())
        return next(
            (c for c in channels if casefold(c) == current), channels[0] if channels else ""
        )

    def _selected_user(self) -> UserRow | None:
        user = self.users.get(self.user_table.selected_key() or "")
        if user is None:
            self.log.say("error", "Pick a user in the users table first.")
        return user

    def _selected_channel(self) -> ChannelRow | None:
        channel = self.channels.get(self.channel_table.selected_key() or "")
        if channel is None:
            self.log.say("error", "Pick a channel in the channels table first.")
        return channel

    # ------------------------------------------------------------- lifecycle

    def ask_to_stop(self) -> None:
        """Stop the server after the operator says yes: everyone connected is told."""
        count = sum(1 for u in self.users.values() if u.node == self.link.node)  # this node's
        question = (
            f"Stop the server? {count} connected user{'s' if count != 1 else ''} "
            "will be disconnected."
        )
        if self.confirm("Stop the server", question):
            self.stop()

    def stop(self, reason: str = STOP_REASON) -> None:
        """Stop the server (clients get ERROR with ``reason``) and close the window."""
        if self.stopped:
            return
        self.stopped = True
        self.status.show("Stopping the server…", "#f9a825")
        self.root.update_idletasks()
        self._drain.stop()
        self.root.after_cancel(self._refresh_job)
        self.link.close()
        self.stop_server(reason)
        self.root.destroy()

    def report_callback_exception(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        """An error in a Tk callback: tell the operator and the log, and carry on."""
        log.error("error in the console: %s", "".join(traceback.format_exception(kind, value, tb)))
        self.log.say("error", f"Something went wrong inside the console: {value!r}")
