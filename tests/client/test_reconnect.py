"""Backoff grows, is capped, has jitter, and starts over after a healthy connection."""

from __future__ import annotations

import random

from tcpchat.client.reconnect import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(random.Random(1), Clock(), base=1.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_jitter_differs_between_clients() -> None:
    first = [Backoff(random.Random(seed), Clock()).next_delay() for seed in range(5)]
    assert len(set(first)) == 5


def test_a_stable_connection_resets_the_backoff() -> None:
    clock = Clock()
    backoff = Backoff(random.Random(2), clock, base=1.0, cap=60.0, stable_after=30.0)
    for _ in range(4):
        backoff.next_delay()
    backoff.connected()
    clock.now += 5  # a short-lived connection does not reset
    assert backoff.next_delay() >= 8
    backoff.connected()
    clock.now += 31
    assert backoff.next_delay() <= 1


def test_a_server_away_all_night_is_tried_every_minute_at_most() -> None:
    backoff = Backoff(random.Random(3), Clock())  # the defaults: at most a minute
    delays = [backoff.next_delay() for _ in range(2000)]  # a minute each: over a day
    assert max(delays) <= 60.0 and min(delays[20:]) >= 30.0
