"""Accounts in Redis, for a cluster: one set of accounts for every node.

An account registered on one node logs in on every other, so the nodes
cannot each keep accounts in a file of their own. The calls are the
:class:`~tcpchat.store.accounts.AccountStore`'s, made on the server's thread
as the SQLite store's are: each is one round trip to Redis on loopback or
the LAN (a fraction of a millisecond), and they come at human pace
(registrations, logins, a changed display name; read markers about once a
second). A name is claimed with HSETNX, so two nodes registering one name at
once cannot both succeed. While Redis cannot be reached, a call raises
:class:`~tcpchat.store.health.StoreUnavailable` within a second, and the
client is told so (FAIL ... TEMPORARILY_UNAVAILABLE), as for a full disk.

Keys, under ``tcpchat:<network>:``: ``accounts`` (folded name -> the account
as JSON), ``certfp`` (fingerprint -> folded name), ``certfps:<folded>`` (a
set), ``markers:<folded>`` (target -> time_ms), ``meta:<folded>`` (key -> value).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import redis
import redis.exceptions

from tcpchat.irc import casefold
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.health import StoreUnavailable

__all__ = ["RedisAccounts"]

log = logging.getLogger("tcpchat.store")

T = TypeVar("T")

# Seconds a call may wait for Redis before the client is told to try later.
TIMEOUT: Final = 1.0


class RedisAccounts:
    """The network's accounts, kept in its Redis."""

    def __init__(self, url: str, network: str) -> None:
        self.url = url
        self._redis: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self._prefix = f"tcpchat:{network}:"
        self._down = False

    def _key(self, name: str, folded: str = "") -> str:
        return self._prefix + name + (":" + folded if folded else "")

    def _call(self, work: Callable[[redis.Redis], T]) -> T:
        """``work`` on Redis; StoreUnavailable (the log told once) if it cannot be reached."""
        try:
            result = work(self._redis)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if not self._down:
                self._down = True
                log.warning("accounts: cannot reach Redis at %s (%s)", self.url, exc)
            raise StoreUnavailable("accounts are unavailable for a moment; try again") from None
        if self._down:
            self._down = False
            log.warning("accounts: Redis at %s answers again", self.url)
        return result

    def get(self, name: str) -> Account | None:
        kept: Any = self._call(lambda r: r.hget(self._key("accounts"), casefold(name)))
        return None if kept is None else Account(**json.loads(kept))

    def create(self, account: Account) -> None:
        kept = json.dumps(
            {
                "name": account.name,
                "password_hash": account.password_hash,
                "email": account.email,
                "created_ms": account.created_ms,
            }
        )
        folded = casefold(account.name)
        if not self._call(lambda r: r.hsetnx(self._key("accounts"), folded, kept)):
            raise AccountExists(account.name)

    def add_certfp(self, name: str, fingerprint: str) -> None:
        folded, fingerprint = casefold(name), fingerprint.lower()

        def add(r: redis.Redis) -> None:
            previous: Any = r.hget(self._key("certfp"), fingerprint)
            pipe = r.pipeline()
            if previous is not None:  # a fingerprint logs in to one account: the latest
                pipe.srem(self._key("certfps", previous.decode()), fingerprint)
            pipe.hset(self._key("certfp"), fingerprint, folded)
            pipe.sadd(self._key("certfps", folded), fingerprint)
            pipe.execute()

        self._call(add)

    def remove_certfp(self, name: str, fingerprint: str) -> bool:
        folded, fingerprint = casefold(name), fingerprint.lower()

        def remove(r: redis.Redis) -> bool:
            owner: Any = r.hget(self._key("certfp"), fingerprint)
            if owner is None or owner.decode() != folded:
                return False
            pipe = r.pipeline()
            pipe.hdel(self._key("certfp"), fingerprint)
            pipe.srem(self._key("certfps", folded), fingerprint)
            pipe.execute()
            return True

        return self._call(remove)

    def certfps(self, name: str) -> list[str]:
        kept: Any = self._call(lambda r: r.smembers(self._key("certfps", casefold(name))))
        return sorted(fp.decode() for fp in kept)

    def by_certfp(self, fingerprint: str) -> Account | None:
        owner: Any = self._call(lambda r: r.hget(self._key("certfp"), fingerprint.lower()))
        return None if owner is None else self.get(owner.decode())

    def read_markers(self, name: str) -> dict[str, int]:
        kept: Any = self._call(lambda r: r.hgetall(self._key("markers", casefold(name))))
        markers = {target.decode(): int(time_ms) for target, time_ms in kept.items()}
        return dict(sorted(markers.items(), key=lambda item: item[1]))

    def set_read_markers(
        self, markers: Sequence[tuple[str, str, int]], forget: Sequence[tuple[str, str]] = ()
    ) -> None:
        def store(r: redis.Redis) -> None:
            pipe = r.pipeline()  # MULTI/EXEC: all of it or none
            for name, target, time_ms in markers:
                pipe.hset(self._key("markers", casefold(name)), target, time_ms)
            for name, target in forget:
                pipe.hdel(self._key("markers", casefold(name)), target)
            pipe.execute()

        self._call(store)

    def metadata(self, name: str) -> dict[str, str]:
        kept: Any = self._call(lambda r: r.hgetall(self._key("meta", casefold(name))))
        return {key.decode(): value.decode() for key, value in sorted(kept.items())}

    def set_metadata(self, name: str, key: str, value: str | None) -> None:
        where = self._key("meta", casefold(name))
        if value is None:
            self._call(lambda r: r.hdel(where, key))
        else:
            self._call(lambda r: r.hset(where, key, value))

    def close(self) -> None:
        self._redis.close()
