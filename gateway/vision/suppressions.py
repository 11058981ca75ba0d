"""The station's "false alarm here" regions, kept in a JSON file beside the outbox.

One `SuppressionStore` per station: the brain thread adds (a county `false_alarm` command),
camera threads read (every analysed frame) and `stationctl suppressions` lists and clears the
same file while the gateway runs, so reads go through a lock and the file is read again when it
changed on disk. Written with `write_atomic`, so a power cut leaves the old or the new file. A
damaged file is set aside as `.bad` and the station carries on with none (reported by `problem`).

`RecentCameraAlarms` remembers the fire/smoke alarms of cameras (open or recently cleared) with
their evidence box, so the county may mark one false a while after it cleared; it wraps the
alarm book's store, which sees every raise, restatement and restore.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from foundation.atomic_file import write_atomic
from foundation.errors import GatewayError
from gateway.alarms import AlarmStore, OpenAlarm
from gateway.rules import fire_suppression as rules
from gateway.rules.fire_suppression import Suppression

log = logging.getLogger(__name__)

RECENT_ALARMS = 64


class FalseAlarmError(GatewayError, ValueError):
    """The alarm named cannot be marked false here (unknown, not a camera's fire or smoke)."""


def suppressions_path(outbox_path: Path) -> Path:
    """Beside the outbox (same durable folder): `<outbox stem>-suppressions.json`."""
    return Path(outbox_path).with_name(f"{Path(outbox_path).stem}-suppressions.json")


def _decode(doc: Any) -> list[Suppression]:
    if not isinstance(doc, dict) or not isinstance(doc.get("suppressions"), list):
        raise ValueError("expected an object with a `suppressions` list")
    out = []
    for item in doc["suppressions"]:
        region = tuple(float(v) for v in item["region"])
        if len(region) != 4 or item["kind"] not in rules.KINDS:
            raise ValueError(f"bad suppression {item!r}")
        out.append(Suppression(str(item["camera"]), item["kind"], region, float(item["until"]),  # type: ignore[arg-type]
                               float(item["added_at"]), str(item.get("event_id", ""))))
    return out


class SuppressionStore:
    """The suppressions of one station, durable; thread-safe."""

    def __init__(self, path: Path, max_per_camera: int = rules.MAX_PER_CAMERA) -> None:
        self.path = Path(path)
        self.max_per_camera = max_per_camera
        self.problem = ""
        self._lock = threading.Lock()
        self._items: list[Suppression] = []
        self._stamp: tuple[int, int] | None = None
        self._load()

    def _load(self) -> None:
        """(Re)read the file when it changed on disk; called with the lock held."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._items, self._stamp = [], None
            return
        except OSError as exc:  # a passing storage fault: keep what is known, never stop a camera loop
            log.warning("%s: cannot check for changes: %s", self.path, exc)
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._items = _decode(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.problem = f"{self.path}: unreadable ({exc}); set aside as .bad, no suppression kept"
            log.error("%s", self.problem)
            self._items = []
            try:
                self.path.replace(self.path.with_name(self.path.name + ".bad"))
            except OSError:
                pass
            self._stamp = None

    def _save(self) -> None:
        doc = {"suppressions": [{**asdict(s), "region": list(s.region)} for s in self._items]}
        write_atomic(self.path, json.dumps(doc, ensure_ascii=False, indent=1))
        st = self.path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)

    def items(self, now: float, camera: str | None = None) -> list[Suppression]:
        """The live suppressions (of `camera`, or all)."""
        with self._lock:
            self._load()
            return [s for s in rules.expire(self._items, now) if camera is None or s.camera == camera]

    def for_camera(self, camera: str, now: float) -> list[Suppression]:
        """The live suppressions of one camera (what a camera processor asks every analysed frame)."""
        return self.items(now, camera)

    def add(self, new: Suppression, now: float) -> Suppression:
        with self._lock:
            self._load()
            self._items = rules.add(self._items, new, now, self.max_per_camera)
            self._save()
        return new

    def clear(self, now: float, camera: str | None = None) -> int:
        """Remove the suppressions of `camera` (or all) and the expired ones; how many live ones went."""
        with self._lock:
            self._load()
            live = rules.expire(self._items, now)
            gone = [s for s in live if camera is None or s.camera == camera]
            self._items = [s for s in live if s not in gone]
            self._save()
            return len(gone)

    def counts(self, now: float) -> dict[str, int]:
        return rules.counts(self.items(now), now)


class RecentCameraAlarms:
    """An `AlarmStore` that also remembers the last fire/smoke alarms of cameras by event_id."""

    def __init__(self, inner: AlarmStore, cameras: Collection[str], size: int = RECENT_ALARMS) -> None:
        self._inner = inner
        self._cameras = set(cameras)
        self._size = size
        self._seen: OrderedDict[str, OpenAlarm] = OrderedDict()

    def _remember(self, alarm: OpenAlarm) -> None:
        if alarm.kind in rules.KINDS and alarm.source in self._cameras:
            self._seen[alarm.event_id] = alarm
            self._seen.move_to_end(alarm.event_id)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def save_alarm(self, alarm: OpenAlarm) -> None:
        self._remember(alarm)
        self._inner.save_alarm(alarm)

    def delete_alarm(self, event_id: str) -> None:
        self._inner.delete_alarm(event_id)

    def load_alarms(self) -> list[OpenAlarm]:
        alarms = self._inner.load_alarms()
        for a in alarms:
            self._remember(a)
        return alarms

    def get(self, event_id: str) -> OpenAlarm | None:
        return self._seen.get(event_id)


def box_of(alarm: OpenAlarm) -> tuple[float, float, float, float]:
    """The evidence box an alarm carries in `details.box` (the whole frame when it has none)."""
    raw = alarm.details.get("box")
    try:
        box = tuple(float(v) for v in raw)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return rules.WHOLE
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[0] >= box[2] or box[1] >= box[3]:
        return rules.WHOLE
    return box  # type: ignore[return-value]


def false_alarm_action(
    store: SuppressionStore, find: Callable[[str], OpenAlarm | None], wall: Callable[[], float], margin: float = rules.DEFAULT_MARGIN
) -> Callable[[str, float], dict[str, Any]]:
    """The station's `suppress_false_alarm(event_id, hours)`: the suppression added, as the reply's result.

    `find` looks an alarm up by event_id (open, or remembered by `RecentCameraAlarms`).
    Raises FalseAlarmError when the alarm is unknown or is not a camera's fire or smoke.
    """

    def suppress(event_id: str, hours: float) -> dict[str, Any]:
        alarm = find(event_id)
        if alarm is None:
            raise FalseAlarmError(f"no recent camera fire/smoke alarm has event_id {event_id}")
        now = wall()
        region = rules.widen(box_of(alarm), margin)
        s = store.add(Suppression(alarm.source, alarm.kind, tuple(round(v, 4) for v in region),  # type: ignore[arg-type]
                                  now + hours * 3600.0, now, event_id), now)
        until = datetime.fromtimestamp(s.until, tz=timezone.utc).isoformat()
        return {"event_id": event_id, "camera": s.camera, "alarm": s.kind, "region": list(s.region), "until": until,
                "hours": hours, "active_on_camera": len(store.items(now, s.camera))}

    return suppress
