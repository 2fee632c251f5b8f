"""Questions about the network: WHO, WHOIS, WHOWAS, ISON, USERHOST, MOTD,
LUSERS, LINKS, VERSION, TIME, and the ISUPPORT list sent at registration.

None of these change state, so none emits an event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from tcpchat.irc import CASEMAPPING, CHANTYPES, Message, casefold, is_channel
from tcpchat.irc.masks import mask_matches
from tcpchat.irc.numerics import (
    ERR_NOMOTD,
    ERR_NONICKNAMEGIVEN,
    ERR_NOSUCHNICK,
    ERR_NOSUCHSERVER,
    ERR_WASNOSUCHNICK,
    RPL_AWAY,
    RPL_ENDOFINFO,
    RPL_ENDOFLINKS,
    RPL_ENDOFMOTD,
    RPL_ENDOFWHO,
    RPL_ENDOFWHOIS,
    RPL_ENDOFWHOWAS,
    RPL_GLOBALUSERS,
    RPL_INFO,
    RPL_ISON,
    RPL_ISUPPORT,
    RPL_LINKS,
    RPL_LOCALUSERS,
    RPL_LUSERCHANNELS,
    RPL_LUSERCLIENT,
    RPL_LUSERME,
    RPL_LUSEROP,
    RPL_LUSERUNKNOWN,
    RPL_MOTD,
    RPL_MOTDSTART,
    RPL_TIME,
    RPL_USERHOST,
    RPL_VERSION,
    RPL_WHOISACCOUNT,
    RPL_WHOISBOT,
    RPL_WHOISCHANNELS,
    RPL_WHOISIDLE,
    RPL_WHOISKEYVALUE,
    RPL_WHOISOPERATOR,
    RPL_WHOISSECURE,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOREPLY,
    RPL_WHOSPCRPL,
    RPL_WHOWASUSER,
)
from tcpchat.server.commands.modes import BOT_MODE
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.monitor import MONITOR_LIMIT
from tcpchat.server.state import Channel, User

__all__ = ["COMMANDS", "isupport_tokens", "send_isupport", "send_lusers", "send_motd"]

# RPL_ISUPPORT carries at most 13 tokens a line (Modern IRC, "RPL_ISUPPORT").
_TOKENS_PER_LINE: Final = 13
_USERLEN: Final = 11  # "~" and the ten characters USER keeps


def isupport_tokens(ctx: Context) -> list[str]:
    limits = ctx.config.limits
    targets = limits.max_targets
    history = (
        [f"CHATHISTORY={ctx.config.history.request_limit}", "MSGREFTYPES=msgid,timestamp"]
        if ctx.core.history is not None
        else []
    )
    return [
        *history,
        f"AWAYLEN={limits.awaylen}",
        f"BOT={BOT_MODE}",
        f"CASEMAPPING={CASEMAPPING}",
        f"CHANLIMIT={CHANTYPES}:{limits.max_channels}",
        "CHANMODES=b,k,l,imnst",
        f"CHANNELLEN={limits.channellen}",
        f"CHANTYPES={CHANTYPES}",
        f"KICKLEN={limits.kicklen}",
        f"MAXTARGETS={targets}",
        f"MODES={limits.max_modes}",
        f"MONITOR={MONITOR_LIMIT}",
        f"NETWORK={ctx.config.network}",
        f"NICKLEN={limits.nicklen}",
        "PREFIX=(ov)@+",
        f"TARGMAX=PRIVMSG:{targets},NOTICE:{targets},TAGMSG:{targets},JOIN:,PART:,KICK:1",
        f"TOPICLEN={limits.topiclen}",
        f"USERLEN={_USERLEN}",
        "UTF8ONLY",
        "WHOX",
    ]


def send_isupport(ctx: Context) -> None:
    tokens = isupport_tokens(ctx)
    for i in range(0, len(tokens), _TOKENS_PER_LINE):
        ctx.numeric(RPL_ISUPPORT, *tokens[i : i + _TOKENS_PER_LINE], "are supported by this server")


def send_lusers(ctx: Context) -> None:
    state = ctx.state
    users = state.people
    invisible = sum(1 for u in state.users.values() if "i" in u.modes and not u.service)
    opers = sum(1 for u in state.users.values() if u.is_oper)
    unknown = len(ctx.core.sessions) - sum(1 for s in ctx.core.sessions if s.user is not None)
    ctx.numeric(
        RPL_LUSERCLIENT,
        f"There are {users - invisible} users and {invisible} invisible on 1 servers",
    )
    ctx.numeric(RPL_LUSEROP, str(opers), "operator(s) online")
    ctx.numeric(RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    ctx.numeric(RPL_LUSERCHANNELS, str(len(state.channels)), "channels formed")
    ctx.numeric(RPL_LUSERME, f"I have {users} clients and 0 servers")
    peak = state.max_users
    ctx.numeric(RPL_LOCALUSERS, str(users), str(peak), f"Current local users {users}, max {peak}")
    ctx.numeric(RPL_GLOBALUSERS, str(users), str(peak), f"Current global users {users}, max {peak}")


def send_motd(ctx: Context) -> None:
    motd = ctx.config.motd
    if not motd:
        ctx.error(ERR_NOMOTD)
        return
    ctx.numeric(RPL_MOTDSTART, f"- {ctx.config.name} Message of the day - ")
    for line in motd.splitlines() or [""]:
        ctx.numeric(RPL_MOTD, f"- {line}")
    ctx.numeric(RPL_ENDOFMOTD, "End of /MOTD command.")


def _our_server(ctx: Context, msg: Message, index: int = 0) -> bool:
    """Whether an optional <server> parameter names us (or is absent); 402 if not."""
    if len(msg.params) <= index:
        return True
    target = msg.params[index]
    if casefold(target) == casefold(ctx.config.name) or ctx.state.user(target) is not None:
        return True
    ctx.error(ERR_NOSUCHSERVER, target)
    return False


def handle_motd(ctx: Context, msg: Message) -> None:
    """MOTD [<target>]"""
    if _our_server(ctx, msg):
        send_motd(ctx)


def handle_info(ctx: Context, msg: Message) -> None:
    """INFO [<target>]"""
    if _our_server(ctx, msg):
        for line in (
            f"{ctx.core.version}: a self-hosted TCP chat that speaks IRC.",
            "Written in Python; the protocol layer has no I/O in it.",
            f"Up since {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(ctx.core.started))}.",
        ):
            ctx.numeric(RPL_INFO, line)
        ctx.numeric(RPL_ENDOFINFO, "End of INFO list")


def handle_links(ctx: Context, msg: Message) -> None:
    """LINKS: the servers of this network (tcpchat's is one server)."""
    name = ctx.config.name
    ctx.numeric(RPL_LINKS, name, name, f"0 {ctx.config.description}")
    ctx.numeric(RPL_ENDOFLINKS, "*", "End of /LINKS list")


def handle_lusers(ctx: Context, msg: Message) -> None:
    """LUSERS"""
    send_lusers(ctx)


def handle_version(ctx: Context, msg: Message) -> None:
    """VERSION [<target>]"""
    if _our_server(ctx, msg):
        ctx.numeric(RPL_VERSION, ctx.core.version, ctx.config.name, ctx.config.description)
        send_isupport(ctx)


def handle_time(ctx: Context, msg: Message) -> None:
    """TIME [<server>]"""
    if _our_server(ctx, msg):
        now = ctx.now
        text = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(now))
        ctx.numeric(RPL_TIME, ctx.config.name, str(int(now)), "0", text)


def _who_flags(user: User, channel: Channel | None, multi: bool) -> str:
    flags = "G" if user.away else "H"
    if user.is_oper:
        flags += "*"
    if user.is_bot:
        flags += BOT_MODE
    if channel is not None:
        flags += channel.prefix(user, multi)
    return flags


# WHOX (ircv3 PR 482, "WHOX"): the fields a client may ask for, in the order
# they are always sent, whatever order they were asked in.
WHOX_FIELDS: Final = "tcuihsnfdlaor"


@dataclass(frozen=True, slots=True)
class WhoRequest:
    """What WHO was asked: plain (352 replies), or WHOX fields and a token (354)."""

    fields: str = ""
    token: str = ""

    @classmethod
    def parse(cls, param: str | None) -> WhoRequest:
        if not param or not param.startswith("%"):
            return cls()
        fields, _, token = param[1:].partition(",")
        wanted = "".join(f for f in WHOX_FIELDS if f in fields)
        return cls(wanted, token[:3] if token.isdigit() else "")


def _who_line(ctx: Context, user: User, channel: Channel | None, request: WhoRequest) -> None:
    flags = _who_flags(user, channel, "multi-prefix" in ctx.session.caps)
    channel_name = channel.name if channel is not None else "*"
    if not request.fields:
        ctx.numeric(
            RPL_WHOREPLY,
            channel_name,
            user.username,
            user.host,
            ctx.config.name,
            user.nick,
            flags,
            f"0 {user.realname}",
        )
        return
    idle = int(ctx.now - user.session.last_spoke) if user.session is not None else 0
    values = {
        "t": request.token or "0",
        "c": channel_name,
        "u": user.username,
        "i": user.ip if user is ctx.session.user or ctx.user.is_oper else "255.255.255.255",
        "h": user.host,
        "s": ctx.config.name,
        "n": user.nick,
        "f": flags,
        "d": "0",
        "l": str(idle),
        "a": user.account or "0",
        "o": "n/a",
        "r": user.realname,
    }
    ctx.numeric(RPL_WHOSPCRPL, *(values[f] for f in request.fields))


def _visible(ctx: Context, user: User) -> bool:
    """Invisible (+i) users show only to those who share a channel with them."""
    if "i" not in user.modes or user is ctx.session.user:
        return True
    me = ctx.user
    return any(me in channel.members for channel in user.channels.values())


def handle_who(ctx: Context, msg: Message) -> None:
    """WHO <mask> [%<fields>[,<token>]]"""
    mask = msg.params[0] if msg.params else "*"
    request = WhoRequest.parse(msg.params[1] if len(msg.params) > 1 else None)
    state = ctx.state
    if is_channel(mask):
        channel = state.channel(mask)
        if channel is not None and (
            "s" not in channel.modes or ctx.user in channel.members or ctx.user.is_oper
        ):
            for member in channel.members:
                _who_line(ctx, member, channel, request)
    else:
        exact = state.user(mask)
        if exact is not None:
            _who_line(ctx, exact, _first_channel(ctx, exact), request)
        else:
            folded = casefold(mask)
            for user in state.users.values():
                if (
                    not user.service
                    and _visible(ctx, user)
                    and (
                        mask_matches(folded, casefold(user.mask))
                        or mask_matches(folded, user.folded)
                        or mask_matches(folded, casefold(user.host))
                        or mask_matches(folded, casefold(user.realname))
                    )
                ):
                    _who_line(ctx, user, _first_channel(ctx, user), request)
    ctx.numeric(RPL_ENDOFWHO, mask, "End of WHO list")


def _first_channel(ctx: Context, user: User) -> Channel | None:
    for channel in user.channels.values():
        if "s" not in channel.modes or ctx.user in channel.members:
            return channel
    return None


def handle_whois(ctx: Context, msg: Message) -> None:
    """WHOIS [<server>] <nick>"""
    nick = msg.params[-1] if msg.params else ""
    if not nick:
        ctx.error(ERR_NONICKNAMEGIVEN)
        return
    user = ctx.state.user(nick)
    if user is None:
        ctx.error(ERR_NOSUCHNICK, nick)
        ctx.numeric(RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    me = ctx.user
    multi = "multi-prefix" in ctx.session.caps
    ctx.numeric(RPL_WHOISUSER, user.nick, user.username, user.host, "*", user.realname)
    channels = [
        channel.prefix(user, multi) + channel.name
        for channel in user.channels.values()
        if "s" not in channel.modes or me in channel.members or me is user
    ]
    if channels:
        ctx.numeric(RPL_WHOISCHANNELS, user.nick, " ".join(channels))
    # In a cluster, the node the user is connected to (one server to clients, but
    # where a user is tells an operator which process serves it).
    info = f"{ctx.config.description} (node {user.node})" if user.node else ctx.config.description
    ctx.numeric(RPL_WHOISSERVER, user.nick, ctx.config.name, info)
    if user.is_oper:
        ctx.numeric(RPL_WHOISOPERATOR, user.nick, "is an IRC operator")
    if user.is_bot:
        ctx.numeric(RPL_WHOISBOT, user.nick, f"is a bot on {ctx.config.network}")
    if user.away:
        ctx.numeric(RPL_AWAY, user.nick, user.away)
    if user.account:
        ctx.numeric(RPL_WHOISACCOUNT, user.nick, user.account, "is logged in as")
    for key, value in sorted(user.metadata.items()):
        ctx.numeric(RPL_WHOISKEYVALUE, user.nick, key, "*", value)
    if user.session is not None and user.session.tls:
        ctx.numeric(RPL_WHOISSECURE, user.nick, "is using a secure connection")
    if user.session is not None:
        idle = int(ctx.now - user.session.last_spoke)
        ctx.numeric(
            RPL_WHOISIDLE,
            user.nick,
            str(idle),
            str(int(user.signon)),
            "seconds idle, signon time",
        )
    ctx.numeric(RPL_ENDOFWHOIS, user.nick, "End of /WHOIS list")


def handle_whowas(ctx: Context, msg: Message) -> None:
    """WHOWAS <nick> [<count>]"""
    nick = msg.params[0]
    count = int(msg.params[1]) if len(msg.params) > 1 and msg.params[1].isdigit() else 0
    folded = casefold(nick)
    found = 0
    for entry in ctx.state.whowas:
        if casefold(entry.nick) == folded:
            ctx.numeric(RPL_WHOWASUSER, entry.nick, entry.username, entry.host, "*", entry.realname)
            ctx.numeric(RPL_WHOISSERVER, entry.nick, ctx.config.name, time.ctime(entry.time))
            found += 1
            if count > 0 and found >= count:
                break
    if not found:
        ctx.error(ERR_WASNOSUCHNICK, nick)
    ctx.numeric(RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


def handle_ison(ctx: Context, msg: Message) -> None:
    """ISON <nick>{ <nick>}"""
    online = []
    for param in msg.params:
        for nick in param.split():
            user = ctx.state.user(nick)
            if user is not None:
                online.append(user.nick)
    ctx.numeric(RPL_ISON, " ".join(online))


def handle_userhost(ctx: Context, msg: Message) -> None:
    """USERHOST <nick>{ <nick>}"""
    replies = []
    for nick in msg.params[:5]:
        user = ctx.state.user(nick)
        if user is not None:
            oper = "*" if user.is_oper else ""
            away = "-" if user.away else "+"
            replies.append(f"{user.nick}{oper}={away}{user.username}@{user.host}")
    ctx.numeric(RPL_USERHOST, " ".join(replies))


COMMANDS: Final = {
    "MOTD": CommandSpec(handle_motd),
    "LUSERS": CommandSpec(handle_lusers),
    "LINKS": CommandSpec(handle_links),
    "INFO": CommandSpec(handle_info),
    "VERSION": CommandSpec(handle_version),
    "TIME": CommandSpec(handle_time),
    "WHO": CommandSpec(handle_who),
    "WHOIS": CommandSpec(handle_whois, min_params=1),
    "WHOWAS": CommandSpec(handle_whowas, min_params=1),
    "ISON": CommandSpec(handle_ison, min_params=1),
    "USERHOST": CommandSpec(handle_userhost, min_params=1),
}
