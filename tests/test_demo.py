"""`make demo` itself: the simulated station through an outage, seen complete by the county feed (in Chinese unless --lang en)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from county.feed import FeedCollector
from county.sim import demo
from gateway.config.station import load_config
from wire.messages import Playback, Telemetry, Topics, to_payload

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_through_an_outage_and_every_seq_arrives(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "county.sim.demo", "--config", str(ROOT / "examples/sim-station.yaml"),
         "--duration", "30", "--outage-at", "9", "--outage-s", "4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    text = out.stdout  # no --lang and no LANG: the duty officer's Chinese
    assert "消息服务器停止" in text and "消息服务器已恢复" in text
    assert "告警触发 山洪 [" in text and "告警触发 水位 [" in text
    assert "广播 已播完" in text
    assert "缺失的序号" in text and "所有序号均已收到" in text
    assert "ALARM RAISED" not in text and "broker stopped" not in text
    assert (tmp_path / "var/sim-station/outbox.db").exists()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_summary_in_either_language(lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary table and the verdict without running the 30 s demo again: a collector fed by hand."""
    pond = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
    envelope = {"station": "410421/xiaoqi/zhuwa/pond-01", "ts": "2027-01-15T07:00:00Z", "clock_synced": True, "boot_id": "b"}
    collector = FeedCollector(lang=lang)
    for seq in (1, 2, 4):  # seq 3 never came
        collector.handle(pond.telemetry("gauge-1"), to_payload(Telemetry(**envelope, seq=seq, event_id=f"m{seq}", sensor="gauge-1", values={"level_m": 1})))
    collector.handle(f"{pond.prefix}/playback", to_payload(Playback(**envelope, seq=5, event_id="m5", key="k", what="w", priority="warning",
                                                                    outcome="completed", plays=1)))
    console = Console(width=200, record=True, highlight=False)
    monkeypatch.setattr(demo, "console", console)
    monkeypatch.chdir(tmp_path)  # the example's loudspeaker record is relative: none here
    assert not demo.summarise(collector, load_config(ROOT / "examples/sim-station.yaml"), tmp_path / "gateway.log", lang)
    text = console.export_text()
    if lang == "zh":
        assert "汇总" in text and "遥测消息" in text and "广播 已播完" in text and "序号 1..5" in text
        assert "缺失的序号" in text and "格式错误的消息" in text and "网关日志" in text and "有消息缺失或格式错误" in text
    else:
        assert "summary" in text and "telemetry messages" in text and "loudspeaker completed" in text and "seq 1..5" in text
        assert "missing seqs" in text and "malformed payloads" in text and "gateway log" in text and "messages missing or malformed" in text
    assert "3" in text.split("缺失的序号" if lang == "zh" else "missing seqs")[1].splitlines()[0]
