"""The history tracker through the sans-IO session, fed the lines a server would send."""

from __future__ import annotations

from sessionfeed import NOW, feed, sent

from tcpchat.client.history import MAX_SEEN
from tcpchat.client.intents import LoadOlder
from tcpchat.client.session import Session
from tcpchat.client.updates import HistoryBlock, HistoryKind, Line, Update

CAPS = "batch draft/chathistory message-tags server-time echo-message"


def texts(updates: list[Update]) -> list[str]:
    out: list[str] = []
    for update in updates:
        if isinstance(update, HistoryBlock):
            out += [f"h:{line.text}" for line in update.lines]
        elif isinstance(update, Line):
            out.append(update.text)
    return out


def msg(msgid: str, text: str, target: str = "#c", batch: str = "") -> str:
    tags = f"@msgid={msgid};time=2024-05-01T11:00:00.000Z" + (f";batch={batch}" if batch else "")
    return f"{tags} :bob!u@h PRIVMSG {target} :{text}"


def session_in(channel: str, caps: str = CAPS, fence: bool = True) -> Session:
    """A session that joined ``channel``; ``fence``: the server has answered the PING sent
    before the history request, so the next history batch is the answer."""
    session = Session("alice", history_lines=3)
    session.start(NOW)
    feed(session, f":srv CAP * LS :{caps}", f":srv CAP * ACK :{caps}", ":srv 001 alice :Hi")
    feed(session, ":srv 005 alice CHATHISTORY=2 :are supported")
    sent(session)
    feed(session, f":alice!u@h JOIN {channel}")
    if fence:
        feed(session, ":srv PONG srv :history-1")
    return session


def test_first_join_asks_for_the_latest_within_the_servers_limit() -> None:
    session = session_in("#c")
    assert sent(session) == ["PING history-1", "CHATHISTORY LATEST #c * 2"]


def test_without_the_capability_nothing_is_asked() -> None:
    session = session_in("#c", caps="server-time")
    assert sent(session) == []
    assert session.perform(LoadOlder("#c"), NOW) == [] and sent(session) == []


def test_live_lines_wait_for_the_history_and_duplicates_are_dropped() -> None:
    session = session_in("#c")
    sent(session)
    held = feed(session, msg("3", "live during"), msg("3", "live during"))
    assert texts(held) == []
    updates = feed(
        session,
        ":srv BATCH +b1 chathistory #c",
        msg("2", "old", batch="b1"),
        msg("3", "live during", batch="b1"),
        ":srv BATCH -b1",
        msg("3", "live during"),  # an echo of what is shown already
        msg("4", "after"),
    )
    assert texts(updates) == ["h:old", "h:live during", "after"]


def test_a_refused_request_releases_the_held_lines() -> None:
    session = session_in("#c")
    sent(session)
    feed(session, msg("9", "waiting"))
    updates = feed(
        session, ":srv FAIL CHATHISTORY INVALID_TARGET LATEST #c :Messages could not be retrieved"
    )
    assert texts(updates) == ["waiting"]


def test_a_drop_mid_catch_up_shows_what_was_gathered_then_resumes_after_it() -> None:
    session = session_in("#c")
    feed(session, ":srv BATCH +b1 chathistory #c", msg("1", "one", batch="b1"), ":srv BATCH -b1")
    session.connection_lost("gone", NOW)
    session.start(NOW)
    feed(session, f":srv CAP * LS :{CAPS}", f":srv CAP * ACK :{CAPS}", ":srv 001 alice :Hi")
    feed(session, ":srv 005 alice CHATHISTORY=2 :are supported", ":alice!u@h JOIN #c")
    assert sent(session)[-2:] == ["PING history-2", "CHATHISTORY AFTER #c msgid=1 2"]
    first = feed(
        session,
        ":srv PONG srv :history-2",
        ":srv BATCH +b2 chathistory #c",
        msg("2", "two", batch="b2"),
        msg("3", "three", batch="b2"),
        ":srv BATCH -b2",
        msg("5", "live"),
    )
    assert texts(first) == []  # a full page: more may follow
    assert sent(session) == ["CHATHISTORY AFTER #c msgid=3 2"]
    updates = feed(session, ":srv BATCH +b3 chathistory #c", msg("4", "four", batch="b3"))
    updates += session.connection_lost("gone again", NOW)
    assert texts(updates)[:4] == ["h:two", "h:three", "live", "Disconnected: gone again"]


def test_older_pages_go_to_the_top_and_end_when_short() -> None:
    session = session_in("#c")
    sent(session)
    feed(
        session,
        ":srv BATCH +b1 chathistory #c",
        msg("5", "five", batch="b1"),
        msg("6", "six", batch="b1"),
        ":srv BATCH -b1",
    )
    session.perform(LoadOlder("#c"), NOW)
    session.perform(LoadOlder("#c"), NOW)  # one request at a time
    assert sent(session) == ["CHATHISTORY BEFORE #c msgid=5 2"]
    updates = feed(
        session, ":srv BATCH +b2 chathistory #c", msg("4", "four", batch="b2"), ":srv BATCH -b2"
    )
    [block] = [u for u in updates if isinstance(u, HistoryBlock)]
    assert block.kind is HistoryKind.OLDER and block.complete
    assert [line.text for line in block.lines] == ["four"]
    session.perform(LoadOlder("#c"), NOW)
    assert sent(session) == []


def test_private_chats_catch_up_on_the_welcome_and_follow_nick_changes() -> None:
    session = session_in("#c")
    feed(session, msg("7", "psst", target="alice"))
    feed(session, ":bob!u@h NICK robert")
    session.connection_lost("gone", NOW)
    session.start(NOW)
    sent(session)
    feed(session, f":srv CAP * LS :{CAPS}", f":srv CAP * ACK :{CAPS}", ":srv 001 alice :Hi")
    assert not [line for line in sent(session) if line.startswith("CHATHISTORY")]
    feed(session, ":srv 005 alice CHATHISTORY=2 :are supported", ":srv 376 alice :End of MOTD")
    assert sent(session) == ["CHATHISTORY AFTER robert msgid=7 2"]


def test_seen_ids_are_bounded() -> None:
    session = session_in("#c")
    feed(session, ":srv BATCH +b1 chathistory #c", ":srv BATCH -b1")
    for i in range(MAX_SEEN + 5):
        feed(session, msg(str(i), "x"))
    # The oldest id was forgotten, so it would show again; the newest is still known.
    assert texts(feed(session, msg("0", "x"))) == ["x"]
    assert texts(feed(session, msg(str(MAX_SEEN + 4), "x"))) == []


def test_history_a_server_sends_unasked_on_join_is_shown_as_history() -> None:
    # As InspIRCd's chanhistory does; it offers no draft/chathistory, so nothing is asked.
    session = session_in("#c", caps="batch message-tags server-time", fence=False)
    assert sent(session) == []
    updates = feed(
        session,
        ":srv BATCH +p chathistory #c",
        msg("1", "said before", batch="p"),
        msg("2", "said just before", batch="p"),
        ":srv BATCH -p",
        ":srv 353 alice = #c :alice bob",
        ":srv 366 alice #c :End",
    )
    [block] = [u for u in updates if isinstance(u, HistoryBlock)]
    assert block.kind is HistoryKind.RECENT and block.buffer == "#c"
    assert [(line.text, line.history) for line in block.lines] == [
        ("said before", True),
        ("said just before", True),
    ]
    assert texts(feed(session, msg("3", "live now"))) == ["live now"]


def test_an_unasked_batch_before_the_answer_is_not_taken_for_it() -> None:
    session = session_in("#c", fence=False)
    assert sent(session) == ["PING history-1", "CHATHISTORY LATEST #c * 2"]
    played_back = feed(
        session,
        ":srv BATCH +p chathistory #c",
        msg("1", "one", batch="p"),
        ":srv BATCH -p",
        msg("5", "live, held for the answer"),
    )
    assert texts(played_back) == ["h:one"]
    answered = feed(
        session,
        ":srv PONG srv :history-1",
        ":srv BATCH +a chathistory #c",
        msg("1", "one", batch="a"),  # shown already
        msg("2", "two", batch="a"),
        ":srv BATCH -a",
    )
    assert texts(answered) == ["h:two", "live, held for the answer"]
    session.perform(LoadOlder("#c"), NOW)  # the answer, not the playback, set where it starts
    assert sent(session) == ["CHATHISTORY BEFORE #c msgid=1 2"]
