"""Throttles against guessing and flooding, keyed by address or account.

Both are small and in memory: they protect one server process from one
abuser at a time, which is what they are for; they are not quotas.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["ConnectThrottle", "LoginThrottle"]


class LoginThrottle:
    """Failed logins per key (an address, an account) within a sliding window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked(self, keys: Iterable[str], now: float) -> bool:
        return any(len(self._recent(key, now)) >= self.limit for key in keys)

    def failed(self, keys: Iterable[str], now: float) -> None:
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)


class ConnectThrottle:
    """Events per key (new connections per address, typing notifications per
    user): a token bucket of ``burst``, refilled at ``rate``/s."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # ip -> (tokens, when)

    def allow(self, ip: str, now: float) -> bool:
        """Whether an event for ``ip`` (the key) may happen now; spends a token if so."""
        if self.rate <= 0:
            return True
        tokens, when = self._buckets.get(ip, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        if tokens < 1:
            self._buckets[ip] = (tokens, now)
            return False
        self._buckets[ip] = (tokens - 1, now)
        return True

    def forget_idle(self, now: float) -> None:
        """Drop keys whose buckets are full again, so memory stays bounded."""
        full = [
            ip
            for ip, (tokens, when) in self._buckets.items()
            if tokens + (now - when) * self.rate >= self.burst
        ]
        for ip in full:
            del self._buckets[ip]
