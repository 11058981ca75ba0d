"""Reconnection delays grow, stay capped and are spread out."""

from __future__ import annotations

import random

from foundation.backoff import backoff_delay


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, 1.0, 60.0, rng) for a in range(40)]
    assert all(0.5 <= d <= 60.0 for d in delays)
    assert delays[0] <= 1.0 and max(delays[10:]) <= 60.0 and min(delays[10:]) >= 30.0


def test_backoff_is_jittered_across_stations() -> None:
    values = {round(backoff_delay(6, 1.0, 60.0, random.Random(seed)), 3) for seed in range(200)}
    assert len(values) > 150
    assert min(values) >= 30.0 and max(values) <= 60.0
