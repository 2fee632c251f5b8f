"""End-to-end: a real WeeChat and a raw-socket client talk to each other through the server.

The raw client is deliberately minimal and blocking, so that what it asserts on is exactly
what the server put on the wire; WeeChat checks that a real-world client can register, join
and chat. The server under test comes from the ``tcpchat_server`` fixture (``.host``,
``.port`` of a running server on loopback).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient
from weechat import LogLine, WeechatClient, find_executable

from tcpchat.irc import Message

WEECHAT = find_executable()
if WEECHAT is None:
    pytest.skip(
        "weechat-headless is not installed (Debian package weechat-headless)",
        allow_module_level=True,
    )


# Channel membership prefixes (ISUPPORT PREFIX) that may precede a nick in NAMES and logs.
MEMBER_PREFIXES = "@+"


@dataclass(frozen=True)
class Names:
    """Nicks (at most 9 chars, the RFC 1459 limit) and channels used by one test."""

    weechat: str
    renamed: str
    raw: str
    main: str
    side: str


@pytest.fixture
def names() -> Names:
    """Fresh names per test, so a server shared between tests needs no reset."""
    suffix = secrets.token_hex(2)
    return Names(
        weechat=f"alice{suffix}",
        renamed=f"carol{suffix}",
        raw=f"bob{suffix}",
        main=f"#e2e-main-{suffix}",
        side=f"#e2e-side-{suffix}",
    )


@pytest.fixture
def weechat(tcpchat_server: RunningServer, names: Names, tmp_path: Path) -> Iterator[WeechatClient]:
    """A connected WeeChat that has joined both test channels."""
    assert WEECHAT is not None
    client = WeechatClient(
        tmp_path / "weechat",
        tcpchat_server.host,
        tcpchat_server.port,
        names.weechat,
        autojoin=(names.main, names.side),
        executable=WEECHAT,
    )
    with client:
        for channel in (names.main, names.side):
            client.wait_for_line(client.channel_log(channel), joined(names.weechat))
        yield client


@pytest.fixture
def raw(tcpchat_server: RunningServer, names: Names) -> Iterator[IrcClient]:
    """A registered raw client, closed after the test."""
    with tcpchat_server.client(names.raw) as client:
        yield client


def nick_of(message: Message) -> str:
    return (message.source or "").split("!", 1)[0]


def joined(nick: str) -> Callable[[LogLine], bool]:
    """Match WeeChat's join line: ``-->`` then ``nick (user@host) has joined #chan``."""
    return lambda line: line.prefix == "-->" and line.message.startswith(f"{nick} ")


def test_weechat_chats_with_raw_client(
    weechat: WeechatClient, raw: IrcClient, names: Names
) -> None:
    """Messages, nick, topic, part and quit travel both ways with the right content."""
    main, side = names.main, names.side
    old_nick, new_nick = names.weechat, names.renamed

    for channel in (main, side):
        raw.send(f"JOIN {channel}")
        members = raw.expect("353", raw.nick, "=", channel).params[-1].split()
        assert old_nick in {member.lstrip(MEMBER_PREFIXES) for member in members}
    weechat.wait_for_line(weechat.channel_log(main), joined(raw.nick))

    # WeeChat -> raw client.
    weechat.command(f"/msg {main} hello from weechat")
    message = raw.expect("PRIVMSG")
    assert nick_of(message) == old_nick
    assert message.params == (main, "hello from weechat")

    # Raw client -> WeeChat.
    raw.send(f"PRIVMSG {main} :hello from {raw.nick}")
    weechat.wait_for_line(
        weechat.channel_log(main),
        lambda line: (
            line.prefix.lstrip(MEMBER_PREFIXES) == raw.nick
            and line.message == f"hello from {raw.nick}"
        ),
    )

    # The raw client learns of the nick change through the channels it shares.
    weechat.command(f"/nick {new_nick}")
    message = raw.expect("NICK")
    assert nick_of(message) == old_nick
    assert message.params == (new_nick,)

    weechat.command(f"/topic {main} a topic set by weechat")
    message = raw.expect("TOPIC")
    assert nick_of(message) == new_nick
    assert message.params == (main, "a topic set by weechat")

    weechat.command(f"/part {side} leaving the side channel")
    message = raw.expect("PART")
    assert nick_of(message) == new_nick
    assert message.params == (side, "leaving the side channel")

    # /quit ends WeeChat itself; its argument becomes the QUIT reason, still visible to the
    # raw client through the main channel. Servers may decorate it (e.g. "Quit: ...").
    weechat.command("/quit weechat says goodbye")
    message = raw.expect("QUIT")
    assert nick_of(message) == new_nick
    assert "weechat says goodbye" in message.params[-1]
    assert weechat.wait_exit() == 0
