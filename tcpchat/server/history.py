"""What of the network's events is kept as history, and under which conversation.

An observer: it sees each event before it is applied, so the state still
says who was where (a quitting user's channels, a nick before it changed),
and it turns the event into one :class:`~tcpchat.store.HistoryItem` per
conversation the event belongs to (a run of messages into one
:class:`~tcpchat.store.HistoryRun`, which stands for an item per message).
Items go to the store's buffer; the connection layer makes them durable
before the event's lines leave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tcpchat.irc import casefold
from tcpchat.server.delivery import mode_params
from tcpchat.server.events import (
    ChannelModeChanged,
    Event,
    Joined,
    Kicked,
    Messaged,
    MessageRun,
    MultilineMessaged,
    NickChanged,
    Parted,
    Redacted,
    Stamp,
    TopicChanged,
    UserQuit,
)
from tcpchat.server.state import State, User
from tcpchat.store import HistoryItem, HistoryRecord, HistoryRun, HistoryStore, dm_key, party
from tcpchat.store.history import REDACT

__all__ = ["HistoryRecorder", "is_kept"]


def is_kept(e: Messaged) -> bool:
    """Whether history keeps a message: all but typing notifications, which
    are of the moment (IRCv3 typing) and not worth a disk write."""
    return not (e.command == "TAGMSG" and "+typing" in e.client_tags)


class HistoryRecorder:
    """Observer that appends history items for messages and channel events."""

    def __init__(self, state: State, store: HistoryStore, server_name: str) -> None:
        self.state = state
        self.store = store
        self.server_name = server_name
        self._convert: dict[type[Any], Callable[[Any, Stamp], Sequence[HistoryRecord]]] = {
            Messaged: self._messaged,
            MessageRun: self._run,
            Joined: lambda e, s: self._channel(s, e.uid, e.channel, "JOIN", (e.channel,)),
            Parted: lambda e, s: self._channel(
                s, e.uid, e.channel, "PART", (e.channel, e.reason) if e.reason else (e.channel,)
            ),
            Kicked: lambda e, s: self._channel(
                s, e.source, e.channel, "KICK", (e.channel, self._nick(e.uid), e.reason)
            ),
            TopicChanged: lambda e, s: self._channel(
                s, e.source, e.channel, "TOPIC", (e.channel, e.topic)
            ),
            ChannelModeChanged: self._mode,
            Redacted: self._redacted,
            MultilineMessaged: self._multiline,
            NickChanged: lambda e, s: self._everywhere(s, e.uid, "NICK", (e.nick,)),
            UserQuit: lambda e, s: self._everywhere(s, e.uid, "QUIT", (e.reason,)),
        }

    def __call__(self, event: Event, stamp: Stamp) -> None:
        convert = self._convert.get(type(event))
        if convert is not None:
            self.store.append(convert(event, stamp))

    def _nick(self, uid: str) -> str:
        return self.state.by_uid[uid].nick

    def _item(
        self,
        stamp: Stamp,
        target: str,
        command: str,
        source: str,
        params: tuple[str, ...],
        tags: dict[str, str] | None = None,
        sender: str = "",
    ) -> HistoryItem:
        return HistoryItem(
            stamp.msgid, stamp.time_ms, target, command, source, params, tags or {}, sender
        )

    def _where(self, source: User, target: str) -> tuple[str, str] | None:
        """The conversation key of a message from ``source`` to ``target`` (a
        channel name or a uid) and the target as shown; None if it has gone."""
        if target[:1] == "#":
            return casefold(target), target
        recipient = self.state.by_uid.get(target)
        if recipient is None:
            return None
        return self._conversation(source, recipient), recipient.nick

    @staticmethod
    def _tags(source: User, client_tags: Mapping[str, str]) -> dict[str, str]:
        """The tags kept with a message: its client tags, and ``bot`` for a bot's."""
        tags = dict(client_tags) if client_tags else {}
        return {"bot": "", **tags} if source.is_bot else tags

    def _messaged(self, e: Messaged, stamp: Stamp) -> list[HistoryItem]:
        if not is_kept(e):
            return []
        return self._kept(e, stamp, [() if e.command == "TAGMSG" else (e.text,)])

    def _multiline(self, e: MultilineMessaged, stamp: Stamp) -> list[HistoryItem]:
        """A message of several lines is kept as the lines a client without
        draft/multiline is sent: blank ones left out, the first with the
        message's msgid and each other with one made from it, ``<msgid>.<n>``
        (REDACT of the msgid hides them all)."""
        return self._kept(e, stamp, [(text,) for text, _ in e.lines if text])

    def _kept(
        self, e: Messaged | MultilineMessaged, stamp: Stamp, texts: list[tuple[str, ...]]
    ) -> list[HistoryItem]:
        """An item for each line of a message (``texts``: the params after its target)."""
        source = self.state.by_uid[e.source]
        where = self._where(source, e.target)
        if where is None:
            return []
        key, shown = where
        tags = self._tags(source, e.client_tags)
        sender = party(source.nick, source.account)
        return [
            HistoryItem(
                f"{stamp.msgid}.{i}" if i else stamp.msgid,
                stamp.time_ms,
                key,
                e.command,
                source.mask,
                (shown, *text),
                tags,
                sender,
            )
            for i, text in enumerate(texts)
        ]

    def _redacted(self, e: Redacted, stamp: Stamp) -> list[HistoryItem]:
        source = self.state.by_uid[e.source].mask
        params = (e.target, e.msgid, e.reason) if e.reason else (e.target, e.msgid)
        return [self._item(stamp, e.key, REDACT, source, params)]

    def _run(self, e: MessageRun, stamp: Stamp) -> list[HistoryRun]:
        """The run as one record, which stands for an item for each message,
        with the msgid of MessageRun.stamps: a flood of private messages cost
        most of its time in an item per message."""
        source = self.state.by_uid[e.source]
        recipient = self.state.by_uid[e.target]
        return [
            HistoryRun(
                stamp.msgid,
                stamp.time_ms,
                self._conversation(source, recipient),
                e.command,
                source.mask,
                recipient.nick,
                e.texts,
                {},
                party(source.nick, source.account),
            )
        ]

    @staticmethod
    def _conversation(source: User, recipient: User) -> str:
        """The key of the private conversation between two users."""
        return dm_key(party(source.nick, source.account), party(recipient.nick, recipient.account))

    def _channel(
        self, stamp: Stamp, uid: str, channel: str, command: str, params: tuple[str, ...]
    ) -> list[HistoryItem]:
        source = self.state.by_uid[uid].mask
        return [self._item(stamp, casefold(channel), command, source, params)]

    def _mode(self, e: ChannelModeChanged, stamp: Stamp) -> list[HistoryItem]:
        user = self.state.by_uid.get(e.source)
        source = user.mask if user is not None else self.server_name
        params = (e.channel, *mode_params(self.state, e))
        return [self._item(stamp, casefold(e.channel), "MODE", source, params)]

    def _everywhere(
        self, stamp: Stamp, uid: str, command: str, params: tuple[str, ...]
    ) -> list[HistoryItem]:
        """An event of a user, recorded in every channel the user is in."""
        user = self.state.by_uid[uid]
        return [self._item(stamp, folded, command, user.mask, params) for folded in user.channels]
