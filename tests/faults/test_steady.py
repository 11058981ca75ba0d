"""The steady soak, short: the real gateway process at ten times the normal rates (`make soak`: 30 min)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.steady import steady


@pytest.mark.timeout(180)
def test_gateway_at_ten_times_the_rates_delivers_everything_and_holds_its_descriptors(tmp_path: Path) -> None:
    report = steady(tmp_path, seconds=20, every_s=2, warmup_s=5)
    wire = report.wire
    assert report.returncode == 0
    assert wire.missing == [] and wire.out_of_order == [] and wire.integrity == "ok" and not wire.malformed
    assert report.delivered > 50 and report.alarms_raised >= 2 and report.plays >= 1
    assert report.fds_max - report.fds_min <= 1  # at most one file open for a moment (the speaker's record)
    assert report.threads_min == report.threads_max
    print(f"\n{report.msg_per_s} msg/s, rss {report.rss_mib_end} MiB, fds {report.fds_min}..{report.fds_max}, "
          f"cpu {report.cpu_percent} %, {report.write_mib_per_h} MiB/h written ({report.write_bytes_per_msg} B/msg)")
