"""The sans-IO session, fed protocol text the way a server would send it."""

from __future__ import annotations

from datetime import UTC, datetime

from sessionfeed import NOW, feed, sent

from tcpchat.client.intents import ChangeNick, CloseBuffer, Focus, Join, OpenQuery, Raw, Say
from tcpchat.client.session import WANTED_CAPS, Session
from tcpchat.client.updates import (
    SERVER_BUFFER,
    BufferClosed,
    BufferOpened,
    BufferRenamed,
    BufferState,
    ConnState,
    Line,
    LineKind,
    Members,
    Status,
    Topic,
    Update,
)


def lines(updates: list[Update]) -> list[Line]:
    return [u for u in updates if isinstance(u, Line)]


def welcomed(nick: str = "alice", caps: str = "", channels: tuple[str, ...] = ()) -> Session:
    """A session registered with a server that offered ``caps``, in ``channels``."""
    session = Session(nick, server="irc.test:6667", channels=channels)
    session.start(NOW)
    feed(session, f":srv CAP * LS :{caps}")
    if caps:
        feed(session, f":srv CAP * ACK :{caps}")
    feed(session, f":srv 001 {nick} :Welcome", f":srv 005 {nick} PREFIX=(qov)~@+ :are supported")
    for channel in channels:
        feed(
            session,
            f":{nick}!u@host.example JOIN {channel}",
            f":srv 353 {nick} = {channel} :~{nick} @bob +carol dave",
            f":srv 366 {nick} {channel} :End",
        )
    session.take_outgoing()
    return session


def test_registration_negotiates_only_offered_wanted_caps() -> None:
    session = Session("alice", password="pw")
    assert session.start(NOW) == [Status(ConnState.CONNECTING, "", "alice")]
    assert sent(session) == [
        "CAP LS 302",
        "PASS pw",
        "NICK alice",
        "USER tcpchat 0 * :tcpchat user",
    ]
    feed(session, ":srv CAP * LS * :sasl server-time multi-prefix=x")
    assert sent(session) == []  # more LS lines follow
    feed(session, ":srv CAP * LS :echo-message draft/pre-away")
    assert sent(session) == ["CAP REQ :echo-message multi-prefix server-time"]
    feed(session, ":srv CAP alice ACK :echo-message multi-prefix server-time")
    assert sent(session) == ["CAP END"]
    assert session.caps == {"echo-message", "multi-prefix", "server-time"} <= WANTED_CAPS


def test_no_capabilities_ends_negotiation_at_once() -> None:
    session = Session("alice")
    session.start(NOW)
    session.take_outgoing()
    feed(session, ":srv CAP * LS :sasl")
    assert sent(session) == ["CAP END"]


def test_welcome_joins_channels_and_says_so() -> None:
    session = Session("alice", channels=("#lobby", "#dev"))
    session.start(NOW)
    session.take_outgoing()
    updates = feed(session, ":srv 001 alice :Welcome to IRC")
    assert Status(ConnState.CONNECTED, "", "alice") in updates
    assert sent(session) == ["JOIN #lobby,#dev"]
    assert any("Joining #lobby, #dev" in line.text for line in lines(updates))


def test_nick_in_use_tries_alternatives() -> None:
    session = Session("alice")
    session.start(NOW)
    session.take_outgoing()
    updates = feed(session, ":srv 433 * alice :Nickname is already in use")
    assert sent(session) == ["NICK alice_"]
    assert "trying alice_" in lines(updates)[0].text
    feed(session, ":srv 433 * alice_ :Nickname is already in use")
    assert sent(session) == ["NICK alice2"]
    feed(session, ":srv 001 alice2 :Welcome")
    assert session.nick == "alice2"


def test_long_nick_alternative_stays_within_nine_characters() -> None:
    session = Session("abcdefghi")
    session.start(NOW)
    session.take_outgoing()
    feed(session, ":srv 433 * abcdefghi :in use")
    assert sent(session) == ["NICK abcdefgh_"]


def test_names_and_modes_give_sorted_members_with_prefixes() -> None:
    session = welcomed(channels=("#c",))
    assert session.channels["#c"].display_names(session.rules) == (
        "~alice",
        "@bob",
        "+carol",
        "dave",
    )
    updates = feed(session, ":bob!b@h MODE #c +o-v+v dave carol carol")
    assert Members("#c", ("~alice", "@bob", "@dave", "+carol")) in updates
    updates = feed(session, ":bob!b@h MODE #c -o dave")
    assert Members("#c", ("~alice", "@bob", "+carol", "dave")) in updates


def test_multi_prefix_names_keep_every_prefix() -> None:
    session = welcomed(channels=("#c",))
    feed(session, ":srv 353 alice = #c :@+bob erin!e@h", ":srv 366 alice #c :End")
    assert session.channels["#c"].display_names(session.rules) == ("@bob", "erin")
    feed(session, ":x!x@x MODE #c -o bob")
    assert session.channels["#c"].display_names(session.rules) == ("+bob", "erin")


def test_messages_mentions_and_unread_counts() -> None:
    session = welcomed(channels=("#c", "#d"))
    feed(session, ":srv 001 alice :x")
    session.perform(Focus("#c"), NOW)
    updates = feed(session, ":bob!b@h PRIVMSG #d :hi there", ":bob!b@h PRIVMSG #d :ALICE: look")
    assert [u for u in updates if isinstance(u, BufferState)] == [
        BufferState("#d", 1, False),
        BufferState("#d", 2, True),
    ]
    assert [line.mention for line in lines(updates)] == [False, True]
    # A nick inside a longer word is not a mention.
    assert not lines(feed(session, ":bob!b@h PRIVMSG #d :malice aforethought"))[0].mention
    assert session.perform(Focus("#D"), NOW) == [BufferState("#d", 0, False)]
    # The conversation in view counts nothing.
    assert [type(u) for u in feed(session, ":bob!b@h PRIVMSG #d :seen")] == [Line]


def test_action_and_server_time() -> None:
    session = welcomed(caps="server-time", channels=("#c",))
    (line,) = lines(
        feed(session, "@time=2020-01-02T03:04:05.678Z :bob!b@h PRIVMSG #c :\x01ACTION waves\x01")
    )
    assert line.kind is LineKind.ACTION and line.text == "waves" and line.nick == "bob"
    assert line.time == datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_private_message_opens_a_buffer_without_focus() -> None:
    session = welcomed()
    updates = feed(session, ":Bob!b@h PRIVMSG alice :psst")
    assert updates[0] == BufferOpened("Bob", focus=False)
    assert lines(updates)[0].buffer == "Bob"
    updates = feed(session, ":Bob!b@h NICK robert")
    assert BufferRenamed("Bob", "robert") in updates
    assert lines(feed(session, ":robert!b@h PRIVMSG alice :again"))[0].buffer == "robert"


def test_ctcp_version_is_answered() -> None:
    session = welcomed()
    feed(session, ":bob!b@h PRIVMSG alice :\x01VERSION\x01")
    assert sent(session)[0].startswith("NOTICE bob :\x01VERSION tcpchat")


def test_say_without_echo_shows_own_line_and_splits() -> None:
    session = welcomed(channels=("#c",))
    text = "é" * 600
    updates = session.perform(Say("#c", text), NOW)
    out = session.take_outgoing()
    assert len(out) == 3
    prefix = len(b":alice!u@host.example ")
    assert all(len(m.to_bytes()) + prefix <= 512 for m in out)
    assert "".join(m.params[1] for m in out) == text
    assert all(line.own for line in lines(updates)) and len(lines(updates)) == 3


def test_say_with_echo_waits_for_the_echo() -> None:
    session = welcomed(caps="echo-message", channels=("#c",))
    assert session.perform(Say("#c", "hello"), NOW) == []
    (line,) = lines(feed(session, ":alice!u@h PRIVMSG #c :hello"))
    assert line.own and not line.mention


def test_action_intent_is_wrapped_in_ctcp() -> None:
    session = welcomed(channels=("#c",))
    session.perform(Say("#c", "waves", action=True), NOW)
    assert sent(session) == ["PRIVMSG #c :\x01ACTION waves\x01"]


def test_offline_intents_wait_for_the_welcome() -> None:
    session = welcomed(channels=("#c",))
    session.connection_lost("reset", NOW)
    updates = session.perform(Say("#c", "typed offline"), NOW)
    assert "will be sent" in lines(updates)[0].text
    session.start(NOW)
    session.take_outgoing()
    feed(session, ":srv 001 alice :Welcome back")
    assert sent(session) == ["JOIN #c", "PRIVMSG #c :typed offline"]


def test_connection_lost_is_said_everywhere() -> None:
    session = welcomed(channels=("#c",))
    updates = session.connection_lost("Connection reset by peer", NOW)
    assert Status(ConnState.DISCONNECTED, "irc.test:6667", "alice") in updates
    assert Members("#c", ()) in updates
    assert {line.buffer for line in lines(updates)} == {SERVER_BUFFER, "#c"}


def test_kick_of_self_keeps_buffer_and_is_not_rejoined() -> None:
    session = welcomed(channels=("#c",))
    (line, members) = feed(session, ":bob!b@h KICK #c alice :bye now")
    assert isinstance(line, Line) and line.kind is LineKind.ERROR
    assert "kicked from #c by bob (bye now)" in line.text
    assert members == Members("#c", ())
    session.connection_lost("x", NOW)
    session.start(NOW)
    session.take_outgoing()
    feed(session, ":srv 001 alice :hi")
    assert sent(session) == []


def test_part_join_quit_nick_lines_are_quiet() -> None:
    session = welcomed(channels=("#c",))
    updates = feed(
        session,
        ":erin!e@h JOIN #c",
        ":erin!e@h NICK erin2",
        ":erin2!e@h PART #c :later",
        ":dave!d@h QUIT :gone",
    )
    texts = [(line.kind, line.text) for line in lines(updates)]
    assert texts == [
        (LineKind.JOIN, "erin (e@h) joined"),
        (LineKind.NICK, "erin is now erin2"),
        (LineKind.PART, "erin2 left (later)"),
        (LineKind.QUIT, "dave quit (gone)"),
    ]
    assert all(line.kind.quiet for line in lines(updates))
    assert session.channels["#c"].display_names(session.rules) == ("~alice", "@bob", "+carol")


def test_topic_and_close() -> None:
    session = welcomed(channels=("#c",))
    updates = feed(session, ":bob!b@h TOPIC #c :new topic")
    assert Topic("#c", "new topic") in updates
    session.perform(CloseBuffer("#c"), NOW)
    assert sent(session) == ["PART #c"]
    assert feed(session, ":alice!u@h PART #c") == [BufferClosed("#c")]


def test_own_nick_change_updates_status() -> None:
    session = welcomed()
    session.perform(ChangeNick("alicia"), NOW)
    assert sent(session) == ["NICK alicia"]
    updates = feed(session, ":alice!u@h NICK alicia")
    assert Status(ConnState.CONNECTED, "irc.test:6667", "alicia") in updates
    assert session.nick == "alicia"


def test_errors_go_to_the_conversation_in_view() -> None:
    session = welcomed(channels=("#c",))
    session.perform(Focus("#c"), NOW)
    (line,) = lines(feed(session, ":srv 401 alice nobody :No such nick/channel"))
    assert line.buffer == "#c" and line.kind is LineKind.ERROR
    assert "nobody" in line.text


def test_query_join_and_raw_intents() -> None:
    session = welcomed()
    assert session.perform(OpenQuery("bob", "hi"), NOW)[0] == BufferOpened("bob", focus=True)
    session.perform(Join("#x", "key"), NOW)
    session.perform(Raw("MODE #x +m"), NOW)
    assert sent(session) == ["PRIVMSG bob hi", "JOIN #x key", "MODE #x +m"]


def test_ping_is_answered() -> None:
    session = welcomed()
    feed(session, "PING :abc")
    assert sent(session) == ["PONG abc"]


def test_first_autojoined_channel_is_shown_and_later_ones_are_not() -> None:
    session = Session("alice", channels=("#a", "#b"))
    session.start(NOW)
    feed(session, ":srv 001 alice :hi")
    first = feed(session, ":alice!u@h JOIN #a")
    second = feed(session, ":alice!u@h JOIN #b")
    assert BufferOpened("#a", focus=True) in first
    assert BufferOpened("#b", focus=False) in second
    session.perform(Join("#c"), NOW)
    assert BufferOpened("#c", focus=True) in feed(session, ":alice!u@h JOIN #c")


def test_join_of_a_channel_already_joined_goes_to_it() -> None:
    session = welcomed(channels=("#a", "#b"))
    session.perform(Focus("#b"), NOW)
    updates = session.perform(Join("#A"), NOW)
    assert updates == [BufferOpened("#a", focus=True)]
    assert session.active == "#a"
    assert sent(session) == []  # nothing to ask the server: we are there
    session.perform(Join("#new"), NOW)
    assert sent(session) == ["JOIN #new"]


def test_a_private_message_is_a_highlight_and_a_private_notice_is_not() -> None:
    session = welcomed(channels=("#c",))
    updates = feed(session, ":bob!b@h PRIVMSG alice :are you there?")
    (line,) = lines(updates)
    assert line.mention and line.buffer == "bob"
    assert BufferState("bob", 1, True) in updates
    (action,) = lines(feed(session, ":bob!b@h PRIVMSG alice :\x01ACTION waves\x01"))
    assert action.mention
    (notice,) = lines(feed(session, ":bob!b@h NOTICE alice :automatic reply"))
    assert not notice.mention
    (channel_line,) = lines(feed(session, ":bob!b@h PRIVMSG #c :hello all"))
    assert not channel_line.mention
