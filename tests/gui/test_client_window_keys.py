"""The keyboard in the real client window under Xvfb, with real clicks and key presses (xdotool).

Whatever is clicked (a conversation in the sidebar, the text of the chat, a
member), typing goes on in the input line; Page Up and Page Down there
scroll the chat; HexChat's keys move between conversations.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import RunningServer, say
from tkdrive import click, focus_window, need_xdotool, press_keys, pump_until, type_text

tk = pytest.importorskip("tkinter")

from tcpchat.gui.client_window import ClientWindow  # noqa: E402


def row_centre(listbox: tk.Listbox, index: int) -> tuple[int, int]:
    box = listbox.bbox(index)
    assert box, f"row {index} is not shown"
    x, y, width, height = box
    return x + width // 2, y + height // 2


def test_typing_goes_to_the_input_whatever_is_clicked(
    server: RunningServer, open_window: Callable[..., ClientWindow]
) -> None:
    need_xdotool()
    window = open_window(server, "alice")
    with server.client("bob") as bob:
        bob.join("#lobby")
        bob.join("#side")
        window.send_text("/join #side")
        pump_until(window.root, lambda: window.current == "#side", "#side in view")
        pump_until(window.root, lambda: "@bob" in window.member_list.get(0, "end"), "bob in #side")
        focus_window(window.root)

        click(window.sidebar, *row_centre(window.sidebar, window.order.index("#lobby")))
        assert window.current == "#lobby"
        assert window.root.focus_get() is window.entry
        type_text(window.root, "hello after a click on the list")
        press_keys(window.root, "Return")
        said = bob.expect("PRIVMSG")
        assert said.params == ("#lobby", "hello after a click on the list")
        assert window.current == "#lobby"  # the space bar did not pick another row

        view = window.conversations["#lobby"].view
        click(view.text, 40, 10)
        assert window.root.focus_get() is window.entry
        click(window.member_list, *row_centre(window.member_list, 0))
        assert window.root.focus_get() is window.entry
        type_text(window.root, "and after clicks on the chat and the members")
        press_keys(window.root, "Return")
        assert bob.expect("PRIVMSG").params[1] == "and after clicks on the chat and the members"


def test_page_keys_scroll_the_chat_and_switching_keys_move_between_conversations(
    server: RunningServer, open_window: Callable[..., ClientWindow]
) -> None:
    need_xdotool()
    window = open_window(server, "alice")
    with server.client("bob") as bob:
        bob.join("#lobby")
        say(bob, "#lobby", *(f"line {i}" for i in range(80)))
    pump_until(
        window.root,
        lambda: "line 79" in window.conversations["#lobby"].view.plain_text(),
        "80 lines",
    )
    window.send_text("/join #second")
    pump_until(window.root, lambda: window.current == "#second", "#second")
    focus_window(window.root)
    press_keys(window.root, "alt+2")  # the sidebar: server, #lobby, #second
    assert window.current == "#lobby"
    view = window.conversations["#lobby"].view
    window.root.update_idletasks()
    assert view.text.yview()[1] == 1.0
    press_keys(window.root, "Prior")
    assert view.text.yview()[1] < 1.0 and not view.following
    assert window.root.focus_get() is window.entry
    press_keys(window.root, "Next", "Next")
    assert view.text.yview()[1] == 1.0 and view.following

    press_keys(window.root, "alt+1")
    assert window.current == ""
    press_keys(window.root, "alt+3")
    assert window.current == "#second"
    press_keys(window.root, "ctrl+Prior")
    assert window.current == "#lobby"
    press_keys(window.root, "alt+Down")
    assert window.current == "#second"
    press_keys(window.root, "ctrl+Next")  # round to the top
    assert window.current == ""
    press_keys(window.root, "alt+Up")
    assert window.current == "#second"
    press_keys(window.root, "alt+9")  # no ninth conversation: nothing changes
    assert window.current == "#second"

    window.send_text("/join #lobby")  # already there: it comes into view
    pump_until(window.root, lambda: window.current == "#lobby", "#lobby again")


def test_ctrl_c_in_the_input_copies_what_is_selected_in_the_chat(
    server: RunningServer, open_window: Callable[..., ClientWindow]
) -> None:
    need_xdotool()
    window = open_window(server, "alice")
    view = window.conversations["#lobby"].view
    pump_until(window.root, lambda: "You joined #lobby" in view.plain_text(), "the join line")
    focus_window(window.root)
    start = view.text.search("You joined", "1.0")
    view.text.tag_add("sel", start, f"{start} lineend")
    assert window.root.focus_get() is window.entry
    press_keys(window.root, "ctrl+c")
    assert window.root.clipboard_get() == "You joined #lobby"
    window.entry.insert(0, "typed text")
    window.entry.selection_range(0, 5)
    press_keys(window.root, "ctrl+c")  # a selection in the input is what is copied then
    assert window.root.clipboard_get() == "typed"
