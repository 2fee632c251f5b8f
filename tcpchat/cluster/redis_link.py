"""What the nodes keep in Redis, and the scripts that change it atomically.

Theory of operation: one Redis Stream holds every event of the network in
its one order. Nodes append to it only through :data:`APPEND`, a Lua script,
so that the check "is this node still a member, with this incarnation?" and
the append are one step: a node that was declared lost while it was paused
(SIGSTOP) cannot add a single event after it (fencing). Membership and
heartbeats live in hashes beside the stream; :data:`HEARTBEAT` also declares
lost the nodes whose heartbeats stopped, by appending a ``NodeLost`` event,
so that the loss has its place in the same order on every node.

Keys, all under ``tcpchat:<network>:`` so that networks can share a Redis:

- ``events``: the stream; each entry's field ``e`` is a codec entry, ``p``
  the epoch it was appended in.
- ``nodes`` (node -> incarnation), ``beats`` (node -> last heartbeat, Redis
  ms), ``users`` (node -> connected users, for the console), ``seq`` (node ->
  the last batch it appended, so that a batch retried after a lost reply is
  not appended twice).
- ``epoch``: made when the network's data begins; a Redis that lost its data
  has none, or another, and the nodes see it. The first node to see it
  begins the network again from its own state (:data:`JOIN`), the others
  join that; nodes of the old state that do not come back time out
  (membership ``seeded``).
- ``snapshot``: the state up to a stream entry (fields ``id``, ``state``), and
  ``trimmed``: entries before this id may be gone.
- ``lastbeat``: the last heartbeat of any node. When every node was silent
  (Redis was down), the first heartbeat after it grants everyone a new
  timeout instead of declaring them all lost.
- ``handover`` and ``handover:<request>``: requests for history and their
  answers (:mod:`tcpchat.cluster.handover`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
import redis.exceptions

__all__ = ["UNREACHABLE", "Fenced", "NodeInfo", "RedisLink", "StreamGap", "WrongEpoch"]

log = logging.getLogger("tcpchat.cluster")

UNREACHABLE: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
"""What a call to Redis raises when Redis cannot be reached."""

_TIME_AND_IDS: Final = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function lost(node, incarnation, time)
  local entry = {1, 'NodeLost', 'lost.' .. node .. '.' .. incarnation, time, {node, incarnation}}
  local epoch = redis.call('GET', KEYS[6]) or ''
  redis.call('XADD', KEYS[1], '*', 'e', cjson.encode(entry), 'p', epoch)
  redis.call('HDEL', KEYS[2], node)
  redis.call('HDEL', KEYS[3], node)
  redis.call('HDEL', KEYS[4], node)
  redis.call('HDEL', KEYS[5], node)
end
local function older(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
"""
# KEYS: events nodes beats users seq epoch snapshot trimmed lastbeat

JOIN: Final = (
    _TIME_AND_IDS
    + """
local node, incarnation, fresh_epoch, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
local epoch = redis.call('GET', KEYS[6])
local seeded = 0
if not epoch then
  epoch, seeded = fresh_epoch, 1
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8])
  redis.call('SET', KEYS[6], epoch)
  redis.call('HSET', KEYS[7], 'id', '0-0', 'state', state)
  for i = 5, #ARGV do
    redis.call('HSET', KEYS[2], ARGV[i], 'seeded')
    redis.call('HSET', KEYS[3], ARGV[i], now)
  end
end
local old = redis.call('HGET', KEYS[2], node)
if old and old ~= incarnation and old ~= 'seeded' then lost(node, old, now) end
redis.call('HSET', KEYS[2], node, incarnation)
redis.call('HSET', KEYS[3], node, now)
redis.call('HSET', KEYS[4], node, 0)
redis.call('SET', KEYS[9], now)
return {epoch, seeded}
"""
)

APPEND: Final = (
    _TIME_AND_IDS
    + """
local node, incarnation, epoch, seq = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('GET', KEYS[6]) ~= epoch then return 'epoch' end
if redis.call('HGET', KEYS[2], node) ~= incarnation then return 'fenced' end
local done = tonumber(redis.call('HGET', KEYS[5], node) or '0')
if seq <= done then return 'ok' end
for i = 5, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], 'p', epoch)
end
redis.call('HSET', KEYS[5], node, seq)
return 'ok'
"""
)

HEARTBEAT: Final = (
    _TIME_AND_IDS
    + """
local node, incarnation, epoch = ARGV[1], ARGV[2], ARGV[3]
local timeout, users, applied = tonumber(ARGV[4]), ARGV[5], ARGV[6]
if redis.call('GET', KEYS[6]) ~= epoch then return 'epoch' end
local mine = redis.call('HGET', KEYS[2], node)
if mine ~= incarnation then
  if mine then return 'replaced' end
  return 'fenced'
end
local now = now_ms()
local last = tonumber(redis.call('GET', KEYS[9]) or now)
local beats = redis.call('HGETALL', KEYS[3])
for i = 1, #beats, 2 do
  local other, beat = beats[i], tonumber(beats[i + 1])
  if now - last > timeout / 2 then
    redis.call('HSET', KEYS[3], other, now)
  elseif other ~= node and now - beat > timeout then
    lost(other, redis.call('HGET', KEYS[2], other) or '', now)
  end
end
redis.call('HSET', KEYS[3], node, now)
redis.call('HSET', KEYS[4], node, users)
redis.call('SET', KEYS[9], now)
local trimmed = redis.call('GET', KEYS[8])
if trimmed and older(applied, trimmed) then return 'behind' end
return 'ok'
"""
)

LEAVE: Final = (
    _TIME_AND_IDS
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then lost(ARGV[1], ARGV[2], now_ms()) end
return 'ok'
"""
)

SAVE_SNAPSHOT: Final = (
    _TIME_AND_IDS
    + """
local node, incarnation, epoch, id, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('GET', KEYS[6]) ~= epoch then return 0 end
if redis.call('HGET', KEYS[2], node) ~= incarnation then return 0 end
local previous = redis.call('HGET', KEYS[7], 'id')
if previous and not older(previous, id) then return 0 end
redis.call('HSET', KEYS[7], 'id', id, 'state', state)
if previous then
  redis.call('XTRIM', KEYS[1], 'MINID', previous)
  redis.call('SET', KEYS[8], previous)
end
return 1
"""
)


class Fenced(Exception):
    """This node is no longer a member (declared lost while it was silent),
    or another process took its name (``replaced``)."""

    def __init__(self, replaced: bool) -> None:
        super().__init__("replaced by another process" if replaced else "declared lost")
        self.replaced = replaced


class WrongEpoch(Exception):
    """Redis no longer holds the network this node belongs to (it lost its data)."""


class StreamGap(Exception):
    """Events this node has not applied were trimmed: its state cannot be caught up."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as Redis knows it, for the console."""

    name: str
    incarnation: str
    users: int
    beat_ms: int


_NAMES: Final = (
    "events",
    "nodes",
    "beats",
    "users",
    "seq",
    "epoch",
    "snapshot",
    "trimmed",
    "lastbeat",
)


class RedisLink:
    """One node's connection to the network's data in Redis (asyncio)."""

    def __init__(self, url: str, network: str) -> None:
        self.url = url
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, health_check_interval=5, protocol=2
        )
        # The blocking read of the stream waits on a connection of its own,
        # and takes the reply as Redis gives it: the client's own turning of
        # each entry's fields into a dict cost more than reading them here.
        self.reader: aioredis.Redis = aioredis.Redis.from_url(url, protocol=2)
        self.reader.set_response_callback("XREAD", _as_is)
        self.prefix = prefix = f"tcpchat:{network}:"
        self.keys = [prefix + name for name in _NAMES]
        self.stream = self.keys[0]
        self._join = self.redis.register_script(JOIN)
        self._append = self.redis.register_script(APPEND)
        self._heartbeat = self.redis.register_script(HEARTBEAT)
        self._leave = self.redis.register_script(LEAVE)
        self._save = self.redis.register_script(SAVE_SNAPSHOT)

    async def join(
        self,
        node: str,
        incarnation: str,
        fresh_epoch: str,
        state: str,
        nodes: Sequence[str] = (),
    ) -> tuple[str, bool]:
        """Become a member (a node of the same name before this one is lost).

        If Redis holds no network (the first node ever, or Redis lost its
        data), begin one, from ``state`` (whose users are on ``nodes``,
        members until they time out), and under ``fresh_epoch``. Returns the
        epoch, and whether this node began it.
        """
        args = [node, incarnation, fresh_epoch, state, *nodes]
        epoch, began = await self._join(keys=self.keys, args=args)
        return _text(epoch), bool(began)

    async def append(
        self, node: str, incarnation: str, epoch: str, seq: int, entries: list[str]
    ) -> None:
        """Append ``entries`` in order, as batch ``seq`` (a retry of a batch that
        was appended already appends nothing)."""
        _check(await self._append(keys=self.keys, args=[node, incarnation, epoch, seq, *entries]))

    async def heartbeat(
        self, node: str, incarnation: str, epoch: str, timeout_ms: int, users: int, applied: str
    ) -> None:
        """Say this node is alive (and declare lost those that are not)."""
        args: list[str | int] = [node, incarnation, epoch, timeout_ms, users, applied]
        _check(await self._heartbeat(keys=self.keys, args=args))

    async def leave(self, node: str, incarnation: str) -> None:
        await self._leave(keys=self.keys, args=[node, incarnation])

    async def save_snapshot(
        self, node: str, incarnation: str, epoch: str, entry_id: str, state: str
    ) -> bool:
        """Keep ``state`` as the network's up to ``entry_id``, if newer than the kept one."""
        args = [node, incarnation, epoch, entry_id, state]
        return bool(await self._save(keys=self.keys, args=args))

    async def snapshot(self) -> tuple[str, bytes] | None:
        """The kept snapshot: the id of the last entry it holds, and its text."""
        entry_id, state = await self.redis.hmget(self.keys[6], ["id", "state"])
        if entry_id is None or state is None:
            return None
        return _text(entry_id), state if isinstance(state, bytes) else state.encode()

    async def read(
        self, after: str, count: int, epoch: str, block_ms: int | None = None
    ) -> list[tuple[str, bytes]]:
        """Entries after ``after`` (at most ``count``), waiting up to ``block_ms``
        for the first if there is none yet (None: not waiting).

        WrongEpoch if one was appended in another epoch (Redis lost the data
        and a node began the network again): it must not be applied to this
        one's state. An entry that names no epoch, or one Redis does not
        have either, was not appended by a node: it is logged, and comes
        back empty, to be passed over.
        """
        reply: Any = await self.reader.xread({self.stream: after}, count=count, block=block_ms)
        if not reply:
            return []
        ours = epoch.encode()
        entries = []
        for entry_id, fields in reply[0][1]:
            # A node's entry is e, then p (the scripts write them so).
            if len(fields) == 4 and fields[0] == b"e" and fields[2] == b"p" and fields[3] == ours:
                entries.append((_text(entry_id), fields[1]))
                continue
            pairs = dict(zip(fields[::2], fields[1::2], strict=False))
            if pairs.get(b"p") != ours:
                if await self.redis.get(self.keys[5]) != ours:
                    raise WrongEpoch()
                log.error("stream entry %s names no epoch of this network; skipped", entry_id)
                entries.append((_text(entry_id), b""))  # passed over, not read again
                continue
            data = pairs.get(b"e")
            if not data:
                log.error("stream entry %s holds no event; skipped", entry_id)
            entries.append((_text(entry_id), data or b""))
        return entries

    async def nodes(self) -> list[NodeInfo]:
        """The member nodes, by name."""
        incarnations = await self.redis.hgetall(self.keys[1])
        users = await self.redis.hgetall(self.keys[3])
        beats = await self.redis.hgetall(self.keys[2])
        return [
            NodeInfo(_text(name), _text(inc), int(users.get(name, 0)), int(beats.get(name, 0)))
            for name, inc in sorted(incarnations.items())
        ]

    async def clock_ms(self) -> int:
        """Redis's clock, which stamps the heartbeats, in ms: a heartbeat's age
        is then right whatever the clock of the machine that asks."""
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def close(self) -> None:
        await self.redis.aclose()
        await self.reader.aclose()


def _as_is(response: Any, **options: Any) -> Any:
    return response


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check(status: Any) -> None:
    status = _text(status)
    if status == "epoch":
        raise WrongEpoch()
    if status in ("fenced", "replaced"):
        raise Fenced(status == "replaced")
    if status == "behind":
        raise StreamGap()
