"""The real client core against a server that plays history back on JOIN, unasked.

InspIRCd's chanhistory module sends a channel's last lines in a
``chathistory`` batch after each JOIN, to clients with ``batch``, and offers
no ``draft/chathistory``. The server here is a short script on a loopback
socket that does the same, so the client meets exactly those lines.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from updatelog import UpdateLog

from tcpchat.client.connection import ClientThread
from tcpchat.client.updates import HistoryBlock, HistoryKind, Line
from tcpchat.irc import LineDecoder, decode, parse

Connect = Callable[..., tuple[ClientThread, UpdateLog]]
TIMEOUT = 10.0
PLAYBACK = (
    "@batch=p;time=2024-05-01T10:00:00.000Z :bob!b@h PRIVMSG #c :morning",
    "@batch=p;time=2024-05-01T10:01:00.000Z :carol!c@h PRIVMSG #c :is the build green?",
)


def serve_one(listener: socket.socket) -> None:
    """Register one client, and answer its JOIN as chanhistory does: JOIN, NAMES, playback."""
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return  # no client came: the test says why
    conn.settimeout(TIMEOUT)
    decoder = LineDecoder()

    def send(*lines: str) -> None:
        conn.sendall("".join(f"{line}\r\n" for line in lines).encode())

    with conn:
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                return  # the client went quiet or away: the test says what it missed
            if not data:
                return
            for raw in decoder.feed(data):
                msg = parse(decode(raw))
                if msg.command == "CAP" and msg.params[0] == "LS":
                    send(":play.test CAP * LS :batch server-time message-tags")
                elif msg.command == "CAP" and msg.params[0] == "REQ":
                    send(f":play.test CAP * ACK :{msg.params[1]}")
                elif msg.command == "USER":
                    send(":play.test 001 alice :Welcome", ":play.test 376 alice :End of MOTD")
                elif msg.command == "JOIN":
                    send(
                        ":alice!a@h JOIN #c",
                        ":play.test 353 alice = #c :alice bob carol",
                        ":play.test 366 alice #c :End of /NAMES list.",
                        ":play.test BATCH +p chathistory #c",
                        *PLAYBACK,
                        ":play.test BATCH -p",
                        ":bob!b@h PRIVMSG #c :welcome back alice",
                    )


@pytest.fixture
def playback_server() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(TIMEOUT)
        thread = threading.Thread(target=serve_one, args=(listener,), daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(TIMEOUT)


def test_history_played_back_on_join_is_shown_before_what_follows(
    playback_server: int, connect: Connect
) -> None:
    _, log = connect("127.0.0.1", playback_server, "alice", "#c")
    found = log.wait_for(lambda u: isinstance(u, HistoryBlock), "the played-back history")
    assert isinstance(found, HistoryBlock)
    assert found.buffer == "#c" and found.kind is HistoryKind.RECENT
    assert [(line.nick, line.text, line.history) for line in found.lines] == [
        ("bob", "morning", True),
        ("carol", "is the build green?", True),
    ]
    assert found.lines[0].time.isoformat() == "2024-05-01T10:00:00+00:00"
    live = log.wait_line("welcome back alice")
    assert isinstance(live, Line) and not live.history
