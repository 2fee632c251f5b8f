"""BATCH from clients: messages of several lines (IRCv3 ``draft/multiline``).

A client opens ``BATCH +<ref> draft/multiline <target>`` (client-only tags
of the message go on that line), sends its lines as PRIVMSGs (or NOTICEs)
tagged ``batch=<ref>``, and closes ``BATCH -<ref>``. The lines are
collected in the session, checked against the limits the capability
advertises as they come, and relayed as one
:class:`~tcpchat.server.events.MultilineMessaged` when the batch closes.
Anything wrong ends the batch with ``FAIL BATCH <code>``; its remaining
lines are dropped until it closes, so nothing half-sent is relayed.

A label on the opening line is answered when the batch closes, on the
echoed batch's own opening line (multiline, "Labeled response").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tcpchat.irc import Message, casefold, is_channel
from tcpchat.irc.numerics import ERR_CANNOTSENDTOCHAN, ERR_NOSUCHNICK
from tcpchat.server.commands.channels import can_speak
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import MULTILINE_CAP
from tcpchat.server.events import MultilineMessaged
from tcpchat.server.state import SERVICES_UID

__all__ = ["COMMANDS", "MultilineBatch", "add_line", "cap_value"]

CONCAT: Final = "draft/multiline-concat"


@dataclass(slots=True)
class MultilineBatch:
    """A multiline batch a client has opened and not yet closed."""

    ref: str
    target: str
    label: str | None
    tags: Mapping[str, str]
    command: str = ""
    lines: list[tuple[str, bool]] = field(default_factory=list)
    size: int = 0
    # Set once the batch has failed: its lines are dropped until it closes.
    failed: bool = False


def cap_value(ctx: Context) -> str:
    """The capability's value: the limits a batch must keep to."""
    limits = ctx.config.limits
    return f"max-bytes={limits.multiline_max_bytes},max-lines={limits.multiline_lines}"


def _fail(ctx: Context, batch: MultilineBatch | None, code: str, *params: str) -> None:
    if batch is not None:
        batch.failed = True
    ctx.send(ctx.config.name, "FAIL", "BATCH", code, *params)


def _open(ctx: Context, msg: Message) -> None:
    session = ctx.session
    ref = msg.params[0][1:]
    if len(msg.params) < 3 or msg.params[1] != MULTILINE_CAP or not ref:
        _fail(ctx, None, "MULTILINE_INVALID", "Clients may open only draft/multiline batches")
        return
    if MULTILINE_CAP not in session.caps:
        _fail(ctx, None, "MULTILINE_INVALID", "Request the draft/multiline capability first")
        return
    if session.multiline is not None:
        session.multiline = None
        _fail(ctx, None, "MULTILINE_INVALID", "A multiline batch is open already")
        return
    client_tags = {k: v for k, v in msg.tags.items() if k[0] == "+"}
    session.multiline = MultilineBatch(ref, msg.params[2], msg.tags.get("label"), client_tags)


def add_line(ctx: Context, msg: Message) -> None:
    """A PRIVMSG or NOTICE tagged ``batch``: one line of the open batch."""
    batch = ctx.session.multiline
    if batch is None or msg.tags.get("batch") != batch.ref:
        ctx.session.multiline = None
        _fail(ctx, batch, "MULTILINE_INVALID", "No multiline batch is open with that reference")
        return
    if batch.failed:
        return
    target = msg.params[0] if msg.params else ""
    text = msg.params[1] if len(msg.params) > 1 else ""
    concat = CONCAT in msg.tags
    limits = ctx.config.limits
    if casefold(target) != casefold(batch.target):
        _fail(ctx, batch, "MULTILINE_INVALID_TARGET", batch.target, target, "Invalid target")
    elif batch.command and msg.command != batch.command:
        _fail(ctx, batch, "MULTILINE_INVALID", "A batch holds PRIVMSGs or NOTICEs, not both")
    elif concat and not text:
        _fail(ctx, batch, "MULTILINE_INVALID", "A blank line cannot continue another")
    elif len(batch.lines) >= limits.multiline_lines:
        _fail(
            ctx,
            batch,
            "MULTILINE_MAX_LINES",
            str(limits.multiline_lines),
            "Multiline batch max-lines exceeded",
        )
    else:
        # The bytes of the text, and a line feed before each line that does
        # not continue the one before it (multiline, "max-bytes").
        size = batch.size + len(text.encode()) + (1 if batch.lines and not concat else 0)
        if size > limits.multiline_max_bytes:
            _fail(
                ctx,
                batch,
                "MULTILINE_MAX_BYTES",
                str(limits.multiline_max_bytes),
                "Multiline batch max-bytes exceeded",
            )
            return
        batch.command = msg.command
        batch.size = size
        batch.lines.append((text, concat))


def _close(ctx: Context, msg: Message) -> None:
    session = ctx.session
    batch = session.multiline
    if batch is None or msg.params[0][1:] != batch.ref:
        session.multiline = None
        _fail(ctx, batch, "MULTILINE_INVALID", "No multiline batch is open with that reference")
        return
    session.multiline = None
    if batch.failed:
        return
    if not any(text for text, _ in batch.lines):
        _fail(ctx, batch, "MULTILINE_INVALID", "A multiline message needs a line that is not blank")
        return
    if batch.label and "labeled-response" in session.caps:
        # The answer is the echo: a batch is written in one piece (delivery's
        # _multiline), so the label goes on its opening line.
        ctx.core.run_labeled(session, batch.label, lambda: _relay(ctx, batch))
    else:
        _relay(ctx, batch)


def _relay(ctx: Context, batch: MultilineBatch) -> None:
    """Send the collected message, or say why not, as :func:`messaging.relay` would."""
    quiet = batch.command == "NOTICE"
    user = ctx.user
    ctx.session.last_spoke = ctx.now
    lines = tuple(batch.lines)
    if is_channel(batch.target):
        channel = ctx.state.channel(batch.target)
        if channel is None:
            if not quiet:
                ctx.error(ERR_NOSUCHNICK, batch.target)
        elif not can_speak(channel, user):
            if not quiet:
                ctx.error(ERR_CANNOTSENDTOCHAN, channel.name)
        else:
            ctx.emit(MultilineMessaged(user.uid, batch.command, channel.name, lines, batch.tags))
        return
    recipient = ctx.state.user(batch.target)
    if recipient is None or recipient.uid == SERVICES_UID:
        if not quiet:
            ctx.error(ERR_NOSUCHNICK, batch.target)
        return
    ctx.emit(MultilineMessaged(user.uid, batch.command, recipient.uid, lines, batch.tags))


def handle_batch(ctx: Context, msg: Message) -> None:
    """BATCH +<ref> draft/multiline <target> | BATCH -<ref>: a message of several lines."""
    sign = msg.params[0][:1]
    if sign == "+":
        _open(ctx, msg)
    elif sign == "-":
        _close(ctx, msg)
    else:
        _fail(ctx, None, "MULTILINE_INVALID", "BATCH takes +<ref> or -<ref>")


COMMANDS: Final = {"BATCH": CommandSpec(handle_batch, min_params=1)}
