"""CHATHISTORY: IRCv3 ``draft/chathistory`` and ``draft/event-playback``.

Only a channel's members may read its history, and only the two people of
a private conversation theirs; anyone else gets ``FAIL CHATHISTORY
INVALID_TARGET`` and learns nothing about whether the target exists.
References are exclusive and results are oldest first, in a
``chathistory`` batch. Without ``draft/event-playback`` only messages are
returned; with it, joins, parts, quits, kicks, nick, topic and mode changes
too.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime
from typing import Final

from tcpchat.irc import Message, is_channel, quote_params
from tcpchat.irc.numerics import ERR_UNKNOWNCOMMAND
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import OutLine, format_client_tags, format_time, with_tag
from tcpchat.server.events import Stamp
from tcpchat.store import HistoryItem, HistoryStore, Reference, dm_key, party, party_name
from tcpchat.store.health import StoreUnavailable
from tcpchat.store.history import MESSAGE_KINDS

__all__ = [
    "COMMANDS",
    "EVENT_KINDS",
    "HistoryRequestError",
    "conversation_key",
    "in_batch",
    "parse_reference",
]

EVENT_KINDS: Final = frozenset({"JOIN", "PART", "QUIT", "KICK", "NICK", "TOPIC", "MODE"})
_MESSAGES_ONLY: Final = frozenset({"PRIVMSG", "NOTICE"})


class HistoryRequestError(ValueError):
    """A CHATHISTORY request that cannot be answered: (code, context params, text)."""

    def __init__(self, code: str, *context: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.context = context
        self.text = text


def parse_reference(text: str, allow_star: bool = False) -> Reference | None:
    """``msgid=...`` or ``timestamp=...`` (or ``*`` where allowed) as a Reference.

    Raises ValueError for anything else.
    """
    if allow_star and text == "*":
        return None
    kind, _, value = text.partition("=")
    if kind == "msgid" and value:
        return Reference(msgid=value)
    if kind == "timestamp" and value:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a timestamp needs a time zone (Z)")
        # Whole milliseconds by integer arithmetic, as stored; no float rounding.
        try:
            seconds = calendar.timegm(moment.utctimetuple())
        except OverflowError:  # in UTC, before year 1 or after 9999
            raise ValueError(f"a timestamp out of range: {value!r}") from None
        return Reference(time_ms=seconds * 1000 + moment.microsecond // 1000)
    raise ValueError(f"not a message reference: {text!r}")


def _fail(ctx: Context, code: str, *params: str) -> None:
    ctx.send(ctx.config.name, "FAIL", "CHATHISTORY", code, *params)


def _limit(ctx: Context, text: str, sub: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise HistoryRequestError("INVALID_PARAMS", sub, text=f"Invalid limit {text!r}")
    return min(int(text), ctx.config.history.request_limit)


def _reference(text: str, sub: str, allow_star: bool = False) -> Reference | None:
    try:
        return parse_reference(text, allow_star)
    except ValueError:
        raise HistoryRequestError(
            "INVALID_PARAMS", sub, text=f"Invalid message reference {text!r}"
        ) from None


def conversation_key(ctx: Context, target: str, sub: str) -> str:
    """The history key of the conversation with ``target``, if this user may
    read it; else HistoryRequestError INVALID_TARGET (``sub`` is its context)."""
    user = ctx.user
    if is_channel(target):
        channel = ctx.state.channel(target)
        if channel is None or user not in channel.members:
            raise HistoryRequestError(
                "INVALID_TARGET", sub, target, text="Messages could not be retrieved"
            )
        return channel.folded
    other = ctx.state.user(target)
    if other is not None:
        them = party(other.nick, other.account)
    else:
        accounts = ctx.core.accounts
        known = accounts is not None and accounts.get(target) is not None
        them = party(target, target if known else None)
    return dm_key(party(user.nick, user.account), them)


def _time_of(store: HistoryStore, key: str, ref: Reference) -> int | None:
    if ref.time_ms is not None:
        return ref.time_ms
    item = store.find(key, ref)
    return item.time_ms if item is not None else None


def _items(
    ctx: Context, store: HistoryStore, sub: str, key: str, params: tuple[str, ...]
) -> list[HistoryItem]:
    """The items a LATEST/BEFORE/AFTER/AROUND/BETWEEN request asks for."""
    # TAGMSG and channel events replay only with event-playback.
    kinds = _MESSAGES_ONLY
    if "draft/event-playback" in ctx.session.caps:
        kinds = MESSAGE_KINDS | EVENT_KINDS

    def select(
        after: Reference | None, before: Reference | None, n: int, newest: bool
    ) -> list[HistoryItem]:
        return store.select(key, after, before, n, kinds, newest) if n > 0 else []

    if sub == "BETWEEN":
        if len(params) < 3:
            raise HistoryRequestError("NEED_MORE_PARAMS", sub, text="Missing parameters")
        first, second = _reference(params[0], sub), _reference(params[1], sub)
        limit = _limit(ctx, params[2], sub)
        assert first is not None and second is not None
        first_time, second_time = _time_of(store, key, first), _time_of(store, key, second)
        if first_time is None or second_time is None:
            return []
        if first_time < second_time:
            return select(first, second, limit, newest=False)
        if first_time > second_time:
            return select(second, first, limit, newest=True)
        # The same millisecond (the lines of one paste share it): the
        # references' order is the store's, and read the wrong way round
        # they bound nothing.
        return select(first, second, limit, newest=False) or select(
            second, first, limit, newest=True
        )
    if len(params) < 2:
        raise HistoryRequestError("NEED_MORE_PARAMS", sub, text="Missing parameters")
    ref = _reference(params[0], sub, allow_star=sub == "LATEST")
    limit = _limit(ctx, params[1], sub)
    if sub == "LATEST":
        return select(ref, None, limit, newest=True)
    assert ref is not None
    if sub == "BEFORE":
        return select(None, ref, limit, newest=True)
    if sub == "AFTER":
        return select(ref, None, limit, newest=False)
    # AROUND: the referenced message in the middle, the rest split around it.
    centre = store.find(key, ref)
    if centre is not None:
        earlier = (limit - 1) // 2
        return [
            *select(None, ref, earlier, newest=True),
            centre,
            *select(ref, None, limit - 1 - earlier, newest=False),
        ]
    if ref.time_ms is None:
        return []  # an unknown msgid
    earlier = limit // 2
    just_before = Reference(time_ms=ref.time_ms - 1)
    return select(None, ref, earlier, newest=True) + select(
        just_before, None, limit - earlier, newest=False
    )


def _replay(ctx: Context, batch: str, item: HistoryItem) -> None:
    body = f":{item.source} {item.command}" + quote_params(item.params)
    tags = format_client_tags(item.tags) if item.tags else ""
    line = OutLine(body, Stamp(item.msgid, item.time_ms), tags).for_mode(ctx.session.tag_mode)
    ctx.session.write(with_tag(line, f"batch={batch}") if batch else line)


def in_batch(ctx: Context, kind: str, params: tuple[str, ...], fill: Callable[[str], None]) -> None:
    """Wrap what ``fill`` writes in a batch, when the client understands batches."""
    if "batch" not in ctx.session.caps:
        fill("")
        return
    batch = ctx.core.new_batch_id()
    ctx.send(ctx.config.name, "BATCH", f"+{batch}", kind, *params)
    fill(batch)
    ctx.send(ctx.config.name, "BATCH", f"-{batch}")


def _targets(ctx: Context, store: HistoryStore, params: tuple[str, ...]) -> None:
    sub = "TARGETS"
    if len(params) < 3:
        raise HistoryRequestError("NEED_MORE_PARAMS", sub, text="Missing parameters")
    start, end = _reference(params[0], sub), _reference(params[1], sub)
    limit = _limit(ctx, params[2], sub)
    if start is None or end is None or start.time_ms is None or end.time_ms is None:
        raise HistoryRequestError("INVALID_PARAMS", sub, text="TARGETS takes timestamps")
    low, high = sorted((start.time_ms, end.time_ms))
    user = ctx.user
    me = party(user.nick, user.account)
    rows = store.targets(list(user.channels), me, low, high, limit)

    def fill(batch: str) -> None:
        for key, latest in rows:
            if " " in key:  # a private conversation: name the other person
                first, _, second = key.partition(" ")
                name = party_name(second if first == me else first)
            else:
                name = user.channels[key].name if key in user.channels else key
            line = f":{ctx.config.name} CHATHISTORY TARGETS {name} {format_time(latest)}"
            data = (line + "\r\n").encode()
            ctx.session.write(with_tag(data, f"batch={batch}") if batch else data)

    in_batch(ctx, "draft/chathistory-targets", (), fill)


def handle_chathistory(ctx: Context, msg: Message) -> None:
    """CHATHISTORY <LATEST|BEFORE|AFTER|AROUND|BETWEEN> <target> <ref> [<ref>] <limit>
    | CHATHISTORY TARGETS <timestamp> <timestamp> <limit>"""
    store = ctx.core.history
    if store is None:
        ctx.error(ERR_UNKNOWNCOMMAND, msg.command)
        return
    sub = msg.params[0].upper()
    target = msg.params[1] if len(msg.params) > 1 else "*"
    try:
        if sub == "TARGETS":
            _targets(ctx, store, msg.params[1:])
            return
        if sub not in ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"):
            raise HistoryRequestError("INVALID_PARAMS", sub, text="Unknown subcommand")
        if len(msg.params) < 2:
            raise HistoryRequestError("NEED_MORE_PARAMS", sub, text="Missing parameters")
        key = conversation_key(ctx, target, sub)
        items = _items(ctx, store, sub, key, msg.params[2:])
    except HistoryRequestError as error:
        _fail(ctx, error.code, *error.context, error.text)
        return
    except StoreUnavailable as error:  # the store has said why in the log
        _fail(ctx, "MESSAGE_ERROR", sub, target, f"Messages could not be retrieved: {error}")
        return

    def fill(batch: str) -> None:
        for item in items:
            _replay(ctx, batch, item)

    in_batch(ctx, "chathistory", (target,), fill)


COMMANDS: Final = {"CHATHISTORY": CommandSpec(handle_chathistory, min_params=1)}
