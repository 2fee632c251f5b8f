"""Splitting received bytes into lines, with the size limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.irc import (
    TOO_LONG,
    LineDecoder,
    decode,
    line_too_long,
    parse_text,
    text_head,
    text_run,
)


def test_lines_split_across_reads() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"NICK al") == []
    assert decoder.feed(b"ice\r\nUSER a 0 * :A\r") == [b"NICK alice"]
    assert decoder.feed(b"\nPING x\n\r\n") == [b"USER a 0 * :A", b"PING x"]


def test_bare_lf_is_accepted_and_empty_lines_skipped() -> None:
    assert LineDecoder().feed(b"A\n\nB\r\n") == [b"A", b"B"]


def test_body_over_512_bytes_is_too_long() -> None:
    assert not line_too_long(b"P" * 510)
    assert line_too_long(b"P" * 511)


def test_tags_have_their_own_budget() -> None:
    tags = b"@+a=" + b"x" * 4091 + b" "  # 4094 bytes of tag data
    assert not line_too_long(tags + b"P" * 510)
    assert line_too_long(tags + b"P" * 511)
    assert line_too_long(b"@+a=" + b"x" * 4092 + b" PING")


def test_endless_line_is_reported_once_and_not_kept() -> None:
    decoder = LineDecoder()
    out = decoder.feed(b"x" * 9000)
    assert out == [TOO_LONG]
    assert decoder.feed(b"y" * 9000) == []
    assert decoder.feed(b"tail\r\nPING ok\r\n") == [b"PING ok"]


def test_complete_long_line_is_replaced_in_place() -> None:
    out = LineDecoder().feed(b"A\r\n" + b"x" * 600 + b"\r\nB\r\n")
    assert out == [b"A", TOO_LONG, b"B"]


def _read_line_by_line(chunks: list[bytes]) -> list[bytes]:
    """What the decoder must return: split on LF, drop one CR before it,
    skip empty lines, TOO_LONG for a line over the limits, and an endless
    line reported once, with its rest skipped. Written plainly, one line at
    a time, as the oracle for the decoder's splitting in bulk."""
    out: list[bytes] = []
    buffer = b""
    discarding = False
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            if discarding:
                discarding = False
                continue
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if line:
                out.append(TOO_LONG if line_too_long(line) else line)
        if len(buffer) > 8191:
            if not discarding:
                out.append(TOO_LONG)
            discarding = True
            buffer = b""
    return out


_pieces = st.sampled_from(
    [b"PRIVMSG bob :hi", b"\r\n", b"\n", b"\r", b"x", b"@+t=1 ", b"\xff", b" ", b"x" * 300]
)


@given(st.lists(st.lists(_pieces, max_size=40).map(b"".join), max_size=12))
def test_decoder_agrees_with_reading_line_by_line(chunks: list[bytes]) -> None:
    decoder = LineDecoder()
    got = [line for chunk in chunks for line in decoder.feed(chunk)]
    assert got == _read_line_by_line(chunks)


def test_decoder_in_bulk_still_checks_every_line() -> None:
    decoder = LineDecoder()
    out = decoder.feed(b"A\r\n\r\n" + b"x" * 511 + b"\r\nB\r\nC\r")
    assert out == [b"A", TOO_LONG, b"B"]
    assert decoder.feed(b"\nD\nE\r\n") == [b"C", b"D", b"E"]


_HEAD = b"PRIVMSG bob :"
_run_lines = st.one_of(
    st.builds(
        lambda head, text: head + text,
        st.sampled_from(
            [
                _HEAD,
                _HEAD,
                _HEAD,
                b"NOTICE bob :",
                b"PRIVMSG Bob :",
                b"PRIVMSG bob  :",
                b"privmsg bob :",
            ]
        ),
        st.lists(
            st.sampled_from([b"a", b"\r", b"\xff", b"\xc3\xa9", b" :", b"\0"]), max_size=4
        ).map(b"".join),
    ),
    st.just(TOO_LONG),
)


def _utf8(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


@given(st.lists(_run_lines, max_size=20), st.integers(min_value=1, max_value=25))
def test_text_run_reads_what_parse_text_reads(lines: list[bytes], limit: int) -> None:
    """...up to the first line that is not valid UTF-8, which goes alone."""
    expected = []
    for line in lines[:limit]:
        read = parse_text(decode(line)) if line is not TOO_LONG else None
        if read is None or read[:2] != ("PRIVMSG", "bob") or not _utf8(line):
            break
        expected.append(read[2])
    assert text_run(lines, _HEAD, limit) == expected


def test_text_head_is_all_up_to_the_first_space_colon() -> None:
    assert text_head(b"PRIVMSG bob :hi :there") == b"PRIVMSG bob :"
    assert text_head(b"NOTICE #c ::)") == b"NOTICE #c :"
    assert text_head(b"NICK bob") is None
    assert text_head(b" :x") is None  # nothing before it: no command
