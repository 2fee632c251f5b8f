"""Splitting received bytes into lines, with the size limits."""

from __future__ import annotations

from tcpchat.irc import TOO_LONG, LineDecoder, line_too_long


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
