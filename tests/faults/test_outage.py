"""A long outage with 10,000 messages queued: all delivered in order, alarms not stuck behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.outage import outage_drain


@pytest.mark.timeout(300)
def test_backlog_of_ten_thousand_drains_in_order_and_alarms_overtake_it(tmp_path: Path) -> None:
    report = outage_drain(tmp_path, backlog=10_000, alarms=5)
    assert report.telemetry_delivered == 10_000 and report.gaps == []
    assert report.telemetry_in_order
    assert report.alarms_delivered == 5
    # each alarm, raised mid-drain, arrived ahead of queued telemetry with lower seqs: served first
    assert all(n > 0 for n in report.overtaken), report.overtaken
    print(f"\ndrain {report.drain_msg_per_s} msg/s; alarm delay during the drain: {report.alarm_delay_ms} ms; "
          f"backlog overtaken: {report.overtaken}")
