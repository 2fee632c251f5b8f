"""History in the real window under Xvfb: marked on joining, older lines on scrolling up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer, say
from tkdrive import pump_until, view_text

from tcpchat.server.config import HistorySettings

pytest.importorskip("tkinter")

from tcpchat.gui.client_window import ClientWindow


@pytest.fixture
def history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(
        history=HistorySettings(path=str(tmp_path / "history.sqlite3"), request_limit=30)
    )


def line_tags(window: ClientWindow, text: str) -> tuple[str, ...]:
    view = window.conversations["#lobby"].view.text
    where = view.search(text, "1.0")
    assert where, f"{text!r} is not shown"
    return tuple(str(tag) for tag in view.tag_names(where))


def test_history_on_joining_is_marked_and_scrolling_up_loads_more(
    history_server: RunningServer, open_window: Callable[..., ClientWindow]
) -> None:
    with history_server.client("bob") as bob:
        bob.join("#lobby")
        say(bob, "#lobby", *(f"said {i:02}" for i in range(100)))
        # More lines than the window shows, so that the view can stay put below new ones.
        window = open_window(history_server, "alice", history_lines=30)
        pump_until(window.root, lambda: "said 99" in view_text(window, "#lobby"), "recent history")
        text = view_text(window, "#lobby")
        assert "Earlier in this channel" in text and "said 69" not in text
        assert text.index("Earlier in this channel") < text.index("said 70")
        assert "history" in line_tags(window, "said 85")

        bob.send("PRIVMSG #lobby :live now")
        pump_until(window.root, lambda: "live now" in view_text(window, "#lobby"), "a live line")
        assert "history" not in line_tags(window, "live now")

        view = window.conversations["#lobby"].view
        view.scroll("moveto", "0")  # as dragging the scroll bar to the top does
        first_visible = view.text.get("@0,0 linestart", "@0,0 lineend")
        pump_until(window.root, lambda: "said 40" in view_text(window, "#lobby"), "older lines")
        text = view_text(window, "#lobby")
        assert text.index("said 40") < text.index("said 69") < text.index("Earlier")
        assert "history" in line_tags(window, "said 55")
        # The view stays where the person was reading; the new lines are above it.
        assert view.text.get("@0,0 linestart", "@0,0 lineend") == first_visible
        assert view.text.yview()[0] > 0

        for oldest in ("said 10", "said 00"):
            view.scroll("moveto", "0")
            pump_until(window.root, lambda o=oldest: o in view_text(window, "#lobby"), oldest)
        assert "Beginning of the conversation" in view_text(window, "#lobby")
        text = view_text(window, "#lobby")
        assert text.startswith("\u2500\u2500\u2500  Beginning of the conversation")
        said = [int(t.split()[-1]) for t in text.splitlines() if "said" in t]
        assert said == list(range(100))


def shows_newest(window: ClientWindow, buffer: str, text: str) -> bool:
    """Whether the conversation in view is ``buffer``, scrolled to the end, ending in ``text``."""
    conversation = window.conversations[buffer]
    view = conversation.view
    window.root.update_idletasks()
    last = view.text.get("end-2l linestart", "end-1c")
    return window.current == conversation.name and view.text.yview()[1] == 1.0 and text in last


def test_history_taller_than_the_window_opens_at_the_newest_line_and_follows(
    history_server: RunningServer, open_window: Callable[..., ClientWindow]
) -> None:
    with history_server.client("bob") as bob:
        bob.join("#lobby")
        say(bob, "#lobby", *(f"said {i:02}" for i in range(60)))
        window = open_window(history_server, "alice")
        pump_until(window.root, lambda: shows_newest(window, "#lobby", "said 59"), "the newest")
        bob.send("PRIVMSG #lobby :live after the history")
        pump_until(window.root, lambda: shows_newest(window, "#lobby", "live after"), "a new line")
        window.entry.insert(0, "my own line")
        window.entry.event_generate("<Return>", when="now")
        pump_until(window.root, lambda: shows_newest(window, "#lobby", "my own line"), "own line")
        window.send_text("/whois bob")
        pump_until(
            window.root, lambda: shows_newest(window, "#lobby", "bob has been idle"), "whois"
        )
        window.send_text("/help")
        pump_until(window.root, lambda: shows_newest(window, "#lobby", "/help"), "help")
        # Chat → Connect to… the same server again: the new view opens at the end too.
        window.connect(window.settings)
        pump_until(window.root, lambda: "#lobby" in window.conversations, "#lobby joined again")
        pump_until(window.root, lambda: shows_newest(window, "#lobby", "my own line"), "again")
