"""The console's history search: the request, its answer, and the search itself.

Theory of operation. The search window (Tk's thread) submits a
:class:`Search` through the console link like any other intent; on the
server thread :func:`search_history` asks the history store, whose reader
connection belongs to that thread, and the :class:`SearchResults` go back
through the link's queue. The results name the request they answer, so the
window can drop the answer to a search it has since replaced, and they carry
the oldest item found as the place the next, older page starts.

The console searches channels only. Private conversations are kept for the
two people in them (their catch-up); the store can search one by its key,
but the console does not ask, so the operator's everyday tool does not read
private messages. (Whoever owns the server can still open the file.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tcpchat.irc import casefold, is_channel
from tcpchat.store import HistoryItem, HistoryStore
from tcpchat.store.health import StoreUnavailable

__all__ = [
    "HISTORY_OFF",
    "SEARCH_PAGE",
    "SEARCH_TEXT_MAX",
    "Search",
    "SearchHit",
    "SearchResults",
    "search_history",
]

SEARCH_PAGE: Final = 50
"""Results per page: a screenful or two, and a bounded scan on the server's thread."""
SEARCH_TEXT_MAX: Final = 510
"""No message longer than an IRC line (512 bytes with CR LF) is kept, so a
longer search text cannot match; refusing it also keeps SQLite's LIKE
pattern far below its own limit."""
HISTORY_OFF: Final = (
    "History is off on this server ([history] enabled = false, or --no-history): "
    "there is nothing to search."
)


@dataclass(frozen=True, slots=True)
class Search:
    """Messages containing ``text`` in ``channel`` (empty: every channel), newest
    first; with ``before`` (an item of earlier results), the page older than it."""

    text: str
    channel: str = ""
    before: HistoryItem | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message found, as the results list shows it."""

    time: float  # epoch seconds
    where: str  # the channel, as it was written when the message was sent
    who: str  # the sender's nick
    text: str
    notice: bool


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The answer to ``request``: its page of hits, or why there is none."""

    request: Search
    hits: tuple[SearchHit, ...]
    older: HistoryItem | None  # where the next page starts; None: this was the last
    problem: str = ""  # why the search could not be made, in words


def _hit(item: HistoryItem) -> SearchHit:
    where, text = item.params[0], item.params[1]
    return SearchHit(
        item.time_ms / 1000, where, item.source.split("!", 1)[0], text, item.command == "NOTICE"
    )


def search_history(store: HistoryStore | None, request: Search) -> SearchResults:
    """Carry out ``request`` against ``store`` (None: history is off); call on
    the server thread, which owns the store's reader."""
    channel = request.channel.strip()
    problem = ""
    if store is None:
        problem = HISTORY_OFF
    elif not request.text:
        problem = "Type what to search for."
    elif len(request.text) > SEARCH_TEXT_MAX:
        problem = f"No message is longer than {SEARCH_TEXT_MAX} characters."
    elif channel and not is_channel(channel):
        problem = f"{channel} is not a channel; the console searches channels only."
    if store is None or problem:
        return SearchResults(request, (), None, problem)
    # One more than a page, to know whether an older page exists.
    try:
        items = store.search(
            request.text, casefold(channel) if channel else None, request.before, SEARCH_PAGE + 1
        )
    except StoreUnavailable as exc:  # the store has said why in the log
        return SearchResults(request, (), None, f"History cannot be searched: {exc}.")
    page = items[:SEARCH_PAGE]
    older = page[-1] if len(items) > SEARCH_PAGE else None
    return SearchResults(request, tuple(_hit(item) for item in page), older)
