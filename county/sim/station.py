"""One simulated station's message side: the gateway's own outbox and wire models, no hardware.

It turns scenario emits into the same payloads a real station makes (envelope, seq allocated by
`gateway.uplink.outbox.Outbox` in the insert's transaction, alarm/telemetry classes), answers commands
with a `Reply`, and makes its birth/Will status. How the outbox reaches the broker (one thread
per station with the gateway's `Uplink`, or many stations on one selector loop) is the fleet's
business, not this class's.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from county.sim.scenario import Emit, ScenarioParams, ScenarioState, initial, step
from gateway import __version__
from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox
from wire.messages import Alarm, Health, Playback, Reply, Status, Telemetry, Topics, envelope_fields, to_payload


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class SimStation:
    """Outbox + topics + scenario of one simulated station (thread-safe through the outbox's lock)."""

    def __init__(self, county: str, town: str, village: str, station_id: str, workdir: Path, params: ScenarioParams,
                 seed: int, now: float, wall: float) -> None:
        self.path = f"{county}/{town}/{village}/{station_id}"
        self.name = f"sim {station_id}"
        self.client_id = f"vs-{county}-{town}-{station_id}"
        self.topics = Topics(county, town, village, station_id)
        self.outbox = Outbox(workdir / f"{station_id}.db", max_bytes=16 * 1024 * 1024)
        self.params = params
        self.rng = random.Random(seed)
        self.boot_id = f"{self.rng.getrandbits(64):016x}"
        self.started = now
        self.state: ScenarioState = initial(now, params, self.rng)
        self.event_seqs: list[int] = []  # seqs of alarm-class messages (events, replies): what must never be missing

    # ------------------------------------------------------------------ envelope and payloads

    def envelope(self, seq: int, event_id: str | None = None) -> dict[str, Any]:
        """The wire contract's one envelope, as a station with a synchronised clock makes it now."""
        return envelope_fields(self.path, seq, time.time(), True, self.boot_id, event_id)

    def status_payload(self, online: bool, reason: str) -> bytes:
        return to_payload(Status(**self.envelope(max(self.outbox.last_seq, 0)), online=online, version=__version__,
                                 config_hash="sim", capabilities=["water_level", "loudspeaker"], name=self.name,
                                 reason=reason))

    def _put(self, topic: str, klass: int, make: Any, event_id: str | None = None) -> int:
        seq = self.outbox.put(topic, klass, lambda seq: to_payload(make(self.envelope(seq, event_id))))
        if klass == ALARM:
            self.event_seqs.append(seq)
        return seq

    # ------------------------------------------------------------------ what it says

    def tick(self, now: float) -> int:
        """Run the scenario to `now`; returns how many messages were queued."""
        self.state, emits = step(self.state, now, time.time(), self.params, self.rng)
        for e in emits:
            self.emit(e, now)
        return len(emits)

    def emit(self, e: Emit, now: float) -> int:
        f = e.fields
        if e.what == "telemetry":
            return self._put(self.topics.telemetry(f["sensor"]), TELEMETRY,
                             lambda env: Telemetry(**env, sensor=f["sensor"], values=f["values"], samples=f["samples"]))
        if e.what == "health":
            stats = self.outbox.stats()
            return self._put(self.topics.health, TELEMETRY, lambda env: Health(
                **env, uptime_s=round(now - self.started, 1), queue_depth=stats.depth, queue_bytes=stats.bytes,
                dropped_total=stats.dropped_total, camera_fps=f["camera_fps"], devices={"gauge-1": "ok"}))
        if e.what == "alarm":
            return self._put(self.topics.event(f["alarm"]), ALARM, lambda env: Alarm(
                **env, alarm=f["alarm"], state=f["state"], severity=f["severity"], category=f["category"], source=f["source"],
                summary=f["summary"], raised_at=_utc(f["raised_at_wall"])), event_id=e.event_id)
        if e.what == "playback":
            return self._put(self.topics.event("loudspeaker"), ALARM, lambda env: Playback(**env, **f))
        raise ValueError(f"unknown emit {e.what!r}")

    def raise_alarm(self, kind: str = "water_level", severity: str = "danger") -> str:
        """Queue a `raised` alarm now (tests and benchmarks); returns its event_id."""
        event_id = uuid.uuid4().hex
        self.emit(Emit("alarm", {"alarm": kind, "state": "raised", "severity": severity, "category": "safety",
                                 "source": "gauge-1", "summary": f"simulated {kind}", "raised_at_wall": time.time()}, event_id), 0.0)
        return event_id

    def burst(self, count: int) -> None:
        """Queue `count` telemetry messages at once, as a station that was cut off for a while."""
        for _ in range(count):
            self.emit(Emit("telemetry", {"sensor": "gauge-1", "samples": 1, "values": {"level_m": self.state.level_m}}), 0.0)

    def on_command(self, topic: str, payload: bytes) -> None:
        """A simulator runs any command and says so (signature checks belong to the real gateway)."""
        name = topic.rsplit("/cmd/", 1)[-1]
        try:
            doc = json.loads(payload)
            command_id = str(doc.get("command_id") or doc.get("id") or uuid.uuid4().hex) if isinstance(doc, dict) else uuid.uuid4().hex
        except ValueError:
            command_id = uuid.uuid4().hex
        self._put(self.topics.reply(command_id), ALARM, lambda env: Reply(
            **env, command_id=command_id, command=name, ok=True, outcome="done", result={"simulated": True}))

    def close(self) -> None:
        self.outbox.close()
