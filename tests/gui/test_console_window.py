"""The real console window under Xvfb, with a real server and real clients.

Each test starts a server with a console link, builds the real window, and
drives it as the operator would: typing in the input, selecting rows in the
tables, pressing the action buttons. Clients on the other side (the raw
test client and the tcpchat client core) check what arrived on the wire.
Modal dialogs are answered by stand-ins, except in the test of the form itself.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningServer, server_config
from redisnode import RedisServer, cluster
from tkdrive import (
    focus_window,
    need_xdotool,
    press_keys,
    pump_until,
    type_and_enter,
    type_text,
)
from updatelog import UpdateLog

from tcpchat.client.connection import ClientThread
from tcpchat.client.settings import Settings
from tcpchat.client.updates import Line
from tcpchat.server.config import HistorySettings
from tcpchat.server.console_feed import LogEntry
from tcpchat.server.console_search import HISTORY_OFF, SEARCH_PAGE
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import ConsoleLink

tk = pytest.importorskip("tkinter")

from tcpchat.gui.console_search import SearchWindow  # noqa: E402
from tcpchat.gui.console_window import ConsoleWindow  # noqa: E402
from tcpchat.gui.dialogs import FormDialog, FormField  # noqa: E402

Console = tuple[ConsoleWindow, RunningServer]


@pytest.fixture
def console(display: str) -> Iterator[Callable[..., Console]]:
    """Open a console on a new server (with the test's settings); stopped, and its
    Tk objects freed, at the end."""
    opened: list[ConsoleWindow] = []

    def start(**settings: Any) -> Console:
        thread = ServerThread(server_config(**settings))
        link = ConsoleLink(thread.runner)
        host, port = thread.start().addresses[0]
        window = ConsoleWindow(tk.Tk(), link, f"{host}:{port}", thread.stop, "#lobby")
        opened.append(window)
        return window, RunningServer(thread, host, port)

    yield start
    # Popped, not looped over: a loop variable would keep the last window alive
    # past the collection below.
    while opened:
        opened.pop().stop()  # does nothing if the test stopped it
    # Free Tk objects here, in the Tk thread: Tcl aborts if another thread's GC does it.
    gc.collect()


def log_text(window: ConsoleWindow) -> str:
    return window.log.shown_text()


def answer(*values: str) -> Callable[[str, list[FormField]], list[str]]:
    """A stand-in for the modal form that answers ``values`` and remembers what it was asked."""

    def ask(title: str, fields: list[FormField]) -> list[str]:
        asked.append((title, fields))
        return list(values)

    asked: list[tuple[str, list[FormField]]] = []
    ask.asked = asked  # type: ignore[attr-defined]
    return ask


def press(widget: tk.Misc, key: str) -> None:
    """A key pressed in ``widget``: it takes the focus first, as a click would give it."""
    widget.focus_force()
    widget.update()
    widget.event_generate(key, when="now")


def select_user(window: ConsoleWindow, nick: str) -> None:
    pump_until(window.root, lambda: window.user_table.tree.exists(nick), f"{nick} in the table")
    window.user_table.select(nick)


def test_client_appears_and_the_conversation_goes_both_ways(console: Callable[[], Console]) -> None:
    window, server = console()
    pump_until(window.root, lambda: window.root.focus_get() is window.entry, "focus in the input")
    updates = UpdateLog()
    alice = ClientThread(Settings(server.host, server.port, "alice", "", ("#lobby",)), updates.put)
    alice.start()
    try:
        with server.client("bob") as bob:
            bob.join("#lobby")
            select_user(window, "alice")
            row = window.user_table.tree.item("alice", "values")
            assert row[1].startswith("127.0.0.1:") and row[2] == "#lobby"
            pump_until(window.root, lambda: window.channel_table.tree.exists("#lobby"), "#lobby")
            bob.send("PRIVMSG #lobby :Halo server!")
            pump_until(
                window.root, lambda: "#lobby <bob> Halo server!" in log_text(window), "bob's line"
            )
            type_and_enter(window.entry, "Hai client!")
            said = bob.expect("PRIVMSG")
            assert said.source is not None and said.source.startswith("Server!")
            assert said.params == ("#lobby", "Hai client!")
            line = updates.wait_for(
                lambda u: isinstance(u, Line) and u.text == "Hai client!", "Hai client!"
            )
            assert isinstance(line, Line) and line.nick == "Server" and line.buffer == "#lobby"
            pump_until(window.root, lambda: "<Server> Hai client!" in log_text(window), "own line")
            assert window.entry.get() == ""
            pump_until(window.root, lambda: "2 users" in window.stats.cget("text"), "counts")
            assert "1 channel" in window.stats.cget("text")
    finally:
        alice.stop()


def test_messaging_a_user_from_the_table(console: Callable[[], Console]) -> None:
    window, server = console()
    with server.client("bob") as bob:
        select_user(window, "bob")
        window.message_selected_user()
        assert window.target.get() == "bob"
        type_and_enter(window.entry, "psst")
        assert bob.expect("PRIVMSG").params == ("bob", "psst")


def test_kick_ban_topic_notice_and_disconnect_reach_clients(console: Callable[[], Console]) -> None:
    window, server = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        select_user(window, "bob")
        pump_until(window.root, lambda: "#lobby" in window.users["bob"].channels, "bob's channels")
        kick = answer("#lobby", "calm down")
        window.ask = kick
        window.kick_selected()
        assert kick.asked[0][1][0].choices == ("#lobby",)  # type: ignore[attr-defined]
        assert alice.expect("KICK").params == ("#lobby", "bob", "calm down")
        bob.join("#lobby")
        window.ask = answer("#lobby", "enough")
        window.ban_selected()
        assert alice.expect("MODE").params == ("#lobby", "+b", "bob!*@*")
        assert alice.expect("KICK").params == ("#lobby", "bob", "enough")
        bob.send("JOIN #lobby")
        bob.expect("474", "bob", "#lobby")
        window.channel_table.select("#lobby")
        window.ask = answer("Be kind")
        window.topic_selected()
        assert alice.expect("TOPIC").params == ("#lobby", "Be kind")
        window.ask = answer("Back in five")
        window.notice_all()
        for client in (alice, bob):
            notice = client.expect("NOTICE")
            assert notice.source is not None and notice.source.startswith("Server!")
            assert notice.params[1] == "Back in five"
        window.ask = answer("bye now", "0")
        window.disconnect_selected()
        assert bob.expect("ERROR").params[0].endswith("(Killed (Server (bye now)))")
        pump_until(window.root, lambda: "Server kicked bob" in log_text(window), "kick line")
        pump_until(window.root, lambda: not window.user_table.tree.exists("bob"), "bob gone")


def test_actions_without_a_selection_explain_themselves(console: Callable[[], Console]) -> None:
    window, _server = console()
    window.ask = answer("never asked")
    window.kick_selected()
    window.topic_selected()
    text = log_text(window)
    assert "Pick a user in the users table first." in text
    assert "Pick a channel in the channels table first." in text
    window.target.set("#nowhere")
    window.send_text("hello?")
    pump_until(window.root, lambda: "There is no channel #nowhere" in log_text(window), "error")


def test_the_form_dialog_returns_what_was_entered(console: Callable[[], Console]) -> None:
    window, _server = console()
    fields = [FormField("Channel", "#a", ("#a", "#b")), FormField("Reason", "because")]
    dialog = FormDialog(window.root, "Kick bob", fields)

    def fill() -> None:
        dialog.entries[0].set("#b")  # type: ignore[attr-defined]
        dialog.entries[1].delete(0, "end")
        dialog.entries[1].insert(0, "too loud")
        press(dialog.entries[1], "<Return>")

    window.root.after(100, fill)
    assert dialog.show() == ["#b", "too loud"]
    cancelled = FormDialog(window.root, "Topic", [FormField("Topic", "x")])
    window.root.after(100, lambda: press(cancelled.entries[0], "<Escape>"))
    assert cancelled.show() is None


def test_log_filter_colours_and_follows_the_bottom(console: Callable[[], Console]) -> None:
    window, _server = console()
    pane = window.log
    window.root.update()  # mapped, as the operator sees it
    for i in range(200):
        pane.add(LogEntry(time.time(), "join" if i % 2 else "kick", f"line {i}", ""))
    pane.filter.insert(0, "KICK")
    pane.redraw()
    shown = pane.shown_text()
    assert "line 198" in shown and "line 199" not in shown
    assert "kind-kick" in pane.view.text.tag_names("end-2l linestart +12c")
    pane.filter.delete(0, "end")
    pane.redraw()
    window.root.update()
    assert pane.view.text.yview()[1] == 1.0  # following the newest line
    pane.view.scroll("moveto", "0")  # as dragging the scroll bar to the top does
    window.root.update()
    pane.add(LogEntry(time.time(), "message", "while reading", ""))
    window.root.update()
    assert pane.view.text.yview()[0] == 0.0  # the operator's place is kept
    pane.view.scroll("moveto", "1.0")
    pane.add(LogEntry(time.time(), "message", "newest", ""))
    window.root.update()
    assert pane.view.text.yview()[1] == 1.0


def test_stopping_asks_first_then_tells_every_client(console: Callable[[], Console]) -> None:
    window, server = console()
    with server.client("bob") as bob:
        select_user(window, "bob")
        questions: list[str] = []

        def refuse(_title: str, question: str) -> bool:
            questions.append(question)
            return False

        window.confirm = refuse
        window.ask_to_stop()
        assert "1 connected user will be disconnected" in questions[0]
        bob.send("PING :still")
        bob.expect("PONG")
        window.confirm = lambda _title, _question: True
        window.ask_to_stop()
        assert window.stopped
        assert bob.expect("ERROR").params[0].endswith("(Server shutting down)")
        assert bob.closed_by_server()


def test_callback_errors_reach_the_operator(console: Callable[[], Console]) -> None:
    window, _server = console()

    def broken() -> Any:
        raise ValueError("boom")

    window.root.after(1, broken)
    pump_until(window.root, lambda: "Something went wrong" in log_text(window), "error line")


def open_search(window: ConsoleWindow) -> SearchWindow:
    """Ctrl+F in the console, as the operator opens the search."""
    press(window.root, "<Control-f>")
    search = window.search_window
    assert search is not None
    pump_until(window.root, lambda: search.top.focus_get() is search.query, "focus in the search")
    return search


def result_rows(search: SearchWindow) -> list[tuple[str, ...]]:
    tree = search.results.tree
    return [tuple(tree.item(iid, "values")) for iid in tree.get_children()]


def test_searching_the_history_lists_what_clients_said(
    console: Callable[..., Console], tmp_path: Path
) -> None:
    window, server = console(history=HistorySettings(path=str(tmp_path / "h.sqlite3")))
    with server.client("alice") as alice, server.client("bob") as bob:
        for client in (alice, bob):
            client.join("#lobby", "#team")
        alice.send("PRIVMSG #lobby :Lunch at noon?", "PRIVMSG #team :lunch money")
        bob.expect("PRIVMSG", "#lobby")  # delivered, so kept: history is written first
        bob.expect("PRIVMSG", "#team")  # and bob answers after both, in that order
        bob.send("PRIVMSG #lobby :see you there", "NOTICE #lobby :LUNCH is served")
        alice.expect("NOTICE", "#lobby")
        search = open_search(window)
        type_and_enter(search.query, "lunch")
        pump_until(window.root, lambda: len(result_rows(search)) == 3, "three results")
        assert [row[1:] for row in result_rows(search)] == [
            ("#lobby", "bob (notice)", "LUNCH is served"),
            ("#team", "alice", "lunch money"),
            ("#lobby", "alice", "Lunch at noon?"),
        ]
        assert "3 messages in any channel contain" in search.status.cget("text")
        assert search.older_button.instate(["disabled"])  # nothing older
        search.channel.set("#team")
        type_and_enter(search.query, "")  # Enter again, now in #team only
        pump_until(window.root, lambda: len(result_rows(search)) == 1, "one result")
        assert result_rows(search)[0][1:] == ("#team", "alice", "lunch money")
        assert open_search(window) is search  # Ctrl+F again: the same window, raised


def test_older_results_come_below_and_history_off_is_said(
    console: Callable[..., Console], tmp_path: Path
) -> None:
    window, server = console(history=HistorySettings(path=str(tmp_path / "h.sqlite3")))
    count = SEARCH_PAGE + 3
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        alice.send(*(f"PRIVMSG #lobby :tick {n}" for n in range(count)))
        for _ in range(count):
            bob.expect("PRIVMSG")
    search = open_search(window)
    type_and_enter(search.query, "tick")
    pump_until(window.root, lambda: search.older_button.instate(["!disabled"]), "older results")
    assert len(result_rows(search)) == SEARCH_PAGE
    search.older_button.invoke()
    pump_until(window.root, lambda: len(result_rows(search)) == count, "all results")
    assert [row[3] for row in result_rows(search)][-3:] == ["tick 2", "tick 1", "tick 0"]
    assert search.older_button.instate(["disabled"])

    off, _server = console()
    off.search_history()
    unavailable = off.search_window
    assert unavailable is not None
    assert unavailable.status.cget("text") == HISTORY_OFF
    assert unavailable.query.instate(["disabled"])


def test_lines_typed_with_a_slash_are_commands(console: Callable[[], Console]) -> None:
    need_xdotool()
    window, server = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        focus_window(window.root)
        assert window.root.focus_get() is window.entry
        type_text(window.root, "/kick #lobby bob calm down")
        press_keys(window.root, "Return")
        assert alice.expect("KICK").params == ("#lobby", "bob", "calm down")
        type_text(window.root, "//help is on its way")  # said, with one slash
        press_keys(window.root, "Return")
        assert alice.expect("PRIVMSG").params == ("#lobby", "/help is on its way")
        type_text(window.root, "/mode #lobby +m")
        press_keys(window.root, "Return")
        assert alice.expect("MODE").params == ("#lobby", "+m")
        type_text(window.root, "/help")
        press_keys(window.root, "Return")
        pump_until(window.root, lambda: "/topic #channel" in log_text(window), "the commands")
        type_text(window.root, "/kick #lobby nobody")
        press_keys(window.root, "Return")
        pump_until(window.root, lambda: "nobody: No such nick" in log_text(window), "the answer")


def test_unban_lists_the_bans_and_disconnect_can_ban_for_a_while(
    console: Callable[[], Console],
) -> None:
    window, server = console()
    with server.client("alice") as alice, server.client("bob") as bob:
        alice.join("#lobby")
        bob.join("#lobby")
        window.ask = answer("never asked")
        window.unban()
        assert "No channel has a ban." in log_text(window)
        select_user(window, "bob")
        window.ask = answer("#lobby", "enough")
        window.ban_selected()
        assert alice.expect("MODE").params == ("#lobby", "+b", "bob!*@*")
        pump_until(window.root, lambda: window.channels["#lobby"].bans != (), "the ban listed")
        unban = answer("#lobby bob!*@*")
        window.ask = unban
        window.unban()
        assert unban.asked[0][1][0].choices == ("#lobby bob!*@*",)  # type: ignore[attr-defined]
        assert alice.expect("MODE").params == ("#lobby", "-b", "bob!*@*")
        bob.join("#lobby")
        select_user(window, "bob")
        window.ask = answer("bye", "a while")
        window.disconnect_selected()
        pump_until(window.root, lambda: "not a while" in log_text(window), "a wrong number")
        disconnect = answer("come back tomorrow", "15")
        window.ask = disconnect
        window.disconnect_selected()
        fields = disconnect.asked[0][1]  # type: ignore[attr-defined]
        assert fields[1].label == "and ban 127.0.0.1 for minutes (0: no ban)"
        assert bob.expect("ERROR").params[0].endswith("(K-Lined: come back tomorrow)")
    with server.client() as again:
        again.send("NICK bob", "USER b 0 * :b")
        assert "come back tomorrow" in again.expect("ERROR").params[0]


def test_the_tables_work_from_the_keyboard(console: Callable[[], Console]) -> None:
    need_xdotool()
    window, server = console()
    with server.client("alice"), server.client("bob") as bob:
        bob.join("#lobby")
        select_user(window, "bob")
        window.user_table.tree.selection_set(())  # nothing chosen, as at the start
        focus_window(window.root)
        tree = window.user_table.tree
        for _ in range(20):  # Tab from the input until the users table has the keyboard
            if window.root.focus_get() is tree:
                break
            press_keys(window.root, "Tab")
        assert window.root.focus_get() is tree
        assert window.user_table.selected_key() == "alice"  # the first row, chosen
        press_keys(window.root, "Down")
        assert window.user_table.selected_key() == "bob"
        press_keys(window.root, "Return")  # Message
        assert window.target.get() == "bob" and window.root.focus_get() is window.entry
        tree.focus_set()
        window.root.update()
        kick = answer("#lobby", "out")
        window.ask = kick
        press_keys(window.root, "Delete")  # Kick…
        assert kick.asked and kick.asked[0][0] == "Kick bob"  # type: ignore[attr-defined]
        assert bob.expect("KICK").params == ("#lobby", "bob", "out")
        channels = window.channel_table.tree
        channels.focus_set()
        window.root.update()
        press_keys(window.root, "Return")  # Talk here, in the first channel
        assert window.target.get() == "#lobby"


def test_a_cluster_node_s_console_shows_the_nodes_and_redis_lost(
    redis_server: RedisServer,
    console: Callable[..., Console],
    make_node: Callable[..., RunningServer],
) -> None:
    window, a = console(cluster=cluster(redis_server.url, "a"))
    b = make_node("b")
    title = window.root.title()
    assert title.endswith("(node a)")
    nodes, users = window.node_table.tree, window.user_table.tree

    def cells(tree: Any, key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in tree.item(key, "values")) if tree.exists(key) else ()

    with a.client("alice"), b.client("bob"):
        pump_until(
            window.root,
            lambda: cells(nodes, "a")[:2] == ("a", "1") and cells(nodes, "b")[:2] == ("b", "1"),
            "nodes a and b, a user on each",
        )
        assert cells(nodes, "a")[3] == "yes" and cells(nodes, "b")[3] == ""
        assert cells(nodes, "b")[2].endswith("s ago")
        assert window.node_label.cget("text") == "Nodes (2)"
        pump_until(window.root, lambda: users.exists("bob"), "bob, on b, among the users")
        assert cells(users, "alice")[-1] == "a" and cells(users, "bob")[-1] == "b"
        assert cells(users, "bob")[3] == "\u2014"  # no idle time from another node
        questions: list[str] = []

        def refuse(_title: str, question: str) -> bool:
            questions.append(question)
            return False

        window.confirm = refuse
        window.ask_to_stop()
        assert "1 connected user will be disconnected" in questions[0]  # a's alone
        redis_server.stop()
        pump_until(window.root, lambda: window.root.title().endswith("Redis unreachable"), "lost")
        assert "does not answer" in window.status.text
        pump_until(window.root, lambda: "lost Redis at" in log_text(window), "the bus's warning")
        redis_server.start()
        # The bus tries again every 2 s at most, then the next look at the nodes sees it.
        pump_until(window.root, lambda: window.root.title() == title, "Redis back", deadline=15)
        assert window.status.text.startswith("Running.")
