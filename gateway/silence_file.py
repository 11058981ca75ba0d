"""A county silence that outlives a gateway restart.

The county silences a station to stop a false alarm looping over the village; a watchdog
restart or a power blip must not start it again. The silence is written next to the outbox
(`<outbox>-silence.json`, through `write_atomic`) and re-applied at start-up for what is left of it.

Time is judged by the rule in `remaining_after_restart`: wall time tells how much of the silence
has passed if it moved forward since the silence was written; if it went backwards (a Pi without
a real-time clock reboots to 1970 until NTP answers), how long the station was off cannot be
known, so the silence is held at most for the duration the operator asked, from start-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from foundation.atomic_file import write_atomic


@dataclass(frozen=True, slots=True)
class SavedSilence:
    """What the county asked for, and when by this gateway's wall clock."""

    set_at: float  # wall time when the command was carried out
    duration_s: float
    emergencies: bool


def remaining_after_restart(saved: SavedSilence, now_wall: float) -> float:
    """Seconds of silence left at start-up (0: none). Never more than the operator asked."""
    elapsed = now_wall - saved.set_at
    if elapsed < 0:  # the clock went back: a reboot without NTP yet
        return saved.duration_s
    return max(0.0, saved.duration_s - elapsed)


class SilenceFile:
    """Reads and writes one SavedSilence; a write that fails is reported, never raised."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, silence: SavedSilence) -> str:
        """Write the silence durably; returns an error text ('' when written)."""
        try:
            write_atomic(self.path, json.dumps(asdict(silence)))
        except OSError as exc:
            return f"cannot keep the silence in {self.path}: {exc}"
        return ""

    def clear(self) -> str:
        """Forget the silence (lifted or ended); returns an error text ('' when done)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            return f"cannot remove {self.path}: {exc}"
        return ""

    def load(self) -> tuple[SavedSilence | None, str]:
        """The saved silence, or None; with an error text when the file is there but unreadable."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            saved = SavedSilence(set_at=float(doc["set_at"]), duration_s=float(doc["duration_s"]),
                                 emergencies=bool(doc["emergencies"]))
        except FileNotFoundError:
            return None, ""
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return None, f"{self.path} is unreadable ({type(exc).__name__}: {exc}); the silence it held is dropped"
        if not (math.isfinite(saved.set_at) and math.isfinite(saved.duration_s) and 0 <= saved.duration_s <= 86400):
            return None, f"{self.path} holds an impossible silence ({saved}); dropped"
        return saved, ""
