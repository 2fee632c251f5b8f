"""A message is in history before anyone sees it, or no one sees it.

Theory of operation: with history, the connections' output is held while
the store commits what the loop turn appended (group commit), and written
once the commit is durable (:mod:`tcpchat.server.history_gate`). Between
the two stands :class:`Durability`: the core tells it each message (and
each redaction) it delivered into that held output (:meth:`Durability.note`:
what delivery made of it, :data:`~tcpchat.server.delivery.Sent`), and it
commits the store for the gate. When a commit fails (the disk is full,
the file went bad), the gate is handed a :class:`Withdrawal` for the
batch: the batch's message lines are taken out of the held output before
it is written, so no one sees a message that history does not have, and
each sender is told with a standard reply (IRCv3 standard-replies), in
one line: ``FAIL PRIVMSG TEMPORARILY_UNAVAILABLE #chan :Not sent: the
server cannot write its history now (the disk is full)``.

Everything else that was held (replies, joins, nick changes) goes out as
it would have; those events are missing from history, which the log says.
Every message is tried on its own merits, so there is nothing to reset:
when space returns, the next commit works, and messages go out again.

A sender's own copy of its message (echo-message) is withdrawn too; where
labeled-response tied that copy to the command, the FAIL takes its place
and its tag, so the command still gets its one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from tcpchat.irc import casefold, quote_params
from tcpchat.server.delivery import MultilineSent, OutLine, Sent, with_tag
from tcpchat.server.events import Messaged, MessageRun, MultilineMessaged, Redacted
from tcpchat.server.history import is_kept
from tcpchat.store import HistoryStore
from tcpchat.store.health import StoreUnavailable

if TYPE_CHECKING:
    from tcpchat.server.state import State

__all__ = ["Durability", "Withdrawal"]

log = logging.getLogger("tcpchat.server")

# The tags labels.py puts first on a line it marks as an answer to a command.
_ANSWER_TAGS: Final = (b"@label=", b"@batch=")

Kept = Messaged | MessageRun | MultilineMessaged | Redacted
"""The events whose lines wait for history: none is seen before it is kept."""


class Withdrawal:
    """The messages of a batch whose commit failed, to take out of the
    output held for it and to tell their senders about (on the loop's thread)."""

    def __init__(
        self,
        state: State,
        server_name: str,
        batch: list[tuple[Kept, Sent]],
        error: StoreUnavailable,
    ) -> None:
        self.state = state
        self.server_name = server_name
        self.batch = batch
        self.error = error
        # Each line of a withdrawn message, and the index in batch of its message.
        self._lines: dict[bytes, int] | None = None
        self._answered: set[int] = set()

    def _withdrawn(self) -> dict[bytes, int]:
        if self._lines is None:
            lines: dict[bytes, int] = {}
            for i, (_, sent) in enumerate(self.batch):
                for data in _chunks(sent):
                    lines[data] = i
            self._lines = lines
        return self._lines

    def unsent(self, lines: list[bytes]) -> list[bytes]:
        """``lines`` held for one client, without the withdrawn messages.

        Lines are compared by value: what delivery made for a message is
        the same bytes in every queue, and a copy marked as the answer to a
        labeled command is the same bytes after its first tag.
        """
        withdrawn = self._withdrawn()
        kept = []
        for line in lines:
            index = withdrawn.get(line)
            if index is None and line.startswith(_ANSWER_TAGS):
                tag, rest = _first_tag(line)
                index = withdrawn.get(rest)
                if index is not None:
                    kept.append(with_tag(self._fail_line(index), tag))
                    self._answered.add(index)
                    continue
            if index is None:
                kept.append(line)
        return kept

    def tell(self) -> None:
        """FAIL to each sender still here whose message was withdrawn; and a
        line in the log (and the console), which showed them as they came."""
        log.info(
            "%d message(s) since the last history commit reached no one: "
            "history could not keep them",
            len(self.batch),
        )
        for index, (event, _) in enumerate(self.batch):
            if index in self._answered:
                continue
            sender = self.state.by_uid.get(event.source)
            if sender is not None and sender.session is not None:
                sender.session.write(self._fail_line(index))

    def _fail_line(self, index: int) -> bytes:
        event, _ = self.batch[index]
        if isinstance(event, Redacted):
            what = (event.target, event.msgid, f"Not redacted: {self.error}")
            params: tuple[str, ...] = ("REDACT", "TEMPORARILY_UNAVAILABLE", *what)
        else:
            if event.target[:1] == "#":
                target = event.target
            else:
                recipient = self.state.by_uid.get(event.target)
                target = recipient.nick if recipient is not None else "*"
            text = f"{len(event.texts)} not sent" if isinstance(event, MessageRun) else "Not sent"
            params = (event.command, "TEMPORARILY_UNAVAILABLE", target, f"{text}: {self.error}")
        return f":{self.server_name} FAIL{quote_params(params)}\r\n".encode()


def _chunks(sent: Sent) -> list[bytes]:
    """Every chunk of bytes delivery may have written for ``sent``."""
    if isinstance(sent, OutLine):
        return [data for data in sent.encoded if data is not None]
    if isinstance(sent, MultilineSent):
        return sent.lines()
    return [sent]


def _first_tag(line: bytes) -> tuple[str, bytes]:
    """The first tag of a line with tags, and the line without it."""
    semicolon, space = line.find(b";"), line.find(b" ")
    if 0 < semicolon < space:
        return line[1:semicolon].decode(), b"@" + line[semicolon + 1 :]
    return line[1:space].decode(), line[space + 1 :]


Done = Callable[[Withdrawal | None], None]
"""Told how a commit ended: None when it is durable, else what to withdraw."""


class Durability:
    """The store's commits, for the history gate, with the messages each one holds."""

    def __init__(self, store: HistoryStore, state: State, server_name: str) -> None:
        self.store = store
        self.state = state
        self.server_name = server_name
        self._batch: list[tuple[Kept, Sent]] = []
        # The lines delivered for the messages of _batch (see backlog).
        self._deliveries = 0

    def note(self, event: Kept, sent: Sent) -> None:
        """``event`` was delivered as ``sent``, into output held for the next
        commit (a message history does not keep, typing, is let be)."""
        if type(event) is not Messaged or is_kept(event):
            self._batch.append((event, sent))
            self._deliveries += self._reach(event)

    def _reach(self, event: Kept) -> int:
        """About how many lines ``event`` was delivered as: a channel's members,
        a run's messages, else one."""
        if type(event) is MessageRun:
            return len(event.texts)
        if event.target[:1] == "#":
            channel = self.state.channels.get(casefold(event.target))
            return len(channel.members) if channel is not None else 1
        return 1

    def pending(self) -> int:
        """History items waiting for a commit (0: none)."""
        return self.store.pending()

    def backlog(self) -> int:
        """What waits for the next commit: the lines delivered for its
        messages, which wait with them, or its history items, whichever is
        more (a private message is one of each: counted once)."""
        return max(self.store.pending(), self._deliveries)

    def commit(self, done: Done) -> None:
        """Commit what the store holds; ``done`` (from any thread) is told
        None, or the Withdrawal of the messages that were noted for it."""
        batch, self._batch = self._batch, []
        self._deliveries = 0

        def committed(error: StoreUnavailable | None) -> None:
            if error is None or not batch:
                done(None)
            else:
                done(Withdrawal(self.state, self.server_name, batch, error))

        self.store.commit(committed)
