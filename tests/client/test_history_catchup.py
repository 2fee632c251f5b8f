"""History in the client core, against the real tcpchat server with history in SQLite.

The other people are raw test clients, so what was said is known exactly;
the client's view is rebuilt from its updates as a window would draw it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer, say
from updatelog import UpdateLog, joined

from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import LoadOlder, Say
from tcpchat.client.updates import ConnState, HistoryBlock, HistoryKind, Status
from tcpchat.server.config import HistorySettings

Connect = Callable[..., tuple[ClientThread, UpdateLog]]


@pytest.fixture
def history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    # A small page, so that catching up and scrolling back take several requests.
    return make_server(
        history=HistorySettings(path=str(tmp_path / "history.sqlite3"), request_limit=10)
    )


def block(log: UpdateLog, buffer: str, kind: HistoryKind) -> HistoryBlock:
    found = log.wait_for(
        lambda u: isinstance(u, HistoryBlock) and u.buffer == buffer and u.kind is kind,
        f"{kind.name} history for {buffer}",
    )
    assert isinstance(found, HistoryBlock)
    return found


def test_join_shows_the_last_lines_marked_as_history(
    history_server: RunningServer, connect: Connect
) -> None:
    with history_server.client("bob") as bob:
        bob.join("#h")
        say(bob, "#h", *(f"old {i}" for i in range(25)))
        _client, log = connect(history_server.host, history_server.port, "alice", "#h")
        joined(log, "#h", "alice", "bob")
        recent = block(log, "#h", HistoryKind.RECENT)
        # The default 50 asked for, the server's 10 a request given.
        assert [line.text for line in recent.lines] == [f"old {i}" for i in range(15, 25)]
        assert all(line.history and line.nick == "bob" for line in recent.lines)
        say(bob, "#h", "live one")
        assert not log.wait_line("live one").history
    assert log.said("#h") == [*(f"old {i}" for i in range(15, 25)), "live one"]


def test_history_size_is_a_setting(history_server: RunningServer, connect: Connect) -> None:
    with history_server.client("bob") as bob:
        bob.join("#n")
        say(bob, "#n", *(f"m{i}" for i in range(9)))
        client, log = connect(
            history_server.host, history_server.port, "alice", "#n", history_lines=3
        )
        recent = block(log, "#n", HistoryKind.RECENT)
        assert [line.text for line in recent.lines] == ["m6", "m7", "m8"]
        assert client.session.history.lines == 3


def test_scrolling_back_pages_through_older_messages(
    history_server: RunningServer, connect: Connect
) -> None:
    with history_server.client("bob") as bob:
        bob.join("#old")
        say(bob, "#old", *(f"n{i}" for i in range(14)))
        client, log = connect(
            history_server.host, history_server.port, "alice", "#old", history_lines=5
        )
        assert [line.text for line in block(log, "#old", HistoryKind.RECENT).lines] == [
            f"n{i}" for i in range(9, 14)
        ]
        client.submit(LoadOlder("#old"))
        page = block(log, "#old", HistoryKind.OLDER)
        assert [line.text for line in page.lines] == [f"n{i}" for i in range(4, 9)]
        assert not page.complete and all(line.history for line in page.lines)
        client.submit(LoadOlder("#old"))
        last = block(log, "#old", HistoryKind.OLDER)
        assert [line.text for line in last.lines] == [f"n{i}" for i in range(4)]
        assert last.complete
        client.submit(LoadOlder("#old"))  # nothing older: no request goes out
        say(bob, "#old", "after")
        log.wait_line("after")
    assert log.said("#old") == [f"n{i}" for i in range(14)] + ["after"]


def test_catch_up_after_a_drop_has_every_message_once_in_order(
    history_server: RunningServer, connect: Connect
) -> None:
    client, log = connect(history_server.host, history_server.port, "alice", "#c")
    joined(log, "#c", "alice")
    with history_server.client("bob") as bob, history_server.client("carol") as carol:
        bob.join("#c")
        carol.join("#c")
        joined(log, "#c", "alice", "bob", "carol")
        said = [f"before {i}" for i in range(5)]
        say(bob, "#c", *said)
        say(bob, "alice", "private before")
        log.wait_line("private before")
        client.submit(Say("#c", "mine before"))
        said.append("mine before")
        log.wait_line("mine before")

        # Cut the link under the client while two people keep talking: through
        # the drop, the reconnection and the catch-up, which takes 4+ pages.
        talking = threading.Event()

        def talk() -> None:
            for i in range(80):
                who = bob if i % 2 else carol
                text = f"while {i}"
                who.send(f"PRIVMSG #c :{text}")
                said.append(text)
                if i == 5:
                    talking.set()
                time.sleep(0.03)

        talker = threading.Thread(target=talk)
        client.drop_link()
        talker.start()
        talking.wait(5)
        log.wait_line("Disconnected")
        log.wait_for(
            lambda u: isinstance(u, Status) and u.state is ConnState.CONNECTED, "reconnected"
        )
        talker.join(10)
        say(bob, "#c", "last")
        said.append("last")
        log.wait_line("last", timeout=15)
        say(bob, "alice", "private after")
        log.wait_line("private after")
        client.submit(Say("#c", "mine after"))
        said.append("mine after")
        log.wait_line("mine after")
    assert log.said("#c") == said
    assert log.said("bob") == ["private before", "private after"]
    missed = [u for u in log.seen if isinstance(u, HistoryBlock) and u.kind is HistoryKind.MISSED]
    assert missed and all(line.history for b in missed for line in b.lines)
