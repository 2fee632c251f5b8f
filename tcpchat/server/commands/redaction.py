"""REDACT: deleting a message (IRCv3 ``draft/message-redaction``).

A message may be deleted by whoever sent it, and a channel's message also
by an operator of the channel or an IRC operator. The message is found in
history by its msgid, so the capability is offered only while history is
kept; the message stays in the file, hidden from every reader from then
on (:data:`~tcpchat.store.history.REDACT`). Whoever may not read a
conversation learns nothing of what is in it: the answer is the same
INVALID_TARGET as CHATHISTORY gives.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message, casefold, is_channel
from tcpchat.irc.masks import split_hostmask
from tcpchat.server.commands.channels import is_chanop
from tcpchat.server.commands.history import HistoryRequestError, conversation_key
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.events import Redacted
from tcpchat.store import HistoryItem, Reference, party
from tcpchat.store.history import MESSAGE_KINDS

__all__ = ["COMMANDS"]


def _fail(ctx: Context, code: str, *params: str) -> None:
    ctx.send(ctx.config.name, "FAIL", "REDACT", code, *params)


def _own(ctx: Context, item: HistoryItem) -> bool:
    """Whether the user sent ``item``: by account or nick as it was recorded,
    or, for a message kept before senders were, by the nick it came from."""
    user = ctx.user
    if item.sender:
        return item.sender == party(user.nick, user.account)
    return casefold(split_hostmask(item.source)[0]) == user.folded


def handle_redact(ctx: Context, msg: Message) -> None:
    """REDACT <target> <msgid> [:<reason>]: delete a message you sent (channel
    operators: any in their channel)."""
    store = ctx.core.history
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.params[2][: ctx.config.limits.kicklen] if len(msg.params) > 2 else ""
    if store is None:
        _fail(ctx, "UNKNOWN_MSGID", target, msgid, "This server keeps no messages to delete")
        return
    try:
        key = conversation_key(ctx, target, "REDACT")
    except HistoryRequestError:
        _fail(ctx, "INVALID_TARGET", target, f"You cannot delete messages from {target}")
        return
    item = store.find(key, Reference(msgid=msgid))
    if item is None or item.command not in MESSAGE_KINDS:
        _fail(ctx, "UNKNOWN_MSGID", target, msgid, "This message does not exist or is too old")
        return
    user = ctx.user
    channel = ctx.state.channel(target) if is_channel(target) else None
    moderator = user.is_oper or (channel is not None and is_chanop(channel, user))
    if not moderator and not _own(ctx, item):
        _fail(
            ctx, "REDACT_FORBIDDEN", target, msgid, "You are not authorised to delete this message"
        )
        return
    shown = channel.name if channel is not None else target
    ctx.emit(Redacted(user.uid, shown, key, msgid, reason))


COMMANDS: Final = {"REDACT": CommandSpec(handle_redact, min_params=2)}
