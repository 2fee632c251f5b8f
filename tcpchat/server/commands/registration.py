"""Connection registration and keepalive: PASS, NICK, USER, PING, PONG, QUIT.

Registration completes when NICK and USER have both arrived and no CAP
negotiation is open (Modern IRC, "Connection Registration"); then the
connection password is checked, the nick is claimed by emitting
:class:`UserRegistered`, and the welcome burst (001-005, LUSERS, MOTD) goes
out.
"""

from __future__ import annotations

import hmac
import re
from typing import Final

from tcpchat.irc import Message, valid_nick
from tcpchat.irc.numerics import (
    ERR_ALREADYREGISTERED,
    ERR_ERRONEUSNICKNAME,
    ERR_NEEDMOREPARAMS,
    ERR_NICKNAMEINUSE,
    ERR_NONICKNAMEGIVEN,
    ERR_NOORIGIN,
    ERR_PASSWDMISMATCH,
    ERR_YOUREBANNEDCREEP,
    RPL_CREATED,
    RPL_MYINFO,
    RPL_WELCOME,
    RPL_YOURHOST,
)
from tcpchat.server.accounts import protect_nick
from tcpchat.server.commands.metadata import restore_metadata, send_own_metadata
from tcpchat.server.commands.modes import USER_FLAGS
from tcpchat.server.commands.queries import send_isupport, send_lusers, send_motd
from tcpchat.server.commands.readmarker import send_all_markers
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import format_time
from tcpchat.server.events import AwayChanged, NickChanged, UserQuit, UserRegistered

__all__ = ["COMMANDS", "try_register"]

USERLEN: Final = 10
_USERNAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def try_register(ctx: Context) -> None:
    """Complete registration if everything it needs has arrived."""
    session = ctx.session
    if session.user is not None or session.cap_negotiating:
        return
    if session.nick is None or session.username is None:
        return
    password = ctx.config.password
    if password and not hmac.compare_digest((session.password or "").encode(), password.encode()):
        ctx.error(ERR_PASSWDMISMATCH)
        ctx.core.quit(session, "Bad password")
        return
    if ctx.state.user(session.nick) is not None:
        ctx.error(ERR_NICKNAMEINUSE, session.nick)
        return
    ban = ctx.state.server_ban(session.username, session.host, int(ctx.now * 1000))
    if ban is not None:
        ctx.error(ERR_YOUREBANNEDCREEP)
        ctx.core.quit(session, f"K-Lined: {ban.reason}")
        return
    event = UserRegistered(
        session.uid,
        session.nick,
        session.username,
        session.host,
        session.ip,
        session.realname,
        session.account,
        ctx.core.node,
    )
    ctx.emit(event, lambda applied: _registered(ctx, event, applied))


def _registered(ctx: Context, event: UserRegistered, applied: bool) -> None:
    """The registration has had its turn: the session becomes the user, or,
    if the nick was taken first (in a cluster, on another node), hears 433."""
    session = ctx.session
    if not applied:
        if session.nick == event.nick:
            session.nick = None
        ctx.error(ERR_NICKNAMEINUSE, event.nick)
        return
    if session not in ctx.core.sessions:  # it left while the registration was on its way
        ctx.core.emit(UserQuit(event.uid, "Connection closed"))
        return
    user = ctx.state.by_uid[session.uid]
    user.session = session
    session.user = user
    if session.away is not None:
        ctx.emit(AwayChanged(user.uid, session.away))
    _welcome(ctx, restore_metadata(ctx, event.account))
    send_all_markers(ctx)
    protect_nick(ctx)


def _welcome(ctx: Context, metadata: dict[str, str]) -> None:
    config = ctx.config
    user = ctx.user
    version = ctx.core.version
    ctx.numeric(RPL_WELCOME, f"Welcome to the {config.network} IRC Network {user.mask}")
    ctx.numeric(RPL_YOURHOST, f"Your host is {config.name}, running version {version}")
    ctx.numeric(RPL_CREATED, f"This server was created {format_time(int(ctx.core.started * 1000))}")
    user_modes = "".join(sorted(USER_FLAGS + "o", key=str.lower))
    ctx.numeric(RPL_MYINFO, config.name, version, user_modes, "biklmnostv", "bklov")
    send_isupport(ctx)
    send_lusers(ctx)
    send_own_metadata(ctx, metadata)  # before the end of the MOTD (metadata, "Notifications")
    send_motd(ctx)


def handle_pass(ctx: Context, msg: Message) -> None:
    """PASS <password>"""
    if ctx.session.user is not None:
        ctx.error(ERR_ALREADYREGISTERED)
        return
    ctx.session.password = msg.params[0]


def handle_nick(ctx: Context, msg: Message) -> None:
    """NICK <nickname>"""
    nick = msg.params[0] if msg.params else ""
    if not nick:
        ctx.error(ERR_NONICKNAMEGIVEN)
        return
    if not valid_nick(nick, ctx.config.limits.nicklen):
        ctx.error(ERR_ERRONEUSNICKNAME, nick)
        return
    holder = ctx.state.user(nick)
    user = ctx.session.user
    if user is None:
        # Remembered even when taken: REGISTER * names the nick asked for.
        ctx.session.wanted_nick = nick
        if holder is not None:
            ctx.error(ERR_NICKNAMEINUSE, nick)
            return
        ctx.session.nick = nick
        try_register(ctx)
        return
    if holder is not None and holder is not user:
        ctx.error(ERR_NICKNAMEINUSE, nick)
        return
    if nick != user.nick:

        def changed(applied: bool) -> None:
            if applied:
                protect_nick(ctx)
            elif ctx.session.user is not None:
                ctx.error(ERR_NICKNAMEINUSE, nick)  # taken first, elsewhere

        ctx.emit(NickChanged(user.uid, nick), changed)


def handle_user(ctx: Context, msg: Message) -> None:
    """USER <username> <mode> <unused> :<realname>"""
    session = ctx.session
    if session.user is not None:
        ctx.error(ERR_ALREADYREGISTERED)
        return
    if not msg.params[0] or not msg.params[3]:
        ctx.error(ERR_NEEDMOREPARAMS, "USER")
        return
    # No ident lookup, so the username is the client's word: marked with '~'.
    name = _USERNAME_BAD.sub("", msg.params[0])[:USERLEN] or "user"
    session.username = "~" + name
    session.realname = msg.params[3]
    try_register(ctx)


def handle_ping(ctx: Context, msg: Message) -> None:
    """PING <token>"""
    if not msg.params or not msg.params[0]:
        ctx.error(ERR_NOORIGIN)
        return
    ctx.send(ctx.config.name, "PONG", ctx.config.name, msg.params[0])


def handle_pong(ctx: Context, msg: Message) -> None:
    """PONG [<server>] <token>: the core already counted it as activity."""


def handle_quit(ctx: Context, msg: Message) -> None:
    """QUIT [:<reason>]"""
    reason = msg.params[0] if msg.params else ""
    text = f"Quit: {reason}" if reason else "Quit"
    ctx.core.quit(ctx.session, text)


COMMANDS: Final = {
    "PASS": CommandSpec(handle_pass, min_params=1, registered=False),
    "NICK": CommandSpec(handle_nick, registered=False),
    "USER": CommandSpec(handle_user, min_params=4, registered=False),
    "PING": CommandSpec(handle_ping, registered=False),
    "PONG": CommandSpec(handle_pong, registered=False),
    "QUIT": CommandSpec(handle_quit, registered=False),
}
