"""Public-address output: a simulated speaker that records what it would play.

The real ALSA/espeak-ng speaker lives beside it. Both honour `cancel` so an emergency can
pre-empt what is playing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.base import PlayResult, Utterance


class SimulatedSpeaker:
    """Takes as long as the real speech would, and appends each play to `plays.jsonl`."""

    def __init__(
        self,
        record_dir: Path,
        seconds_per_char: float = 0.25,
        clip_seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.record_dir = Path(record_dir)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.record_dir / "plays.jsonl"
        self._per_char = seconds_per_char
        self._clip_seconds = clip_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def duration(self, utterance: Utterance) -> float:
        if utterance.text is not None:
            return max(0.5, len(utterance.text) * self._per_char)
        return self._clip_seconds

    def play(self, utterance: Utterance, cancel: threading.Event) -> PlayResult:
        started = self._clock()
        completed = not cancel.wait(self.duration(utterance))
        ended = self._clock()
        record = {
            "what": utterance.describe(),
            "text": utterance.text,
            "clip": utterance.clip,
            "start": started,
            "end": ended,
            "completed": completed,
        }
        with self._lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return PlayResult(completed=completed, started=started, ended=ended)

    def close(self) -> None:
        """Nothing to release."""
