"""The periodic health message: the Pi's vitals, the outbox, the link, loop heartbeats, devices and cameras.

Assembled on the brain thread every `health.interval_s` and published as telemetry on `health`;
a disk running low where the outbox lives becomes a `disk_low` alarm through the decision step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from gateway.alarms import AlarmSignal
from gateway.config.station import StationConfig
from gateway.health import Heartbeats, read_vitals
from gateway.publisher import Publisher
from gateway.uplink.mqtt import Uplink
from gateway.uplink.outbox import TELEMETRY
from wire.messages import Health


class WatchedCamera(Protocol):
    """What the health report reads of a camera loop (`gateway.vision.camera_watch.CameraWatch`)."""

    camera_id: str

    def fps(self) -> float: ...

    def status(self) -> dict: ...


def camera_state(status: dict) -> str:
    """One line for a camera in `devices`: its state, with the error unless it is streaming."""
    cam = status.get("camera", {})
    state = "stale" if status.get("stale") else str(cam.get("state", "ok"))
    error = cam.get("last_error") or status.get("last_error")
    return f"{state}: {error}" if error and state != "streaming" else state


def hydrology_devices(status: dict) -> dict[str, str]:
    """One device line per SL 651 centre: linked or not, and how many reports wait for it."""
    out = {}
    for c in status.get("centres", []):
        state = "connected" if c.get("connected") else f"offline: {c.get('last_error') or 'not connected'}"
        pending = c.get("pending", 0)
        out[f"sl651:{c.get('centre')}"] = f"{state}, {pending} pending" if pending else state  # plain "connected": all is well
    return out


class HealthReport:
    """Builds and publishes the health message; raises or clears `disk_low`."""

    def __init__(self, cfg: StationConfig, publisher: Publisher, uplink: Uplink, beats: Heartbeats, device_state: dict[str, str],
                 cameras: Callable[[], Sequence[WatchedCamera]], raise_alarm: Callable[[AlarmSignal, float], None],
                 clock: Callable[[], float], started_mono: float, hydrology: Callable[[], dict] | None = None,
                 suppressions: Callable[[float], dict[str, int]] | None = None, wall: Callable[[], float] | None = None) -> None:
        """`hydrology`: the SL 651 reporter's status (None: no such reporting); each centre shows as a device.
        `suppressions`: live "false alarm here" regions per camera at a wall time, one `suppressions:{camera}` device line each."""
        self.cfg = cfg
        self._suppressions = suppressions
        self._wall = wall
        self._hydrology = hydrology
        self._publisher = publisher
        self._uplink = uplink
        self._beats = beats
        self._devices = device_state
        self._cameras = cameras
        self._raise_alarm = raise_alarm
        self._clock = clock
        self._started = started_mono

    def publish(self) -> None:
        stats = self._publisher.outbox.stats()
        vitals = read_vitals(Path(self.cfg.outbox.path).parent)
        watches = self._cameras()
        fps = {w.camera_id: round(w.fps(), 2) for w in watches}
        for w in watches:
            self._devices[f"camera:{w.camera_id}"] = camera_state(w.status())
        devices = dict(self._devices)
        if self._suppressions is not None and self._wall is not None:
            for cam, n in self._suppressions(self._wall()).items():
                devices[f"suppressions:{cam}"] = f"{n} false-alarm region(s)"
        link = self._uplink.stats
        devices["uplink"] = "connected" if link.connected else f"offline: {link.last_error}"
        if self._hydrology is not None:
            devices.update(hydrology_devices(self._hydrology()))
        self._publisher.publish(
            self._publisher.topics.health, TELEMETRY,
            lambda env: Health(
                **env, uptime_s=round(self._clock() - self._started, 1), cpu_temp_c=vitals.cpu_temp_c,
                throttled=vitals.throttled, load_1m=vitals.load_1m, disk_free_bytes=vitals.disk_free_bytes,
                rss_bytes=vitals.rss_bytes, queue_depth=stats.depth, queue_bytes=stats.bytes,
                dropped_total=stats.dropped_total, loops=self._beats.ages(), devices=devices, camera_fps=fps,
            ),
        )
        if vitals.disk_free_bytes is not None:
            low = vitals.disk_free_bytes < self.cfg.health.disk_low_bytes
            self._raise_alarm(AlarmSignal("disk_low", "outbox", low, severity="danger", category="health",
                                          summary=f"{vitals.disk_free_bytes // (1024 * 1024)} MiB free where the outbox lives",
                                          details={"free_bytes": vitals.disk_free_bytes}), self._clock())
