"""Parsing and formatting IRC lines, including IRCv3 tags."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.irc import (
    FormatError,
    Message,
    ProtocolError,
    decode,
    format_params,
    parse,
    parse_text,
    quote_params,
)
from tcpchat.irc.message import escape_tag_value, unescape_tag_value


def test_parse_full_line() -> None:
    msg = parse("@id=123;+draft/typing=active :nick!u@h PRIVMSG #chan :hello there\r\n")
    assert msg.tags == {"id": "123", "+draft/typing": "active"}
    assert msg.source == "nick!u@h"
    assert msg.command == "PRIVMSG"
    assert msg.params == ("#chan", "hello there")


def test_parse_lowercase_command_and_extra_spaces() -> None:
    msg = parse("privmsg   #a    :x  y")
    assert msg.command == "PRIVMSG"
    assert msg.params == ("#a", "x  y")


def test_parse_empty_trailing_and_colon_inside() -> None:
    assert parse("TOPIC #a :").params == ("#a", "")
    assert parse("PRIVMSG #a :a :b").params == ("#a", "a :b")


def test_parse_tag_escapes() -> None:
    msg = parse(r"@a=x\:y\sz\\w\r\n;b=end\ TAGMSG #c")
    assert msg.tags == {"a": "x;y z\\w\r\n", "b": "end"}


def test_parse_tag_without_value() -> None:
    assert parse("@flag;k= CMD").tags == {"flag": "", "k": ""}


@pytest.mark.parametrize("line", ["", "   ", "@tags-only", ":source-only", "@a=b :src"])
def test_parse_rejects_lines_without_command(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse(line)


def test_format_puts_colon_only_where_needed() -> None:
    assert Message("PRIVMSG", ("#a", "hi")).format() == "PRIVMSG #a hi"
    assert Message("PRIVMSG", ("#a", "hi there")).format() == "PRIVMSG #a :hi there"
    assert Message("TOPIC", ("#a", "")).format() == "TOPIC #a :"
    assert Message("X", ("#a", ":)")).format() == "X #a ::)"


def test_format_with_source_and_tags() -> None:
    msg = Message("PRIVMSG", ("#a", "hi"), "n!u@h", {"time": "now", "+x": "a b;c"})
    assert msg.format() == r"@time=now;+x=a\sb\:c :n!u@h PRIVMSG #a hi"
    assert msg.to_bytes().endswith(b"\r\n")


@pytest.mark.parametrize(
    "message",
    [
        Message("PRIVMSG", ("has space", "x")),
        Message("PRIVMSG", ("", "x")),
        Message("PRIVMSG", (":colon", "x")),
        Message("PRIVMSG", ("#a", "line\r\nQUIT")),
        Message("PRIV MSG", ()),
        Message("PING", (), "bad source"),
    ],
)
def test_format_refuses_lines_that_would_parse_differently(message: Message) -> None:
    with pytest.raises(FormatError):
        message.format()


def test_decode_never_fails_on_invalid_utf8() -> None:
    assert decode(b"caf\xe9") == "caf\ufffd"
    assert decode("café".encode()) == "café"


def test_decode_replaces_what_no_line_may_hold() -> None:
    assert decode(b"REGISTE\x1b\x01\x02\rTAB\tX") == "REGISTE\x1b\x01\x02\ufffdTAB\tX"
    assert decode(b"a\0b\nc\xff") == "a\ufffdb\ufffdc\ufffd"


@given(st.binary(max_size=100))
def test_decoded_text_never_breaks_a_line(data: bytes) -> None:
    text = decode(data)
    assert not {"\r", "\n", "\0"} & set(text)


def test_quote_params_makes_client_words_fit() -> None:
    # Where a strict format would refuse, a reply still goes out.
    with pytest.raises(FormatError):
        format_params(("#a b", "End of /NAMES list"))
    assert quote_params(("#a b", "End of /NAMES list")) == " * :End of /NAMES list"
    assert quote_params(("", ":x", "Unknown")) == " * * Unknown"
    assert quote_params(("FOO\0BAR", "last\r\n")) == " FOO\ufffdBAR last\ufffd\ufffd"
    # What fits is left as it is, colon and all.
    assert quote_params(("#a", "two words")) == format_params(("#a", "two words"))


@given(st.lists(st.text(), max_size=5))
def test_quoted_params_always_format_and_keep_their_number(params: list[str]) -> None:
    line = "CMD" + quote_params(params)
    assert "\r" not in line and "\n" not in line and "\0" not in line
    assert len(parse(line).params) == len(params)


_word = st.text(
    alphabet=st.characters(blacklist_characters=" \r\n\0:", blacklist_categories=("Cs",)),
    min_size=1,
)
_trailing = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",))
)
_tag_key = st.from_regex(r"\+?[A-Za-z][A-Za-z0-9/.-]{0,15}", fullmatch=True)
_tag_value = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    command = draw(st.from_regex(r"[A-Z]{1,10}|[0-9]{3}", fullmatch=True))
    middles = draw(st.lists(_word, max_size=5))
    params = tuple(middles) + tuple(draw(st.lists(_trailing, max_size=1)))
    source = draw(st.one_of(st.none(), _word))
    tags = draw(st.dictionaries(_tag_key, _tag_value, max_size=4))
    return Message(command, params, source, tags)


@given(messages())
def test_format_then_parse_gives_the_message_back(message: Message) -> None:
    assert parse(message.format()) == message


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(decode(data))


@given(_tag_value)
def test_tag_escaping_round_trips(value: str) -> None:
    assert unescape_tag_value(escape_tag_value(value)) == value


def test_parse_text_reads_the_commonest_lines() -> None:
    assert parse_text("PRIVMSG bob :Halo server!") == ("PRIVMSG", "bob", "Halo server!")
    assert parse_text("NOTICE #chat :a :colon") == ("NOTICE", "#chat", "a :colon")


@pytest.mark.parametrize(
    "line",
    [
        "privmsg bob :lower-case command",
        "PRIVMSG bob,carol :two targets",
        "PRIVMSG  bob :two spaces",
        "PRIVMSG bob no-colon",
        "PRIVMSG bob :",
        "PRIVMSG :bob :colon target",
        "@+a=b PRIVMSG bob :tags",
        ":alice PRIVMSG bob :source",
        "JOIN #chat",
        "PRIVMSG bob :trailing CR\r",
    ],
)
def test_parse_text_leaves_the_rest_to_parse(line: str) -> None:
    assert parse_text(line) is None


_bits = st.text(alphabet=" :,#ab\r", max_size=6)
_text_lines = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["PRIVMSG", "NOTICE", "privmsg", "JOIN"]),
        st.sampled_from([" ", "  ", ""]),
        st.text(alphabet=":,#ab ", max_size=4),
        st.sampled_from([" :", " ", ""]),
        _bits,
    ),
)


@given(st.one_of(_text_lines, st.text(max_size=40)))
def test_parse_text_agrees_with_parse(line: str) -> None:
    fast = parse_text(line)
    if fast is not None:
        message = parse(line)
        assert (message.command, *message.params) == fast
        assert message.source is None and not message.tags
