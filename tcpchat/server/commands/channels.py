"""Channels: JOIN, PART, TOPIC, NAMES, LIST, INVITE, KICK.

The first user to join a channel that does not exist creates it and becomes
its operator (+o). The configured default channel exists from the start and
is nobody's: it gives no operator status to whoever happens to join first.
IRC operators may KICK and set TOPIC without being channel operators.
"""

from __future__ import annotations

import functools
from typing import Final

from tcpchat.irc import Message, casefold, valid_channel
from tcpchat.irc.masks import mask_matches
from tcpchat.irc.numerics import (
    ERR_BADCHANNELKEY,
    ERR_BANNEDFROMCHAN,
    ERR_CHANNELISFULL,
    ERR_CHANOPRIVSNEEDED,
    ERR_INVITEONLYCHAN,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_NOTONCHANNEL,
    ERR_TOOMANYCHANNELS,
    ERR_USERNOTINCHANNEL,
    ERR_USERONCHANNEL,
    RPL_AWAY,
    RPL_ENDOFNAMES,
    RPL_INVITING,
    RPL_LIST,
    RPL_LISTEND,
    RPL_LISTSTART,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_TOPICWHOTIME,
)
from tcpchat.server.commands.readmarker import CAP as READ_MARKER_CAP
from tcpchat.server.commands.readmarker import send_marker
from tcpchat.server.context import CommandSpec, Context, when_applied
from tcpchat.server.events import Invited, Joined, Kicked, Parted, TopicChanged
from tcpchat.server.metadata import send_join_metadata
from tcpchat.server.state import Channel, User

__all__ = ["COMMANDS", "can_speak", "is_banned", "is_chanop", "send_names"]

# A 353 line's nick list is cut well below 512 bytes to leave room for the prefix.
_NAMES_CHUNK: Final = 400


def is_chanop(channel: Channel, user: User) -> bool:
    return "o" in channel.members.get(user, "")


def is_banned(channel: Channel, user: User) -> bool:
    if not channel.bans:
        return False
    mask = casefold(user.mask)
    return any(mask_matches(casefold(ban.mask), mask) for ban in channel.bans)


def can_speak(channel: Channel, user: User) -> bool:
    """Whether ``user`` may send to ``channel`` (+n, +m and bans)."""
    modes = channel.members.get(user)
    if modes is None:
        return (
            "n" not in channel.modes and "m" not in channel.modes and not is_banned(channel, user)
        )
    if modes:  # voiced or opped members speak through +m and bans
        return True
    return "m" not in channel.modes and not is_banned(channel, user)


def send_names(ctx: Context, channel: Channel) -> None:
    """353/366 for one channel, split into lines that fit."""
    me = ctx.user
    member = me in channel.members
    if "s" in channel.modes and not member and not me.is_oper:
        ctx.numeric(RPL_ENDOFNAMES, channel.name, "End of /NAMES list")
        return
    caps = ctx.session.caps
    multi = "multi-prefix" in caps
    full = "userhost-in-names" in caps
    symbol = "@" if "s" in channel.modes else "="
    names = []
    for user in channel.members:
        if not member and "i" in user.modes and user is not me:
            continue
        names.append(channel.prefix(user, multi) + (user.mask if full else user.nick))
    chunk: list[str] = []
    size = 0
    for name in names:
        if chunk and size + len(name) + 1 > _NAMES_CHUNK:
            ctx.numeric(RPL_NAMREPLY, symbol, channel.name, " ".join(chunk))
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        ctx.numeric(RPL_NAMREPLY, symbol, channel.name, " ".join(chunk))
    ctx.numeric(RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def _send_topic(ctx: Context, channel: Channel) -> None:
    if channel.topic:
        ctx.numeric(RPL_TOPIC, channel.name, channel.topic)
        ctx.numeric(
            RPL_TOPICWHOTIME, channel.name, channel.topic_setter, str(int(channel.topic_time))
        )
    else:
        ctx.numeric(RPL_NOTOPIC, channel.name, "No topic is set")


def _join_refusal(channel: Channel, user: User, key: str) -> str | None:
    """The numeric that refuses ``user`` entry to an existing channel, if any."""
    invited = user.uid in channel.invited
    if channel.key is not None and key != channel.key:
        return ERR_BADCHANNELKEY
    if channel.limit is not None and len(channel.members) >= channel.limit:
        return ERR_CHANNELISFULL
    if "i" in channel.modes and not invited:
        return ERR_INVITEONLYCHAN
    if not invited and is_banned(channel, user):
        return ERR_BANNEDFROMCHAN
    return None


def handle_join(ctx: Context, msg: Message) -> None:
    """JOIN <channel>{,<channel>} [<key>{,<key>}] | JOIN 0"""
    user = ctx.user
    if msg.params[0] == "0":
        for current in list(user.channels.values()):
            ctx.emit(Parted(user.uid, current.name, "Left all channels"))
        return
    keys = msg.params[1].split(",") if len(msg.params) > 1 else []
    for i, name in enumerate(msg.params[0].split(",")):
        if not name:
            continue
        if not valid_channel(name, ctx.config.limits.channellen):
            ctx.error(ERR_NOSUCHCHANNEL, name)
            continue
        channel = ctx.state.channel(name)
        if channel is not None and user in channel.members:
            continue
        if len(user.channels) >= ctx.config.limits.max_channels:
            ctx.error(ERR_TOOMANYCHANNELS, name)
            continue
        if channel is None:
            event = Joined(user.uid, name, "o")
        else:
            refusal = _join_refusal(channel, user, keys[i] if i < len(keys) else "")
            if refusal is not None:
                ctx.error(refusal, channel.name)
                continue
            event = Joined(user.uid, channel.name)
        ctx.emit(event, when_applied(functools.partial(_joined, ctx, name)))


def _joined(ctx: Context, name: str) -> None:
    """After the JOIN line, as the channel now is: the topic, the read
    marker (before the end of NAMES, read-marker), the names (unless the
    client asked for none, no-implicit-names), and the metadata of the
    channel and its members."""
    user = ctx.session.user
    joined = user.channels.get(casefold(name)) if user is not None else None
    if joined is None:
        return
    if joined.topic:
        _send_topic(ctx, joined)
    if READ_MARKER_CAP in ctx.session.caps:
        send_marker(ctx, joined.name)
    if "no-implicit-names" not in ctx.session.caps:
        send_names(ctx, joined)
    send_join_metadata(ctx, joined)


def _member_channel(ctx: Context, name: str) -> Channel | None:
    """The channel ``name`` if the user is on it; 403 or 442 otherwise."""
    channel = ctx.state.channel(name)
    if channel is None:
        ctx.error(ERR_NOSUCHCHANNEL, name)
        return None
    if ctx.user not in channel.members:
        ctx.error(ERR_NOTONCHANNEL, channel.name)
        return None
    return channel


def _operable_channel(ctx: Context, name: str) -> Channel | None:
    """The channel ``name`` for a command that needs membership, which IRC operators skip."""
    if not ctx.user.is_oper:
        return _member_channel(ctx, name)
    channel = ctx.state.channel(name)
    if channel is None:
        ctx.error(ERR_NOSUCHCHANNEL, name)
    return channel


def handle_part(ctx: Context, msg: Message) -> None:
    """PART <channel>{,<channel>} [:<reason>]"""
    reason = msg.params[1][: ctx.config.limits.kicklen] if len(msg.params) > 1 else ""
    for name in msg.params[0].split(","):
        if name:
            channel = _member_channel(ctx, name)
            if channel is not None:
                ctx.emit(Parted(ctx.user.uid, channel.name, reason))


def handle_topic(ctx: Context, msg: Message) -> None:
    """TOPIC <channel> [:<topic>]"""
    name = msg.params[0]
    user = ctx.user
    if len(msg.params) == 1:
        channel = ctx.state.channel(name)
        if channel is None:
            ctx.error(ERR_NOSUCHCHANNEL, name)
        elif "s" in channel.modes and user not in channel.members:
            ctx.error(ERR_NOTONCHANNEL, channel.name)
        else:
            _send_topic(ctx, channel)
        return
    channel = _operable_channel(ctx, name)
    if channel is None:
        return
    if not user.is_oper and "t" in channel.modes and not is_chanop(channel, user):
        ctx.error(ERR_CHANOPRIVSNEEDED, channel.name)
        return
    ctx.emit(TopicChanged(user.uid, channel.name, msg.params[1][: ctx.config.limits.topiclen]))


def handle_names(ctx: Context, msg: Message) -> None:
    """NAMES [<channel>{,<channel>}]"""
    if not msg.params:
        for listed in list(ctx.state.channels.values()):
            if "s" not in listed.modes or ctx.user in listed.members:
                send_names(ctx, listed)
        return
    for name in msg.params[0].split(","):
        channel = ctx.state.channel(name)
        if channel is None:
            ctx.numeric(RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            send_names(ctx, channel)


def handle_list(ctx: Context, msg: Message) -> None:
    """LIST [<channel>{,<channel>}]"""
    user = ctx.user
    if msg.params and msg.params[0]:
        found = (ctx.state.channel(name) for name in msg.params[0].split(","))
        channels = [c for c in found if c is not None]
    else:
        channels = list(ctx.state.channels.values())
    ctx.numeric(RPL_LISTSTART, "Channel", "Users  Name")
    for channel in channels:
        if "s" in channel.modes and user not in channel.members and not user.is_oper:
            continue
        ctx.numeric(RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
    ctx.numeric(RPL_LISTEND, "End of /LIST")


def handle_invite(ctx: Context, msg: Message) -> None:
    """INVITE <nick> <channel>"""
    nick, name = msg.params[0], msg.params[1]
    user = ctx.user
    target = ctx.state.user(nick)
    if target is None:
        ctx.error(ERR_NOSUCHNICK, nick)
        return
    channel = ctx.state.channel(name)
    if channel is None and not valid_channel(name, ctx.config.limits.channellen):
        ctx.error(ERR_NOSUCHCHANNEL, name)
        return
    if channel is not None:
        if user not in channel.members and not user.is_oper:
            ctx.error(ERR_NOTONCHANNEL, channel.name)
            return
        if target in channel.members:
            ctx.numeric(ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
            return
        if "i" in channel.modes and not is_chanop(channel, user) and not user.is_oper:
            ctx.error(ERR_CHANOPRIVSNEEDED, channel.name)
            return
        name = channel.name
    ctx.emit(Invited(user.uid, target.uid, name))
    ctx.numeric(RPL_INVITING, target.nick, name)
    if target.away:
        ctx.numeric(RPL_AWAY, target.nick, target.away)


def handle_kick(ctx: Context, msg: Message) -> None:
    """KICK <channel> <nick>{,<nick>} [:<reason>]"""
    user = ctx.user
    name = msg.params[0]
    channel = _operable_channel(ctx, name)
    if channel is None:
        return
    if not user.is_oper and not is_chanop(channel, user):
        ctx.error(ERR_CHANOPRIVSNEEDED, channel.name)
        return
    reason = msg.params[2] if len(msg.params) > 2 and msg.params[2] else user.nick
    reason = reason[: ctx.config.limits.kicklen]
    for nick in msg.params[1].split(","):
        target = ctx.state.user(nick)
        if target is None:
            ctx.error(ERR_NOSUCHNICK, nick)
        elif target not in channel.members:
            ctx.numeric(
                ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel"
            )
        else:
            ctx.emit(Kicked(user.uid, channel.name, target.uid, reason))


COMMANDS: Final = {
    "JOIN": CommandSpec(handle_join, min_params=1),
    "PART": CommandSpec(handle_part, min_params=1),
    "TOPIC": CommandSpec(handle_topic, min_params=1),
    "NAMES": CommandSpec(handle_names),
    "LIST": CommandSpec(handle_list),
    "INVITE": CommandSpec(handle_invite, min_params=2),
    "KICK": CommandSpec(handle_kick, min_params=2),
}
