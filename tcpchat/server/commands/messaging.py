"""Talking: PRIVMSG, NOTICE, TAGMSG, and the presence commands AWAY and SETNAME.

NOTICE never draws an error reply (RFC 2812 3.3.2: automatic replies must
never answer a NOTICE, so that two bots cannot loop). Only client-only tags
(``+`` prefix, IRCv3 Message Tags) are relayed; anything else a client
sends as a tag is dropped, so a client cannot forge server tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from tcpchat.irc import Message, is_channel
from tcpchat.irc.numerics import (
    ERR_CANNOTSENDTOCHAN,
    ERR_NORECIPIENT,
    ERR_NOSUCHNICK,
    ERR_NOTEXTTOSEND,
    ERR_NOTREGISTERED,
    ERR_TOOMANYTARGETS,
    RPL_AWAY,
    RPL_NOWAWAY,
    RPL_UNAWAY,
)
from tcpchat.server.commands.channels import can_speak
from tcpchat.server.commands.multiline import add_line
from tcpchat.server.commands.nickserv import handle_nickserv_text
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.events import AwayChanged, Messaged, MessageRun, RealnameChanged
from tcpchat.server.state import SERVICES_UID, User

__all__ = ["COMMANDS", "TYPING_BURST", "TYPING_RATE", "relay", "relay_run", "run_recipient"]


def _relay(ctx: Context, msg: Message) -> None:
    command = msg.command
    if "batch" in msg.tags and command != "TAGMSG":
        add_line(ctx, msg)  # a line of a multiline message
        return
    quiet = command == "NOTICE"
    tagmsg = command == "TAGMSG"
    if not msg.params or not msg.params[0]:
        if not quiet:
            ctx.numeric(ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    text = "" if tagmsg else (msg.params[1] if len(msg.params) > 1 else "")
    if not tagmsg and not text:
        if not quiet:
            ctx.error(ERR_NOTEXTTOSEND)
        return
    targets = msg.params[0].split(",")
    if len(targets) > ctx.config.limits.max_targets:
        if not quiet:
            ctx.error(ERR_TOOMANYTARGETS, msg.params[0])
        return
    tags = {k: v for k, v in msg.tags.items() if k[0] == "+"} if msg.tags else _NO_TAGS
    if "+typing" in tags and not ctx.core.typing_throttle.allow(ctx.user.uid, ctx.now):
        ctx.send(
            ctx.config.name,
            "FAIL",
            command,
            "TYPING_TOO_FAST",
            f"Typing notifications are limited to {TYPING_BURST} at once, "
            f"then {TYPING_RATE:g} a second; this one was not sent",
        )
        return
    for target in targets:
        relay(ctx, command, target, text, tags)


_NO_TAGS: Final[Mapping[str, str]] = MappingProxyType({})

# IRCv3 "typing" client tag: a client should send one at most every 3 s
# while typing. A user may send TYPING_BURST at once, then TYPING_RATE a
# second: enough to type in several conversations, with a "done" or
# "paused" after each; not one per key pressed.
TYPING_RATE: Final = 1.0
TYPING_BURST: Final = 6


def relay(
    ctx: Context, command: str, target: str, text: str, tags: Mapping[str, str] = _NO_TAGS
) -> None:
    """Send one message to one target, or answer why not.

    The parameters are already checked: this is also the whole of the
    server's commonest line, ``PRIVMSG <target> :<text>``, which
    :meth:`~tcpchat.server.core.ServerCore.handle_line` brings here
    without building a Message (see :func:`tcpchat.irc.parse_text`).
    """
    quiet = command == "NOTICE"
    session = ctx.session
    user = session.user
    assert user is not None, "relay requires registration"
    session.last_spoke = ctx.now
    state = ctx.state
    if is_channel(target):
        channel = state.channel(target)
        if channel is None:
            if not quiet:
                ctx.error(ERR_NOSUCHNICK, target)
        elif not can_speak(channel, user):
            if not quiet:
                ctx.error(ERR_CANNOTSENDTOCHAN, channel.name)
        else:
            ctx.emit(Messaged(user.uid, command, channel.name, text, tags))
        return
    recipient = state.user(target)
    if recipient is None:
        if not quiet:
            ctx.error(ERR_NOSUCHNICK, target)
        return
    if recipient.uid == SERVICES_UID:
        if command == "PRIVMSG":
            handle_nickserv_text(ctx, text)
        return  # what is said to NickServ is for NickServ alone
    ctx.emit(Messaged(user.uid, command, recipient.uid, text, tags))
    if recipient.away and command == "PRIVMSG":
        ctx.numeric(RPL_AWAY, recipient.nick, recipient.away)


def run_recipient(ctx: Context, command: str, target: str) -> User | None:
    """The user to whom several plain ``command`` lines to ``target`` in a row
    may go as one :class:`MessageRun`, or None where they must go one by one.

    A run is the same as its messages relayed in turn, where :func:`relay`
    would do nothing but emit a Messaged for each: the target is another
    user, not NickServ, not away (each PRIVMSG would draw RPL_AWAY); and
    where no one could see that the run has one msgid: neither the sender
    (for echo-message) nor a recipient here asked for tags. (History gives
    each message a msgid of its own; see HistoryRecorder.) A recipient on
    another node of a cluster may have asked: its node, which knows, sends
    it the run as its messages, with those msgids (delivery._message_run).
    """
    if is_channel(target):
        return None
    recipient = ctx.state.user(target)
    session = ctx.session
    if (
        recipient is None
        or (recipient.session is None and recipient.node == ctx.core.node)
        or (recipient.session is not None and recipient.session.tag_mode)
        or recipient is session.user
        or recipient.uid == SERVICES_UID
        or (recipient.away and command == "PRIVMSG")
        or (session.tag_mode and "echo-message" in session.caps)
    ):
        return None
    return recipient


def relay_run(ctx: Context, command: str, recipient: User, texts: tuple[str, ...]) -> None:
    """Send several messages to ``recipient``, who :func:`run_recipient` gave."""
    ctx.session.last_spoke = ctx.now
    ctx.emit(MessageRun(ctx.user.uid, command, recipient.uid, texts))


def handle_privmsg(ctx: Context, msg: Message) -> None:
    """PRIVMSG <target>{,<target>} :<text>"""
    _relay(ctx, msg)


def handle_notice(ctx: Context, msg: Message) -> None:
    """NOTICE <target>{,<target>} :<text>"""
    _relay(ctx, msg)


def handle_tagmsg(ctx: Context, msg: Message) -> None:
    """@<tags> TAGMSG <target>{,<target>}"""
    _relay(ctx, msg)


def handle_away(ctx: Context, msg: Message) -> None:
    """AWAY [:<message>]; AWAY * is away for no reason given (IRCv3 pre-away)."""
    text = msg.params[0][: ctx.config.limits.awaylen] if msg.params else ""
    session = ctx.session
    if session.user is None:
        # draft/pre-away: a client may say it is away before it is welcomed
        # (one that connects by itself, to fetch history); it takes effect
        # with registration (registration.try_register).
        if "draft/pre-away" not in session.caps:
            ctx.error(ERR_NOTREGISTERED)
            return
        session.away = text or None
        return
    user = ctx.user
    if text:
        ctx.emit(AwayChanged(user.uid, text))
        ctx.numeric(RPL_NOWAWAY, "You have been marked as being away")
    else:
        if user.away is not None:
            ctx.emit(AwayChanged(user.uid, None))
        ctx.numeric(RPL_UNAWAY, "You are no longer marked as being away")


def handle_setname(ctx: Context, msg: Message) -> None:
    """SETNAME :<realname> (IRCv3 setname)"""
    realname = msg.params[0]
    if not realname or len(realname) > 255:
        ctx.send(ctx.config.name, "FAIL", "SETNAME", "INVALID_REALNAME", "Realname is not valid")
        return
    ctx.emit(RealnameChanged(ctx.user.uid, realname))


COMMANDS: Final = {
    "PRIVMSG": CommandSpec(handle_privmsg),
    "NOTICE": CommandSpec(handle_notice),
    "TAGMSG": CommandSpec(handle_tagmsg),
    "AWAY": CommandSpec(handle_away, registered=False),
    "SETNAME": CommandSpec(handle_setname, min_params=1),
}
