"""`make demo` itself: the simulated station through an outage, seen complete by the county feed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_through_an_outage_and_every_seq_arrives(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "county.sim.demo", "--config", str(ROOT / "examples/sim-station.yaml"),
         "--duration", "30", "--outage-at", "9", "--outage-s", "4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    text = out.stdout
    assert "broker stopped" in text and "broker back" in text
    assert "ALARM RAISED flash_flood" in text and "ALARM RAISED water_level" in text
    assert "LOUDSPEAKER completed" in text
    assert "missing seqs" in text and "every seq arrived" in text
    assert (tmp_path / "var/sim-station/outbox.db").exists()
