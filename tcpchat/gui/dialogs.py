"""Small dialogs: the connect form, trusting a certificate, the first nick prompt,
questions, and the console's short forms (a reason, a channel and a reason, a topic).

The checks a form makes are plain functions (:func:`check_connect_form`), so
they are tested without a display, as IDLE's query dialogs are. Every
dialog is modal and returns focus to whoever opened it.
"""

from __future__ import annotations

import tkinter as tk
from dataclasses import dataclass, replace
from tkinter import filedialog, messagebox, simpledialog, ttk
from typing import Final

from tcpchat.client.accounts import AccountAction
from tcpchat.client.settings import DEFAULT_PORT, DEFAULT_TLS_PORT, SAFE_NICKLEN, Settings
from tcpchat.client.trust import check_client_certificate, readable_fingerprint
from tcpchat.client.updates import CertificateProblem
from tcpchat.gui.widgets import TextSafety
from tcpchat.irc import valid_nick

__all__ = [
    "ConnectDialog",
    "ConnectForm",
    "FormDialog",
    "FormField",
    "TrustDialog",
    "ask_password",
    "ask_yes_no",
    "check_connect_form",
]

BULLET: Final = "\u2022"
"""Shown instead of each character of a password."""
_ACTION_LABELS: Final = {
    AccountAction.NONE: "none",
    AccountAction.LOGIN: "log in",
    AccountAction.REGISTER: "register",
}

# A generous limit for the form: servers advertise their own NICKLEN (often 30).
_FORM_NICKLEN: Final = 30


def _window(master: tk.Tk, title: str, transient: bool = True) -> tuple[tk.Toplevel, ttk.Frame]:
    """A dialog's window, fixed in size, and the padded frame its widgets go in.

    The first-run nick question is not transient: the main window is not shown yet.
    """
    top = tk.Toplevel(master)
    top.title(title)
    if transient:
        top.transient(master)
    top.resizable(False, False)
    frame = ttk.Frame(top, padding=16)
    frame.pack(fill="both", expand=True)
    return top, frame


@dataclass(frozen=True, slots=True)
class ConnectForm:
    """What the connect dialog's fields hold, as typed."""

    host: str
    port: str
    nick: str
    password: str = ""
    tls: bool = False
    action: AccountAction = AccountAction.NONE
    account: str = ""
    account_password: str = ""
    client_cert: str = ""


def check_connect_form(form: ConnectForm, base: Settings) -> Settings | str:
    """The settings the form describes, or what is wrong with it, in words."""
    host, port, nick = form.host.strip(), form.port.strip(), form.nick.strip()
    account = form.account.strip()
    if not host:
        return "Enter the server's name or address, e.g. 127.0.0.1."
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "The port is a number from 1 to 65535 (tcpchat uses 9000, IRC 6667, TLS 6697)."
    if not valid_nick(nick, _FORM_NICKLEN):
        return (
            "A nickname starts with a letter and has letters, digits, - or _, "
            f"no spaces (at most {SAFE_NICKLEN} characters are safe everywhere)."
        )
    if form.action is not AccountAction.NONE:
        if not valid_nick(account, _FORM_NICKLEN):
            return "An account name is like a nickname: letters, digits, - and _, no spaces."
        if not form.account_password:
            return "Enter the account's password."
    cert = form.client_cert.strip()
    # A key in a file of its own (given with --key) stays with the certificate it belongs to.
    key = base.client_key if cert == base.client_cert else ""
    if form.tls and cert:
        problem = check_client_certificate(cert, key)
        if problem is not None:
            return problem
    return replace(
        base,
        host=host,
        port=int(port),
        nick=nick,
        password=form.password,
        tls=form.tls,
        account=account,
        account_action=form.action,
        account_password=form.account_password,
        client_cert=cert,
        client_key=key if cert else "",
    )


class ConnectDialog:
    """Server, TLS (and a client certificate), nickname, passwords and an account;
    returns Settings or None.

    ``remember`` tells, after OK, whether the person wants the account password
    kept in the OS keyring (offered only when one is available).
    """

    def __init__(
        self, master: tk.Tk, settings: Settings, safety: TextSafety, can_remember: bool = False
    ) -> None:
        self.master = master
        self.settings = settings
        self.result: Settings | None = None
        self.top, frame = _window(master, "Connect to a server")
        self.fields: dict[str, ttk.Entry] = {}
        self.tls = tk.BooleanVar(self.top, settings.tls)
        self.action = tk.StringVar(self.top, settings.account_action.value)
        self.remember = tk.BooleanVar(self.top, can_remember)
        row = self._entries(frame, 0, safety, [("server", "Server", settings.host, "")])
        row = self._entries(frame, row, safety, [("port", "Port", str(settings.port), "")])
        self.tls_check = ttk.Checkbutton(
            frame, text="TLS (encrypted; port 6697)", variable=self.tls, command=self._tls_toggled
        )
        self.tls_check.grid(row=row, column=1, sticky="w", padx=(10, 0))
        self._certificate_row(frame, row + 1, safety)
        row = self._entries(
            frame,
            row + 2,
            safety,
            [
                ("nickname", "Nickname", settings.nick, ""),
                ("password", "Server password (optional, not saved)", settings.password, BULLET),
            ],
        )
        ttk.Separator(frame).grid(row=row, column=0, columnspan=2, sticky="ew", pady=8)
        choices = ttk.Frame(frame)
        choices.grid(row=row + 1, column=0, columnspan=2, sticky="w")
        ttk.Label(choices, text="Account:").pack(side="left")
        for action, label in _ACTION_LABELS.items():
            ttk.Radiobutton(choices, text=label, value=action.value, variable=self.action).pack(
                side="left", padx=(8, 0)
            )
        row = self._entries(
            frame,
            row + 2,
            safety,
            [
                ("account", "Account name", settings.account or settings.nick, ""),
                ("account_password", "Account password", settings.account_password, BULLET),
            ],
        )
        self.remember_check = keep = ttk.Checkbutton(
            frame,
            text="Remember the password in the system keyring"
            if can_remember
            else "Install the keyring package to remember the password",
            variable=self.remember,
        )
        if not can_remember:
            keep.state(["disabled"])
        keep.grid(row=row, column=1, sticky="w", padx=(10, 0))
        self.error = ttk.Label(frame, text="", foreground="#c62828", wraplength=360)
        self.error.grid(row=row + 1, column=0, columnspan=2, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=row + 2, column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="right")
        self.connect_button = ttk.Button(buttons, text="Connect", command=self.ok)
        self.connect_button.pack(side="right", padx=(0, 6))
        self.top.bind("<Return>", lambda _e: self.ok())
        self.top.bind("<Escape>", lambda _e: self.cancel())
        self.top.protocol("WM_DELETE_WINDOW", self.cancel)

    def _entries(
        self,
        frame: ttk.Frame,
        row: int,
        safety: TextSafety,
        rows: list[tuple[str, str, str, str]],
    ) -> int:
        """Labelled entries from ``row`` on; the next free row."""
        for key, label, value, show in rows:
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=3)
            entry = ttk.Entry(frame, width=28, show=show)
            entry.insert(0, safety.clean(value))
            entry.grid(row=row, column=1, sticky="ew", padx=(10, 0), pady=3)
            self.fields[key] = entry
            row += 1
        return row

    def _certificate_row(self, frame: ttk.Frame, row: int, safety: TextSafety) -> None:
        """The client certificate's path and a Browse… button, shown while TLS is on."""
        self.cert_label = ttk.Label(frame, text="Client certificate (optional)")
        self.cert_label.grid(row=row, column=0, sticky="w", pady=3)
        self.cert_box = ttk.Frame(frame)
        self.cert_box.grid(row=row, column=1, sticky="ew", padx=(10, 0), pady=3)
        entry = ttk.Entry(self.cert_box, width=20)
        entry.insert(0, safety.clean(self.settings.client_cert))
        entry.pack(side="left", fill="x", expand=True)
        self.fields["client_cert"] = entry
        self.browse_button = ttk.Button(self.cert_box, text="Browse\u2026", command=self.browse)
        self.browse_button.pack(side="left", padx=(6, 0))
        self._show_certificate()

    def _show_certificate(self) -> None:
        for widget in (self.cert_label, self.cert_box):
            if self.tls.get():
                widget.grid()
            else:
                widget.grid_remove()

    def browse(self) -> None:
        """Choose the certificate's PEM file (with its key) in the system's file dialog."""
        chosen = filedialog.askopenfilename(
            parent=self.top,
            title="Client certificate (PEM, with its key)",
            filetypes=[("PEM files", "*.pem *.crt"), ("All files", "*")],
        )
        if chosen:
            entry = self.fields["client_cert"]
            entry.delete(0, "end")
            entry.insert(0, chosen)

    def _tls_toggled(self) -> None:
        """Switch the port between the usual plain and TLS ones, unless the person chose one;
        show the certificate field only with TLS, the only place it is used."""
        self._show_certificate()
        port = self.fields["port"]
        usual = {str(DEFAULT_PORT), str(DEFAULT_TLS_PORT), "6667"}
        if port.get().strip() in usual:
            port.delete(0, "end")
            port.insert(0, str(DEFAULT_TLS_PORT if self.tls.get() else DEFAULT_PORT))

    def form(self) -> ConnectForm:
        return ConnectForm(
            self.fields["server"].get(),
            self.fields["port"].get(),
            self.fields["nickname"].get(),
            self.fields["password"].get(),
            self.tls.get(),
            AccountAction(self.action.get()),
            self.fields["account"].get(),
            self.fields["account_password"].get(),
            self.fields["client_cert"].get(),
        )

    def ok(self) -> None:
        checked = check_connect_form(self.form(), self.settings)
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


class TrustDialog:
    """Show an untrusted certificate's fingerprint and ask whether to trust it."""

    def __init__(self, master: tk.Tk, problem: CertificateProblem) -> None:
        self.master = master
        self.trusted = False
        self.top, frame = _window(master, "Untrusted certificate")
        ttk.Label(
            frame,
            text=f"{problem.address} is not vouched for by any authority this computer knows.",
            font=("TkDefaultFont", 10, "bold"),
            wraplength=440,
        ).pack(anchor="w")
        ttk.Label(
            frame,
            text="A server on your own network often has a self-signed certificate. Ask its "
            "operator for the SHA-256 fingerprint (tcpchat cert prints it) and trust the "
            "certificate only if it is exactly this one:",
            wraplength=440,
        ).pack(anchor="w", pady=(8, 6))
        readable = readable_fingerprint(problem.fingerprint)
        half = len(readable) // 2 + 1  # break after a colon, in the middle
        self.fingerprint = ttk.Label(
            frame, text=f"{readable[:half]}\n{readable[half:]}", font="TkFixedFont"
        )
        self.fingerprint.pack(anchor="w", padx=8)
        ttk.Label(
            frame,
            text="tcpchat will remember it, and refuse this server if its certificate changes.",
            wraplength=440,
        ).pack(anchor="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.pack(anchor="e", pady=(12, 0))
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="right")
        self.accept_button = ttk.Button(buttons, text="Trust this certificate", command=self.accept)
        self.accept_button.pack(side="right", padx=(0, 6))
        self.top.bind("<Escape>", lambda _e: self.cancel())
        self.top.protocol("WM_DELETE_WINDOW", self.cancel)

    def accept(self) -> None:
        self.trusted = True
        self.top.destroy()

    def cancel(self) -> None:
        self.trusted = False
        self.top.destroy()

    def show(self) -> bool:
        """Wait for the person's answer: True to trust the certificate."""
        self.top.wait_visibility()
        self.top.grab_set()
        self.master.wait_window(self.top)
        return self.trusted


def ask_password(master: tk.Tk, account: str, address: str) -> str | None:
    """The account's password, asked because no keyring holds it."""
    return simpledialog.askstring(
        "Account password",
        f"Password for the account {account} on {address}:",
        show=BULLET,
        parent=master,
    )


def ask_nick(master: tk.Tk, suggested: str, address: str) -> str | None:
    """The nickname to use on this first run, asked with a suggestion filled in,
    saying which server it is for."""
    top, frame = _window(master, "Welcome to tcpchat", transient=False)
    ttk.Label(frame, text=f"You will connect to {address}.").pack(anchor="w", pady=(0, 6))
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


@dataclass(frozen=True, slots=True)
class FormField:
    """One line of a :class:`FormDialog`: free text, or a pick from ``choices``."""

    label: str
    initial: str = ""
    choices: tuple[str, ...] = ()


class FormDialog:
    """A modal form of a few fields; :meth:`show` gives their values, or None if cancelled.

    The fields are plain attributes, so a test can fill them and press OK
    from an ``after()`` callback while :meth:`show` waits.
    """

    def __init__(self, master: tk.Misc, title: str, fields: list[FormField]) -> None:
        self.master = master
        self.result: list[str] | None = None
        self.top = tk.Toplevel(master)
        self.top.title(title)
        self.top.transient(master)  # type: ignore[call-overload]
        self.top.resizable(False, False)
        frame = ttk.Frame(self.top, padding=14)
        frame.pack(fill="both", expand=True)
        self.entries: list[ttk.Entry] = []
        for row, field in enumerate(fields):
            ttk.Label(frame, text=field.label).grid(row=row, column=0, sticky="w", pady=3)
            entry: ttk.Entry = (
                ttk.Combobox(frame, values=field.choices, width=34, state="readonly")
                if field.choices
                else ttk.Entry(frame, width=36)
            )
            if field.choices:
                entry.set(field.initial)  # type: ignore[attr-defined]
            else:
                entry.insert(0, field.initial)
                entry.select_range(0, "end")
            entry.grid(row=row, column=1, sticky="ew", padx=(10, 0), pady=3)
            self.entries.append(entry)
        buttons = ttk.Frame(frame)
        buttons.grid(row=len(fields), column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="right")
        ttk.Button(buttons, text="OK", command=self.ok).pack(side="right", padx=(0, 6))
        self.top.bind("<Return>", lambda _e: self.ok())
        self.top.bind("<Escape>", lambda _e: self.cancel())
        self.top.protocol("WM_DELETE_WINDOW", self.cancel)

    def ok(self) -> None:
        self.result = [entry.get().strip() for entry in self.entries]
        self.top.destroy()

    def cancel(self) -> None:
        self.result = None
        self.top.destroy()

    def show(self) -> list[str] | None:
        """Wait until the form closes; the values in field order, or None if cancelled."""
        self.top.wait_visibility()
        self.top.grab_set()
        self.entries[-1].focus_set()
        self.master.wait_window(self.top)
        return self.result
