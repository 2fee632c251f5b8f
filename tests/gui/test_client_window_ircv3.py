"""The client window with today's IRCv3: a pasted block as one message,
replies, reactions and deleting, typing, display names, colours and bots.

The real window under Xvfb, a real server, and the raw test client on the
other side, which sees exactly what went over the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from tkdrive import pump_until, type_and_enter, view_text

from tcpchat.server.config import HistorySettings

tk = pytest.importorskip("tkinter")

from tcpchat.gui.client_window import ClientWindow  # noqa: E402

THUMBS = "\U0001f44d"
TAGS = ("message-tags", "echo-message", "batch", "server-time")


@pytest.fixture
def history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))


def test_a_pasted_block_goes_as_one_message(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bob", (*TAGS, "draft/multiline")) as bob:
        bob.join("#lobby")
        window.paste_lines(["def f():", "    return 1"], ask=lambda _t, _q: True)
        opening = bob.expect("BATCH")
        assert opening.params[1:] == ("draft/multiline", "#lobby")
        assert [m.params[1] for m in bob.batch_lines(opening)] == ["def f():", "    return 1"]
        pump_until(
            window.root,
            lambda: "alice  def f():\n    return 1" in view_text(window, "#lobby"),
            "the block as one message",
        )


def test_reply_react_and_delete(
    history_server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(history_server, "alice")
    caps = (*TAGS, "draft/message-redaction")
    with history_server.client("bob", caps) as bob:
        bob.join("#lobby")
        bob.send("PRIVMSG #lobby :lunch at noon?")
        asked = bob.expect("PRIVMSG").tags["msgid"]
        conversation = window.conversations["#lobby"]
        pump_until(window.root, lambda: asked in conversation.messages, "bob's message kept")
        line = conversation.messages[asked]
        window.line_actions("#lobby", line)[f"React {THUMBS}"]()
        react = bob.expect("TAGMSG")
        assert react.tags["+reply"] == asked and react.tags["+draft/react"] == THUMBS
        window.start_reply("#lobby", line)
        assert window.reply_label.cget("text").startswith("Replying to bob: lunch")
        type_and_enter(window.entry, "yes")
        answer = bob.expect("PRIVMSG")
        assert answer.params == ("#lobby", "yes") and answer.tags["+reply"] == asked
        assert window.replying is None
        pump_until(
            window.root,
            lambda: "\u21aa bob: lunch at noon?\n" in view_text(window, "#lobby"),
            "the quote above the reply",
        )
        own = answer.tags["msgid"]
        pump_until(window.root, lambda: own in conversation.messages, "own message kept")
        # Bob reacts to alice's answer: the count shows below it.
        bob.send(f"@+reply={own};+draft/react={THUMBS} TAGMSG #lobby")
        pump_until(
            window.root, lambda: f"{THUMBS} 1" in view_text(window, "#lobby"), "the reaction"
        )
        assert "Delete\u2026" not in window.line_actions("#lobby", line)  # not ours
        window.delete_line("#lobby", conversation.messages[own], ask=lambda _t, _q: True)
        assert bob.expect("REDACT").params == ("#lobby", own)
        pump_until(window.root, lambda: "deleted" in view_text(window, "#lobby"), "deleted")
        view = conversation.view
        assert view.text.tag_ranges("redacted")  # greyed and struck through
        assert "yes" in view.text.get(*view.text.tag_ranges("redacted"))


def test_typing_is_shown_and_sent_as_set(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bob", ("message-tags",)) as bob:  # no echo of bob's own TAGMSG
        bob.join("#lobby")
        bob.send("@+typing=active TAGMSG #lobby")
        pump_until(
            window.root,
            lambda: window.typing_label.cget("text") == "bob is typing\u2026",
            "bob typing",
        )
        bob.send("PRIVMSG #lobby :done now")
        pump_until(window.root, lambda: window.typing_label.cget("text") == "", "typing cleared")
        window.entry.insert(0, "hel")
        window.entry.event_generate("<KeyRelease>", keysym="l")
        window.root.update()
        typing = bob.expect("TAGMSG")
        assert typing.source.startswith("alice!") and typing.tags["+typing"] == "active"
        window.entry.delete(0, "end")  # cleared without sending: done
        window.entry.event_generate("<KeyRelease>", keysym="BackSpace")
        window.root.update()
        assert bob.expect("TAGMSG").tags["+typing"] == "done"
        window.send_typing.set(False)  # as the menu's tick box does
        window.entry.insert("end", "x")  # with it on, this would be "active" again at once
        window.entry.event_generate("<KeyRelease>", keysym="x")
        window.root.update()
        bob.expect_none("TAGMSG")


def test_display_names_colours_and_bots(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bob", (*TAGS, "draft/metadata-2")) as bob:
        bob.send("METADATA * SET display-name :Bob B.", "METADATA * SET color :#00aa00")
        bob.send("MODE bob +B")
        bob.join("#lobby")
        pump_until(window.root, lambda: "bob" in window.profiles, "bob's profile")
        bob.send("PRIVMSG #lobby :beep")
        pump_until(
            window.root,
            lambda: "Bob B. (bob)   bot  beep" in view_text(window, "#lobby"),
            "display name and bot badge",
        )
        tag = "nick-bob"
        assert window.conversations["#lobby"].view.text.tag_cget(tag, "foreground") == "#00aa00"
