"""Feeding the sans-IO client session the lines a server would send, and reading its outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from tcpchat.client.session import Session
from tcpchat.client.updates import Update
from tcpchat.irc import parse

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def feed(session: Session, *lines: str) -> list[Update]:
    updates: list[Update] = []
    for line in lines:
        updates += session.receive(parse(line), NOW)
    return updates


def sent(session: Session) -> list[str]:
    return [m.format() for m in session.take_outgoing()]
