"""The loudspeaker queue: emergencies pre-empt, quiet hours hold, cool-downs and expiry drop."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from drivers.base import Utterance
from drivers.speaker import SimulatedSpeaker
from gateway.announcer import Announcement, Announcer, PlayQueue, PlayReport, QuietWindow


def make(tmp_path: Path, quiet: QuietWindow | None = None, minute: int = 12 * 60) -> tuple[Announcer, list[PlayReport], SimulatedSpeaker]:
    reports: list[PlayReport] = []
    speaker = SimulatedSpeaker(tmp_path, seconds_per_char=0.05)
    ann = Announcer(speaker, reports.append, quiet=quiet, local_minute=lambda: minute)
    ann.start()
    return ann, reports, speaker


def wait_idle(ann: Announcer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ann.busy() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_emergency_preempts_drowning_warning_which_then_resumes(tmp_path: Path) -> None:
    ann, reports, speaker = make(tmp_path)
    ann.submit(Announcement("person_in_water_zone", Utterance(text="这里不是游泳区域,水深危险,请马上上岸离开"), "warning", repeat=2, interval_s=0.05))
    time.sleep(0.3)
    ann.submit(Announcement("fire", Utterance(text="发现火情"), "emergency"))
    wait_idle(ann)
    ann.stop()
    plays = [json.loads(line) for line in speaker.log_path.read_text(encoding="utf-8").splitlines()]
    assert [p["text"][:2] for p in plays] == ["这里", "发现", "这里", "这里"]
    assert [p["completed"] for p in plays] == [False, True, True, True]
    assert [(r.key, r.outcome, r.plays) for r in reports] == [("fire", "completed", 1), ("person_in_water_zone", "completed", 2)]


def test_announcement_waits_behind_warning(tmp_path: Path) -> None:
    ann, reports, _ = make(tmp_path)
    ann.submit(Announcement("person_in_water_zone", Utterance(text="请上岸"), "warning"))
    time.sleep(0.05)
    ann.submit(Announcement("cmd-1", Utterance(text="明天停水"), "announcement"))
    ann.submit(Announcement("flood", Utterance(text="洪水"), "emergency"))
    wait_idle(ann)
    ann.stop()
    assert [r.key for r in reports] == ["flood", "person_in_water_zone", "cmd-1"]
    assert all(r.outcome == "completed" for r in reports)


def test_quiet_hours_hold_all_but_emergencies(tmp_path: Path) -> None:
    quiet = QuietWindow.parse("22:00", "06:00")
    ann, reports, _ = make(tmp_path, quiet=quiet, minute=23 * 60 + 30)
    ann.submit(Announcement("cmd-1", Utterance(text="广播通知"), "announcement"))
    ann.submit(Announcement("fire", Utterance(text="火"), "emergency"))
    wait_idle(ann)
    ann.stop()
    assert sorted((r.key, r.outcome) for r in reports) == [("cmd-1", "quiet_hours"), ("fire", "completed")]
    assert quiet.contains(5 * 60) and not quiet.contains(12 * 60)


def test_cooldown_and_expiry_are_reported() -> None:
    q = PlayQueue()
    first = Announcement("fire", Utterance(text="火"), "emergency", cooldown_s=60)
    assert q.submit(first, now=0) is None
    item, _ = q.next(now=0, minute_of_day=0)
    q.played(item, now=5)
    again = q.submit(Announcement("fire", Utterance(text="火"), "emergency", cooldown_s=60), now=30)
    assert again is not None and again.outcome == "cooldown"
    assert q.submit(Announcement("fire", Utterance(text="火"), "emergency", cooldown_s=60), now=70) is None
    stale = Announcement("cmd", Utterance(text="过期"), "announcement", expires_at=10)
    q2 = PlayQueue()
    q2.submit(stale, now=0)
    item, dropped = q2.next(now=11, minute_of_day=0)
    assert item is None and [d.outcome for d in dropped] == ["expired"]


def test_speaker_failure_is_reported_not_fatal(tmp_path: Path) -> None:
    class Broken:
        def play(self, utterance: Utterance, cancel: threading.Event):  # noqa: ANN201
            raise OSError("aplay: cannot open audio device hw:9")

        def close(self) -> None:
            pass

    reports: list[PlayReport] = []
    ann = Announcer(Broken(), reports.append)  # a real speaker that cannot run here: its failure mode is the point
    ann.start()
    ann.submit(Announcement("fire", Utterance(text="火"), "emergency"))
    ann.submit(Announcement("flood", Utterance(text="水"), "emergency"))
    wait_idle(ann)
    ann.stop()
    assert [(r.key, r.outcome) for r in reports] == [("fire", "failed"), ("flood", "failed")]
    assert "hw:9" in reports[0].error


def test_heartbeats_allow_a_known_long_silence() -> None:
    from gateway.health import Heartbeats

    now = [0.0]
    beats = Heartbeats(clock=lambda: now[0])
    beats.beat("uplink")
    beats.beat("announcer", quiet_for=120.0)
    now[0] = 60.0
    assert beats.stalled(30.0) == ["uplink"]
    now[0] = 121.0
    assert sorted(beats.stalled(30.0)) == ["announcer", "uplink"]


def test_quiet_hours_are_not_applied_while_the_clock_is_untrusted() -> None:
    q = PlayQueue(quiet=QuietWindow.parse("00:00", "23:59"))
    q.submit(Announcement("cmd", Utterance(text="通知"), "announcement"), now=0)
    item, dropped = q.next(now=0, minute_of_day=None)
    assert item is not None and dropped == []
    q.submit(Announcement("cmd", Utterance(text="通知"), "announcement"), now=0)
    item, dropped = q.next(now=0, minute_of_day=600)
    assert item is None and [d.outcome for d in dropped] == ["quiet_hours"]
