"""History items and the interface every history back end implements.

Theory of operation: the server turns each event worth keeping into one
:class:`HistoryItem` per conversation it belongs to (a channel, or the pair
of people in a private conversation) and :meth:`HistoryStore.append`\\ s
them. Appending only buffers; :meth:`HistoryStore.commit` makes everything
appended so far durable and says so through a callback, which is what lets
the server hold back delivery until a message is safely on disk (group
commit: one transaction for everything that arrived meanwhile), and take
back what it held when the commit fails. Reads raise
:class:`~tcpchat.store.health.StoreUnavailable` when the file cannot be read.

Several private messages in a row from one person to another, read together
(the server's ``MessageRun``), are appended as one :class:`HistoryRun`: a
flood then costs a record per run, not one per message. Every read answers
as if each message of the run had been appended as its own item
(:meth:`HistoryRun.item`): reads return those items, never the run; a
reference may name any one of them; a redaction hides just the one it names.

Queries follow IRCv3 ``draft/chathistory``: a reference is a msgid or a
timestamp, bounds are exclusive, and results come oldest first. A redacted
message stays in the store, hidden from every read but as a reference. The
operator's text search (:meth:`HistoryStore.search`) is the exception: it
reads backwards from the newest match, as a search result list does.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tcpchat.frozen import fast_init
from tcpchat.irc import casefold
from tcpchat.store.health import StoreUnavailable

__all__ = [
    "Committed",
    "HandOverStore",
    "HistoryItem",
    "HistoryRecord",
    "HistoryRun",
    "HistoryStore",
    "Reference",
    "StoredItem",
    "dm_key",
    "party",
    "party_name",
    "run_msgid",
    "split_run_msgid",
]

MESSAGE_KINDS = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})
REDACT = "REDACT"
"""The kind of item that hides a message (IRCv3 draft/message-redaction): its
params are the target as shown, the msgid of the message, and a reason if
given. Appending one hides that message from every read; it is kept, and
never returned itself."""
"""Kinds shown to every history reader; the rest need ``draft/event-playback``."""
TEXT_KINDS = frozenset({"PRIVMSG", "NOTICE"})
"""The kinds a text search looks in: the messages that have text (a TAGMSG has none)."""


def party(nick: str, account: str | None) -> str:
    """Who someone is in a private conversation: their account when logged in,
    else their nick. Keying by account keeps a conversation from passing to
    whoever later takes a nick (or registers it)."""
    return f"a:{casefold(account)}" if account else f"n:{casefold(nick)}"


def party_name(party_id: str) -> str:
    """The name in a :func:`party` id."""
    return party_id[2:]


def dm_key(party_a: str, party_b: str) -> str:
    """The conversation key of a private conversation: the same from either side."""
    first, second = sorted((party_a, party_b))
    return f"{first} {second}"  # a space cannot occur in a nick or an account


@fast_init  # built once per message stored
@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of a conversation, enough to send it again as it was first sent.

    ``target`` is the conversation key: a casefolded channel name, or
    :func:`dm_key` of the two :func:`party` ids. ``time`` is in whole milliseconds, as
    clients see it in ``server-time``, so that a timestamp a client quotes
    back compares exactly. ``sender`` is the :func:`party` id of who sent a
    message (whose it is, for REDACT), "" for other items and for messages
    kept before it was recorded.
    """

    msgid: str
    time_ms: int
    target: str
    command: str
    source: str
    params: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    sender: str = ""

    @property
    def is_message(self) -> bool:
        return self.command in MESSAGE_KINDS


def run_msgid(msgid: str, line: int) -> str:
    """The msgid of message ``line`` (from 0) of a run whose own msgid is
    ``msgid``. No stamp's msgid has a '.' in it, so these are unique."""
    return f"{msgid}.{line}"


def split_run_msgid(msgid: str) -> tuple[str, int] | None:
    """The run's msgid and the line a :func:`run_msgid` names, or None for a
    msgid that no run makes. (The lines of a multiline message have msgids of
    the same shape: only the store knows which a msgid is.)"""
    head, dot, tail = msgid.rpartition(".")
    if not dot or not tail.isdecimal():
        return None
    line = int(tail)
    return (head, line) if run_msgid(head, line) == msgid else None  # "x.01" is none


@dataclass(frozen=True, slots=True)
class HistoryRun:
    """Messages in a row from one person to another, kept as one record.

    It stands for the items :meth:`item` makes, one per text, in order: the
    ``line``-th has the msgid :func:`run_msgid` ``(msgid, line)``, the run's
    time, and the params ``(shown, text)``. The run's own ``msgid`` is no
    message's: nobody is shown it, and no read takes it as a reference. It
    exists because a record per message was most of the cost of keeping a
    flood of private messages; reads never return one.
    """

    msgid: str
    time_ms: int
    target: str  # the conversation key, as HistoryItem.target
    command: str  # PRIVMSG or NOTICE
    source: str
    shown: str  # the recipient as shown: every message's first param
    texts: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    sender: str = ""

    def __post_init__(self) -> None:
        # A store may tell a run from an item by its messages' count.
        if not self.texts:
            raise ValueError("a run holds at least one message")

    def item(self, line: int) -> HistoryItem:
        """Message ``line`` of the run, as it would have been kept on its own."""
        return HistoryItem(
            run_msgid(self.msgid, line),
            self.time_ms,
            self.target,
            self.command,
            self.source,
            (self.shown, self.texts[line]),
            self.tags,
            self.sender,
        )


HistoryRecord = HistoryItem | HistoryRun
"""What is appended to a store: an item, or a run standing for several."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A point in a conversation: a msgid, or a time in milliseconds."""

    msgid: str | None = None
    time_ms: int | None = None


Committed = Callable[[StoreUnavailable | None], None]
"""Told how a commit ended: None when everything appended before it is
durable, else why nothing of it is kept."""

StoredItem = tuple[HistoryItem, bool]
"""An item as a store keeps it: the item, and whether a redaction hides it
(a hand-over carries both, so that what was redacted stays hidden)."""


class HistoryStore(Protocol):
    """Where history lives. Reads happen on the server's thread and do not block for long."""

    def append(self, items: Sequence[HistoryRecord]) -> None:
        """Buffer items and runs; they become durable at the next :meth:`commit`."""

    def pending(self) -> int:
        """How many items appended are not yet committed (0: none), a run
        counting as the items it stands for: the server bounds by this the
        messages it holds back until a commit."""

    def commit(self, done: Committed) -> None:
        """Make everything appended so far durable, then call ``done`` (from any
        thread) with None; or, if that cannot be done, keep none of it and
        call ``done`` with the reason. Items committed before are never lost."""

    def select(
        self,
        target: str,
        after: Reference | None,
        before: Reference | None,
        limit: int,
        kinds: frozenset[str],
        newest: bool,
    ) -> list[HistoryItem]:
        """Up to ``limit`` items of ``kinds`` strictly between the references
        (None: unbounded), the newest or the oldest of them, oldest first.
        A run's messages are items here like any other: a limit may take
        some of a run, and a reference may fall inside one."""

    def find(self, target: str, ref: Reference) -> HistoryItem | None:
        """The item a msgid reference names, if it is in this conversation
        and not redacted."""

    def targets(
        self, channels: Sequence[str], nick: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        """Conversations whose latest activity falls between the times
        (exclusive): of the given channel keys, and the private conversations
        of the :func:`party` id ``nick``. Each as (key, time of its latest
        item), earliest first."""

    def search(
        self, text: str, target: str | None, before: HistoryItem | None, limit: int
    ) -> list[HistoryItem]:
        """Up to ``limit`` messages (:data:`TEXT_KINDS`) whose text contains
        ``text``, ignoring the case of ASCII letters, newest first.

        ``target`` limits the search to one conversation key; None searches
        every channel but no private conversation, so private messages turn
        up only for someone who asks for that conversation by its key.
        ``before`` is an item an earlier search returned: the next page is
        older than it.
        """

    def close(self) -> None:
        """Commit what is pending and release the database."""


class HandOverStore(HistoryStore, Protocol):
    """A history store that can give its items to another node's, and take theirs.

    A cluster node that joins late, or comes back after being down, lacks
    what was said before its replica of the network begins. It keeps what
    it gets live as usual, and imports the rest from a running node. Reads
    in this store are in the order items were kept, so the imported items
    must go *before* the live ones: :meth:`make_room` leaves a place in
    that order, before everything appended after it, and
    :meth:`import_items` fills it, in the order given.
    """

    def wanted_since_ms(self) -> int:
        """The time from which this store lacks items: that of its newest item
        (items of the same millisecond may be missing), or the oldest time its
        retention keeps, whichever is later; 0 for an empty store that keeps all."""

    def make_room(self, ready: Callable[[int], None]) -> None:
        """Leave room for imported items before everything appended after this
        call; ``ready`` is told (from any thread) the room's id for
        :meth:`import_items` once the items appended before it are written."""

    def import_items(
        self, room: int, items: Sequence[StoredItem], done: Callable[[int | None], None]
    ) -> None:
        """Keep ``items`` in ``room``, in their order, skipping those already
        kept (by conversation and msgid); a REDACT among them hides its
        message. ``done`` is told (from any thread) how many were new, or
        None if they could not be written."""

    def close_room(self, room: int, done: Callable[[], None]) -> None:
        """Say the import into ``room`` is over: what was redacted live while
        it ran (before its message was imported) is hidden now."""

    def export(
        self, since_ms: int, until_ms: int, chunk: int
    ) -> Generator[list[StoredItem], None, None]:
        """The items of times ``since_ms`` to ``until_ms`` (inclusive) in the
        order kept, ``chunk`` at a time, read on a connection of their own
        (for a worker thread: one chunk per step). Raises StoreUnavailable
        when the file cannot be read."""
