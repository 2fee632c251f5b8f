"""What the client session tells its front end: one typed value per kind of change.

The session (:mod:`tcpchat.client.session`) turns IRC messages and user
intents into these updates; a front end (the Tk window, the terminal log,
the tests) only draws them. They are frozen so they can cross from the
network thread to the GUI thread without copying or locking.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "SERVER_BUFFER",
    "BufferClosed",
    "BufferOpened",
    "BufferRenamed",
    "BufferState",
    "CertificateProblem",
    "ConnState",
    "HistoryBlock",
    "HistoryKind",
    "Line",
    "LineKind",
    "LoggedIn",
    "Members",
    "Profile",
    "Reaction",
    "Redacted",
    "Status",
    "Topic",
    "Typing",
    "Update",
]

SERVER_BUFFER = ""
"""The name of the buffer that holds what belongs to no channel or person."""


class LineKind(enum.Enum):
    """How a line reads, which decides how it is drawn."""

    MESSAGE = "message"
    ACTION = "action"  # /me
    NOTICE = "notice"
    JOIN = "join"
    PART = "part"
    QUIT = "quit"
    NICK = "nick"
    MODE = "mode"
    KICK = "kick"
    TOPIC = "topic"
    INFO = "info"  # server replies, help text, our own status lines
    ERROR = "error"  # something went wrong and the user should see it

    @property
    def quiet(self) -> bool:
        """Comings and goings, drawn in a quieter style than conversation."""
        return self in _QUIET


_QUIET = frozenset({LineKind.JOIN, LineKind.PART, LineKind.QUIT, LineKind.NICK, LineKind.MODE})


@dataclass(frozen=True, slots=True)
class Line:
    """One line to show in a buffer."""

    buffer: str
    kind: LineKind
    text: str
    time: datetime
    nick: str = ""
    own: bool = False  # we said it
    mention: bool = False  # someone said our nick
    history: bool = False  # replayed from the server's history, not heard live
    msgid: str = ""  # the server's id for it (IRCv3 message-ids), to reply, react or delete
    reply_to: str = ""  # the msgid of the message it answers (IRCv3 +reply)
    bot: bool = False  # sent by a bot (IRCv3 bot-mode)


class HistoryKind(enum.Enum):
    """Why history was fetched, which decides where and how it is drawn."""

    RECENT = "recent"  # the last lines of a channel just joined
    MISSED = "missed"  # what was said while the connection was down
    OLDER = "older"  # earlier lines, asked for by scrolling to the top


@dataclass(frozen=True, slots=True)
class HistoryBlock:
    """Lines from the server's history for one buffer, oldest first.

    RECENT and MISSED blocks go at the end of the buffer; OLDER ones at the
    top. ``complete`` says the server has nothing older, so scrolling up
    further would fetch nothing.
    """

    buffer: str
    kind: HistoryKind
    lines: tuple[Line, ...]
    complete: bool = False


@dataclass(frozen=True, slots=True)
class BufferOpened:
    """A conversation appeared: a channel we joined or a private chat.

    ``focus`` is set when the person opened it themselves (``/join``,
    ``/query``), so the window shows it; one opened by someone else's
    message only appears in the list.
    """

    name: str
    focus: bool = False


@dataclass(frozen=True, slots=True)
class BufferClosed:
    name: str


@dataclass(frozen=True, slots=True)
class BufferRenamed:
    """A private chat follows its partner's nick change."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class BufferState:
    """Unread lines in a buffer that is not being looked at, and whether one named us."""

    name: str
    unread: int
    mention: bool


@dataclass(frozen=True, slots=True)
class Topic:
    buffer: str
    text: str


@dataclass(frozen=True, slots=True)
class Members:
    """Everyone in a channel, sorted by rank then name, each with its prefix (``@bob``)."""

    buffer: str
    names: tuple[str, ...]


class ConnState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"  # welcomed by the server (001)
    DISCONNECTED = "disconnected"  # and trying again after a delay
    STOPPED = "stopped"  # not trying again: the person must choose (another server, a certificate)


@dataclass(frozen=True, slots=True)
class Status:
    """Whether we are connected, to where, and as whom."""

    state: ConnState
    server: str
    nick: str


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The server says we are logged in to ``account`` (900), after a login or registration."""

    account: str


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone is typing in ``buffer`` (IRCv3 +typing): ``active`` (for six
    seconds unless renewed), ``paused`` (for thirty) or ``done``."""

    buffer: str
    nick: str
    state: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """The message ``msgid`` in ``buffer`` was deleted (IRCv3 message-redaction)."""

    buffer: str
    msgid: str
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reaction:
    """``nick`` reacted to the message ``msgid`` in ``buffer`` with ``emoji``
    (IRCv3 +draft/react), or took the reaction back (``removed``)."""

    buffer: str
    msgid: str
    nick: str
    emoji: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    """What someone shows of themselves (IRCv3 metadata): a display name and a
    colour, each empty when not set."""

    nick: str
    display_name: str = ""
    colour: str = ""


@dataclass(frozen=True, slots=True)
class CertificateProblem:
    """A TLS server's certificate was not accepted, so the client stopped connecting.

    ``pinned`` is empty when the certificate is simply not trusted (self-signed,
    unknown authority): the person may choose to trust ``fingerprint``. When
    it holds the fingerprint trusted before, the certificate has changed, which
    is what an attacker in the middle would cause: nothing is offered.
    """

    address: str
    fingerprint: str
    pinned: str
    reason: str


Update = (
    Line
    | HistoryBlock
    | BufferOpened
    | BufferClosed
    | BufferRenamed
    | BufferState
    | Topic
    | Members
    | Status
    | LoggedIn
    | CertificateProblem
    | Typing
    | Redacted
    | Reaction
    | Profile
)
