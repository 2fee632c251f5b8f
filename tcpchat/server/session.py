"""One client's side of the conversation, as the server keeps it, with no I/O.

A :class:`Session` exists from the moment a connection is accepted; it gains
a :class:`~tcpchat.server.state.User` when registration completes. It holds
what is private to this connection (capabilities, registration progress,
keepalive bookkeeping), its output queue, and two callables given by the
transport adapter: ``wake`` asks for the queue to be flushed, and ``close`` ends the connection.

Output: ``out`` is the list of encoded lines waiting for the client. The
connection takes all of it when it flushes, once a burst of reads is over.
Whoever appends to an *empty* ``out`` calls ``wake``, so a burst of lines
costs one wake-up, and a channel message fanned out to many members costs
each of them one append (see :mod:`tcpchat.server.delivery`); replies go
through :meth:`Session.write`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcpchat.server.commands.multiline import MultilineBatch
    from tcpchat.server.state import User

__all__ = ["TAG_ACCOUNT", "TAG_MSGID", "TAG_TIME", "Session"]

# Bits of Session.tag_mode: which tags this client wants on relayed lines.
# Delivery picks one of four pre-formatted variants of a line by this number.
TAG_MSGID: Final = 1  # message-tags: msgid and client-only tags
TAG_TIME: Final = 2  # server-time
TAG_ACCOUNT: Final = 4  # account-tag


def _nothing() -> None:
    """A session not bound to a connection has nothing to wake, close or resume."""


class Session:
    """A connected client, registered or not."""

    __slots__ = (
        "account",
        "away",
        "busy",
        "cap_negotiating",
        "cap_version",
        "caps",
        "certfp",
        "close",
        "connected_at",
        "deliver",
        "ended",
        "host",
        "ip",
        "last_active",
        "last_spoke",
        "metadata",
        "metadata_subs",
        "multiline",
        "nick",
        "nick_deadline",
        "out",
        "password",
        "ping_sent",
        "port",
        "realname",
        "resume",
        "sasl",
        "tag_mode",
        "tls",
        "uid",
        "user",
        "username",
        "wake",
        "wanted_nick",
        "web",
        "write",
    )

    def __init__(
        self,
        uid: str,
        ip: str,
        port: int,
        now: float,
        wake: Callable[[], None] = _nothing,
        close: Callable[[], None] = _nothing,
        web: bool = False,
    ) -> None:
        self.uid = uid
        self.ip = ip
        self.port = port
        # The host shown in masks; tcpchat does not do reverse DNS (it would
        # block registration on a resolver), so this is the address itself.
        # An IPv6 address such as ::1 would start with ':' and so could not
        # stand as a middle parameter; servers write it as 0::1.
        self.host = "0" + ip if ip.startswith(":") else ip
        # Output (see the module's docstring). write may be swapped for a
        # collector while a labeled command runs; deliver always queues.
        self.out: list[bytes] = []
        self.wake = wake
        self.write: Callable[[bytes], None] = self.queue
        self.deliver: Callable[[bytes], None] = self.write
        self.close = close
        # Set when the core ends the session; a transport may still hold
        # lines of it, which the core then drops (ServerCore.handle_line).
        self.ended = False
        self.connected_at = now
        # Registration progress.
        self.nick: str | None = None
        self.wanted_nick: str | None = None
        self.username: str | None = None
        self.realname = ""
        self.password: str | None = None
        self.cap_negotiating = False
        # An away message given before registration (IRCv3 draft/pre-away).
        self.away: str | None = None
        self.cap_version = 0
        self.user: User | None = None
        # Accounts: logged in before registration, a SASL exchange under way
        # (mechanism and the base64 received so far), the TLS client
        # certificate's fingerprint, and when a borrowed registered nick is taken back.
        self.account: str | None = None
        self.sasl: tuple[str, str] | None = None
        self.certfp: str | None = None
        self.tls = False
        # Whether the client came through the web port (IRC over WebSocket).
        self.web = web
        # Commands finishing off the event loop (password checks); while any
        # is, the client's later lines wait, so replies keep their order.
        # resume is called when one finishes; the connection sets it.
        self.busy = 0
        self.resume: Callable[[], None] = _nothing
        self.nick_deadline: float | None = None
        # IRCv3 metadata: the keys this client is told of, and what it set
        # on itself before registration (before-connect).
        self.metadata_subs: set[str] = set()
        self.metadata: dict[str, str] = {}
        # A draft/multiline batch being received (commands.multiline).
        self.multiline: MultilineBatch | None = None
        # Capabilities.
        self.caps: set[str] = set()
        self.tag_mode = 0
        # Keepalive and idle time.
        self.last_active = now
        self.last_spoke = now
        self.ping_sent = False

    def queue(self, data: bytes) -> None:
        """Queue an encoded line for the client; it goes out at the end of this loop turn."""
        out = self.out
        if not out:
            self.wake()
        out.append(data)

    @property
    def registered(self) -> bool:
        return self.user is not None

    @property
    def display_nick(self) -> str:
        """The nick to address numerics to: ``*`` until one is chosen."""
        if self.user is not None:
            return self.user.nick
        return self.nick or "*"

    def set_caps(self, caps: set[str]) -> None:
        self.caps = caps
        self.tag_mode = (
            (TAG_MSGID if "message-tags" in caps else 0)
            | (TAG_TIME if "server-time" in caps else 0)
            | (TAG_ACCOUNT if "account-tag" in caps else 0)
        )
