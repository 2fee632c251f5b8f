"""MODE, for channels (b k l i m n s t, and o v on members) and for users (B i o).

A mode string is read left to right, ``+`` and ``-`` switching direction,
each letter that takes an argument consuming the next one (RFC 2812 3.2.3,
Modern IRC "MODE"). Changes that would change nothing are dropped, and at
most MODES changes with arguments are taken from one command, as advertised.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message, casefold, is_channel
from tcpchat.irc.masks import normalize_ban_mask
from tcpchat.irc.numerics import (
    ERR_CHANOPRIVSNEEDED,
    ERR_INVALIDMODEPARAM,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_UMODEUNKNOWNFLAG,
    ERR_UNKNOWNMODE,
    ERR_USERNOTINCHANNEL,
    ERR_USERSDONTMATCH,
    RPL_BANLIST,
    RPL_CHANNELMODEIS,
    RPL_CREATIONTIME,
    RPL_ENDOFBANLIST,
    RPL_UMODEIS,
)
from tcpchat.server.commands.channels import is_chanop
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.events import ChannelModeChanged, ModeChange, UserModeChanged
from tcpchat.server.state import Channel

__all__ = ["BOT_MODE", "COMMANDS", "USER_FLAGS"]

CHANNEL_FLAGS: Final = "imnst"
BOT_MODE: Final = "B"
"""The user mode that marks a bot (IRCv3 bot-mode; advertised as BOT=)."""
USER_FLAGS: Final = "i" + BOT_MODE
"""User modes a user may set and unset on itself (+o comes only from OPER)."""
# Keep ban lists bounded: each JOIN checks every entry.
MAX_BANS: Final = 100


def _send_bans(ctx: Context, channel: Channel) -> None:
    for ban in channel.bans:
        ctx.numeric(RPL_BANLIST, channel.name, ban.mask, ban.setter, str(int(ban.time)))
    ctx.numeric(RPL_ENDOFBANLIST, channel.name, "End of channel ban list")


def _channel_changes(
    ctx: Context, channel: Channel, modestring: str, args: list[str]
) -> tuple[list[ModeChange], bool]:
    """Parse a channel mode string into effective changes; also say whether bans were asked for."""
    changes: list[ModeChange] = []
    list_bans = False
    adding = True
    with_args = 0
    limit = ctx.config.limits.max_modes
    key, user_limit = channel.key, channel.limit
    bans = {casefold(b.mask) for b in channel.bans}
    members = dict(channel.members.items())
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
            continue
        if letter in "ovkb" or (letter == "l" and adding):
            if not args:
                if letter == "b":
                    list_bans = True
                continue
            if with_args >= limit:
                args.pop(0)
                continue
            with_args += 1
            arg = args.pop(0)
        else:
            arg = ""
        if letter in "ov":
            target = ctx.state.user(arg)
            if target is None:
                ctx.error(ERR_NOSUCHNICK, arg)
            elif target not in members:
                ctx.numeric(
                    ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel"
                )
            elif (letter in members[target]) != adding:
                current = members[target]
                members[target] = current + letter if adding else current.replace(letter, "")
                changes.append(ModeChange(adding, letter, target.uid))
        elif letter == "k":
            if adding:
                if not arg or any(c in arg for c in " ,:") or len(arg) > 23:
                    # The key is not echoed: it may hold a space, and it is a secret.
                    ctx.numeric(ERR_INVALIDMODEPARAM, channel.name, "k", "*", "Invalid key")
                elif key != arg:
                    key = arg
                    changes.append(ModeChange(True, "k", arg))
            elif key is not None:
                key = None
                changes.append(ModeChange(False, "k", "*"))
        elif letter == "l":
            if adding:
                if not arg.isdigit() or int(arg) <= 0:
                    shown = arg if arg.isalnum() else "*"
                    ctx.numeric(ERR_INVALIDMODEPARAM, channel.name, "l", shown, "Invalid limit")
                elif user_limit != int(arg):
                    user_limit = int(arg)
                    changes.append(ModeChange(True, "l", str(user_limit)))
            elif user_limit is not None:
                user_limit = None
                changes.append(ModeChange(False, "l"))
        elif letter == "b":
            mask = normalize_ban_mask(arg)
            folded = casefold(mask)
            if " " in mask or mask[0] == ":":  # from a trailing part: not a mask a MODE can carry
                ctx.numeric(ERR_INVALIDMODEPARAM, channel.name, "b", "*", "Invalid ban mask")
            elif adding and folded not in bans and len(bans) < MAX_BANS:
                bans.add(folded)
                changes.append(ModeChange(True, "b", mask))
            elif not adding and folded in bans:
                bans.discard(folded)
                changes.append(ModeChange(False, "b", mask))
        elif letter in CHANNEL_FLAGS:
            if (letter in channel.modes) != adding and not any(c.letter == letter for c in changes):
                changes.append(ModeChange(adding, letter))
        else:
            ctx.numeric(ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
    return changes, list_bans


def _channel_mode(ctx: Context, msg: Message) -> None:
    name = msg.params[0]
    channel = ctx.state.channel(name)
    user = ctx.user
    if channel is None:
        ctx.error(ERR_NOSUCHCHANNEL, name)
        return
    if len(msg.params) == 1:
        member = user in channel.members or user.is_oper
        ctx.numeric(RPL_CHANNELMODEIS, channel.name, *channel.mode_string(show_key=member))
        ctx.numeric(RPL_CREATIONTIME, channel.name, str(int(channel.created)))
        return
    modestring = msg.params[1]
    if modestring.strip("+-") in ("b", "") and len(msg.params) == 2:
        _send_bans(ctx, channel)
        return
    if not is_chanop(channel, user) and not user.is_oper:
        ctx.error(ERR_CHANOPRIVSNEEDED, channel.name)
        return
    changes, list_bans = _channel_changes(ctx, channel, modestring, list(msg.params[2:]))
    if changes:
        ctx.emit(ChannelModeChanged(user.uid, channel.name, tuple(changes)))
    if list_bans:
        _send_bans(ctx, channel)


def _user_mode(ctx: Context, msg: Message) -> None:
    user = ctx.user
    target = ctx.state.user(msg.params[0])
    if target is None:
        ctx.error(ERR_NOSUCHNICK, msg.params[0])
        return
    if target is not user:
        ctx.error(ERR_USERSDONTMATCH)
        return
    if len(msg.params) == 1:
        ctx.numeric(RPL_UMODEIS, "+" + "".join(sorted(user.modes)))
        return
    changes: list[ModeChange] = []
    modes = set(user.modes)
    adding = True
    unknown = False
    for letter in msg.params[1]:
        if letter in "+-":
            adding = letter == "+"
        elif letter in USER_FLAGS or (letter == "o" and not adding):
            # +o only comes from OPER; a user may always drop it.
            if (letter in modes) != adding:
                modes.symmetric_difference_update(letter)
                changes.append(ModeChange(adding, letter))
        elif letter != "o":
            unknown = True
    if unknown:
        ctx.error(ERR_UMODEUNKNOWNFLAG)
    if changes:
        ctx.emit(UserModeChanged(user.uid, tuple(changes)))


def handle_mode(ctx: Context, msg: Message) -> None:
    """MODE <target> [<modestring> [<mode arguments>...]]"""
    if is_channel(msg.params[0]):
        _channel_mode(ctx, msg)
    else:
        _user_mode(ctx, msg)


COMMANDS: Final = {"MODE": CommandSpec(handle_mode, min_params=1)}
