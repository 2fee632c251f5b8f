"""MARKREAD: how far a user has read in a conversation (IRCv3 ``draft/read-marker``).

A client tells the server the time of the last message its user has read;
the server keeps the newest time it has been told (a marker never goes
back), answers with it, and tells the user's other sessions
(:class:`~tcpchat.server.events.ReadMarkerSet`). After a JOIN, a client with
the capability is told the channel's marker before the end of NAMES; at
registration, a logged-in one is told all of its account's markers, so
another device's reading shows at once.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message, is_channel, valid_channel, valid_nick
from tcpchat.server.commands.history import parse_reference
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import format_time
from tcpchat.server.events import ReadMarkerSet

__all__ = ["CAP", "COMMANDS", "marker_line", "send_all_markers", "send_marker"]

CAP: Final = "draft/read-marker"


def marker_line(server_name: str, target: str, time_ms: int | None) -> bytes:
    """The server's MARKREAD line for ``target``: ``*`` where nothing is known."""
    shown = f"timestamp={format_time(time_ms)}" if time_ms is not None else "*"
    return f":{server_name} MARKREAD {target} {shown}\r\n".encode()


def send_marker(ctx: Context, target: str) -> None:
    """Tell this session its marker for ``target`` (after a JOIN, or when asked)."""
    time_ms = ctx.core.read_markers.get(ctx.user, target)
    ctx.session.write(marker_line(ctx.config.name, target, time_ms))


def send_all_markers(ctx: Context) -> None:
    """At registration: a logged-in user with the capability learns every
    marker of its account."""
    if CAP in ctx.session.caps and ctx.user.account:
        for target, time_ms in ctx.core.read_markers.of(ctx.user).items():
            ctx.session.write(marker_line(ctx.config.name, target, time_ms))


def _fail(ctx: Context, code: str, *params: str) -> None:
    ctx.send(ctx.config.name, "FAIL", "MARKREAD", code, *params)


def handle_markread(ctx: Context, msg: Message) -> None:
    """MARKREAD <target> [timestamp=<time>]: where you have read to in a
    conversation; with no time, the server says where it has you."""
    if not msg.params or not msg.params[0]:
        _fail(ctx, "NEED_MORE_PARAMS", "Missing parameters")
        return
    target = msg.params[0]
    limits = ctx.config.limits
    valid = (
        valid_channel(target, limits.channellen)
        if is_channel(target)
        else valid_nick(target, limits.nicklen)
    )
    if not valid:
        _fail(ctx, "INVALID_PARAMS", target, "Invalid target")
        return
    if len(msg.params) == 1:
        send_marker(ctx, target)
        return
    given = msg.params[1]
    try:
        ref = parse_reference(given)
    except ValueError:
        ref = None
    if ref is None or ref.time_ms is None:
        _fail(ctx, "INVALID_PARAMS", given, "Give the time as timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
        return
    # A marker only moves forward, and never past now (read-marker, "Read
    # timestamp notes" and "Implementation Considerations").
    time_ms = min(ref.time_ms, int(ctx.now * 1000))
    stored = ctx.core.read_markers.get(ctx.user, target)
    if stored is not None and time_ms <= stored:
        send_marker(ctx, target)
        return
    ctx.emit(ReadMarkerSet(ctx.user.uid, target, time_ms))


COMMANDS: Final = {"MARKREAD": CommandSpec(handle_markread)}
