"""Publishing: every message around a fresh envelope into the outbox, and what to do when it cannot be stored.

All the station's messages go through `Publisher.publish`. When the outbox cannot store one (a
full or failing disk), an alarm-class message goes out from memory instead and a `disk_full`
health alarm is raised; telemetry is counted and dropped (it takes no seq, so the county sees no
gap for it). The outbox's own troubles (a corrupt or unopenable database, skipped numbers,
dropped telemetry) become notices here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from foundation.clock import WallClock
from foundation.errors import OutboxError
from gateway import __version__
from gateway.alarms import AlarmSignal
from gateway.config.station import StationConfig
from gateway.uplink.mqtt import Uplink
from gateway.uplink.outbox import ALARM, Outbox, Queued
from wire.messages import Notice, Status, Topics, envelope_fields, to_payload

log = logging.getLogger(__name__)

MakeMessage = Callable[[dict[str, Any]], Any]  # the envelope fields -> a wire message

DISK_CLEAR_AFTER_S = 5.0  # disk_full clears once messages are stored again with no failure for this long


def iso(ts: float) -> datetime:
    """A wall time as the UTC datetime the wire messages carry."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def capabilities(cfg: StationConfig) -> list[str]:
    """What this station can do, as announced in its status and to `status` commands."""
    caps = []
    if cfg.water_sensors:
        caps.append("water_level")
    if cfg.fire_inputs:
        caps.append("fire_input")
    if cfg.cameras:
        caps.append("camera")
    if cfg.loudspeaker is not None:
        caps.append("loudspeaker")
    return caps


@dataclass
class _DiskTrouble:
    """An episode in which the outbox could not store messages (a full or failing disk)."""

    since: float
    error: str
    last_failure: float
    sent_unstored: int = 0
    telemetry_not_stored: int = 0
    lost: int = 0


class Publisher:
    """Envelope, outbox, the disk-full fallback, and notices; used from the brain thread (and by start/stop)."""

    def __init__(
        self,
        cfg: StationConfig,
        topics: Topics,
        outbox: Outbox,
        uplink: Uplink,
        wall: WallClock,
        clock: Callable[[], float],
        boot_id: str,
        device_state: dict[str, str],
        raise_alarm: Callable[[AlarmSignal, float], None],
    ) -> None:
        """`raise_alarm`: the decision step, for `disk_full` (its own messages come back through `publish`)."""
        self.cfg = cfg
        self.topics = topics
        self.outbox = outbox
        self.uplink = uplink
        self.wall = wall
        self._clock = clock
        self.boot_id = boot_id
        self._devices = device_state
        self._raise_alarm = raise_alarm
        self._disk: _DiskTrouble | None = None

    def envelope(self, seq: int, event_id: str | None = None) -> dict[str, Any]:
        return envelope_fields(self.cfg.station.path, seq, self.wall.now(), self.wall.synced(), self.boot_id, event_id)

    def status_payload(self, online: bool, reason: str) -> bytes:
        """The retained status message (and the last will) the uplink publishes."""
        return to_payload(
            Status(
                **self.envelope(max(self.outbox.last_seq, 0)),
                online=online,
                version=__version__,
                config_hash=self.cfg.fingerprint(),
                capabilities=capabilities(self.cfg),
                name=self.cfg.station.name,
                town_name=self.cfg.station.town_name,
                village_name=self.cfg.station.village_name,
                lat=self.cfg.station.lat,
                lon=self.cfg.station.lon,
                reason=reason,
            )
        )

    def publish(self, topic: str, klass: int, make: MakeMessage, event_id: str | None = None) -> int | None:
        """Build a message around a fresh envelope and store it in the outbox; its seq, or None."""
        try:
            seq = self.outbox.put(topic, klass, lambda seq: to_payload(make(self.envelope(seq, event_id))))
        except OutboxError as exc:
            if self._disk is None:  # once per episode: the disk_full alarm carries the counts
                log.error("%s", exc)
            self._devices["outbox"] = str(exc)
            return self._outbox_failed(topic, klass, make, event_id, str(exc))
        if self._disk is not None and self._clock() - self._disk.last_failure >= DISK_CLEAR_AFTER_S:
            self._disk_recovered()
        return seq

    def notice(self, notice: str, summary: str, severity: str = "warning", source: str = "", details: dict[str, Any] | None = None) -> None:
        """A one-off health event (rejected command, dropped telemetry, recovered database...)."""
        log.warning("%s: %s", notice, summary)
        self.publish(
            self.topics.event(notice), ALARM,
            lambda env: Notice(**env, notice=notice, severity=severity, source=source, summary=summary, details=details or {}),
        )

    # ------------------------------------------------------------------ the disk-full fallback

    def _outbox_failed(self, topic: str, klass: int, make: MakeMessage, event_id: str | None, error: str) -> int | None:
        now = self._clock()
        first = self._disk is None
        if self._disk is None:
            self._disk = _DiskTrouble(since=now, error=error, last_failure=now)
        trouble = self._disk
        trouble.last_failure = now
        seq = None
        if klass != ALARM:
            trouble.telemetry_not_stored += 1
        else:
            seq = self._publish_unstored(topic, make, event_id, trouble)
        if first:  # its own messages take the same path as this one
            self._raise_alarm(AlarmSignal("disk_full", "outbox", True, severity="critical", category="health",
                                          summary=f"the outbox cannot store messages; alarms go out from memory: {error}",
                                          details={"error": error, "path": str(self.cfg.outbox.path)}), now)
        return seq

    def _publish_unstored(self, topic: str, make: MakeMessage, event_id: str | None, trouble: _DiskTrouble) -> int | None:
        """An alarm the outbox could not store: QoS 1 from memory (bounded; lost if the gateway restarts)."""
        if self.uplink.direct_pending() >= self.uplink.DIRECT_MAX:
            trouble.lost += 1
            log.error("alarm on %s lost: the outbox cannot store it and %d unstored alarms wait already", topic, self.uplink.DIRECT_MAX)
            return None
        try:
            seq = self.outbox.allocate_unstored()
        except OutboxError as exc:
            trouble.lost += 1
            log.error("alarm on %s lost: %s", topic, exc)
            return None
        self.uplink.send_direct(Queued(seq, ALARM, topic, to_payload(make(self.envelope(seq, event_id))), False))
        trouble.sent_unstored += 1
        return seq

    def _disk_recovered(self) -> None:
        trouble, self._disk = self._disk, None
        assert trouble is not None
        self._devices["outbox"] = "ok"
        details = {"seconds": round(self._clock() - trouble.since, 1), "sent_unstored": trouble.sent_unstored,
                   "telemetry_not_stored": trouble.telemetry_not_stored, "lost": trouble.lost}
        self._raise_alarm(AlarmSignal("disk_full", "outbox", False, severity="critical", category="health",
                                      summary=(f"the outbox stores messages again after {details['seconds']} s: {trouble.sent_unstored} alarm(s) "
                                               f"went out unstored, {trouble.telemetry_not_stored} telemetry message(s) were not kept, {trouble.lost} lost"),
                                      details=details), self._clock())

    # ------------------------------------------------------------------ the outbox's own troubles

    def report_outbox_at_start(self) -> None:
        """A database found corrupt, numbers skipped, or a database that cannot be opened: told to the county at start."""
        path = str(self.cfg.outbox.path)
        if self.outbox.recovered_from is not None:
            r = self.outbox.recovered_from
            self.notice(
                "outbox_corrupt",
                f"the outbox database could not be read and was moved to {r.moved_to}; queued messages in it are lost, numbering resumes at seq {r.resumed_at_seq}",
                severity="danger", source=path,
                details={"moved_to": r.moved_to, "error": r.error, "resumed_at_seq": r.resumed_at_seq},
            )
        self._report_skipped()
        if self.outbox.unavailable is not None:  # it takes the unstored path itself, and raises disk_full
            self.notice("outbox_unavailable", f"the outbox database cannot be opened ({self.outbox.unavailable}); its queue is kept "
                        "and sent once it opens; alarms go out unstored meanwhile", severity="critical",
                        source=path, details={"error": self.outbox.unavailable})

    def retry_open(self) -> None:
        """Once a second: try again to open an outbox that could not be opened."""
        if self.outbox.unavailable is not None and self.outbox.retry_open():
            log.warning("outbox %s: opened at last; its queue goes out now", self.cfg.outbox.path)
            self._report_skipped()

    def report_drops(self) -> None:
        """Once a second: tell the county about telemetry the full outbox dropped."""
        drops = self.outbox.take_drop_report()
        if drops is not None:
            count, first, last = drops
            self.notice("outbox_full", f"outbox full: dropped {count} oldest telemetry message(s), seq {first}..{last}; alarms are kept",
                        source=str(self.cfg.outbox.path), details={"dropped": count, "first_seq": first, "last_seq": last})

    def _report_skipped(self) -> None:
        """Tell the county about numbers the outbox jumped over when it opened, so no gap is unexplained."""
        if self.outbox.skipped is None:
            return
        (first, resumed), self.outbox.skipped = self.outbox.skipped, None
        self.notice("seq_skipped", f"seq {first}..{resumed - 1} are not in the outbox (alarms sent unstored while the disk was full, "
                    f"or a database older than its reservation); numbering goes on above them, no number is reused",
                    severity="info", source=str(self.cfg.outbox.path), details={"first_seq": first, "resumed_at_seq": resumed})
