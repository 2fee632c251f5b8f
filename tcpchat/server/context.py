"""What a command handler sees: the server, the session, and ways to answer.

Handlers reply only through a :class:`Context`, never to a socket, so the
replies to one command can later be wrapped in one place (labels, batches),
and handlers can be run in tests with a session that just collects lines.
Replies quote what the client sent (a command, a nick, a channel name), so
their parameters are formatted by :func:`~tcpchat.irc.quote_params`, which
makes any words fit where they stand: a reply can always be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from tcpchat.irc import Message, quote_params
from tcpchat.irc.numerics import TEXT
from tcpchat.server.events import Messaged, MessageRun, MultilineMessaged

if TYPE_CHECKING:
    from tcpchat.server.config import Config
    from tcpchat.server.core import Applied, ServerCore
    from tcpchat.server.events import Event
    from tcpchat.server.session import Session
    from tcpchat.server.state import State, User

__all__ = ["CommandSpec", "Context", "Handler", "when_applied"]

T = TypeVar("T")

_STREAMED: Final = frozenset((Messaged, MessageRun, MultilineMessaged))
"""Events a session's later lines need not wait for (see Context.emit)."""


class Context:
    """One command being handled for one session."""

    __slots__ = ("config", "core", "now", "session", "state")

    def __init__(self, core: ServerCore, session: Session, now: float) -> None:
        self.core = core
        self.session = session
        self.state: State = core.state
        self.config: Config = core.config
        self.now = now

    @property
    def user(self) -> User:
        """The registered user; only for handlers that require registration."""
        user = self.session.user
        assert user is not None, "handler requires registration"
        return user

    def send_line(self, line: str) -> None:
        self.session.write((line + "\r\n").encode())

    def send(self, source: str, command: str, *params: str) -> None:
        self.send_line(f":{source} {command}" + quote_params(params))

    def numeric(self, code: str, *params: str) -> None:
        """A numeric reply from the server, addressed to this session's nick."""
        self.send_line(
            f":{self.config.name} {code} {self.session.display_nick}" + quote_params(params)
        )

    def error(self, code: str, *params: str) -> None:
        """An error numeric with its standard text after ``params``."""
        self.numeric(code, *params, TEXT[code])

    def emit(self, event: Event, then: Applied | None = None) -> None:
        """Change the network by ``event``; ``then`` is told whether it was
        applied once it has had its turn (see :meth:`ServerCore.emit`).

        In a cluster that turn comes later, when the event is back from the
        bus: until then this session's later lines wait, so that its next
        command sees what this one did (a JOIN, then a message to the
        channel). Messages change nothing a later command reads, so they do
        not wait: a client's messages stream.
        """
        core = self.core
        if core.bus is None or type(event) in _STREAMED:
            core.emit(event, then)
            return
        session = self.session
        session.busy += 1

        def applied(ok: bool) -> None:
            session.busy -= 1
            try:
                if then is not None:
                    then(ok)
            finally:
                session.resume()

        core.emit(event, applied)

    def offload(self, work: Callable[[], T], then: Callable[[T], None]) -> None:
        """Run slow ``work`` off the event loop, then ``then`` with its result.

        The session's later lines wait meanwhile, so the replies to this
        command still come before the replies to the next.
        """
        session = self.session
        session.busy += 1

        def finish(result: T) -> None:
            session.busy -= 1
            try:
                then(result)
            finally:
                session.resume()

        self.core.offload(work, finish)


def when_applied(action: Callable[[], object]) -> Applied:
    """A continuation for :meth:`Context.emit` that runs ``action`` only if
    the event was applied."""

    def then(applied: bool) -> None:
        if applied:
            action()

    return then


Handler = Callable[[Context, Message], None]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A row of the command table: the handler and the checks that run before it."""

    handler: Handler
    min_params: int = 0
    registered: bool = True
    oper: bool = False
    # A line that is not UTF-8 is refused (FAIL INVALID_UTF8) rather than
    # handled with U+FFFD in place of what could not be read: for what is
    # kept and shown again, such as metadata (UTF8ONLY).
    strict_utf8: bool = False
