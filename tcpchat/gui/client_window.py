"""The desktop client's main window: conversations, messages, members, input.

Theory of operation. The window draws :mod:`tcpchat.client.updates` and
turns what the person does into :mod:`tcpchat.client.intents`; the IRC
logic lives in :mod:`tcpchat.client`. The network runs in a
:class:`~tcpchat.client.connection.ClientThread`, which puts updates in a
thread-safe queue; a :class:`~tcpchat.gui.widgets.QueueDrain` drains it
from Tk's own loop with ``after()``, a capped batch per tick so a flood of
lines cannot freeze the window, sooner again when more is waiting. Intents go the other way
through :meth:`ClientThread.submit`. No Tk call is made off the Tk thread.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import tkinter as tk
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tkinter import messagebox, ttk
from types import TracebackType
from typing import Final

from tcpchat.client import keychain
from tcpchat.client.accounts import AccountAction
from tcpchat.client.commands import Feedback, help_text, parse_input
from tcpchat.client.completion import InputHistory, NickCompleter
from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import (
    Delete,
    Focus,
    Intent,
    LoadOlder,
    OpenQuery,
    Quit,
    React,
    Say,
    TypingNow,
)
from tcpchat.client.settings import Settings, save_settings
from tcpchat.client.textlog import log_update
from tcpchat.client.updates import (
    SERVER_BUFFER,
    BufferClosed,
    BufferOpened,
    BufferRenamed,
    BufferState,
    CertificateProblem,
    ConnState,
    HistoryBlock,
    HistoryKind,
    Line,
    LineKind,
    LoggedIn,
    Members,
    Profile,
    Reaction,
    Redacted,
    Status,
    Topic,
    Typing,
    Update,
)
from tcpchat.gui.attention import request_attention
from tcpchat.gui.dialogs import ConnectDialog, TrustDialog, ask_yes_no
from tcpchat.gui.widgets import (
    MessageView,
    QueueDrain,
    Runs,
    StatusBar,
    TextSafety,
    nick_colour,
    selected_index,
)
from tcpchat.irc import casefold, is_channel

__all__ = ["ClientWindow"]

log = logging.getLogger("tcpchat.client")

PASTE_ASK_LINES: Final = 2
"""A paste of this many lines or more asks before it sends them all."""

_STATUS_COLOURS: Final = {
    ConnState.CONNECTED: "#2e7d32",
    ConnState.CONNECTING: "#f9a825",
    ConnState.DISCONNECTED: "#c62828",
    ConnState.STOPPED: "#c62828",
}
_QUIET_MARKS: Final = {
    LineKind.JOIN: "\u2192",  # →
    LineKind.PART: "\u2190",  # ←
    LineKind.QUIT: "\u2190",
    LineKind.NICK: "\u21c4",  # ⇄
    LineKind.MODE: "\u2022",  # •
}

REACTIONS: Final = ("\U0001f44d", "\u2764", "\U0001f602", "\U0001f62e", "\U0001f622", "\U0001f389")
"""The reactions the context menu offers: thumbs up, heart, laughing, surprised, sad, party."""
TYPING_SHOWN: Final = {"active": timedelta(seconds=6), "paused": timedelta(seconds=30)}
"""How long a typing notification holds without another (IRCv3 typing)."""
MAX_KEPT_MESSAGES: Final = 2000
"""Messages per conversation remembered by msgid (for replies, reactions,
deletions); older ones can no longer be quoted or updated."""
_SWITCH_KEYS: Final = {
    "<Control-Prior>": -1,
    "<Control-Next>": 1,
    "<Alt-Up>": -1,
    "<Alt-Down>": 1,
}
"""Keys that go to the previous or next conversation in the sidebar (HexChat's)."""

_HISTORY_HEADINGS: Final = {
    HistoryKind.RECENT: "Earlier in this channel",
    HistoryKind.MISSED: "While you were away",
}


def _msg_tag(msgid: str) -> str:
    """The tag of the line of message ``msgid`` in a view."""
    return f"msg-{msgid}"


def _heading(text: str) -> tuple[Runs, tuple[str, ...]]:
    """A separator line above (or at the top of) history."""
    return [(f"\u2500\u2500\u2500  {text}  \u2500\u2500\u2500", ("heading",))], ()


@dataclass
class _Conversation:
    """What the window keeps for one buffer: its view and what the sidebar shows."""

    name: str
    view: MessageView
    topic: str = ""
    members: tuple[str, ...] = ()
    unread: int = 0
    mention: bool = False
    nick_tags: set[str] = field(default_factory=set)
    # Lines by msgid, the reactions to them (emoji -> nicks), and who is typing until when.
    messages: dict[str, Line] = field(default_factory=dict)
    reactions: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    typing: dict[str, datetime] = field(default_factory=dict)


class ClientWindow:
    """One window connected to one server; :meth:`connect` may switch servers."""

    def __init__(
        self,
        root: tk.Tk,
        settings: Settings,
        config_file: Path | None = None,
        log_lines: bool = True,
    ) -> None:
        self.root = root
        self.settings = settings
        self.config_file = config_file
        self.log_lines = log_lines
        self.updates: queue.Queue[Update] = queue.Queue()
        self.safety = TextSafety(root)
        self.history = InputHistory()
        self.completer = NickCompleter()
        self.conversations: dict[str, _Conversation] = {}
        self.order: list[str] = []  # folded names, in sidebar order
        self.current = SERVER_BUFFER
        self.nick = settings.nick
        self.client: ClientThread | None = None
        self._drain = QueueDrain(root, self.updates, self.apply)
        self.trust_dialog: TrustDialog | None = None  # while it is open
        self.account = ""  # logged in as, on this connection
        self._status = Status(ConnState.STOPPED, settings.address, settings.nick)
        # The server of these settings has welcomed us: they are worth remembering
        # (a server that never answered does not become the next start's default).
        # Set by the network thread as the welcome passes, so a window closed before
        # it has drawn the welcome still knows.
        self._reached = threading.Event()
        self.highlights = 0  # mentions and private messages while the window was not in front
        self.bell = tk.BooleanVar(root, settings.bell)
        # What people show of themselves (IRCv3 metadata), by folded nick.
        self.profiles: dict[str, Profile] = {}
        # The message being answered: (conversation, line), while the reply bar shows.
        self.replying: tuple[str, Line] | None = None
        self._typing_timer: str | None = None
        root.report_callback_exception = self.report_callback_exception
        root.title("tcpchat")
        root.geometry("980x620")
        root.minsize(640, 380)
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._build()
        self._open(SERVER_BUFFER)
        self._select(SERVER_BUFFER)

    # --------------------------------------------------------------- layout

    def _build(self) -> None:
        root = self.root
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Topic.TLabel", padding=(10, 6), background="#eef1f5")
        style.configure("Side.TFrame", background="#2b303b")

        menu = tk.Menu(root)
        self.chat_menu = chat = tk.Menu(menu, tearoff=False)
        chat.add_command(label="Connect to…", accelerator="Ctrl+N", command=self.show_connect)
        chat.add_command(
            label="Close conversation", accelerator="Ctrl+W", command=self.close_current
        )
        chat.add_checkbutton(
            label="Ring the bell when someone calls me",
            variable=self.bell,
            command=self._bell_toggled,
        )
        self.send_typing = tk.BooleanVar(root, value=self.settings.send_typing)
        chat.add_checkbutton(
            label="Tell others when I am typing",
            variable=self.send_typing,
            command=self._typing_setting_changed,
        )
        chat.add_separator()
        chat.add_command(label="Quit", accelerator="Ctrl+Q", command=self.close)
        menu.add_cascade(label="Chat", menu=chat)
        helpmenu = tk.Menu(menu, tearoff=False)
        helpmenu.add_command(label="Commands", command=lambda: self._feedback(help_text()))
        menu.add_cascade(label="Help", menu=helpmenu)
        root.configure(menu=menu)
        root.bind("<Control-n>", lambda _e: self.show_connect())
        root.bind("<Control-w>", lambda _e: self.close_current())
        root.bind("<Control-q>", lambda _e: self.close())
        root.bind("<FocusIn>", lambda _e: self._attended())

        panes = ttk.PanedWindow(root, orient="horizontal")
        panes.pack(side="top", fill="both", expand=True)

        side = ttk.Frame(panes, style="Side.TFrame")
        tk.Label(side, text="CONVERSATIONS", bg="#2b303b", fg="#9aa3b5", anchor="w", padx=10).pack(
            fill="x", pady=(8, 2)
        )
        self.sidebar = tk.Listbox(
            side,
            activestyle="none",
            exportselection=False,
            borderwidth=0,
            highlightthickness=0,
            bg="#2b303b",
            fg="#dfe3ea",
            selectbackground="#4a6fa5",
            selectforeground="#ffffff",
            width=18,
            takefocus=False,
        )
        self.sidebar.pack(fill="both", expand=True, padx=(4, 0))
        # A click picks the conversation; the list never takes the keyboard (its
        # own bindings would turn the space bar into "select the first row").
        self.sidebar.bind("<Button-1>", self._on_sidebar_click)
        self.sidebar.bind("<B1-Motion>", lambda _e: "break")
        panes.add(side, weight=0)

        centre = ttk.Frame(panes)
        self.topic = ttk.Label(centre, style="Topic.TLabel", anchor="w", text="")
        self.topic.pack(side="top", fill="x")
        self.entry = ttk.Entry(centre)
        self.entry.pack(side="bottom", fill="x", padx=6, pady=6, ipady=3)
        # Above the input: what is being answered, and who is typing.
        self.reply_bar = ttk.Frame(centre)
        self.reply_label = ttk.Label(self.reply_bar, foreground="#4a5a70", anchor="w")
        self.reply_label.pack(side="left", fill="x", expand=True, padx=(8, 0))
        ttk.Button(self.reply_bar, text="\u2715", width=3, command=self.cancel_reply).pack(
            side="right", padx=6
        )
        self.typing_label = ttk.Label(
            centre, text="", foreground="#7b8088", anchor="w", font=("TkDefaultFont", 9)
        )
        self.typing_label.pack(side="bottom", fill="x", padx=10)
        self.line_menu = tk.Menu(root, tearoff=False)
        self.views = ttk.Frame(centre)
        self.views.pack(side="top", fill="both", expand=True)
        self.views.rowconfigure(0, weight=1)
        self.views.columnconfigure(0, weight=1)
        self.entry.bind("<Return>", self._on_enter)
        self.entry.bind("<KP_Enter>", self._on_enter)
        self.entry.bind("<Up>", self._on_up)
        self.entry.bind("<Down>", self._on_down)
        self.entry.bind("<Tab>", self._on_tab)
        self.entry.bind("<<Paste>>", self._on_paste)
        self.entry.bind("<KeyRelease>", self._on_typed, add=True)
        self.entry.bind("<Escape>", lambda _e: self.cancel_reply())
        self.entry.bind("<<Copy>>", self._on_copy)
        self.entry.bind("<Prior>", lambda _e: self._page(-1))
        self.entry.bind("<Next>", lambda _e: self._page(1))
        panes.add(centre, weight=1)

        right = ttk.Frame(panes)
        self.member_label = ttk.Label(right, text="", padding=(8, 6))
        self.member_label.pack(fill="x")
        self.member_list = tk.Listbox(
            right,
            activestyle="none",
            borderwidth=0,
            highlightthickness=0,
            width=16,
            takefocus=False,
        )
        self.member_list.configure(font="TkDefaultFont", selectbackground="#4a6fa5")
        self.member_list.pack(fill="both", expand=True, padx=(8, 4))
        self.member_list.bind("<Button-1>", self._on_member_click)
        self.member_list.bind("<B1-Motion>", lambda _e: "break")
        self.member_list.bind("<Double-Button-1>", self._on_member_double)
        panes.add(right, weight=0)

        self.status = StatusBar(root)
        self.status.pack(side="bottom", fill="x", before=panes)
        # HexChat's keys for moving between conversations, wherever the focus is.
        for widget in (root, self.entry):
            for number in range(1, 10):
                widget.bind(f"<Alt-Key-{number}>", functools.partial(self._select_nth, number - 1))
            for sequence, step in _SWITCH_KEYS.items():
                widget.bind(sequence, functools.partial(self._select_next, step))
        self.entry.focus_set()

    def _style_view(self, view: MessageView) -> None:
        view.style("time", foreground="#8a8f98")
        view.style("nick", font=("TkDefaultFont", 10, "bold"))
        view.style("own", background="#eef4fb")
        view.style("mention", background="#fff4c2")
        view.style("quiet", foreground="#7b8088", font=("TkDefaultFont", 9))
        view.style("action", font=("TkDefaultFont", 10, "italic"))
        view.style("notice", foreground="#8d5524")
        view.style("info", foreground="#4a5a70")
        view.style("error", foreground="#c62828")
        view.style("topic", foreground="#2e6b4f")
        view.style("history", foreground="#6b7280", background="#f4f5f7")
        view.style("heading", foreground="#8a8f98", justify="center", font=("TkDefaultFont", 9))
        view.style("quote", foreground="#6b7280", font=("TkDefaultFont", 9), lmargin1=24)
        view.style("bot", foreground="#ffffff", background="#7b8088", font=("TkDefaultFont", 8))
        view.style("redacted", foreground="#a0a4ab", overstrike=True)
        view.style("note", foreground="#8a8f98", font=("TkDefaultFont", 9), lmargin1=48)
        view.text.tag_raise("sel")

    # ------------------------------------------------------------ connection

    def connect(self, settings: Settings) -> None:
        """Connect to ``settings``, leaving any server connected before; they are
        remembered once that server welcomes us."""
        if self.client is not None:
            self._leave("Changing servers")
            for key in [k for k in self.order if k != SERVER_BUFFER]:
                self._close(self.conversations[key].name)
        self.settings = settings
        self.nick = settings.nick
        self._reached = threading.Event()
        self.client = ClientThread(settings, self._sink())
        self.client.start()
        self._drain.start()

    def _leave(self, reason: str) -> None:
        """End the connection, and forget what it still had for the window.

        Each connection has a queue of its own, so nothing the old one says
        (a last "Disconnected", its status) is drawn over the next one.
        """
        if self.client is not None:
            self.client.stop(reason)
            self.client = None
        self._drain.stop()
        self.updates = queue.Queue()
        self._drain = QueueDrain(self.root, self.updates, self.apply)

    def stop_trying(self) -> None:
        """Stop reconnecting (the status line's offer): the person chooses what comes next."""
        self._leave("")
        self._show_status(ConnState.STOPPED, self.settings.address, self.nick)
        self._feedback("Stopped trying. Chat → Connect to… (Ctrl+N) chooses a server.")

    def try_again(self) -> None:
        self.connect(self.settings)

    def _sink(self) -> Callable[[Update], None]:
        """What the network thread calls with each update: the queue, and the terminal log.

        It holds no reference to the window, so no Tk object can ever be freed
        by the network thread (Tcl aborts when that happens).
        """
        updates, log_lines, reached = self.updates, self.log_lines, self._reached

        def sink(update: Update) -> None:
            if isinstance(update, Status) and update.state is ConnState.CONNECTED:
                reached.set()
            updates.put(update)
            if log_lines:
                log_update(update)

        return sink

    def _remember(self) -> None:
        """Save the settings for the next start, once their server has welcomed us.

        Called whenever they change (a channel joined or left, a login), not
        only on closing: a window ended by a signal or a logout keeps them too.
        """
        if self.config_file is None or not self._reached.is_set():
            return
        channels = tuple(c.name for c in self.conversations.values() if is_channel(c.name))
        remembered = replace(
            self.settings, nick=self.nick, password="", channels=channels or self.settings.channels
        )
        try:
            save_settings(self.config_file, remembered)
        except OSError as exc:
            self._feedback(f"Could not save settings to {self.config_file}: {exc}", error=True)

    def submit(self, intent: Intent) -> None:
        if self.client is not None:
            self.client.submit(intent)

    # --------------------------------------------------------------- updates

    def apply(self, update: Update) -> None:
        """Draw one update."""
        match update:
            case Line():
                self._draw_line(update)
            case HistoryBlock():
                self._draw_history(update)
            case BufferOpened(name, focus):
                self._open(name)
                if focus:
                    self._select(name)
                if is_channel(name):
                    self._remember()
            case BufferClosed(name):
                self._close(name)
                if is_channel(name):
                    self._remember()
            case BufferRenamed(old, new):
                self._rename(old, new)
            case BufferState(name, unread, mention):
                conversation = self.conversations.get(casefold(name))
                if conversation is not None:
                    conversation.unread, conversation.mention = unread, mention
                    self._refresh_sidebar()
            case Topic(name, text):
                conversation = self.conversations.get(casefold(name))
                if conversation is not None:
                    conversation.topic = text
                    self._refresh_header()
            case Members(name, names):
                conversation = self.conversations.get(casefold(name))
                if conversation is not None:
                    conversation.members = names
                    self._refresh_header()
            case Status(state, server, nick):
                self.nick = nick
                if state is not ConnState.CONNECTED:
                    self.account = ""
                self._show_status(state, server, nick)
                if state is ConnState.CONNECTED:
                    self._remember()
            case LoggedIn(account):
                self._logged_in(account)
            case CertificateProblem():
                self._certificate_problem(update)
            case Typing(name, nick, state):
                self._typing(name, nick, state)
            case Redacted(name, msgid, by, reason):
                self._redacted(name, msgid, by, reason)
            case Reaction():
                self._reaction(update)
            case Profile(nick):
                self._profile(update)

    def _logged_in(self, account: str) -> None:
        """Logged in; a registration that worked is a login from now on."""
        self.account = account
        self._show_status(self._status.state, self._status.server, self._status.nick)
        if self.settings.account_action is AccountAction.REGISTER:
            self.settings = replace(self.settings, account_action=AccountAction.LOGIN)
            self._remember()

    def _certificate_problem(self, problem: CertificateProblem) -> None:
        """Offer to trust an untrusted certificate; a changed one is only refused."""
        if problem.pinned:
            self.status.show("Refused: the server's certificate has changed", "#c62828")
            return
        self.status.show("Not connected: the server's certificate is not trusted", "#c62828")
        self.trust_dialog = TrustDialog(self.root, problem)
        trusted = self.trust_dialog.show()
        self.trust_dialog = None
        if trusted and problem.address == self.settings.address:
            self.connect(self.settings.trusting(problem.fingerprint))

    def _show_status(self, state: ConnState, server: str, nick: str) -> None:
        """The status line, with what the person can do about it; the title; the
        server conversation's header, which names the server being tried."""
        self._status = Status(state, server, nick)
        words = {
            ConnState.CONNECTED: f"Connected to {server} as {nick}"
            + (f", logged in as {self.account}" if self.account else ""),
            ConnState.CONNECTING: f"Connecting to {server} as {nick}…",
            ConnState.DISCONNECTED: f"Disconnected from {server}; trying again",
            ConnState.STOPPED: f"Not connected to {server}",
        }
        change = ("Change server…", self.show_connect)
        retrying = [("Stop trying", self.stop_trying), change]
        offers = {
            ConnState.CONNECTED: [],
            ConnState.CONNECTING: retrying,
            ConnState.DISCONNECTED: retrying,
            ConnState.STOPPED: [("Try again", self.try_again), change],
        }
        self.status.show(words[state], _STATUS_COLOURS[state], offers[state])
        self._show_title()
        self._refresh_sidebar()
        self._refresh_header()

    def _show_title(self) -> None:
        """``tcpchat: alice on host:port``, after the number of calls not yet seen."""
        calls = f"({self.highlights}) " if self.highlights else ""
        self.root.title(f"{calls}tcpchat: {self._status.nick} on {self._status.server}")

    # ------------------------------------------------------------- attention

    def _call_attention(self) -> None:
        """Someone said our nick, or wrote to us, while the window is not in front."""
        self.highlights += 1
        self._show_title()
        if self.settings.bell:
            self.root.bell()
        request_attention(self.root, True)

    def _attended(self) -> None:
        """The window is in front again: what called for attention has been seen."""
        if self.highlights and self.root.focus_displayof() is not None:
            self.highlights = 0
            self._show_title()
            request_attention(self.root, False)

    def _bell_toggled(self) -> None:
        self.settings = replace(self.settings, bell=self.bell.get())
        self._remember()

    # --------------------------------------------------------- conversations

    def _label(self, name: str) -> str:
        return name or self._status.server.rpartition(":")[0]

    def _open(self, name: str) -> _Conversation:
        key = casefold(name)
        conversation = self.conversations.get(key)
        if conversation is None:
            view = MessageView(self.views, self.safety)
            self._style_view(view)
            view.grid(row=0, column=0, sticky="nsew")
            # Selecting text to copy is a click and a drag; then typing goes on in the input.
            view.text.bind("<ButtonRelease-1>", lambda _e: self.entry.focus_set(), add=True)
            conversation = _Conversation(name, view)
            view.on_top = lambda: self.submit(LoadOlder(conversation.name))
            view.text.bind("<Button-3>", lambda e: self._line_menu(conversation, e))
            self.conversations[key] = conversation
            self.order.append(key)
            self._refresh_sidebar()
            self._raise(self.current)
        return conversation

    def _close(self, name: str) -> None:
        key = casefold(name)
        conversation = self.conversations.pop(key, None)
        if conversation is None:
            return
        self.order.remove(key)
        conversation.view.destroy()
        if casefold(self.current) == key:
            self._select(SERVER_BUFFER)
        else:
            self._refresh_sidebar()

    def _rename(self, old: str, new: str) -> None:
        conversation = self.conversations.pop(casefold(old), None)
        if conversation is None:
            return
        conversation.name = new
        self.conversations[casefold(new)] = conversation
        self.order[self.order.index(casefold(old))] = casefold(new)
        if casefold(self.current) == casefold(old):
            self.current = new
        self._refresh_sidebar()

    def _select(self, name: str) -> None:
        conversation = self.conversations.get(casefold(name))
        if conversation is None:
            return
        self.current = conversation.name
        conversation.unread, conversation.mention = 0, False
        conversation.view.follow()
        self._raise(conversation.name)
        self._refresh_sidebar()
        self._refresh_header()
        self._refresh_typing()
        if self.replying is not None and casefold(self.replying[0]) != casefold(conversation.name):
            self.cancel_reply()
        self.submit(Focus(conversation.name))
        self.entry.focus_set()

    def _raise(self, name: str) -> None:
        conversation = self.conversations.get(casefold(name))
        if conversation is not None:
            conversation.view.tkraise()

    def _refresh_sidebar(self) -> None:
        self.sidebar.delete(0, "end")
        for i, key in enumerate(self.order):
            c = self.conversations[key]
            text = f" {self.safety.clean(self._label(c.name))}"
            if c.unread:
                text += f"  ({c.unread})"
            if c.mention:
                text += "  @"
            self.sidebar.insert("end", text)
            colour = "#ffb86c" if c.mention else "#ffffff" if c.unread else "#dfe3ea"
            self.sidebar.itemconfigure(i, foreground=colour)
            if key == casefold(self.current):
                self.sidebar.selection_clear(0, "end")
                self.sidebar.selection_set(i)

    def _refresh_header(self) -> None:
        conversation = self.conversations.get(casefold(self.current))
        if conversation is None:
            return
        if is_channel(conversation.name):
            topic = conversation.topic or "(no topic)"
            self.topic.configure(text=self.safety.clean(f"{conversation.name}: {topic}"))
        elif conversation.name:
            self.topic.configure(text=f"Private chat with {conversation.name}")
        else:
            self.topic.configure(text=f"Server {self._status.server}")
        self.member_list.delete(0, "end")
        for name in conversation.members:
            self.member_list.insert("end", self.safety.clean(name))
        count = len(conversation.members)
        self.member_label.configure(
            text=f"{count} member{'s' if count != 1 else ''}" if count else ""
        )

    # ----------------------------------------------------------------- lines

    def _conversation(self, name: str) -> _Conversation:
        return self.conversations.get(casefold(name)) or self._open(name)

    def _draw_line(self, line: Line) -> None:
        conversation = self._conversation(line.buffer)
        conversation.view.add_line(*self._runs(conversation, line))
        if line.mention and self.root.focus_displayof() is None:
            self._call_attention()
        if line.kind in (LineKind.MESSAGE, LineKind.ACTION, LineKind.NOTICE):
            self._keep(conversation, line)
            # A message from someone ends their typing (IRCv3 typing).
            if conversation.typing.pop(casefold(line.nick), None) is not None:
                self._refresh_typing()

    def _keep(self, conversation: _Conversation, line: Line) -> None:
        if line.msgid:
            conversation.messages[line.msgid] = line
            if len(conversation.messages) > MAX_KEPT_MESSAGES:
                del conversation.messages[next(iter(conversation.messages))]

    def _draw_history(self, block: HistoryBlock) -> None:
        """History lines in the quieter style: below a heading, or above everything (older)."""
        conversation = self._conversation(block.buffer)
        for line in block.lines:
            self._keep(conversation, line)
        drawn = [self._runs(conversation, line) for line in block.lines]
        if block.kind is HistoryKind.OLDER:
            if block.complete:
                drawn.insert(0, _heading("Beginning of the conversation"))
            conversation.view.prepend_lines(drawn)
            return
        conversation.view.add_line(*_heading(_HISTORY_HEADINGS[block.kind]))
        for runs, tags in drawn:
            conversation.view.add_line(runs, tags)

    def _runs(self, conversation: _Conversation, line: Line) -> tuple[Runs, tuple[str, ...]]:
        """How ``line`` is drawn: its styled runs, and the tags of the whole line."""
        stamp = line.time.astimezone().strftime("%H:%M")
        runs: list[tuple[str, tuple[str, ...]]] = [(f"{stamp}  ", ("time",))]
        line_tags: tuple[str, ...] = ()
        if line.kind in (LineKind.MESSAGE, LineKind.ACTION, LineKind.NOTICE):
            nick_tag = self._nick_tag(conversation, line.nick)
            shown = self._shown_nick(line.nick)
            if line.reply_to:
                runs.insert(0, (self._quote(conversation, line.reply_to), ("quote",)))
            badge: Runs = [(" bot ", ("bot",)), (" ", ())] if line.bot else []
            if line.kind is LineKind.MESSAGE:
                runs += [(shown, ("nick", nick_tag)), ("  ", ()), *badge, (line.text, ())]
            elif line.kind is LineKind.ACTION:
                runs += [
                    (f"\u2022 {shown} ", ("action", "nick", nick_tag)),
                    *badge,
                    (line.text, ("action",)),
                ]
            else:
                runs += [(f"-{shown}- ", ("notice", "nick")), *badge, (line.text, ("notice",))]
            line_tags = ("own",) if line.own else ("mention",) if line.mention else ()
            if line.msgid:
                line_tags = (*line_tags, _msg_tag(line.msgid))
        elif line.kind.quiet:
            runs += [(f"{_QUIET_MARKS[line.kind]} {line.text}", ("quiet",))]
        else:
            tag = {LineKind.ERROR: "error", LineKind.TOPIC: "topic", LineKind.KICK: "error"}
            runs += [(line.text, (tag.get(line.kind, "info"),))]
        if line.history:
            line_tags = (*line_tags, "history")
        return runs, line_tags

    def _nick_tag(self, conversation: _Conversation, nick: str) -> str:
        tag = f"nick-{casefold(nick)}"
        if tag not in conversation.nick_tags:
            conversation.view.style(tag, foreground=self._colour(nick))
            conversation.nick_tags.add(tag)
        return tag

    def _colour(self, nick: str) -> str:
        """The colour someone chose (IRCv3 metadata), or the one their nick gives."""
        profile = self.profiles.get(casefold(nick))
        return profile.colour if profile is not None and profile.colour else nick_colour(nick)

    def _shown_nick(self, nick: str) -> str:
        """A nick with the display name its owner chose, when they chose one."""
        profile = self.profiles.get(casefold(nick))
        name = profile.display_name if profile is not None else ""
        return f"{name} ({nick})" if name and casefold(name) != casefold(nick) else nick

    def _quote(self, conversation: _Conversation, msgid: str) -> str:
        """The line above a reply: who said what it answers (+reply)."""
        quoted = conversation.messages.get(msgid)
        if quoted is None:
            return "\u21aa in reply to an earlier message\n"
        text = quoted.text.replace("\n", " ")
        text = text if len(text) <= 60 else text[:59] + "\u2026"
        return f"\u21aa {self._shown_nick(quoted.nick)}: {text}\n"

    def _feedback(self, text: str, error: bool = False) -> None:
        """A line of the window's own in the conversation in view (help, mistakes)."""
        kind = LineKind.ERROR if error else LineKind.INFO
        for part in text.splitlines():
            self._draw_line(Line(self.current, kind, part, datetime.now(UTC)))

    # ------------------------------------------------------------------ input

    def _on_enter(self, _event: object = None) -> str:
        text = self.entry.get()
        self.entry.delete(0, "end")
        self.history.add(text)
        if text.strip():  # what the person types, and its answer, come into view
            self.conversations[casefold(self.current)].view.follow()
        self.send_text(text)
        return "break"

    def send_text(self, text: str) -> None:
        """Act on one typed line: a message for the conversation in view, or a command."""
        result = parse_input(text, self.current)
        if result is None:
            return
        if isinstance(result, Feedback):
            self._feedback(result.text, result.error)
        elif isinstance(result, Quit):
            self.close(result.reason)
        else:
            if isinstance(result, Say) and self.replying is not None:
                where, line = self.replying
                if casefold(where) == casefold(result.target):
                    result = replace(result, reply_to=line.msgid)
                    self.cancel_reply()
            self.submit(result)

    def _on_up(self, _event: object) -> str:
        self._set_entry(self.history.older(self.entry.get()))
        return "break"

    def _on_down(self, _event: object) -> str:
        self._set_entry(self.history.newer())
        return "break"

    def _set_entry(self, text: str) -> None:
        self.entry.delete(0, "end")
        self.entry.insert(0, text)
        self.entry.icursor("end")

    def _on_tab(self, _event: object) -> str:
        conversation = self.conversations.get(casefold(self.current))
        names = [m.lstrip("~&@%+") for m in conversation.members] if conversation else []
        if conversation is not None and not is_channel(conversation.name) and conversation.name:
            names.append(conversation.name)
        done = self.completer.complete(self.entry.get(), self.entry.index("insert"), names)
        if done is not None:
            self._set_entry(done[0])
            self.entry.icursor(done[1])
        return "break"

    def _on_paste(self, _event: object) -> str | None:
        try:
            pasted = self.root.clipboard_get()
        except tk.TclError:
            return None
        lines = [line for line in pasted.splitlines() if line.strip()]
        if len(lines) < PASTE_ASK_LINES:
            return None  # Tk pastes one line as usual
        self.paste_lines(lines)
        return "break"

    def paste_lines(self, lines: list[str], ask: Callable[[str, str], bool] | None = None) -> None:
        """Send pasted lines to the conversation in view, after asking the person."""
        if self.current == SERVER_BUFFER:
            self._feedback("Pasted text cannot be sent to the server window.", error=True)
            return
        question = f"Send these {len(lines)} lines to {self.current}?\n\n" + "\n".join(lines[:5])
        if len(lines) > 5:
            question += "\n…"
        asker = ask or (lambda title, text: ask_yes_no(self.root, title, text))
        if asker("Paste several lines", question):
            self.submit(Say(self.current, "\n".join(lines)))
        self.entry.focus_set()

    def _on_sidebar_click(self, event: tk.Event[tk.Listbox]) -> str:
        row: int = self.sidebar.nearest(event.y)  # type: ignore[no-untyped-call]
        if 0 <= row < len(self.order):
            self._select(self.conversations[self.order[row]].name)
        return "break"

    def _on_member_click(self, event: tk.Event[tk.Listbox]) -> str:
        row: int = self.member_list.nearest(event.y)  # type: ignore[no-untyped-call]
        self.member_list.selection_clear(0, "end")
        if row >= 0:
            self.member_list.selection_set(row)
        return "break"

    def _select_nth(self, index: int, _event: object = None) -> str:
        """Alt+1…9: the conversation at that place in the sidebar."""
        if index < len(self.order):
            self._select(self.conversations[self.order[index]].name)
        return "break"

    def _select_next(self, step: int, _event: object = None) -> str:
        """The conversation ``step`` rows below (above, when negative) in the sidebar, round."""
        index = self.order.index(casefold(self.current))
        self._select(self.conversations[self.order[(index + step) % len(self.order)]].name)
        return "break"

    def _page(self, pages: int) -> str:
        """Page Up and Page Down in the input scroll the conversation in view."""
        self.conversations[casefold(self.current)].view.page(pages)
        return "break"

    def _on_copy(self, _event: object) -> str | None:
        """Ctrl+C in the input copies the input's selection, else the conversation's."""
        if self.entry.selection_present():
            return None  # Tk copies it as usual
        self.conversations[casefold(self.current)].view.copy_selection()
        return "break"

    def _on_member_double(self, _event: object) -> None:
        row = selected_index(self.member_list)
        conversation = self.conversations.get(casefold(self.current))
        if row is not None and conversation is not None:
            nick = conversation.members[row].lstrip("~&@%+")
            self.submit(OpenQuery(nick))

    # ------------------------------------------------ replies, reactions, deleting

    def _line_menu(self, conversation: _Conversation, event: tk.Event) -> str:
        """Right-click on a message: reply to it, react to it, delete it (if ours)."""
        tags = conversation.view.tags_at(event.x, event.y)
        msgid = next((t[4:] for t in tags if t.startswith("msg-")), "")
        line = conversation.messages.get(msgid)
        if line is None:
            return "break"
        self.show_line_menu(conversation.name, line, event.x_root, event.y_root)
        return "break"

    def line_actions(self, name: str, line: Line) -> dict[str, Callable[[], None]]:
        """What may be done with ``line`` of conversation ``name``, by menu label."""
        actions: dict[str, Callable[[], None]] = {"Reply": lambda: self.start_reply(name, line)}
        for emoji in REACTIONS:
            actions[f"React {emoji}"] = functools.partial(
                self.submit, React(name, line.msgid, emoji)
            )
        if line.own:
            actions["Delete\u2026"] = lambda: self.delete_line(name, line)
        return actions

    def show_line_menu(self, name: str, line: Line, x: int, y: int) -> None:
        menu = self.line_menu
        menu.delete(0, "end")
        for label, action in self.line_actions(name, line).items():
            menu.add_command(label=self.safety.clean(label), command=action)
        menu.tk_popup(x, y)

    def start_reply(self, name: str, line: Line) -> None:
        """The next message sent here answers ``line`` (IRCv3 +reply)."""
        self.replying = (name, line)
        text = line.text.replace("\n", " ")
        text = text if len(text) <= 70 else text[:69] + "\u2026"
        shown = self._shown_nick(line.nick)
        self.reply_label.configure(text=self.safety.clean(f"Replying to {shown}: {text}"))
        self.reply_bar.pack(side="bottom", fill="x", before=self.typing_label)
        self.entry.focus_set()

    def cancel_reply(self) -> None:
        self.replying = None
        self.reply_bar.pack_forget()

    def delete_line(
        self, name: str, line: Line, ask: Callable[[str, str], bool] | None = None
    ) -> None:
        """Delete a message of ours, for everyone, after asking (message-redaction)."""
        asker = ask or (lambda title, text: ask_yes_no(self.root, title, text))
        text = line.text if len(line.text) <= 200 else line.text[:199] + "\u2026"
        if asker("Delete message", f"Delete this message for everyone?\n\n{text}"):
            self.submit(Delete(name, line.msgid))
        self.entry.focus_set()

    def _redacted(self, name: str, msgid: str, by: str, reason: str) -> None:
        """A deleted message stays where it was, greyed and struck through."""
        conversation = self.conversations.get(casefold(name))
        if conversation is None or not conversation.view.restyle(_msg_tag(msgid), "redacted"):
            return
        line = conversation.messages.get(msgid)
        who = "" if line is not None and casefold(line.nick) == casefold(by) else f" by {by}"
        note = f"deleted{who}" + (f": {reason}" if reason else "")
        conversation.view.annotate(_msg_tag(msgid), f"deleted-{msgid}", [(note, ("note",))], ())

    def _reaction(self, reaction: Reaction) -> None:
        """Reactions show below the line they answer, counted by emoji."""
        conversation = self.conversations.get(casefold(reaction.buffer))
        if conversation is None or reaction.msgid not in conversation.messages:
            return
        counts = conversation.reactions.setdefault(reaction.msgid, {})
        nicks = counts.setdefault(reaction.emoji, set())
        (nicks.discard if reaction.removed else nicks.add)(casefold(reaction.nick))
        if not nicks:
            del counts[reaction.emoji]
        text = "   ".join(f"{emoji} {len(who)}" for emoji, who in counts.items())
        runs: Runs = [(text, ("note",))] if text else []
        conversation.view.annotate(_msg_tag(reaction.msgid), f"react-{reaction.msgid}", runs, ())

    def _profile(self, profile: Profile) -> None:
        """A display name or colour changed: new lines show it, nicks take the colour."""
        self.profiles[casefold(profile.nick)] = profile
        tag = f"nick-{casefold(profile.nick)}"
        for conversation in self.conversations.values():
            if tag in conversation.nick_tags:
                conversation.view.style(tag, foreground=self._colour(profile.nick))

    # ----------------------------------------------------------------- typing

    def _typing(self, name: str, nick: str, state: str) -> None:
        conversation = self.conversations.get(casefold(name))
        if conversation is None:
            return
        shown_for = TYPING_SHOWN.get(state)
        if shown_for is None:
            conversation.typing.pop(casefold(nick), None)
        else:
            conversation.typing[casefold(nick)] = datetime.now(UTC) + shown_for
        self._refresh_typing()

    def typing_text(self, name: str) -> str:
        """Who is typing in conversation ``name``, in words ("" for nobody)."""
        conversation = self.conversations.get(casefold(name))
        if conversation is None:
            return ""
        now = datetime.now(UTC)
        for nick in [n for n, until in conversation.typing.items() if until <= now]:
            del conversation.typing[nick]
        names = [self._shown_nick(nick) for nick in sorted(conversation.typing)]
        if not names:
            return ""
        if len(names) == 1:
            return f"{names[0]} is typing\u2026"
        if len(names) <= 3:
            return f"{', '.join(names[:-1])} and {names[-1]} are typing\u2026"
        return "Several people are typing\u2026"

    def _refresh_typing(self) -> None:
        """Show who is typing here; look again in a second while anyone is."""
        self.typing_label.configure(text=self.safety.clean(self.typing_text(self.current)))
        if self._typing_timer is not None:
            self.root.after_cancel(self._typing_timer)
            self._typing_timer = None
        if any(c.typing for c in self.conversations.values()):
            self._typing_timer = self.root.after(1000, self._refresh_typing)

    def _on_typed(self, _event: object = None) -> None:
        """Tell the conversation in view that we are typing (a setting), or stopped."""
        if not self.send_typing.get() or self.current == SERVER_BUFFER:
            return
        text = self.entry.get()
        if text and not text.startswith("/"):
            self.submit(TypingNow(self.current))
        elif not text:
            self.submit(TypingNow(self.current, "done"))

    def _typing_setting_changed(self) -> None:
        self.settings = replace(self.settings, send_typing=self.send_typing.get())
        self._remember()

    # ---------------------------------------------------------------- dialogs

    def show_connect(self) -> None:
        """The connect dialog; on OK, connect there. Focus returns to the input line."""
        dialog = ConnectDialog(self.root, self.settings, self.safety, keychain.available())
        result = dialog.show()
        self.entry.focus_set()
        if result is None:
            return
        if result.credentials() is not None and dialog.remember.get():
            saved = keychain.save_password(result.address, result.account, result.account_password)
            if not saved:
                self._feedback("No keyring answered: the password will be asked for next time.")
        self.connect(result)

    def close_current(self) -> None:
        if self.current != SERVER_BUFFER:
            self.send_text("/close")

    # ------------------------------------------------------------- lifecycle

    def close(self, reason: str = "") -> None:
        """Leave politely (QUIT), remember the settings, and close the window."""
        self._remember()
        self._leave(reason or "Leaving")
        self._drain.stop()
        if self._typing_timer is not None:
            self.root.after_cancel(self._typing_timer)
        self.root.destroy()

    def report_callback_exception(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        """An error in a Tk callback: tell the person and the log, and carry on."""
        log.error("error in the window: %s", "".join(traceback.format_exception(kind, value, tb)))
        try:
            self._feedback(
                f"Something went wrong inside tcpchat: {value!r}. Details are in the log.", True
            )
        except tk.TclError:
            messagebox.showerror("tcpchat", f"Something went wrong: {value!r}")
