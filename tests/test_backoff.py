"""Reconnection delays grow, stay capped and are spread out."""

from __future__ import annotations

import random

import pytest

from foundation.backoff import Backoff, backoff_delay


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, 1.0, 60.0, rng) for a in range(40)]
    assert all(0.5 <= d <= 60.0 for d in delays)
    assert delays[0] <= 1.0 and max(delays[10:]) <= 60.0 and min(delays[10:]) >= 30.0


def test_backoff_is_jittered_across_stations() -> None:
    values = {round(backoff_delay(6, 1.0, 60.0, random.Random(seed)), 3) for seed in range(200)}
    assert len(values) > 150
    assert min(values) >= 30.0 and max(values) <= 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_device_backoff_doubles_to_its_cap_and_starts_over_after_a_success() -> None:
    """Without jitter a device waits exactly its configured first delay, then twice that, ..."""
    clock = FakeClock()
    backoff = Backoff(2.0, 10.0, clock)
    assert backoff.ready() and backoff.remaining() == 0.0
    assert [backoff.failed() for _ in range(5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.remaining() == 10.0 and not backoff.ready()
    clock.now += 7.5
    assert backoff.remaining() == 2.5
    clock.now += 2.5
    assert backoff.ready()
    backoff.succeeded()
    assert backoff.failed() == 2.0


def test_a_jittered_backoff_stays_within_half_and_whole_of_each_step() -> None:
    backoff = Backoff(1.0, 8.0, FakeClock(), rng=random.Random(3))
    delays = [backoff.failed() for _ in range(8)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))
    assert len(set(delays[3:])) > 1


def test_a_backoff_refuses_settings_that_cannot_work() -> None:
    for initial, cap in ((0.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError):
            Backoff(initial, cap)
