"""Starting the server console: a Tk root, the server in its thread, the window.

Kept apart from the window so ``tcpchat console`` and ``TCP_SERVER.py``
share one way in. Without a display the caller's headless server runs
instead, after one line that says why, so a console started over SSH
still serves.
"""

from __future__ import annotations

import logging
import signal
import sys
import tkinter as tk
from collections.abc import Callable

from tcpchat.gui.console_window import STOP_REASON, ConsoleWindow
from tcpchat.server.config import Config, ConfigError
from tcpchat.server.eventlog import EventLog
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import ConsoleLink

__all__ = ["run_console"]


def run_console(config: Config, headless: Callable[[], int]) -> int:
    """Serve with the console window until it stops the server; the exit status.

    Raises OSError when the server cannot listen, and ConfigError when it cannot
    join its cluster, as ``tcpchat server`` does.
    """
    try:
        root = tk.Tk(className="tcpchat")
    except tk.TclError as exc:
        print(f"tcpchat: no display for the console ({exc}); serving without it", file=sys.stderr)
        return headless()
    thread = ServerThread(config)
    core = thread.runner.core
    core.observers.append(EventLog(core))
    link = ConsoleLink(thread.runner)
    try:
        runner = thread.start()
    except (OSError, ConfigError):  # no address to listen on; no Redis to join
        link.close()
        root.destroy()
        raise
    address = ", ".join(f"{host}:{port}" for host, port in runner.addresses)
    if runner.web is not None:  # the address to give people, for the browser
        address += " · web page " + ", ".join(runner.web.urls())
    window = ConsoleWindow(root, link, address, thread.stop, config.default_channel)
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Python runs the handler on this thread between Tk events (the poll
        # wakes it); after_idle lets the current callback finish first.
        signal.signal(sig, lambda _sig, _frame: root.after_idle(window.stop, STOP_REASON))
    root.mainloop()
    logging.getLogger("tcpchat.server").info("stopped")
    return 0
