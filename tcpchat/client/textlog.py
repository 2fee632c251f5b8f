"""Conversation lines written to the terminal, as the original client printed them.

A person who starts the client from a terminal sees the chat there too
(and can keep it with a redirect); ``--quiet`` turns it off. Lines go
through :mod:`logging` so the destination is the caller's choice.
"""

from __future__ import annotations

import logging

from tcpchat.client.updates import SERVER_BUFFER, HistoryBlock, HistoryKind, Line, LineKind, Update

__all__ = ["format_line", "log_update"]

log = logging.getLogger("tcpchat.client")


def format_line(line: Line) -> str:
    """``HH:MM:SS buffer <nick> text``, with ``* nick`` for actions; local time."""
    stamp = line.time.astimezone().strftime("%H:%M:%S")
    where = line.buffer or "server"
    if line.kind is LineKind.MESSAGE:
        body = f"<{line.nick}> {line.text}"
    elif line.kind is LineKind.ACTION:
        body = f"* {line.nick} {line.text}"
    elif line.kind is LineKind.NOTICE:
        body = f"-{line.nick}- {line.text}"
    else:
        body = f"-- {line.text}"
    return f"{stamp} {where} {body}"


def log_update(update: Update) -> None:
    """Log ``update`` if it is a line worth reading; server chatter stays at debug.

    Of history, only what was missed while disconnected is new to the terminal.
    """
    if isinstance(update, HistoryBlock) and update.kind is HistoryKind.MISSED:
        for line in update.lines:
            log.info("%s", format_line(line))
    elif isinstance(update, Line):
        level = (
            logging.DEBUG
            if update.buffer == SERVER_BUFFER and update.kind is LineKind.INFO
            else logging.INFO
        )
        log.log(level, "%s", format_line(update))
