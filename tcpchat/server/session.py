"""One client's side of the conversation, as the server keeps it, with no I/O.

A :class:`Session` exists from the moment a connection is accepted; it gains
a :class:`~tcpchat.server.state.User` when registration completes. It holds
what is private to this connection (capabilities, registration progress,
keepalive bookkeeping) and two callables given by the transport adapter:
``write`` queues bytes for the client and ``close`` ends the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcpchat.server.state import User

__all__ = ["TAG_ACCOUNT", "TAG_MSGID", "TAG_TIME", "Session"]

# Bits of Session.tag_mode: which tags this client wants on relayed lines.
# Delivery picks one of four pre-formatted variants of a line by this number.
TAG_MSGID: Final = 1  # message-tags: msgid and client-only tags
TAG_TIME: Final = 2  # server-time
TAG_ACCOUNT: Final = 4  # account-tag


def _nothing() -> None:
    """A session not bound to a connection has nothing to resume."""


class Session:
    """A connected client, registered or not."""

    __slots__ = (
        "account",
        "busy",
        "cap_negotiating",
        "cap_version",
        "caps",
        "certfp",
        "close",
        "connected_at",
        "deliver",
        "host",
        "ip",
        "last_active",
        "last_spoke",
        "nick",
        "nick_deadline",
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
        "wanted_nick",
        "write",
    )

    def __init__(
        self,
        uid: str,
        ip: str,
        port: int,
        now: float,
        write: Callable[[bytes], None],
        close: Callable[[], None],
    ) -> None:
        self.uid = uid
        self.ip = ip
        self.port = port
        # The host shown in masks; tcpchat does not do reverse DNS (it would
        # block registration on a resolver), so this is the address itself.
        # An IPv6 address such as ::1 would start with ':' and so could not
        # stand as a middle parameter; servers write it as 0::1.
        self.host = "0" + ip if ip.startswith(":") else ip
        # write may be swapped for a collector while a labeled command runs;
        # deliver always reaches the connection.
        self.write = write
        self.deliver = write
        self.close = close
        self.connected_at = now
        # Registration progress.
        self.nick: str | None = None
        self.wanted_nick: str | None = None
        self.username: str | None = None
        self.realname = ""
        self.password: str | None = None
        self.cap_negotiating = False
        self.cap_version = 0
        self.user: User | None = None
        # Accounts: logged in before registration, a SASL exchange under way
        # (mechanism and the base64 received so far), the TLS client
        # certificate's fingerprint, and when a borrowed registered nick is taken back.
        self.account: str | None = None
        self.sasl: tuple[str, str] | None = None
        self.certfp: str | None = None
        self.tls = False
        # Commands finishing off the event loop (password checks); while any
        # is, the client's later lines wait, so replies keep their order.
        # resume is called when one finishes; the connection sets it.
        self.busy = 0
        self.resume: Callable[[], None] = _nothing
        self.nick_deadline: float | None = None
        # Capabilities.
        self.caps: set[str] = set()
        self.tag_mode = 0
        # Keepalive and idle time.
        self.last_active = now
        self.last_spoke = now
        self.ping_sent = False

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
