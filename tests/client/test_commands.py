"""The input line: messages, commands, and helpful answers to mistakes."""

from __future__ import annotations

import pytest

from tcpchat.client.commands import COMMANDS, Feedback, help_text, parse_input
from tcpchat.client.intents import (
    Away,
    ChangeNick,
    CloseBuffer,
    Intent,
    Join,
    Kick,
    OpenQuery,
    Part,
    Quit,
    Raw,
    Say,
    SetTopic,
    Whois,
)
from tcpchat.client.updates import SERVER_BUFFER


@pytest.mark.parametrize(
    ("text", "buffer", "expected"),
    [
        ("hello", "#c", Say("#c", "hello")),
        ("//not a command", "#c", Say("#c", "/not a command")),
        ("/join lobby", "#c", Join("#lobby")),
        ("/J #x key", "#c", Join("#x", "key")),
        ("/part", "#c", Part("#c")),
        ("/part #d see you", "#c", Part("#d", "see you")),
        ("/msg bob hi there", "#c", Say("bob", "hi there")),
        ("/query bob", "#c", OpenQuery("bob")),
        ("/me waves", "#c", Say("#c", "waves", action=True)),
        ("/nick alicia", "#c", ChangeNick("alicia")),
        ("/topic", "#c", SetTopic("#c")),
        ("/topic new one", "#c", SetTopic("#c", "new one")),
        ("/away lunch", "#c", Away("lunch")),
        ("/away", "#c", Away("")),
        ("/whois bob", "#c", Whois("bob")),
        ("/whois", "bob", Whois("bob")),
        ("/kick bob spam", "#c", Kick("#c", "bob", "spam")),
        ("/kick #d bob", "#c", Kick("#d", "bob")),
        ("/quit bye", "#c", Quit("bye")),
        ("/close", "bob", CloseBuffer("bob")),
        ("/quote MODE #c +m", "#c", Raw("MODE #c +m")),
    ],
)
def test_commands(text: str, buffer: str, expected: Intent) -> None:
    assert parse_input(text, buffer) == expected


def test_blank_line_does_nothing() -> None:
    assert parse_input("   ", "#c") is None


@pytest.mark.parametrize(
    ("text", "buffer", "says"),
    [
        ("/frobnicate", "#c", "There is no command /frobnicate"),
        ("/join", "#c", "Usage: /join"),
        ("/msg bob", "#c", "Usage: /msg"),
        ("/part", SERVER_BUFFER, "Usage: /part"),
        ("/me waves", SERVER_BUFFER, "/me works in a channel"),
        ("hello", SERVER_BUFFER, "server window"),
    ],
)
def test_mistakes_get_a_helpful_line(text: str, buffer: str, says: str) -> None:
    result = parse_input(text, buffer)
    assert isinstance(result, Feedback) and result.error
    assert says in result.text


def test_help_lists_every_command() -> None:
    result = parse_input("/help", "#c")
    assert isinstance(result, Feedback) and not result.error
    assert all(command.usage in result.text for command in COMMANDS.values())
    assert help_text("j") == "/join #channel [key] - join a channel"
