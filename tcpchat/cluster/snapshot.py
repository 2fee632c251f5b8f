"""The network's state as one JSON document, for nodes that join later.

A node that joins (or comes back) must not replay every event since the
network began: a node saves the state it has applied up to a stream entry
now and then, and the joiner loads that and reads on from the entry after
it. Only what is the same on every node is saved: users and channels (who
is connected where, but no connection), bans, WHOWAS. The services (NickServ)
are every node's own and stay as they are.

Like the codec, loading trusts nothing: a damaged document raises
SnapshotError before anything is changed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Final

from tcpchat.irc import casefold
from tcpchat.server.events import ServerBanAdded
from tcpchat.server.state import Ban, Channel, State, User, WhowasEntry, is_console_uid

__all__ = ["SnapshotError", "dump", "load"]

VERSION: Final = 1


class SnapshotError(ValueError):
    """A snapshot this node cannot load."""


def dump(state: State) -> str:
    """``state`` as a snapshot's text."""
    users = [
        [
            u.uid,
            u.nick,
            u.username,
            u.host,
            u.ip,
            u.realname,
            u.signon,
            sorted(u.modes),
            u.away,
            u.account,
            u.node,
            u.metadata,
        ]
        for u in state.by_uid.values()
        if not u.service
    ]
    channels = [
        [
            c.name,
            c.created,
            c.permanent,
            c.topic,
            c.topic_setter,
            c.topic_time,
            sorted(c.modes),
            c.key,
            c.limit,
            [[b.mask, b.setter, b.time] for b in c.bans],
            sorted(c.invited),
            [[member.uid, modes] for member, modes in c.members.items()],
            c.metadata,
        ]
        for c in state.channels.values()
    ]
    whowas = [[w.nick, w.username, w.host, w.realname, w.time] for w in state.whowas]
    bans = [[b.source, b.mask, b.reason, b.expires_ms] for b in state.server_bans.values()]
    document = {
        "version": VERSION,
        "users": users,
        "channels": channels,
        "whowas": whowas,
        "bans": bans,
        "max_users": state.max_users,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def load(state: State, text: str | bytes) -> None:
    """Make ``state`` the snapshot's (keeping its services); SnapshotError, with
    ``state`` unchanged, if the text is not a snapshot of this version."""
    try:
        document = json.loads(text)
        if document["version"] != VERSION:
            raise SnapshotError(
                f"snapshot version {document['version']!r}; this node reads {VERSION}"
            )
        users = [_user(row) for row in document["users"]]
        by_uid = {u.uid: u for u in users}
        channels = [_channel(row, by_uid) for row in document["channels"]]
        whowas = [WhowasEntry(*row) for row in document["whowas"]]
        bans = [ServerBanAdded(*row) for row in document["bans"]]
        max_users = int(document["max_users"])
    except SnapshotError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise SnapshotError(f"damaged snapshot: {exc!r}") from None
    services = [u for u in state.by_uid.values() if u.service]
    state.users.clear()
    state.by_uid.clear()
    state.logged_in.clear()
    for user in services + users:
        state.users[user.folded] = user
        state.by_uid[user.uid] = user
        account, user.account = user.account, None
        state.log_in(user, account)
    state.channels = {c.folded: c for c in channels}
    state.whowas.clear()
    state.whowas.extend(whowas)
    state.server_bans = {casefold(b.mask): b for b in bans}
    state.people = len(users)
    state.ips = Counter(u.ip for u in users if not is_console_uid(u.uid))
    state.max_users = max(max_users, state.people)


def _user(row: list[Any]) -> User:
    uid, nick, username, host, ip, realname, signon, modes, away, account, node, metadata = row
    user = User(uid, nick, username, host, ip, realname, float(signon))
    user.modes = frozenset(modes)
    user.away, user.account, user.node = away, account, node
    user.metadata = dict(metadata)
    return user


def _channel(row: list[Any], by_uid: dict[str, User]) -> Channel:
    (name, created, permanent, topic, setter, topic_time, modes, key, limit, bans, invited,
     members, metadata) = row  # fmt: skip
    channel = Channel(name, float(created), bool(permanent), topic=topic)
    channel.topic_setter, channel.topic_time = setter, float(topic_time)
    channel.modes, channel.key, channel.limit = set(modes), key, limit
    channel.bans = [Ban(*ban) for ban in bans]
    channel.invited = set(invited)
    channel.metadata = dict(metadata)
    for uid, member_modes in members:
        user = by_uid[uid]
        channel.members[user] = member_modes
        user.channels[channel.folded] = channel
    return channel
