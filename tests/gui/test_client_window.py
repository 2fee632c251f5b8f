"""The real client window under Xvfb: typing, sending, receiving, reconnecting, emoji.

Each test builds the real widgets, generates events on them as a person's
keyboard would, and reads the widgets back. The other side is the raw test
client, so what went over the wire is checked exactly.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from tkdrive import pump_until, type_and_enter, view_text

from tcpchat.client.settings import Settings, load_settings

tk = pytest.importorskip("tkinter")

from tcpchat.gui.client_window import ClientWindow  # noqa: E402
from tcpchat.gui.widgets import STAND_IN  # noqa: E402


def test_message_typed_appears_on_both_sides(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    pump_until(window.root, lambda: window.root.focus_get() is window.entry, "focus in the input")
    with server.client("bob") as bob:
        bob.join("#lobby")
        type_and_enter(window.entry, "Halo server!")
        assert bob.expect("PRIVMSG").params == ("#lobby", "Halo server!")
        assert window.entry.get() == ""
        pump_until(
            window.root, lambda: "alice  Halo server!" in view_text(window, "#lobby"), "own line"
        )
        bob.send("PRIVMSG #lobby :Hai client!")
        pump_until(
            window.root, lambda: "bob  Hai client!" in view_text(window, "#lobby"), "bob's line"
        )
        pump_until(window.root, lambda: "bob" in window.member_list.get(0, "end"), "bob as member")
        assert "Connected to" in window.status.text and "as alice" in window.status.text
        assert window.topic.cget("text").startswith("#lobby: ")


def test_two_windows_talk(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    alice = open_window(server, "alice")
    carol = open_window(server, "carol")
    pump_until(alice.root, lambda: "carol" in alice.member_list.get(0, "end"), "carol joined")
    type_and_enter(carol.entry, "hi alice")
    pump_until(alice.root, lambda: "carol  hi alice" in view_text(alice, "#lobby"), "carol's line")
    assert alice.conversations["#lobby"].view.text.tag_names("end-2l linestart")


def test_commands_help_and_mistakes(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    type_and_enter(window.entry, "/frob")
    pump_until(
        window.root, lambda: "There is no command /frob" in view_text(window, "#lobby"), "help"
    )
    window.send_text("/help")
    pump_until(window.root, lambda: "/join #channel" in view_text(window, "#lobby"), "command list")
    with server.client("bob") as bob:
        bob.join("#lobby")
        window.send_text("/me waves")
        assert bob.expect("PRIVMSG").params[1] == "\x01ACTION waves\x01"
        window.send_text("/msg bob psst")
        assert bob.expect("PRIVMSG").params == ("bob", "psst")
        pump_until(window.root, lambda: "bob" in window.conversations, "a private chat")
        bob.send("PRIVMSG alice :hey alice")
        sidebar = lambda: " ".join(window.sidebar.get(0, "end"))  # noqa: E731
        pump_until(window.root, lambda: "bob  (1)  @" in sidebar(), "unread mention mark")


def test_history_and_nick_completion(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bobby") as bob:
        bob.join("#lobby")
        pump_until(window.root, lambda: "bobby" in window.member_list.get(0, "end"), "bobby")
        window.entry.insert(0, "bo")
        window.entry.event_generate("<Tab>", when="now")
        assert window.entry.get() == "bobby: "
        window.entry.insert("end", "hello")
        window.entry.event_generate("<Return>", when="now")
        assert bob.expect("PRIVMSG").params[1] == "bobby: hello"
        window.entry.event_generate("<Up>", when="now")
        assert window.entry.get() == "bobby: hello"
        window.entry.event_generate("<Down>", when="now")
        assert window.entry.get() == ""


def test_paste_of_many_lines_asks_first(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bob") as bob:
        bob.join("#lobby")
        window.paste_lines(["one", "two"], ask=lambda _t, _q: False)
        window.paste_lines(["three", "four"], ask=lambda _t, _q: True)
        assert bob.expect("PRIVMSG").params[1] == "three"
        assert bob.expect("PRIVMSG").params[1] == "four"


def test_emoji_and_right_to_left_text(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    with server.client("bob") as bob:
        bob.join("#lobby")
        bob.send("PRIVMSG #lobby :party 🎉 مرحبا 👩‍💻")
        pump_until(
            window.root, lambda: "party 🎉 مرحبا 👩‍💻" in view_text(window, "#lobby"), "emoji"
        )
        type_and_enter(window.entry, "thanks 😀")
        assert bob.expect("PRIVMSG").params[1] == "thanks 😀"


def test_stand_in_keeps_the_real_text_for_copying(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")
    window.safety.astral_ok = False  # as on a Tk that cannot take emoji
    view = window.conversations["#lobby"].view
    view.add_line([("cake 🎂 time", ())], ())
    shown = view.text.get("1.0", "end-1c")
    assert f"cake {STAND_IN} time" in shown and "🎂" not in shown
    assert "cake 🎂 time" in view.plain_text()
    view.text.tag_add("sel", "end-2l linestart", "end-1c")
    view.text.event_generate("<<Copy>>")
    assert window.root.clipboard_get().strip().endswith("cake 🎂 time")


def test_callback_errors_reach_the_person(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    window = open_window(server, "alice")

    def broken() -> None:
        raise ValueError("boom")

    window.root.after(1, broken)
    pump_until(
        window.root, lambda: "Something went wrong" in view_text(window, "#lobby"), "error line"
    )


def test_reconnects_after_the_server_restarts(
    make_server: Callable[..., RunningServer],
    open_window: Callable[[RunningServer, str], ClientWindow],
    tmp_path: Path,
) -> None:
    server = make_server()
    window = open_window(server, "alice")
    server.thread.stop("restarting")
    pump_until(window.root, lambda: "Disconnected" in view_text(window, "#lobby"), "the drop")
    pump_until(window.root, lambda: "Disconnected" in window.status.text, "the status")
    type_and_enter(window.entry, "typed while the server was away")
    again = make_server(port=server.port)
    with again.client("bob") as bob:
        bob.join("#lobby")
        assert bob.expect("PRIVMSG").params[1] == "typed while the server was away"
    pump_until(
        window.root, lambda: view_text(window, "#lobby").count("You joined #lobby") == 2, "rejoin"
    )
    pump_until(window.root, lambda: "Connected to" in window.status.text, "connected again")
    window.close()
    assert load_settings(tmp_path / "client.json").channels == ("#lobby",)


def test_kick_and_refused_connection_are_shown(
    server: RunningServer, open_window: Callable[[RunningServer, str], ClientWindow]
) -> None:
    with server.client("op") as op:
        op.join("#ops")
        window = open_window(server, "alice")
        window.send_text("/join #ops")
        pump_until(window.root, lambda: "#ops" in window.conversations, "#ops")
        op.send("KICK #ops alice :out")
        pump_until(window.root, lambda: "You were kicked" in view_text(window, "#ops"), "kick line")


def test_refused_connection_is_explained(display: str) -> None:
    from ngircd import free_port

    def run() -> None:
        settings = Settings("127.0.0.1", free_port(), "alice", "", ("#lobby",))
        window = ClientWindow(tk.Tk(), settings, None, log_lines=False)
        window.connect(settings)
        try:
            pump_until(window.root, lambda: "refused" in view_text(window, ""), "refused line")
            assert "Disconnected" in window.status.text
        finally:
            window.close()

    run()
    gc.collect()  # free the Tk objects in this thread


def test_channels_are_remembered_as_they_are_joined_and_left(
    server: RunningServer, open_window: Callable[..., ClientWindow], tmp_path: Path
) -> None:
    window = open_window(server, "alice")
    saved = tmp_path / "client.json"
    window.send_text("/join #extra")
    pump_until(window.root, lambda: "#extra" in window.conversations, "#extra")
    # Saved now, not only when the window closes: a window ended by a signal keeps it.
    assert load_settings(saved).channels == ("#lobby", "#extra")
    window.send_text("/part #lobby")
    pump_until(window.root, lambda: "#lobby" not in window.conversations, "#lobby left")
    assert load_settings(saved).channels == ("#extra",)


def test_a_server_that_never_answers_is_not_remembered_and_can_be_given_up(
    make_server: Callable[..., RunningServer],
    open_window: Callable[..., ClientWindow],
    tmp_path: Path,
) -> None:
    from ngircd import free_port

    server = make_server()
    window = open_window(server, "alice")
    saved = tmp_path / "client.json"
    assert load_settings(saved).port == server.port
    port = free_port()
    window.connect(Settings(server.host, port, "alice", "", ("#lobby",)))
    pump_until(window.root, lambda: "refused" in view_text(window, ""), "the refusal")
    assert load_settings(saved).port == server.port
    # The server conversation names the server being tried, not the one before.
    assert window.topic.cget("text") == f"Server {server.host}:{port}"
    assert window.status.text == f"Disconnected from {server.host}:{port}; trying again"
    assert [b.cget("text") for b in window.status.buttons] == ["Stop trying", "Change server…"]
    window.status.buttons[0].invoke()
    assert window.status.text == f"Not connected to {server.host}:{port}"
    assert window.client is None
    assert "Stopped trying" in view_text(window, "")
    assert [b.cget("text") for b in window.status.buttons] == ["Try again", "Change server…"]
    window.close()
    assert load_settings(saved).port == server.port  # still the server that answered


def test_try_again_connects_once_the_server_is_there(
    make_server: Callable[..., RunningServer], display: str, tmp_path: Path
) -> None:
    from ngircd import free_port

    port = free_port()
    settings = Settings("127.0.0.1", port, "alice", "", ("#lobby",))
    window = ClientWindow(tk.Tk(), settings, tmp_path / "client.json", log_lines=False)
    try:
        window.connect(settings)
        pump_until(window.root, lambda: bool(window.status.buttons), "the offers")
        window.status.buttons[0].invoke()  # Stop trying
        make_server(port=port)
        window.status.buttons[0].invoke()  # Try again
        pump_until(window.root, lambda: "#lobby" in window.conversations, "#lobby")
        assert window.status.text.startswith("Connected to") and not window.status.buttons
        assert load_settings(tmp_path / "client.json").port == port
    finally:
        window.close()
    gc.collect()  # free the Tk objects in this thread
