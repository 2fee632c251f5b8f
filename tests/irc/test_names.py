"""Casefolding and name validation."""

from __future__ import annotations

import pytest

from tcpchat.irc import casefold, valid_channel, valid_nick
from tcpchat.irc.masks import mask_matches, normalize_ban_mask


def test_rfc1459_casefolding() -> None:
    assert casefold("Nick[]\\~") == "nick{}|^"
    assert casefold("#Chan") == "#chan"


_REFERENCE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")


@pytest.mark.parametrize(
    "name",
    [
        "".join(chr(c) for c in range(128)),
        "Alice",
        "bench-client-00042",
        "[Bot]~",
        "\\",
        "ÄÖÜ[Straße]",  # non-ASCII letters keep their case under rfc1459
        "İstanbul",
        "ǅ",
        "",
    ],
)
def test_casefold_folds_exactly_a_to_z_and_the_four_specials(name: str) -> None:
    assert casefold(name) == name.translate(_REFERENCE)


@pytest.mark.parametrize("nick", ["alice", "a", "[bot]", "x-1", "_under", "Zed^"])
def test_valid_nicks(nick: str) -> None:
    assert valid_nick(nick, 30)


@pytest.mark.parametrize("nick", ["", "1abc", "-x", "a b", "a,b", "a!b", "#chan", "x" * 31])
def test_invalid_nicks(nick: str) -> None:
    assert not valid_nick(nick, 30)


@pytest.mark.parametrize("name", ["#a", "#lobby", "#ünïcode", "#a.b-c"])
def test_valid_channels(name: str) -> None:
    assert valid_channel(name, 50)


@pytest.mark.parametrize("name", ["#", "lobby", "#a b", "#a,b", "#a\x07", "#" + "x" * 50])
def test_invalid_channels(name: str) -> None:
    assert not valid_channel(name, 50)


def test_masks() -> None:
    assert mask_matches("*!*@host", "nick!~u@host")
    assert mask_matches("n?ck!*@*", "nick!u@h")
    assert not mask_matches("*!*@other", "nick!~u@host")
    assert normalize_ban_mask("bob") == "bob!*@*"
    assert normalize_ban_mask("*@h") == "*!*@h"
    assert normalize_ban_mask("n!u") == "n!u@*"
