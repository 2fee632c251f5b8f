"""The server's terminal log of what happens: joins, parts, quits, messages.

The original server printed the conversation in its window and terminal;
this observer keeps that promise for every channel. It runs before the
event is applied, so a quitting user's nick can still be looked up.

Private messages and notices are logged as who wrote to whom, without
their text, unless the operator turns that on (``[log] private_text``,
read at each message, so REHASH applies it at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tcpchat.server.delivery import mode_params
from tcpchat.server.events import (
    AccountChanged,
    AwayChanged,
    ChannelModeChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Messaged,
    MessageRun,
    MetadataSet,
    MultilineMessaged,
    NickChanged,
    Parted,
    ReadMarkerSet,
    RealnameChanged,
    Redacted,
    ServerBanAdded,
    ServerBanRemoved,
    Stamp,
    TopicChanged,
    UserModeChanged,
    UserQuit,
    UserRegistered,
)
from tcpchat.server.state import State

if TYPE_CHECKING:
    from tcpchat.server.core import ServerCore

__all__ = ["EventLog"]

log = logging.getLogger("tcpchat.events")


class EventLog:
    """An observer that writes one readable log line per event."""

    def __init__(self, core: ServerCore) -> None:
        self.core = core
        self.state: State = core.state
        self._describe: dict[type[Any], Callable[[Any], str | None]] = {
            UserRegistered: lambda e: f"{e.nick} ({e.username}@{e.host}) registered",
            NickChanged: lambda e: f"{self._nick(e.uid)} is now known as {e.nick}",
            UserQuit: lambda e: f"{self._nick(e.uid)} quit ({e.reason})",
            Joined: lambda e: f"{self._nick(e.uid)} joined {e.channel}",
            Parted: lambda e: (
                f"{self._nick(e.uid)} left {e.channel}" + (f" ({e.reason})" if e.reason else "")
            ),
            Kicked: lambda e: (
                f"{self._nick(e.source)} kicked {self._nick(e.uid)} from {e.channel} ({e.reason})"
            ),
            TopicChanged: lambda e: (
                f"{self._nick(e.source)} set the topic of {e.channel}: {e.topic}"
            ),
            ChannelModeChanged: lambda e: (
                f"{self._nick(e.source) or 'server'} set mode "
                f"{' '.join(mode_params(self.state, e))} on {e.channel}"
            ),
            UserModeChanged: lambda e: (
                f"{self._nick(e.uid)} set mode {' '.join(mode_params(self.state, e))}"
            ),
            Messaged: self._message,
            AwayChanged: lambda e: (
                f"{self._nick(e.uid)} is " + (f"away ({e.message})" if e.message else "back")
            ),
            RealnameChanged: lambda e: f"{self._nick(e.uid)} is now called {e.realname!r}",
            AccountChanged: lambda e: (
                f"{self._nick(e.uid)} "
                + (f"logged in as {e.account}" if e.account else "logged out")
            ),
            ServerBanAdded: lambda e: (
                f"{self._nick(e.source)} banned {e.mask} from the server "
                f"({e.reason})" + (" until " + str(e.expires_ms // 1000) if e.expires_ms else "")
            ),
            ServerBanRemoved: lambda e: f"{self._nick(e.source)} lifted the server ban on {e.mask}",
            Invited: lambda e: f"{self._nick(e.source)} invited {self._nick(e.uid)} to {e.channel}",
            MultilineMessaged: self._message,
            Redacted: lambda e: (
                f"{self._nick(e.source)} deleted a message in {e.target}"
                + (f" ({e.reason})" if e.reason else "")
            ),
            ReadMarkerSet: lambda e: None,  # private, and frequent
            MetadataSet: lambda e: None,  # profile details, not news
        }

    def _nick(self, uid: str) -> str:
        user = self.state.by_uid.get(uid)
        return user.nick if user is not None else uid

    def _message(self, e: Messaged | MultilineMessaged) -> str | None:
        if e.command == "TAGMSG":
            return None
        private = not e.target.startswith("#")
        if private and not self.core.config.log.private_text:
            kind = "message" if e.command == "PRIVMSG" else "notice"
            return f"{self._nick(e.source)} -> {self._nick(e.target)}: a private {kind}"
        target = f"-> {self._nick(e.target)}" if private else e.target
        marks = "<>" if e.command == "PRIVMSG" else "--"
        # A message of several lines is one log line, its breaks shown as ↵.
        text = e.text if isinstance(e, Messaged) else e.text().replace("\n", " \u21b5 ")
        return f"{target} {marks[0]}{self._nick(e.source)}{marks[1]} {text}"

    def describe(self, event: Event) -> str | None:
        """The line for ``event`` (None for what is not worth a line); the console shows it too."""
        return self._describe[type(event)](event)

    def __call__(self, event: Event, stamp: Stamp) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        if type(event) is MessageRun:
            for message in event.messages():  # a line for each, as if sent one by one
                self(message, stamp)
            return
        text = self.describe(event)
        if text is not None:
            log.info("%s", text)
