"""The broker flapping: backoff capped and jittered, no descriptor or thread leaks, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.flapping import CAP_S, INITIAL_S, flap


@pytest.mark.timeout(240)
def test_twenty_broker_flaps_leak_nothing_and_lose_nothing(tmp_path: Path) -> None:
    report = flap(tmp_path, flaps=20, seed=5)
    assert report.problems() == []
    assert report.connects == 21
    assert INITIAL_S / 2 <= report.delay_min_s and report.delay_max_s <= CAP_S
    assert report.capped_delays >= 2 and report.distinct_delays == report.delays  # reached the cap, always jittered
    assert report.wire.delivered > 300 and report.wire.integrity == "ok"
    print(f"\nfds {report.fds_before}->{report.fds_after}, threads {report.threads_before}->{report.threads_after}, "
          f"{report.delays} delays in [{report.delay_min_s}, {report.delay_max_s}] s, reconnect median {report.reconnect_median_s} s")
