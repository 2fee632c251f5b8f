"""Starting the desktop client: a Tk root, a nickname, a window, a connection.

Kept apart from the window so the command line and ``TCP_CLIENT.py`` share
one way in, and tests can build the window without the nick prompt.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import tkinter as tk
from dataclasses import replace
from pathlib import Path

from tcpchat.client import keychain
from tcpchat.client.accounts import AccountAction
from tcpchat.client.settings import Settings
from tcpchat.gui.client_window import ClientWindow
from tcpchat.gui.dialogs import ask_nick, ask_password

__all__ = ["run_client", "with_account_password"]


def with_account_password(root: tk.Tk, settings: Settings) -> Settings:
    """The settings with the account's password: from the keyring, else asked for.

    Cancelling the question connects without logging in.
    """
    if settings.account_action is AccountAction.NONE or settings.account_password:
        return settings
    password = keychain.load_password(settings.address, settings.account)
    if not password:
        root.update_idletasks()
        password = ask_password(root, settings.account, settings.address) or ""
    return replace(settings, account_password=password)


def run_client(settings: Settings, *, ask_for_nick: bool, config_file: Path, quiet: bool) -> int:
    """Open the client window and run until it is closed; the process exit status."""
    if not quiet:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("tcpchat.client")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        root = tk.Tk(className="tcpchat")
    except tk.TclError as exc:
        print(f"tcpchat: cannot open a window ({exc}). Is there a display?", file=sys.stderr)
        return 2
    window = ClientWindow(root, settings, config_file, log_lines=not quiet)
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Ctrl-C in the terminal, or a logout: leave politely and remember, as the
        # window's close does. Python runs the handler on this thread between Tk
        # events (the update queue's polling wakes it); after_idle lets the current
        # callback finish first.
        signal.signal(sig, lambda _sig, _frame: root.after_idle(window.close))
    if ask_for_nick:
        root.update_idletasks()
        nick = ask_nick(root, settings.nick, settings.address)
        if nick is None:
            with contextlib.suppress(tk.TclError):  # a signal may have closed it already
                root.destroy()
            return 0
        settings = replace(settings, nick=nick)
    settings = with_account_password(root, settings)
    window.connect(settings)
    window.entry.focus_set()
    root.mainloop()
    return 0
