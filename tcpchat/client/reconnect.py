"""When to try again after losing the server: exponential backoff with jitter.

Every client of a server that restarts comes back at the same moment; a
random part in each delay spreads them out ("equal jitter": half the
ceiling fixed, half random, so a delay is never near zero). The ceiling
doubles with each failed try up to a cap, and starts again from the bottom
once a connection has stayed up long enough to count as healthy. The random
source and the clock are arguments, so tests decide both.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

__all__ = ["Backoff"]

BASE_DELAY: Final = 1.0
"""Seconds before the first retry: soon enough for a server restart."""
MAX_DELAY: Final = 60.0
"""No wait longer than a minute, so a server that comes back is found soon."""
STABLE_AFTER: Final = 30.0
"""Seconds a connection must last before the next failure counts as a first one."""


class Backoff:
    """Delays between reconnection attempts."""

    __slots__ = ("_attempts", "_base", "_cap", "_clock", "_rng", "_stable_after", "_up_since")

    def __init__(
        self,
        rng: random.Random,
        clock: Callable[[], float],
        *,
        base: float = BASE_DELAY,
        cap: float = MAX_DELAY,
        stable_after: float = STABLE_AFTER,
    ) -> None:
        self._rng = rng
        self._clock = clock
        self._base = base
        self._cap = cap
        self._stable_after = stable_after
        self._attempts = 0
        self._up_since: float | None = None

    def connected(self) -> None:
        """A connection was made; if it lasts, the backoff starts over."""
        self._up_since = self._clock()

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt, after a failure or a drop."""
        if self._up_since is not None and self._clock() - self._up_since >= self._stable_after:
            self._attempts = 0
        self._up_since = None
        ceiling: float = min(self._cap, self._base * 2.0**self._attempts)
        if ceiling < self._cap:  # past the cap, counting on would only overflow 2.0**n
            self._attempts += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)
