"""Announcer.silence: the play in progress is cut, held items are reported, emergencies pass unless forced."""

from __future__ import annotations

import json
import time
from pathlib import Path

from drivers.base import Utterance
from drivers.speaker import SimulatedSpeaker
from gateway.announcer import SILENCED, Announcement, Announcer, PlayReport
from tests.stations import wait_for


def test_silence_cuts_the_current_play_and_lets_emergencies_through(tmp_path: Path) -> None:
    reports: list[PlayReport] = []
    speaker = SimulatedSpeaker(tmp_path, seconds_per_char=0.05)
    ann = Announcer(speaker, reports.append)
    ann.start()
    try:
        ann.submit(Announcement("announce", Utterance(text="长" * 100), "announcement", ref="c-long"))  # 5 s
        assert wait_for(lambda: ann.busy(), timeout=2)
        time.sleep(0.2)
        ann.silence(time.monotonic() + 60)
        assert wait_for(lambda: any(r.ref == "c-long" for r in reports), timeout=10)
        ann.submit(Announcement("fire", Utterance(text="火"), "emergency", ref="c-fire"))
        assert wait_for(lambda: any(r.ref == "c-fire" for r in reports), timeout=3)
        ann.silence(time.monotonic() + 60, emergencies_too=True)
        ann.submit(Announcement("fire", Utterance(text="火"), "emergency", ref="c-fire-2"))
        assert wait_for(lambda: any(r.ref == "c-fire-2" for r in reports), timeout=3)
        assert ann.silenced_until() is not None
        ann.silence(0.0)
        assert ann.silenced_until() is None
    finally:
        ann.stop()
    by_ref = {r.ref: r for r in reports}
    assert (by_ref["c-long"].outcome, by_ref["c-long"].error, by_ref["c-long"].plays) == ("silenced", SILENCED, 0)
    plays = [json.loads(line) for line in speaker.log_path.read_text(encoding="utf-8").splitlines()]
    assert [(p["text"][:1], p["completed"]) for p in plays] == [("长", False), ("火", True)]  # cut short, not played out
    assert by_ref["c-fire"].outcome == "completed"
    assert (by_ref["c-fire-2"].outcome, by_ref["c-fire-2"].error) == ("silenced", SILENCED)
