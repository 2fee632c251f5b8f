"""History hand-over: a node that joins takes the history it lacks from a running node.

Every node keeps history in its own file, from what it applies of the
stream. A node that joins loads the latest snapshot and applies the entries
after it, so it lacks what was said before the snapshot: everything, for a
node that is new, and what was said while it was down, for one that comes
back. The stream cannot give it that (older entries are trimmed); another
node's file can.

Theory of operation, for a joiner (:meth:`HandOver.prepare`, then
:meth:`HandOver.fetch`): before it applies anything of the stream, it asks
its store for a room, a place in its order before everything it is about
to keep live (:class:`~tcpchat.store.history.HandOverStore`), and notes
the time from which it lacks items. Once it serves, it posts a request
naming that time and the snapshot's time (up to which the live replica
does not reach) to the list ``handover``. A node that is ready (it is not
itself waiting for a hand-over) takes the request (one pop: one node
answers), reads the span from its file on a worker thread, and writes it
to the answer list ``handover:<request>`` in chunks, at most
:data:`WINDOW` of them waiting, the list expiring if left behind. The
joiner imports each chunk into its room on its store's writer thread;
items it has already (the same msgid in the same conversation) are
skipped, so a retried or overlapping answer is harmless, and redacted
items come with their flag.

Nothing here may stop a node: alone in the network, it says so and serves
what it has; if Redis or the answering node fails, it tries again a few
times, then says so and serves what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from tcpchat.cluster.redis_link import UNREACHABLE, RedisLink
from tcpchat.store.health import StoreUnavailable
from tcpchat.store.history import HandOverStore, HistoryItem, StoredItem

__all__ = ["HandOver", "HandOverError", "decode_chunk", "encode_chunk"]

log = logging.getLogger("tcpchat.cluster")

T = TypeVar("T")

VERSION: Final = 1
"""The version of requests and answers; another is refused, not misread."""
# Items per chunk: a chunk is one Redis element and one store transaction.
CHUNK: Final = 1000
# Chunks an answer may have waiting in Redis: bounds Redis's memory to a few
# MB per hand-over whatever the history's size.
WINDOW: Final = 4
# Seconds a joiner waits for a node to take its request; a node that is
# ready takes it at once, so this only bounds the wait when none is.
ANSWER_TIMEOUT: Final = 5.0
# Seconds either side waits for the other's next step (a chunk; room for
# one) before it takes the other for gone.
STEP_TIMEOUT: Final = 30.0
# Seconds an answer, or a request, is kept in Redis after its last change.
KEEP_MS: Final = 60_000
# Seconds before each new try of a hand-over that failed (Redis, or the
# answering node, gone): some 8 s in all, what a Redis restart takes.
RETRY_DELAYS: Final = (0.5, 1.0, 2.0, 4.0)
# Seconds one blocking pop waits at most: well within the Redis client's
# socket timeout (5 s), which a longer one would run into.
POP_BLOCK: Final = 1.0


class HandOverError(Exception):
    """A request or an answer cannot be read (another version, damage)."""


def entry_ms(entry_id: str) -> int:
    """The time of a stream entry id ("<ms>-<seq>")."""
    return int(entry_id.partition("-")[0])


def encode_chunk(items: list[StoredItem]) -> bytes:
    """A chunk of an answer: the items, each with whether it is redacted."""
    rows = [
        [i.msgid, i.time_ms, i.target, i.command, i.source, i.params, i.tags, i.sender, hidden]
        for i, hidden in items
    ]
    return json.dumps({"v": VERSION, "items": rows}, ensure_ascii=False).encode()


def _item(row: Any) -> StoredItem:
    msgid, time_ms, target, command, source, params, tags, sender, hidden = row
    texts = (msgid, target, command, source, sender)
    if not (
        all(isinstance(t, str) for t in texts)
        and isinstance(time_ms, int)
        and isinstance(params, list)
        and all(isinstance(p, str) for p in params)
        and isinstance(tags, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
        and isinstance(hidden, bool)
    ):
        raise HandOverError(f"an item of the wrong shape: {row!r:.200}")
    return HistoryItem(msgid, time_ms, target, command, source, tuple(params), tags, sender), hidden


def decode_chunk(data: bytes) -> list[StoredItem]:
    """The items of a chunk; HandOverError if it is not one this node reads."""
    return _items(_decode(data))


def _items(message: dict[str, Any]) -> list[StoredItem]:
    rows = message.get("items")
    if not isinstance(rows, list):
        raise HandOverError("a chunk without items")
    try:
        return [_item(row) for row in rows]
    except (TypeError, ValueError) as exc:
        raise HandOverError(f"an item of the wrong shape ({exc})") from None


def _decode(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise HandOverError(f"not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise HandOverError("not an object")
    if message.get("v") != VERSION:
        raise HandOverError(f"version {message.get('v')!r}, this node reads {VERSION}")
    return message


def _pop_value(reply: Any) -> bytes | None:
    """The element a BLPOP took, or None when it timed out."""
    return None if reply is None else bytes(reply[1])


async def _pop(link: RedisLink, key: str, seconds: float) -> bytes | None:
    """The first element of the list ``key``, waiting up to ``seconds`` for
    one (in pops of POP_BLOCK at most); None if none came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        reply = await link.redis.blpop([key], timeout=min(POP_BLOCK, max(left, 0.01)))
        if reply is not None:
            return _pop_value(reply)
    return None


class _Abandoned(Exception):
    """The other side of a hand-over went away, or said it failed."""


class HandOver:
    """One node's side of history hand-over, as the joiner and as the answerer.

    Runs on the node's event loop; the store is touched only through its
    own threads (reads of an export on the loop's executor, writes on the
    store's writer).
    """

    def __init__(self, link: RedisLink, store: HandOverStore, node: str) -> None:
        self.link = link
        self.store = store
        self.node = node
        self.requests = f"{link.prefix}handover"
        # Set while this node may answer requests: not while it waits for
        # its own hand-over (it would give history with a hole in it).
        self.ready = asyncio.Event()
        # What prepare() noted for the fetch: the time from which this node
        # lacks items, and its room (a future: the store places it when the
        # items before it are written).
        self._since = 0
        self._room: asyncio.Future[int] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the joiner ----------------------------------------------------------

    def prepare(self) -> None:
        """Before the node applies any of the stream: note what it lacks,
        and leave room for it before what it is about to keep live."""
        self.cancel()
        self.ready.clear()
        loop = asyncio.get_running_loop()
        try:
            self._since = self.store.wanted_since_ms()
        except StoreUnavailable as exc:  # said in the log already, by the store
            log.warning("history hand-over: skipped (%s)", exc)
            return
        room: asyncio.Future[int] = loop.create_future()
        self._room = room
        self.store.make_room(_on_loop(loop, room))

    def start(self, until_entry: str, incarnation: str) -> None:
        """Fetch what this node lacks up to the stream entry ``until_entry``
        (where its replica begins), beside the node's work."""
        if self._room is None:  # prepare() found the file unreadable
            self.ready.set()
            return
        self._task = asyncio.create_task(self._fetch(until_entry, incarnation))

    def skip(self) -> None:
        """No hand-over this time (this node began the network): answer at once."""
        self.cancel()
        self.ready.set()

    def cancel(self) -> None:
        """Stop a fetch under way (the node rejoins, or stops)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._close_room()

    def _close_room(self) -> None:
        room, self._room = self._room, None
        if room is None:
            return
        if room.done() and not room.cancelled():
            self.store.close_room(room.result(), lambda: None)
        else:  # not placed yet: close it when it is
            room.add_done_callback(
                lambda f: None if f.cancelled() else self.store.close_room(f.result(), lambda: None)
            )

    async def _fetch(self, until_entry: str, incarnation: str) -> None:
        room = self._room
        assert room is not None, "prepare() first"
        try:
            until = entry_ms(until_entry)
            if until_entry == "0-0" or until < self._since:
                return  # the stream since the network began, or since this node's newest
            placed = await asyncio.wait_for(asyncio.shield(room), STEP_TIMEOUT)
            for delay in (*RETRY_DELAYS, None):
                try:
                    await self._take(placed, until, incarnation)
                    return
                except (HandOverError, StoreUnavailable) as exc:
                    log.warning(
                        "history hand-over failed (%s); this node serves the history it has", exc
                    )
                    return
                except (_Abandoned, *UNREACHABLE) as exc:
                    if delay is None:
                        log.warning(
                            "history hand-over failed %d times (last: %s); this node serves "
                            "the history it has",
                            len(RETRY_DELAYS) + 1,
                            str(exc) or type(exc).__name__,
                        )
                        return
                    log.info(
                        "history hand-over interrupted (%s); trying again",
                        str(exc) or type(exc).__name__,
                    )
                    await asyncio.sleep(delay)
        except TimeoutError:
            log.warning("history hand-over: the history file did not make room; skipped")
        except Exception:  # a bug: the node must go on serving what it has
            log.exception("history hand-over failed")
        finally:
            if self._room is room:  # not cancelled by a prepare() for a new fetch
                self._close_room()
                self.ready.set()

    async def _take(self, room: int, until: int, incarnation: str) -> None:
        """One try: post the request, import the answer."""
        redis = self.link.redis
        others = [n.name for n in await self.link.nodes() if n.name != self.node]
        if not others:
            log.info(
                "history hand-over: no other node in the network; this node serves "
                "the history it has"
            )
            return
        request_id = os.urandom(8).hex()
        answer = f"{self.requests}:{request_id}"
        request = json.dumps(
            {
                "v": VERSION,
                "id": request_id,
                "node": self.node,
                "incarnation": incarnation,
                "since": self._since,
                "until": until,
            }
        )
        await redis.rpush(self.requests, request)
        await redis.pexpire(self.requests, KEEP_MS)
        try:
            first = await _pop(self.link, answer, ANSWER_TIMEOUT)
            if first is None:
                if await redis.lrem(self.requests, 0, request):
                    log.info(
                        "history hand-over: no node answered within %.0f s (of %s); this "
                        "node serves the history it has",
                        ANSWER_TIMEOUT,
                        ", ".join(others),
                    )
                    return
                # Taken just now: the answer is on its way.
                first = await _pop(self.link, answer, STEP_TIMEOUT)
                if first is None:
                    raise _Abandoned("the node that took the request did not answer")
            source = str(_decode(first).get("from", "?"))
            count = 0
            loop = asyncio.get_running_loop()
            while True:
                data = await _pop(self.link, answer, STEP_TIMEOUT)
                if data is None:
                    raise _Abandoned(f"node {source} stopped answering")
                message = await loop.run_in_executor(None, _decode, data)
                if "fail" in message:
                    raise _Abandoned(f"node {source}: {message['fail']}")
                if "end" in message:
                    break
                new = await self._import(room, _items(message))
                if new is None:
                    raise StoreUnavailable("the history file could not be written")
                count += new
            log.info("history hand-over: %d items from node %s", count, source)
        finally:
            await redis.lrem(self.requests, 0, request)  # if no one took it
            await redis.delete(answer)

    async def _import(self, room: int, items: list[StoredItem]) -> int | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int | None] = loop.create_future()
        self.store.import_items(room, items, _on_loop(loop, done))
        return await done

    # -- the answerer --------------------------------------------------------

    async def serve(
        self,
        applied: Callable[[], str],
        retry: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]],
    ) -> None:
        """Answer requests for history, one at a time, while the node runs.

        ``applied`` is the id of the last stream entry this node applied;
        ``retry`` runs a call to Redis until Redis answers (the bus's).
        """
        redis = self.link.redis
        while True:
            await self.ready.wait()
            data = _pop_value(await retry(lambda: redis.blpop([self.requests], timeout=POP_BLOCK)))
            if data is None:
                continue
            try:
                await self._answer(data, applied)
            except HandOverError as exc:
                log.error("a history hand-over request this node cannot read (%s); skipped", exc)
            except (_Abandoned, TimeoutError, *UNREACHABLE) as exc:
                log.warning("history hand-over: gave up answering (%s)", exc)
            except Exception:  # a bug: the node goes on without answering this one
                log.exception("answering a history hand-over failed")

    async def _answer(self, data: bytes, applied: Callable[[], str]) -> None:
        request = _decode(data)
        try:
            request_id, node, incarnation = (
                str(request["id"]),
                str(request["node"]),
                str(request["incarnation"]),
            )
            since, until = int(request["since"]), int(request["until"])
        except (KeyError, TypeError, ValueError) as exc:
            raise HandOverError(f"a request without {exc}") from None
        redis = self.link.redis
        if _text(await redis.hget(self.link.keys[1], node)) != incarnation:
            return  # the joiner is gone, or joined again since (it asks again)
        answer = f"{self.requests}:{request_id}"
        await self._push(answer, {"v": VERSION, "from": self.node})
        loop = asyncio.get_running_loop()
        # What is applied here, but not yet in the file, is not exported:
        # wait (briefly) until this node is past the joiner's snapshot.
        deadline = loop.time() + ANSWER_TIMEOUT
        while entry_ms(applied()) < until and loop.time() < deadline:
            await asyncio.sleep(0.05)
        chunks = self.store.export(since, until, CHUNK)
        # One thread of its own steps the export, so that closing it (when
        # this is cancelled) waits for the step under way instead of racing it.
        worker = ThreadPoolExecutor(1, thread_name_prefix="tcpchat-handover")
        count = 0
        try:
            while (chunk := await loop.run_in_executor(worker, _next_encoded, chunks)) is not None:
                data, size = chunk
                await self._wait_for_room(answer)
                await redis.rpush(answer, data)
                await redis.pexpire(answer, KEEP_MS)
                count += size
        except StoreUnavailable as exc:
            await self._push(answer, {"v": VERSION, "fail": str(exc)})
            raise _Abandoned(str(exc)) from None
        finally:
            worker.submit(chunks.close)
            worker.shutdown(wait=False)
        await self._push(answer, {"v": VERSION, "end": count})
        log.info("history hand-over: %d items to node %s", count, node)

    async def _push(self, answer: str, message: dict[str, Any]) -> None:
        await self.link.redis.rpush(answer, json.dumps(message))
        await self.link.redis.pexpire(answer, KEEP_MS)

    async def _wait_for_room(self, answer: str) -> None:
        """Wait until the joiner has taken enough of the answer for one more
        chunk; _Abandoned if it takes none for STEP_TIMEOUT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while await self.link.redis.llen(answer) >= WINDOW:
            if loop.time() > deadline:
                await self.link.redis.delete(answer)
                raise _Abandoned("the joiner stopped taking the answer")
            await asyncio.sleep(0.05)


def _next_encoded(chunks: Generator[list[StoredItem], None, None]) -> tuple[bytes, int] | None:
    """The next chunk of an export, encoded (on a worker thread), and its size."""
    chunk = next(chunks, None)
    return None if chunk is None else (encode_chunk(chunk), len(chunk))


def _on_loop(loop: asyncio.AbstractEventLoop, future: asyncio.Future[T]) -> Callable[[T], None]:
    """A callback for another thread that settles ``future`` on ``loop``."""

    def settle(value: T) -> None:
        if not future.done():
            future.set_result(value)

    def call(value: T) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            loop.call_soon_threadsafe(settle, value)

    return call


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
