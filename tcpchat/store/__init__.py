"""Persistence: what the server keeps across restarts.

:class:`~tcpchat.store.history.HistoryStore` is the interface the server
uses; :mod:`tcpchat.store.sqlite` is the embedded default. The server never
imports a back end's module directly except where it builds one from the
config, so another back end (Redis, for cluster mode) is one more module.
"""

from tcpchat.store.history import (
    HistoryItem,
    HistoryRecord,
    HistoryRun,
    HistoryStore,
    Reference,
    dm_key,
    party,
    party_name,
)

__all__ = [
    "HistoryItem",
    "HistoryRecord",
    "HistoryRun",
    "HistoryStore",
    "Reference",
    "dm_key",
    "party",
    "party_name",
]
