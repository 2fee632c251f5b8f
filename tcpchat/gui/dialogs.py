"""Small dialogs: the connect form, the first nick prompt, a yes/no question.

The checks a form makes are plain functions (:func:`check_connect_form`), so
they are tested without a display, as IDLE's query dialogs are. Every
dialog is modal and returns focus to whoever opened it.
"""

from __future__ import annotations

import tkinter as tk
from dataclasses import replace
from tkinter import messagebox, ttk

from tcpchat.client.settings import SAFE_NICKLEN, Settings
from tcpchat.gui.widgets import TextSafety
from tcpchat.irc import valid_nick

__all__ = ["ConnectDialog", "ask_yes_no", "check_connect_form"]

# A generous limit for the form: servers advertise their own NICKLEN (often 30).
_FORM_NICKLEN = 30


def check_connect_form(
    host: str, port: str, nick: str, password: str, base: Settings
) -> Settings | str:
    """The settings the form describes, or what is wrong with it, in words."""
    host, port, nick = host.strip(), port.strip(), nick.strip()
    if not host:
        return "Enter the server's name or address, e.g. 127.0.0.1."
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "The port is a number from 1 to 65535 (tcpchat uses 9000, IRC 6667)."
    if not valid_nick(nick, _FORM_NICKLEN):
        return (
            "A nickname starts with a letter and has letters, digits, - or _, "
            f"no spaces (at most {SAFE_NICKLEN} characters are safe everywhere)."
        )
    return replace(base, host=host, port=int(port), nick=nick, password=password)


class ConnectDialog:
    """Server, port, nickname and an optional password; returns Settings or None."""

    def __init__(self, master: tk.Tk, settings: Settings, safety: TextSafety) -> None:
        self.master = master
        self.settings = settings
        self.result: Settings | None = None
        self.top = tk.Toplevel(master)
        self.top.title("Connect to a server")
        self.top.transient(master)
        self.top.resizable(False, False)
        frame = ttk.Frame(self.top, padding=14)
        frame.pack(fill="both", expand=True)
        self.fields: dict[str, ttk.Entry] = {}
        rows = [
            ("Server", settings.host, ""),
            ("Port", str(settings.port), ""),
            ("Nickname", settings.nick, ""),
            ("Password (optional, not saved)", settings.password, "\u2022"),
        ]
        for i, (label, value, show) in enumerate(rows):
            ttk.Label(frame, text=label).grid(row=i, column=0, sticky="w", pady=3)
            entry = ttk.Entry(frame, width=28, show=show)
            entry.insert(0, safety.clean(value))
            entry.grid(row=i, column=1, sticky="ew", padx=(10, 0), pady=3)
            self.fields[label.split()[0].lower()] = entry
        self.error = ttk.Label(frame, text="", foreground="#c62828", wraplength=340)
        self.error.grid(row=len(rows), column=0, columnspan=2, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=len(rows) + 1, column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="right")
        ttk.Button(buttons, text="Connect", command=self.ok).pack(side="right", padx=(0, 6))
        self.top.bind("<Return>", lambda _e: self.ok())
        self.top.bind("<Escape>", lambda _e: self.cancel())
        self.top.protocol("WM_DELETE_WINDOW", self.cancel)

    def ok(self) -> None:
        checked = check_connect_form(
            self.fields["server"].get(),
            self.fields["port"].get(),
            self.fields["nickname"].get(),
            self.fields["password"].get(),
            self.settings,
        )
        if isinstance(checked, str):
            self.error.configure(text=checked)
            return
        self.result = checked
        self.top.destroy()

    def cancel(self) -> None:
        self.result = None
        self.top.destroy()

    def show(self) -> Settings | None:
        """Wait until the dialog closes; the settings chosen, or None if cancelled."""
        self.top.wait_visibility()
        self.top.grab_set()
        self.fields["nickname"].focus_set()
        self.master.wait_window(self.top)
        return self.result


def ask_nick(master: tk.Tk, suggested: str) -> str | None:
    """The nickname to use on this first run, asked with a suggestion filled in."""
    top = tk.Toplevel(master)
    top.title("Welcome to tcpchat")
    top.resizable(False, False)
    frame = ttk.Frame(top, padding=16)
    frame.pack(fill="both", expand=True)
    ttk.Label(frame, text="Choose a nickname, the name others will see:").pack(anchor="w")
    entry = ttk.Entry(frame, width=30)
    entry.insert(0, suggested)
    entry.select_range(0, "end")
    entry.pack(fill="x", pady=8)
    error = ttk.Label(frame, text="", foreground="#c62828", wraplength=300)
    error.pack(anchor="w")
    result: list[str] = []

    def ok(_event: object = None) -> None:
        nick = entry.get().strip()
        if not valid_nick(nick, _FORM_NICKLEN):
            error.configure(text="Letters, digits, - and _ only, starting with a letter.")
            return
        result.append(nick)
        top.destroy()

    ttk.Button(frame, text="Start chatting", command=ok).pack(anchor="e")
    top.bind("<Return>", ok)
    top.bind("<Escape>", lambda _e: top.destroy())
    top.wait_visibility()
    top.grab_set()
    entry.focus_set()
    master.wait_window(top)
    return result[0] if result else None


def ask_yes_no(master: tk.Misc, title: str, question: str) -> bool:
    return bool(messagebox.askyesno(title, question, parent=master))
