"""User and channel metadata (IRCv3 ``draft/metadata-2``): keys, limits, lines.

Theory of operation: metadata is part of the network's state (a user's
display name, avatar and colour; a channel's), changed only by
:class:`~tcpchat.server.events.MetadataSet` and read by anyone who may see
its target. What a client *subscribes* to is its connection's own
(``Session.metadata_subs``): it is told of changes to those keys, for
itself, the channels it is in, the people in them and those it monitors.

Two versions of the draft are spoken, by the capability a client asked
for: ``draft/metadata-2`` tells of a change with a ``METADATA`` line,
``draft/metadata-3`` (the newer draft, as irctest tests it) with the
``RPL_KEYVALUE``/``RPL_KEYNOTSET`` numerics that GET answers with.
Everything else is the same.

Every limit is a named constant here, advertised in the capability's value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from tcpchat.irc import quote_params
from tcpchat.irc.numerics import RPL_KEYNOTSET, RPL_KEYVALUE, RPL_METADATASYNCLATER
from tcpchat.server.state import Channel, User

if TYPE_CHECKING:
    from tcpchat.server.context import Context
    from tcpchat.server.session import Session

__all__ = [
    "CAPS",
    "MAX_KEYS",
    "MAX_SUBS",
    "MAX_VALUE_BYTES",
    "cap_value",
    "notification",
    "send_join_metadata",
    "speaks_metadata",
    "subscribed_lines",
    "valid_key",
]

CAPS: Final = ("draft/metadata-2", "draft/metadata-3")
MAX_SUBS: Final = 100
"""Keys one client may subscribe to."""
MAX_KEYS: Final = 20
"""Keys one user or channel may have set."""
MAX_VALUE_BYTES: Final = 300
"""The longest value, in UTF-8 bytes: a value must fit in one line with its
key and target (an avatar's URL, a display name, a colour)."""
MAX_KEY_LENGTH: Final = 64
SET_RATE: Final = 1.0
"""Changes per second one user may make, after a burst of SET_BURST."""
SET_BURST: Final = 10
JOIN_SYNC_MEMBERS: Final = 200
"""A channel larger than this does not send every member's metadata on JOIN:
the joiner is told to SYNC later instead (RPL_METADATASYNCLATER)."""

_KEY: Final = re.compile(r"[a-z0-9_./-]+\Z")


def valid_key(key: str) -> bool:
    """A key name: a-z, 0-9 and ``_./-`` (metadata, "Keys and Values")."""
    return 0 < len(key) <= MAX_KEY_LENGTH and _KEY.match(key) is not None


def cap_value() -> str:
    limits = f"max-subs={MAX_SUBS},max-keys={MAX_KEYS},max-value-bytes={MAX_VALUE_BYTES}"
    return "before-connect," + limits


def speaks_metadata(session: Session) -> str | None:
    """The metadata capability ``session`` asked for, if any."""
    caps = session.caps
    if CAPS[1] in caps:
        return CAPS[1]
    return CAPS[0] if CAPS[0] in caps else None


def key_line(server_name: str, nick: str, target: str, key: str, value: str | None) -> bytes:
    """RPL_KEYVALUE (or RPL_KEYNOTSET, for no value): what GET and SET answer."""
    if value is None:
        params: tuple[str, ...] = (nick, target, key, "key not set")
        code = RPL_KEYNOTSET
    else:
        params, code = (nick, target, key, "*", value), RPL_KEYVALUE
    return f":{server_name} {code}{quote_params(params)}\r\n".encode()


def notification(
    session: Session, server_name: str, target: str, key: str, value: str | None
) -> bytes:
    """The line that tells ``session`` that ``target``'s ``key`` is now ``value``
    (None: unset), in the version of the draft it speaks."""
    if speaks_metadata(session) == CAPS[1]:
        return key_line(server_name, session.display_nick, target, key, value)
    params = (target, key, "*") if value is None else (target, key, "*", value)
    return f":{server_name} METADATA{quote_params(params)}\r\n".encode()


def subscribed_lines(session: Session, server_name: str, owner: User | Channel) -> list[bytes]:
    """Notifications of ``owner``'s keys that ``session`` subscribed to, as
    their changes would have come."""
    shown = owner.name if isinstance(owner, Channel) else owner.nick
    return [
        notification(session, server_name, shown, key, value)
        for key, value in sorted(owner.metadata.items())
        if key in session.metadata_subs
    ]


def send_join_metadata(ctx: Context, channel: Channel) -> None:
    """After a JOIN: the channel's metadata and its members', for the keys
    the joiner subscribed to; for a large channel, a word to SYNC later."""
    session = ctx.session
    if not speaks_metadata(session) or not session.metadata_subs:
        return
    if len(channel.members) > JOIN_SYNC_MEMBERS:
        ctx.numeric(RPL_METADATASYNCLATER, channel.name)
        return
    owners: list[User | Channel] = [channel]
    owners += [member for member in channel.members if member is not ctx.user]
    for owner in owners:
        for data in subscribed_lines(session, ctx.config.name, owner):
            session.write(data)
