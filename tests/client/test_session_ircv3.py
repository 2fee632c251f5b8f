"""The session with the IRCv3 features of today's clients: several lines in
one message, read markers, deletions, replies and reactions, typing,
display names and colours, bots, and standard replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sessionfeed import NOW, feed, sent

from tcpchat.client.intents import Delete, Focus, React, Say, SetProfile, TypingNow
from tcpchat.client.multiline import Limits, MultilineCollector, batch_lines
from tcpchat.client.session import Session
from tcpchat.client.updates import (
    BufferState,
    Line,
    Profile,
    Reaction,
    Redacted,
    Typing,
    Update,
)
from tcpchat.irc import parse

CAPS = (
    "message-tags server-time echo-message batch draft/read-marker draft/message-redaction "
    "draft/metadata-2=before-connect,max-subs=100 draft/multiline=max-bytes=4096,max-lines=32"
)


def lines(updates: list[Update]) -> list[Line]:
    return [u for u in updates if isinstance(u, Line)]


def modern(nick: str = "alice", channels: tuple[str, ...] = ("#c",), caps: str = CAPS) -> Session:
    """A session welcomed by a server that offered (and granted) ``caps``."""
    session = Session(nick, server="irc.test:6667", channels=channels)
    session.start(NOW)
    names = " ".join(cap.partition("=")[0] for cap in caps.split())
    feed(session, f":srv CAP * LS :{caps}", f":srv CAP * ACK :{names}", f":srv 001 {nick} :Hi")
    for channel in channels:
        feed(session, f":{nick}!u@h JOIN {channel}", f":srv 366 {nick} {channel} :End")
    session.take_outgoing()
    return session


def test_the_new_capabilities_are_asked_for_and_profiles_subscribed() -> None:
    session = Session("alice")
    session.start(NOW)
    session.take_outgoing()
    feed(session, f":srv CAP * LS :{CAPS}")
    (request,) = sent(session)
    for cap in ("draft/read-marker", "draft/message-redaction", "draft/multiline"):
        assert cap in request.split()
    names = " ".join(cap.partition("=")[0] for cap in CAPS.split())
    feed(session, f":srv CAP * ACK :{names}", ":srv 001 alice :Hi")
    assert "METADATA * SUB display-name color" in sent(session)


def test_several_lines_go_as_one_batch_when_they_fit() -> None:
    session = modern()
    session.perform(Say("#c", "first\n\nthird line", reply_to="m1"), NOW)
    out = sent(session)
    assert out[0] == "@+reply=m1 BATCH +ml1 draft/multiline #c"
    assert out[1:-1] == [
        "@batch=ml1 PRIVMSG #c first",
        "@batch=ml1 PRIVMSG #c :",
        "@batch=ml1 PRIVMSG #c :third line",
    ]
    assert out[-1] == "BATCH -ml1"
    # Past the server's limits: line by line, as to a server without multiline.
    small = modern(caps=CAPS.replace("max-lines=32", "max-lines=2"))
    small.perform(Say("#c", "a\nb\nc"), NOW)
    assert sent(small) == ["PRIVMSG #c a", "PRIVMSG #c b", "PRIVMSG #c c"]


def test_a_long_line_is_split_with_concat_and_joins_up() -> None:
    limits = Limits.parse("max-bytes=4096,max-lines=32")
    assert limits is not None
    parts = batch_lines("word " * 60 + "\nend", 100, limits)
    assert parts is not None
    assert all(len(text.encode()) <= 100 for text, _ in parts)
    assert [concat for _, concat in parts][:2] == [False, True] and parts[-1] == ("end", False)
    assert "".join(t if c else "\n" + t for t, c in parts).lstrip("\n") == "word " * 60 + "\nend"
    assert batch_lines("x" * 5000, 400, limits) is None  # over max-bytes
    assert Limits.parse("max-lines=3") is None  # max-bytes is required


def test_a_received_batch_is_one_line_with_the_batch_tags() -> None:
    session = modern()
    (line,) = lines(
        feed(
            session,
            "@msgid=b1;+reply=m0;bot :bob!b@h BATCH +x draft/multiline #c",
            "@batch=x :bob!b@h PRIVMSG #c :hello",
            "@batch=x :bob!b@h PRIVMSG #c :how is ",
            "@batch=x;draft/multiline-concat :bob!b@h PRIVMSG #c :everyone?",
            ":bob!b@h BATCH -x",
        )
    )
    assert line.text == "hello\nhow is everyone?" and line.nick == "bob"
    assert (line.msgid, line.reply_to, line.bot) == ("b1", "m0", True)
    collector = MultilineCollector()
    assert not collector.collect(parse("@batch=nope PRIVMSG #c :stray"))


def test_read_markers_clear_unread_and_are_sent_on_focus() -> None:
    session = modern(channels=("#c", "#d"))
    session.perform(Focus("#c"), NOW)
    sent(session)
    said = feed(session, "@time=2024-05-01T11:00:00.000Z :bob!b@h PRIVMSG #d :news")
    assert BufferState("#d", 1, False) in said
    # Read on another device up to that message: no longer unread here.
    assert feed(session, ":srv MARKREAD #d timestamp=2024-05-01T11:00:00.000Z") == [
        BufferState("#d", 0, False)
    ]
    feed(session, "@time=2024-05-01T11:05:00.000Z :bob!b@h PRIVMSG #d :more")
    session.perform(Focus("#d"), NOW)
    assert sent(session) == ["MARKREAD #d timestamp=2024-05-01T11:05:00.000Z"]
    session.perform(Focus("#c"), NOW)
    session.perform(Focus("#d"), NOW)
    assert "MARKREAD #c" not in " ".join(sent(session))  # #c has no message to mark


def test_deletions_reactions_and_typing() -> None:
    session = modern()
    (line,) = lines(feed(session, "@msgid=m7 :bob!b@h PRIVMSG #c :typo"))
    assert line.msgid == "m7"
    assert feed(session, ":bob!b@h REDACT #c m7 :oops") == [Redacted("#c", "m7", "bob", "oops")]
    assert feed(session, "@+reply=m7;+draft/react=\U0001f44d :bob!b@h TAGMSG #c") == [
        Reaction("#c", "m7", "bob", "\U0001f44d")
    ]
    assert feed(session, "@+typing=active :bob!b@h TAGMSG #c") == [Typing("#c", "bob", "active")]
    assert feed(session, "@+typing=active :alice!u@h TAGMSG #c") == []  # our own echo
    session.perform(Delete("#c", "m8"), NOW)
    session.perform(React("#c", "m7", "\u2764"), NOW)
    assert sent(session) == ["REDACT #c m8", "@+reply=m7;+draft/react=\u2764 TAGMSG #c"]


def test_typing_is_throttled_and_done_follows_only_active() -> None:
    session = modern()
    session.perform(TypingNow("#c", "done"), NOW)  # nothing was said to take back
    session.perform(TypingNow("#c"), NOW)
    session.perform(TypingNow("#c"), NOW + timedelta(seconds=1))
    later = NOW + timedelta(seconds=3)
    session.perform(TypingNow("#c"), later)
    session.perform(TypingNow("#c", "done"), later)
    assert sent(session) == [
        "@+typing=active TAGMSG #c",
        "@+typing=active TAGMSG #c",
        "@+typing=done TAGMSG #c",
    ]
    plain = modern(caps="batch")
    plain.perform(TypingNow("#c"), NOW)
    assert sent(plain) == []  # no tags, no typing


def test_profiles_follow_metadata_and_nicks() -> None:
    session = modern()
    assert feed(session, ":srv METADATA bob display-name * :Bob B.") == [Profile("bob", "Bob B.")]
    assert feed(session, ":srv METADATA bob color * :#00ff00") == [
        Profile("bob", "Bob B.", "#00ff00")
    ]
    assert feed(session, ":srv METADATA bob color * :red; drop tables") == [
        Profile("bob", "Bob B.", "")
    ]
    assert Profile("robert", "Bob B.", "") in feed(session, ":bob!b@h NICK robert")
    session.perform(SetProfile("display-name", "Alice A."), NOW)
    session.perform(SetProfile("color"), NOW)
    assert sent(session) == ["METADATA * SET display-name :Alice A.", "METADATA * SET color"]


def test_standard_replies_read_clearly() -> None:
    session = modern()
    (fail,) = lines(feed(session, ":srv FAIL REDACT REDACT_FORBIDDEN #c m1 :Not yours"))
    assert fail.text == "REDACT: Not yours"
    (warn,) = lines(feed(session, ":srv WARN PRIVMSG INVALID_UTF8 :Modified"))
    assert warn.text == "PRIVMSG: Modified" and warn.kind.name == "INFO"


def test_server_time_of_lines_is_kept_for_markers() -> None:
    session = modern()
    (line,) = lines(feed(session, "@time=2024-05-01T11:00:00.000Z :bob!b@h PRIVMSG #c :x"))
    assert line.time == datetime(2024, 5, 1, 11, tzinfo=UTC)
