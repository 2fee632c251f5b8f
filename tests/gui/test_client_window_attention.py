"""Being called while the window is behind others: the bell, the urgency hint, the title.

Real focus changes under Xvfb (xdotool); the urgency hint is read back from
the X server with xprop, as a task bar would see it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from tkdrive import (
    focus_window,
    need_xdotool,
    pump_until,
    unfocus_windows,
    view_text,
    xdotool,
)

from tcpchat.client.settings import load_settings

tk = pytest.importorskip("tkinter")

from tcpchat.gui.client_window import ClientWindow  # noqa: E402


def urgent(window: ClientWindow) -> bool:
    """Whether the window's urgency hint is set, as the X server holds it."""
    title = f"^{re.escape(window.root.title())}$"
    wrapper = xdotool("search", "--name", title).split()[-1]
    hints = subprocess.run(
        ["xprop", "-id", wrapper, "WM_HINTS"], capture_output=True, text=True, check=True
    ).stdout
    return "urgency hint bit is set" in hints


def test_a_call_while_the_window_is_behind_rings_marks_it_urgent_and_counts(
    server: RunningServer, open_window: Callable[..., ClientWindow], tmp_path: Path
) -> None:
    need_xdotool()
    if shutil.which("xprop") is None:
        pytest.skip("xprop is not installed (Debian package x11-utils)")
    window = open_window(server, "alice")
    rings: list[None] = []
    window.root.bell = lambda *_args, **_kwargs: rings.append(None)  # type: ignore[method-assign]
    with server.client("bob") as bob:
        bob.join("#lobby")
        focus_window(window.root)
        bob.send("PRIVMSG alice :seen at once")
        pump_until(window.root, lambda: "seen at once" in view_text(window, "bob"), "the message")
        assert window.highlights == 0 and not rings and not urgent(window)

        unfocus_windows(window.root)
        bob.send("PRIVMSG #lobby :alice: look here")
        pump_until(window.root, lambda: "look here" in view_text(window, "#lobby"), "a mention")
        assert window.root.title().startswith("(1) tcpchat: alice on ")
        assert len(rings) == 1 and urgent(window)
        bob.send("PRIVMSG alice :psst")
        bob.send("PRIVMSG #lobby :just talking")  # neither a mention nor to alice
        pump_until(window.root, lambda: "just talking" in view_text(window, "#lobby"), "chat")
        assert window.root.title().startswith("(2) tcpchat") and len(rings) == 2

        menu = window.chat_menu
        menu.invoke(menu.index("Ring the bell when someone calls me"))
        bob.send("PRIVMSG alice :quietly now")
        pump_until(window.root, lambda: "quietly now" in view_text(window, "bob"), "quiet call")
        assert window.root.title().startswith("(3) tcpchat") and len(rings) == 2

        focus_window(window.root)  # the person comes back
        assert window.root.title().startswith("tcpchat: alice on ")
        assert not urgent(window)
    assert load_settings(tmp_path / "client.json").bell is False
