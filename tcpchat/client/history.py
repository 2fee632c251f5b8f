"""History catch-up: which CHATHISTORY requests to make, and what their answers mean.

Theory of operation (IRCv3 ``draft/chathistory``). Each conversation
remembers the newest and the oldest message it holds, as a message
reference (``msgid=…``, or ``timestamp=…`` when no message has been seen
yet), and the msgids it has shown, so nothing is shown twice: the server
echoes our own messages, and a message can reach us both live and in a
history batch.

- Joining a channel for the first time asks for the last lines
  (``LATEST * N``); joining it again after a reconnect asks for everything
  after the newest message seen (``AFTER``), page after page while pages
  come back full. Private chats are caught up the same way on the welcome.
- While a catch-up is under way, live messages for that conversation are
  held back and released after the history, so the conversation reads in
  order.
- Scrolling to the top asks for what came before the oldest message
  (``BEFORE``); a page that is not full means there is nothing older.

One request per conversation is outstanding at a time, so a reply batch
(``BATCH +ref chathistory <target>``) answers the request recorded for its
target. Nothing here does I/O: the session feeds messages in and sends the
requests :meth:`HistoryTracker.take_requests` hands back.

Unasked history. A server may send a history batch of its own accord:
InspIRCd's chanhistory (and others) play a channel's last lines back on
JOIN. Such a batch is shown as history ("Earlier in this channel"), its
msgids noted so nothing shows twice, and it touches nothing of the
catch-up. Telling it from an answer needs care only after a JOIN, where
we ask as soon as the JOIN comes back, while the server may still be
sending the rest of the JOIN's reply, playback included. So that request
goes after a ``PING``: a server handles commands in order, so everything it
sent for the JOIN comes before the ``PONG``, and only a batch that opens
after the ``PONG`` is the answer.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from tcpchat.client.updates import HistoryKind, Line
from tcpchat.irc import Message, casefold, is_channel

__all__ = ["DEFAULT_LINES", "Finished", "HistoryTracker", "Verdict"]

DEFAULT_LINES: Final = 50
"""Lines shown when joining a channel, and fetched per scroll to the top."""
MAX_SEEN: Final = 10_000
"""Msgids remembered per conversation for spotting duplicates; older ones are forgotten,
and a duplicate that old can only come from a page that no request covers."""
MAX_CATCH_UP_PAGES: Final = 50
"""Pages one catch-up may fetch (5,000 messages at the usual 100 a page), bounding memory
when a client was away from a very busy channel."""
_BATCH_TYPE: Final = "chathistory"
_FENCE: Final = "history-"
"""Starts the token of the PING sent before a request made on JOIN (see above)."""


class Verdict(enum.Enum):
    """What to do with a live message."""

    SHOW = "show"
    HELD = "held"  # kept until the catch-up for its conversation is done
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Finished:
    """A request answered: the history to show, and the held live lines now due."""

    target: str
    kind: HistoryKind
    messages: tuple[Message, ...]
    held: tuple[Line, ...] = ()
    complete: bool = False


@dataclass(slots=True)
class _Conversation:
    name: str
    newest: str = ""
    oldest: str = ""
    seen: dict[str, None] = field(default_factory=dict)  # an ordered set
    pending: HistoryKind | None = None
    pages: int = 0
    gathered: list[Message] = field(default_factory=list)
    held: list[tuple[str, Line]] = field(default_factory=list)
    nothing_older: bool = False
    fence: str = ""  # the PING token whose PONG must come before the answer

    def awaits_answer(self) -> bool:
        return self.pending is not None and not self.fence

    def catching_up(self) -> bool:
        return self.pending in (HistoryKind.RECENT, HistoryKind.MISSED)

    def note(self, msgid: str) -> bool:
        """Remember ``msgid``; False if it was seen already."""
        if not msgid:
            return True
        if msgid in self.seen:
            return False
        self.seen[msgid] = None
        if len(self.seen) > MAX_SEEN:
            del self.seen[next(iter(self.seen))]
        return True


@dataclass(slots=True)
class _Batch:
    target: str
    asked: bool  # the answer to our request, not history the server sent unasked
    messages: list[Message] = field(default_factory=list)


def reference(msg: Message) -> str:
    """How to point at ``msg`` in a request: its msgid, else its server time."""
    msgid = msg.tags.get("msgid")
    if msgid:
        return f"msgid={msgid}"
    stamp = msg.tags.get("time")
    return f"timestamp={stamp}" if stamp else ""


def timestamp(moment: datetime) -> str:
    """A ``timestamp=`` reference in the form server-time uses (UTC, milliseconds)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"timestamp={text[:-3]}Z"


class HistoryTracker:
    """The history state of every conversation of one session."""

    def __init__(self, lines: int = DEFAULT_LINES) -> None:
        self.lines = lines
        self.enabled = False  # the server offers draft/chathistory and batch
        self.server_limit = 0  # CHATHISTORY=<n> from ISUPPORT; 0 when not said
        self._conversations: dict[str, _Conversation] = {}
        self._batches: dict[str, _Batch] = {}
        self._out: list[Message] = []
        self._fences = itertools.count(1)

    # ---------------------------------------------------------------- requests

    def joined(self, channel: str, now: datetime) -> None:
        """We joined ``channel``: the last lines the first time, what we missed after that."""
        if not self.enabled:
            return
        conversation = self._conversations.get(casefold(channel))
        if conversation is None or not conversation.newest:
            conversation = self._conversations[casefold(channel)] = _Conversation(channel)
        self._fence(conversation)
        if conversation.newest:
            self._catch_up(conversation)
            return
        conversation.newest = timestamp(now)
        conversation.pending = HistoryKind.RECENT
        self._request("LATEST", channel, "*", self._page(self.lines))

    def _fence(self, conversation: _Conversation) -> None:
        """A PING before the request, so what the JOIN brought is not taken for its answer."""
        conversation.fence = f"{_FENCE}{next(self._fences)}"
        self._out.append(Message("PING", (conversation.fence,)))

    def pong(self, token: str) -> None:
        """``PONG`` for a fence: the next history batch for its conversation is the answer."""
        if token.startswith(_FENCE):
            for conversation in self._conversations.values():
                if conversation.fence == token:
                    conversation.fence = ""

    def welcomed(self) -> None:
        """The welcome burst is over: catch the private chats up (channels on JOIN)."""
        if not self.enabled:
            return
        for conversation in self._conversations.values():
            if not is_channel(conversation.name) and conversation.newest:
                self._catch_up(conversation)

    def opened(self, nick: str, now: datetime) -> None:
        """A private chat opened: from now on its messages count as seen here."""
        if self.enabled and casefold(nick) not in self._conversations:
            self._conversations[casefold(nick)] = _Conversation(nick, newest=timestamp(now))

    def older(self, target: str) -> None:
        """Ask for the page before the oldest message shown, if there may be one."""
        conversation = self._conversations.get(casefold(target))
        if (
            not self.enabled
            or conversation is None
            or conversation.pending is not None
            or conversation.nothing_older
        ):
            return
        conversation.pending = HistoryKind.OLDER
        limit = self._page(self.lines)
        if conversation.oldest:
            self._request("BEFORE", conversation.name, conversation.oldest, limit)
        else:
            self._request("LATEST", conversation.name, "*", limit)

    def _catch_up(self, conversation: _Conversation) -> None:
        conversation.pending = HistoryKind.MISSED
        conversation.pages = 1
        self._request("AFTER", conversation.name, conversation.newest, self._page(0))

    def _page(self, wanted: int) -> int:
        """The page size to ask for: ``wanted``, or the server's most when 0, within it."""
        limit = self.server_limit or self.lines
        return min(wanted, limit) if wanted else limit

    def _request(self, sub: str, target: str, ref: str, limit: int) -> None:
        self._out.append(Message("CHATHISTORY", (sub, target, ref, str(limit))))

    # ------------------------------------------------------------- live lines

    def live(self, target: str, msg: Message, line: Line) -> Verdict:
        """A message heard live in ``target``'s conversation: show it, hold it, or drop it."""
        conversation = self._conversations.get(casefold(target))
        if conversation is None:
            return Verdict.SHOW
        msgid = msg.tags.get("msgid", "")
        if msgid and msgid in conversation.seen:
            return Verdict.DUPLICATE
        if conversation.catching_up():
            conversation.held.append((msgid, line))
            return Verdict.HELD
        conversation.note(msgid)
        self._advance(conversation, msg)
        return Verdict.SHOW

    @staticmethod
    def _advance(conversation: _Conversation, msg: Message) -> None:
        ref = reference(msg)
        if ref:
            conversation.newest = ref
            conversation.oldest = conversation.oldest or ref

    # ----------------------------------------------------------------- batches

    def batch(self, msg: Message) -> Finished | None:
        """``BATCH +ref chathistory <target>`` opens a reply; ``BATCH -ref`` ends it."""
        if not msg.params:
            return None
        ref = msg.params[0]
        if ref.startswith("+") and len(msg.params) > 2 and msg.params[1] == _BATCH_TYPE:
            conversation = self._conversations.get(casefold(msg.params[2]))
            asked = conversation is not None and conversation.awaits_answer()
            self._batches[ref[1:]] = _Batch(msg.params[2], asked)
            return None
        if ref.startswith("-"):
            done = self._batches.pop(ref[1:], None)
            if done is not None:
                return self._answered(done) if done.asked else self._unasked(done)
        return None

    def _unasked(self, batch: _Batch) -> Finished:
        """History the server sent of its own accord: shown, and kept out of any catch-up."""
        conversation = self._conversations.get(casefold(batch.target))
        fresh = [
            m
            for m in batch.messages
            if conversation is None or conversation.note(m.tags.get("msgid", ""))
        ]
        name = conversation.name if conversation is not None else batch.target
        return Finished(name, HistoryKind.RECENT, tuple(fresh))

    def collect(self, msg: Message) -> bool:
        """Keep ``msg`` if it belongs to a history batch; False for every other line."""
        batch = self._batches.get(msg.tags.get("batch", ""))
        if batch is None:
            return False
        if msg.command in ("PRIVMSG", "NOTICE") and len(msg.params) > 1:
            batch.messages.append(msg)
        return True

    def failed(self, msg: Message) -> Finished | None:
        """``FAIL CHATHISTORY <code> <subcommand> [<target>] :text``: give up on that request."""
        if len(msg.params) < 4 or msg.params[0] != "CHATHISTORY":
            return None
        conversation = self._conversations.get(casefold(msg.params[3]))
        if conversation is None or conversation.pending is None:
            return None
        kind = conversation.pending
        conversation.nothing_older = conversation.nothing_older or kind is HistoryKind.OLDER
        return self._finish(conversation, kind, [])

    def _answered(self, batch: _Batch) -> Finished | None:
        conversation = self._conversations.get(casefold(batch.target))
        if conversation is None or conversation.pending is None:
            return None
        kind, messages = conversation.pending, batch.messages
        if kind is HistoryKind.MISSED:
            conversation.gathered += messages
            full = len(messages) >= self._page(0)
            if full and conversation.pages < MAX_CATCH_UP_PAGES and reference(messages[-1]):
                conversation.pages += 1
                conversation.newest = reference(messages[-1])
                self._request("AFTER", conversation.name, conversation.newest, self._page(0))
                return None
            return self._finish(conversation, kind, [])
        # RECENT and OLDER: one page; a page that is not full means nothing is older.
        complete = len(messages) < self._page(self.lines)
        conversation.nothing_older = complete
        if messages and reference(messages[0]):
            conversation.oldest = reference(messages[0])
        if kind is HistoryKind.RECENT:
            return self._finish(conversation, kind, messages)
        conversation.pending = None
        fresh = [m for m in messages if conversation.note(m.tags.get("msgid", ""))]
        return Finished(conversation.name, kind, tuple(fresh), complete=complete)

    def _finish(
        self, conversation: _Conversation, kind: HistoryKind, messages: Iterable[Message]
    ) -> Finished:
        """End a catch-up: the new history in order, then the held live lines not in it."""
        gathered = [*conversation.gathered, *messages]
        conversation.gathered, conversation.pending, conversation.pages = [], None, 0
        fresh = []
        for msg in gathered:
            if conversation.note(msg.tags.get("msgid", "")):
                fresh.append(msg)
            self._advance(conversation, msg)
        held = []
        for msgid, line in conversation.held:
            if conversation.note(msgid):
                held.append(line)
                conversation.newest = f"msgid={msgid}" if msgid else conversation.newest
        conversation.held = []
        complete = conversation.nothing_older
        return Finished(conversation.name, kind, tuple(fresh), tuple(held), complete)

    # ----------------------------------------------------------- bookkeeping

    def take_requests(self) -> list[Message]:
        """The CHATHISTORY requests to send, in order; the outbox is empty afterwards."""
        out, self._out = self._out, []
        return out

    def connection_lost(self) -> list[Finished]:
        """The link is gone: requests die with it; what was gathered or held is shown now."""
        self._batches.clear()
        done = []
        for conversation in self._conversations.values():
            conversation.fence = ""
            if conversation.pending is not None:
                done.append(self._finish(conversation, conversation.pending, []))
        return [d for d in done if d.messages or d.held]

    def rename(self, old: str, new: str) -> None:
        conversation = self._conversations.pop(casefold(old), None)
        if conversation is not None:
            conversation.name = new
            self._conversations[casefold(new)] = conversation

    def forget(self, target: str) -> None:
        """A conversation was closed: joining it again starts afresh."""
        self._conversations.pop(casefold(target), None)
