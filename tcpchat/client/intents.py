"""What a person asks the client to do: the vocabulary from the front end to the session.

The input line (:mod:`tcpchat.client.commands`) and the window's menus build
these; :meth:`tcpchat.client.session.Session.perform` turns them into IRC
messages. Intents are frozen so they can cross threads as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Away",
    "ChangeNick",
    "CloseBuffer",
    "Delete",
    "Focus",
    "Intent",
    "Join",
    "Kick",
    "LoadOlder",
    "OpenQuery",
    "Part",
    "Quit",
    "Raw",
    "React",
    "Say",
    "SetProfile",
    "SetTopic",
    "TypingNow",
    "Whois",
]


@dataclass(frozen=True, slots=True)
class Say:
    """Send text to a channel or nick; ``action`` makes it a ``/me``;
    ``reply_to`` is the msgid of the message it answers. Text of several
    lines goes as one message where the server takes them (multiline)."""

    target: str
    text: str
    action: bool = False
    reply_to: str = ""


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a message of ours (IRCv3 message-redaction)."""

    target: str
    msgid: str


@dataclass(frozen=True, slots=True)
class React:
    """React to a message with an emoji (IRCv3 +draft/react)."""

    target: str
    msgid: str
    emoji: str


@dataclass(frozen=True, slots=True)
class TypingNow:
    """Tell ``target`` that we are typing (``active``), or stopped (``done``);
    sent only where the server takes tags, at most every few seconds."""

    target: str
    state: str = "active"


@dataclass(frozen=True, slots=True)
class SetProfile:
    """Set what others see of us (IRCv3 metadata): ``display-name`` or
    ``color``; an empty value removes it."""

    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Join:
    channel: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Part:
    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OpenQuery:
    """Open a private chat with ``nick`` (and say ``text`` there, if any)."""

    nick: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class CloseBuffer:
    """Close a conversation: part a channel, forget a private chat."""

    name: str


@dataclass(frozen=True, slots=True)
class ChangeNick:
    nick: str


@dataclass(frozen=True, slots=True)
class SetTopic:
    """Set a channel's topic, or ask for it when ``text`` is None."""

    channel: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Away:
    """Mark ourselves away with a reason, or back when ``reason`` is empty."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Whois:
    nick: str


@dataclass(frozen=True, slots=True)
class Kick:
    channel: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Raw:
    """A line sent as it is (``/quote``), for commands the client has no words for."""

    line: str


@dataclass(frozen=True, slots=True)
class Focus:
    """The person is now looking at ``buffer``: its unread count goes to zero."""

    buffer: str


@dataclass(frozen=True, slots=True)
class LoadOlder:
    """The person scrolled to the top of ``buffer``: fetch what was said before."""

    buffer: str


Intent = (
    Say
    | Join
    | Part
    | OpenQuery
    | CloseBuffer
    | ChangeNick
    | SetTopic
    | Away
    | Whois
    | Kick
    | Quit
    | Raw
    | Focus
    | LoadOlder
    | Delete
    | React
    | TypingNow
    | SetProfile
)
