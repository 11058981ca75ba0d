"""The station process: builds everything from the config and runs the loops.

Flow, one way: device loops (one thread per sensor, input or camera) push observations into the
brain's inbox; the brain thread runs the pure rules, turns signals into alarm lifecycles, puts
every message into the durable outbox and hands warnings to the loudspeaker queue; the uplink
thread drains the outbox to the broker. Each loop survives the failure of the others: a device
that fails is reported and retried, never allowed to stop the brain or the uplink.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drivers.base import Utterance
from drivers.modbus_bus import ModbusBusPool
from foundation.clock import WallClock, new_boot_id
from foundation.errors import DeviceUnavailable, GatewayError, OutboxError
from gateway import __version__
from gateway.alarms import SEVERITY_RANK, AlarmBook, AlarmSignal, Transition
from gateway.announcer import Announcement, Announcer, PlayReport, QuietWindow
from gateway.config.station import StationConfig
from gateway.devices import build_fire_input, build_speaker, build_water_sensor
from gateway.health import Heartbeats, SystemdNotifier, read_vitals
from gateway.rules.fire import FireState, fire_step
from gateway.rules.stale import StaleState, stale_step
from gateway.rules.vision_fire import corroborate
from gateway.rules.water import WaterState, water_step
from gateway.silence_file import SavedSilence, SilenceFile, remaining_after_restart
from gateway.uplink.mqtt import Uplink
from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox, Queued
from wire.messages import Alarm, Health, Notice, Playback, SnapshotRef, Status, Telemetry, Topics, envelope_fields, to_payload

log = logging.getLogger(__name__)


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


@dataclass
class _WaterTrack:
    """Per-sensor state held by the brain."""

    rule: WaterState = field(default_factory=WaterState)
    stale: StaleState | None = None
    samples: list[float] = field(default_factory=list)
    last_telemetry: float = 0.0
    online: bool = True


@dataclass
class _DiskTrouble:
    """An episode in which the outbox could not store messages (a full or failing disk)."""

    since: float
    error: str
    last_failure: float
    sent_unstored: int = 0
    telemetry_not_stored: int = 0
    lost: int = 0


@dataclass
class _FireTrack:
    rule: FireState = field(default_factory=FireState)
    stale: StaleState | None = None
    online: bool = True


class Station:
    """One village station: sensors, rules, outbox, uplink, loudspeaker, health."""

    def __init__(
        self,
        cfg: StationConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] | WallClock = time.time,
        notifier: SystemdNotifier | None = None,
        command_handler: Callable[["Station", str, bytes], None] | None = None,
        config_path: Path | None = None,
    ) -> None:
        """`config_path`: the station file, which config/set rewrites (None: config/set is refused)."""
        self.cfg = cfg
        self._clock = clock
        # a WallClock itself may be given (tests set its kernel check and recheck period)
        self.wall = wall if isinstance(wall, WallClock) else WallClock(cfg.clock, now=wall)
        self.boot_id = new_boot_id()
        self.started_mono = clock()
        ident = cfg.station
        self.station_path = ident.path
        self.topics = Topics(ident.county, ident.town, ident.village, ident.id)
        self.beats = Heartbeats(clock)
        self.notifier = notifier or SystemdNotifier()
        self.outbox = Outbox(cfg.outbox.path, cfg.outbox.max_bytes, clock=self.wall.now)
        self.alarms = AlarmBook(store=self.outbox)
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.device_state: dict[str, str] = {}
        self._command_handler = command_handler
        self.config_path = config_path
        self.exit_code: int | None = None  # set by request_exit: the process should end with it
        self._run_stop: threading.Event | None = None
        if command_handler is None and cfg.commands.keys:
            from gateway.commands.desk import CommandDesk

            self._command_handler = CommandDesk.build(cfg, clock=clock, wall=self.wall, config_path=config_path)
        self._camera_watches: list[Any] = []
        self._disk: _DiskTrouble | None = None

        self._water = {s.id: _WaterTrack(stale=StaleState(since=clock())) for s in cfg.water_sensors}
        self._fire = {f.id: _FireTrack(stale=StaleState(since=clock())) for f in cfg.fire_inputs}
        self._water_cfg = {s.id: s for s in cfg.water_sensors}
        self._modbus = ModbusBusPool()  # sensors sharing an RS-485 line share one client and its lock
        self._fire_cfg = {f.id: f for f in cfg.fire_inputs}

        self.announcer: Announcer | None = None
        self._speaker: Any = None
        self._silence_file = SilenceFile(cfg.outbox.path.with_name(f"{cfg.outbox.path.stem}-silence.json"))
        if cfg.loudspeaker is not None:
            quiet = cfg.loudspeaker.quiet_hours
            self._speaker = build_speaker(cfg.loudspeaker)
            self.announcer = Announcer(
                self._speaker,
                report=lambda r: self._inbox.put(("playback", r)),
                quiet=QuietWindow.parse(quiet.start, quiet.end) if quiet else None,
                clock=clock,
                local_minute=self._local_minute,
                beat=self.beats.beat,
            )

        self.uplink = Uplink(
            cfg.broker,
            client_id=cfg.broker.client_id or f"vs-{ident.county}-{ident.town}-{ident.id}",
            status_topic=self.topics.status,
            command_filter=self.topics.commands,
            outbox=self.outbox,
            status=self._status_payload,
            on_command=lambda topic, payload: self._inbox.put(("command", topic, payload)),
            beat=self.beats.beat,
        )

    def _local_minute(self) -> int | None:
        """Local minute of the day for quiet hours; None while the clock is not trusted (1970 at boot)."""
        if not self.wall.synced():
            return None
        t = datetime.fromtimestamp(self.wall.now())
        return t.hour * 60 + t.minute

    # ------------------------------------------------------------------ envelope and publishing

    def capabilities(self) -> list[str]:
        caps = []
        if self.cfg.water_sensors:
            caps.append("water_level")
        if self.cfg.fire_inputs:
            caps.append("fire_input")
        if self.cfg.cameras:
            caps.append("camera")
        if self.cfg.loudspeaker is not None:
            caps.append("loudspeaker")
        return caps

    def envelope(self, seq: int, event_id: str | None = None) -> dict[str, Any]:
        return envelope_fields(self.station_path, seq, self.wall.now(), self.wall.synced(), self.boot_id, event_id)

    def _status_payload(self, online: bool, reason: str) -> bytes:
        return to_payload(
            Status(
                **self.envelope(max(self.outbox.last_seq, 0)),
                online=online,
                version=__version__,
                config_hash=self.cfg.fingerprint(),
                capabilities=self.capabilities(),
                name=self.cfg.station.name,
                reason=reason,
            )
        )

    DISK_CLEAR_AFTER_S = 5.0  # disk_full clears once messages are stored again with no failure for this long

    def publish(self, topic: str, klass: int, make: Callable[[dict[str, Any]], Any], event_id: str | None = None) -> int | None:
        """Build a message around a fresh envelope and store it in the outbox; its seq, or None.

        When the outbox cannot store it (a full or failing disk), an alarm-class message goes out
        from memory instead and a `disk_full` health alarm is raised; telemetry is counted and
        dropped (it takes no seq, so the county sees no gap for it).
        """
        try:
            seq = self.outbox.put(topic, klass, lambda seq: to_payload(make(self.envelope(seq, event_id))))
        except OutboxError as exc:
            if self._disk is None:  # once per episode: the disk_full alarm carries the counts
                log.error("%s", exc)
            self.device_state["outbox"] = str(exc)
            return self._outbox_failed(topic, klass, make, event_id, str(exc))
        if self._disk is not None and self._clock() - self._disk.last_failure >= self.DISK_CLEAR_AFTER_S:
            self._disk_recovered()
        return seq

    def _outbox_failed(self, topic: str, klass: int, make: Callable[[dict[str, Any]], Any], event_id: str | None, error: str) -> int | None:
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
            self._apply(AlarmSignal("disk_full", "outbox", True, severity="critical", category="health",
                                    summary=f"the outbox cannot store messages; alarms go out from memory: {error}",
                                    details={"error": error, "path": str(self.cfg.outbox.path)}), now)
        return seq

    def _publish_unstored(self, topic: str, make: Callable[[dict[str, Any]], Any], event_id: str | None, trouble: _DiskTrouble) -> int | None:
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
        self.device_state["outbox"] = "ok"
        details = {"seconds": round(self._clock() - trouble.since, 1), "sent_unstored": trouble.sent_unstored,
                   "telemetry_not_stored": trouble.telemetry_not_stored, "lost": trouble.lost}
        self._apply(AlarmSignal("disk_full", "outbox", False, severity="critical", category="health",
                                summary=(f"the outbox stores messages again after {details['seconds']} s: {trouble.sent_unstored} alarm(s) "
                                         f"went out unstored, {trouble.telemetry_not_stored} telemetry message(s) were not kept, {trouble.lost} lost"),
                                details=details), self._clock())

    def notice(self, notice: str, summary: str, severity: str = "warning", source: str = "", details: dict[str, Any] | None = None) -> None:
        """A one-off health event (rejected command, dropped telemetry, recovered database...)."""
        log.warning("%s: %s", notice, summary)
        self.publish(
            self.topics.event(notice), ALARM,
            lambda env: Notice(**env, notice=notice, severity=severity, source=source, summary=summary, details=details or {}),
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.outbox.recovered_from is not None:
            r = self.outbox.recovered_from
            self.notice(
                "outbox_corrupt",
                f"the outbox database could not be read and was moved to {r.moved_to}; queued messages in it are lost, numbering resumes at seq {r.resumed_at_seq}",
                severity="danger", source=str(self.cfg.outbox.path),
                details={"moved_to": r.moved_to, "error": r.error, "resumed_at_seq": r.resumed_at_seq},
            )
        self._report_skipped()
        if self.outbox.unavailable is not None:  # it takes the unstored path itself, and raises disk_full
            self.notice("outbox_unavailable", f"the outbox database cannot be opened ({self.outbox.unavailable}); its queue is kept "
                        "and sent once it opens; alarms go out unstored meanwhile", severity="critical",
                        source=str(self.cfg.outbox.path), details={"error": self.outbox.unavailable})
        for tr in self.alarms.restore(self._clock()):
            self._publish_transition(tr)
        self._spawn("brain", self._brain)
        for sensor in self.cfg.water_sensors:
            self._spawn(f"water:{sensor.id}", self._water_loop, sensor.id)
        for inp in self.cfg.fire_inputs:
            self._spawn(f"fire:{inp.id}", self._fire_loop, inp.id)
        self._start_cameras()
        if self.announcer is not None:
            self._restore_silence()
            self.announcer.start()
            threading.Thread(target=self._prepare_speech, name="speech-cache", daemon=True).start()
        self.uplink.start()
        self.notifier.ready()

    def silence(self, duration_s: float, emergencies: bool) -> None:
        """Hold the loudspeaker for `duration_s` (0 lifts the silence), kept across restarts.

        Only for a station with a loudspeaker: the command desk answers the others itself."""
        assert self.announcer is not None
        self.announcer.silence(self._clock() + duration_s, emergencies_too=emergencies)
        if duration_s > 0:
            error = self._silence_file.save(SavedSilence(set_at=self.wall.now(), duration_s=duration_s, emergencies=emergencies))
        else:
            error = self._silence_file.clear()
        if error:
            self.notice("silence_not_kept", f"{error}; a restart now would end the silence early", source="loudspeaker")

    def _restore_silence(self) -> None:
        """Re-apply a county silence that was still running when the gateway last stopped."""
        assert self.announcer is not None
        saved, error = self._silence_file.load()
        if error:
            self.notice("silence_dropped", error, source="loudspeaker")
            self._silence_file.clear()
        if saved is None:
            return
        left = remaining_after_restart(saved, self.wall.now())
        if left <= 0:
            self._silence_file.clear()
            return
        self.announcer.silence(self._clock() + left, emergencies_too=saved.emergencies)
        self.notice("silence_resumed", f"the county's silence goes on after the restart for {left:.0f} s more "
                    f"({'emergencies too' if saved.emergencies else 'emergencies still played'})", severity="info",
                    source="loudspeaker", details={"remaining_s": round(left, 1), "emergencies": saved.emergencies})

    def _prepare_speech(self) -> None:
        """Synthesise every configured warning at start-up, so it plays even if the SD card fills up later."""
        prepare = getattr(self._speaker, "prepare", None)
        if prepare is None or self.cfg.loudspeaker is None:
            return
        texts = [Utterance(text=a.text) for a in self.cfg.loudspeaker.actions if a.text is not None]
        try:
            problems = prepare(texts)
        except Exception as exc:  # noqa: BLE001 - a start-up nicety must never stop the station
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            self.notice("speech_unprepared", f"{len(problems)} configured warning(s) could not be synthesised in advance; they are "
                        "tried again when needed: " + "; ".join(problems), source="loudspeaker", details={"problems": problems})

    def _report_skipped(self) -> None:
        """Tell the county about numbers the outbox jumped over when it opened, so no gap is unexplained."""
        if self.outbox.skipped is None:
            return
        (first, resumed), self.outbox.skipped = self.outbox.skipped, None
        self.notice("seq_skipped", f"seq {first}..{resumed - 1} are not in the outbox (alarms sent unstored while the disk was full, "
                    f"or a database older than its reservation); numbering goes on above them, no number is reused",
                    severity="info", source=str(self.cfg.outbox.path), details={"first_seq": first, "resumed_at_seq": resumed})

    def _start_cameras(self) -> None:
        """Camera loops are built only when cameras are configured (they load the detection model)."""
        if not self.cfg.cameras:
            return
        from gateway.vision.camera_watch import start_camera_watches

        self._camera_watches = start_camera_watches(self)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=self._guard, args=(name, target, *args), name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _guard(self, name: str, target: Callable[..., None], *args: Any) -> None:
        """Run a loop; if it crashes on an unexpected error, report it and run it again."""
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except Exception as exc:  # noqa: BLE001 - a loop must survive anything its device does
                log.exception("loop %s crashed; restarting it in 1 s", name)
                self._inbox.put(("loop_crash", name, f"{type(exc).__name__}: {exc}"))
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop every loop, say goodbye on the status topic, close the outbox."""
        self.notifier.stopping()
        if self.announcer is not None:  # first, so its last reports (pre-empted: gateway stopping) reach the brain
            self.announcer.stop()
        self._stop.set()
        self._inbox.put(("stop",))
        for watch in self._camera_watches:
            watch.stop()
        for t in self._threads:
            t.join(5)
        self.uplink.stop()
        self._command_hook("close")
        self.outbox.close()

    def run_forever(self, stop: threading.Event) -> None:
        """Main thread: ping the systemd watchdog while every loop is alive."""
        limit = self.cfg.health.loop_stall_s
        self._run_stop = stop
        while not stop.wait(min(5.0, limit / 3)):
            stalled = self.beats.stalled(limit)
            if stalled:
                self.notifier.status(f"stalled loops: {', '.join(stalled)}")
                log.error("loops stalled: %s (watchdog not pinged)", stalled)
            else:
                self.notifier.watchdog()

    def request_exit(self, code: int) -> None:
        """Ask the process to end with `code` (config/set: exit so systemd restarts on the new file)."""
        self.exit_code = code
        if self._run_stop is not None:
            self._run_stop.set()

    # ------------------------------------------------------------------ device loops

    def _water_loop(self, sensor_id: str) -> None:
        cfg = self._water_cfg[sensor_id]
        driver = None
        attempt = 0
        while not self._stop.is_set():
            self.beats.beat(f"water:{sensor_id}")
            try:
                if driver is None:
                    driver = build_water_sensor(
                        cfg, clock=self._clock, modbus_buses=self._modbus,
                        on_change=lambda status: self._inbox.put(("link", sensor_id, status.online, status.last_error or "")),
                    )
                reading = driver.read()
                attempt = 0
                self._inbox.put(("water", sensor_id, reading.level_m, self._clock(), None))
            except (DeviceUnavailable, GatewayError, OSError, ValueError) as exc:
                self._inbox.put(("water", sensor_id, None, self._clock(), str(exc)))
                attempt += 1
                if isinstance(exc, DeviceUnavailable) and driver is not None and attempt > 3:
                    driver.close()
                    driver = None
            self._stop.wait(cfg.poll_interval_s if attempt == 0 else min(30.0, cfg.poll_interval_s * 2 ** min(attempt, 5)))
        if driver is not None:
            driver.close()

    def _fire_loop(self, input_id: str) -> None:
        cfg = self._fire_cfg[input_id]
        driver = None
        while not self._stop.is_set():
            self.beats.beat(f"fire:{input_id}")
            try:
                if driver is None:
                    driver = build_fire_input(cfg, clock=self._clock)
                self._inbox.put(("fire", input_id, driver.is_active(), self._clock(), None))
                wait = cfg.poll_interval_s
            except (DeviceUnavailable, GatewayError, OSError, ValueError) as exc:
                self._inbox.put(("fire", input_id, None, self._clock(), str(exc)))
                if driver is not None:
                    driver.close()
                driver = None
                wait = 5.0
            self._stop.wait(wait)
        if driver is not None:
            driver.close()

    def emit(self, signal: AlarmSignal) -> None:
        """Entry point for loops that produce alarm signals themselves (cameras)."""
        self._inbox.put(("signal", signal))

    # ------------------------------------------------------------------ the brain

    def _brain(self) -> None:
        next_tick = self._clock()
        next_health = self._clock() + min(5.0, self.cfg.health.interval_s)
        while True:
            self.beats.beat("brain")
            try:
                item = self._inbox.get(timeout=max(0.0, next_tick - self._clock()))
            except queue.Empty:
                item = ("tick",)
            now = self._clock()
            try:
                if item[0] == "stop":
                    return
                self._handle(item, now)
                if now >= next_tick:
                    self._tick(now)
                    next_tick = now + 1.0
                if now >= next_health:
                    self._publish_health()
                    next_health = now + self.cfg.health.interval_s
            except Exception:  # noqa: BLE001 - one bad observation must not stop the brain
                log.exception("brain: failed on %r", item[:2])

    def _handle(self, item: tuple[Any, ...], now: float) -> None:
        kind = item[0]
        if kind == "water":
            _, sensor_id, level, t, error = item
            self._on_water(sensor_id, level, t, error)
        elif kind == "fire":
            _, input_id, active, t, error = item
            self._on_fire(input_id, active, t, error)
        elif kind == "signal":
            # a camera's fire/smoke is escalated to critical when a GPIO fire/smoke input agrees
            active_inputs = [i for i, track in self._fire.items() if track.rule.alarmed]
            self._apply(corroborate(item[1], active_inputs), now)
        elif kind == "playback":
            self._publish_playback(item[1])
            self._command_hook("on_playback", item[1])
        elif kind == "command":
            self._on_command(item[1], item[2])
        elif kind == "link":
            _, device, online, error = item
            if online:
                self.notice("device_online", f"{device} is answering again", severity="info", source=device)
            else:
                self.notice("device_offline", f"{device} went offline: {error}", severity="warning", source=device,
                            details={"error": error})
        elif kind == "loop_crash":
            self.notice("loop_crash", f"loop {item[1]} crashed and was restarted: {item[2]}", source=item[1])

    def _apply(self, signal: AlarmSignal, now: float) -> None:
        for tr in self.alarms.apply(signal, now):
            self._publish_transition(tr)
            if tr.escalated:
                self._announce_for(tr)

    def _set_device(self, device: str, error: str | None) -> None:
        state = "ok" if error is None else f"offline: {error}"
        previous = self.device_state.get(device)
        self.device_state[device] = state
        if previous is not None and previous != state and (error is None) != previous.startswith("offline"):
            if error is None:
                log.info("%s back online", device)
            else:
                log.warning("%s offline: %s", device, error)

    def _on_water(self, sensor_id: str, level: float | None, t: float, error: str | None) -> None:
        cfg = self._water_cfg[sensor_id]
        track = self._water[sensor_id]
        self._set_device(sensor_id, error)
        assert track.stale is not None
        track.stale, signals = stale_step(track.stale, t, source=sensor_id, stale_after_s=cfg.stale_after_s, ok=level is not None, error=error or "")
        for s in signals:
            self._apply(s, t)
        if level is None:
            return
        track.rule, signals = water_step(track.rule, cfg.rules, sensor_id, level, t)
        for s in signals:
            self._apply(s, t)
        track.samples.append(level)
        if t - track.last_telemetry >= cfg.telemetry_interval_s:
            self._publish_water_telemetry(sensor_id, track)
            track.last_telemetry = t

    def _publish_water_telemetry(self, sensor_id: str, track: _WaterTrack) -> None:
        samples, track.samples = track.samples, []
        values = {
            "level_m": samples[-1],
            "level_min_m": min(samples),
            "level_max_m": max(samples),
            "band": {"normal": 0, "warning": 1, "danger": 2}[track.rule.band],
        }
        self.publish(self.topics.telemetry(sensor_id), TELEMETRY,
                     lambda env: Telemetry(**env, sensor=sensor_id, values=values, samples=len(samples)))

    def _on_fire(self, input_id: str, active: bool | None, t: float, error: str | None) -> None:
        cfg = self._fire_cfg[input_id]
        track = self._fire[input_id]
        self._set_device(input_id, error)
        assert track.stale is not None
        track.stale, signals = stale_step(track.stale, t, source=input_id, stale_after_s=max(30.0, cfg.poll_interval_s * 20), ok=active is not None, error=error or "")
        for s in signals:
            self._apply(s, t)
        if active is None:
            return
        track.rule, signals = fire_step(track.rule, active, t, kind=cfg.kind, source=input_id,
                                        debounce_s=cfg.debounce_s, min_clear_s=cfg.min_clear_s)
        for s in signals:
            self._apply(s, t)

    def _tick(self, now: float) -> None:
        """Once a second: time-based rules (stale sensors) and outbox drop reports."""
        if self.outbox.unavailable is not None and self.outbox.retry_open():
            log.warning("outbox %s: opened at last; its queue goes out now", self.cfg.outbox.path)
            self._report_skipped()
        for sensor_id, track in self._water.items():
            assert track.stale is not None
            track.stale, signals = stale_step(track.stale, now, source=sensor_id, stale_after_s=self._water_cfg[sensor_id].stale_after_s, ok=None)
            for s in signals:
                self._apply(s, now)
        self._command_hook("tick", now)
        drops = self.outbox.take_drop_report()
        if drops is not None:
            count, first, last = drops
            self.notice("outbox_full", f"outbox full: dropped {count} oldest telemetry message(s), seq {first}..{last}; alarms are kept",
                        source=str(self.cfg.outbox.path), details={"dropped": count, "first_seq": first, "last_seq": last})

    # ------------------------------------------------------------------ alarms, loudspeaker

    def acknowledge(self, event_id: str, operator: str) -> Transition | None:
        """An operator's acknowledgement: the acked step of the lifecycle, published like every other (None: no such open alarm)."""
        tr = self.alarms.ack(event_id, operator)
        if tr is not None:
            self._publish_transition(tr)
        return tr

    def _publish_transition(self, tr: Transition) -> None:
        a = tr.alarm
        snapshot = None
        if tr.snapshot_jpeg and tr.state == "raised":  # one picture per alarm, on `snapshot/{event_id}`: the link is poor
            import hashlib

            topic = self.topics.snapshot(a.event_id)
            snapshot = SnapshotRef(topic=topic, bytes=len(tr.snapshot_jpeg), sha256=hashlib.sha256(tr.snapshot_jpeg).hexdigest())
            self.uplink.send_snapshot(topic, tr.snapshot_jpeg)
        summary = tr.reason if tr.state in ("cleared", "acked") and tr.reason else a.summary
        log.info("alarm %s %s/%s %s: %s", tr.state, a.kind, a.source, a.severity, summary)
        self.publish(
            self.topics.event(a.kind), ALARM,
            lambda env: Alarm(
                **env, alarm=a.kind, state=tr.state, severity=a.severity, category=a.category, source=a.source,
                summary=summary, details=a.details, raised_at=_iso(self._wall_of(a.raised_at)), acked_by=a.acked_by,
                snapshot=snapshot,
            ),
            event_id=a.event_id,
        )

    def _wall_of(self, mono: float) -> float:
        """Wall time of a monotonic instant (alarms are timed on the monotonic clock)."""
        return self.wall.now() - (self._clock() - mono)

    def _announce_for(self, tr: Transition) -> None:
        if self.announcer is None or self.cfg.loudspeaker is None:
            return
        a = tr.alarm
        for action in self.cfg.loudspeaker.actions:
            if action.alarm != a.kind or SEVERITY_RANK[a.severity] < SEVERITY_RANK[action.min_severity]:
                continue
            utterance = Utterance(text=action.text) if action.text is not None else Utterance(clip=action.clip)
            self.announcer.submit(
                Announcement(
                    key=a.kind, utterance=utterance, priority=action.priority, repeat=action.repeat,
                    interval_s=action.interval_s, expires_at=self._clock() + action.expires_s,
                    cooldown_s=action.cooldown_s, ref=a.event_id,
                )
            )

    def _publish_playback(self, r: PlayReport) -> None:
        log.info("loudspeaker %s: %s (%s)", r.outcome, r.what, r.priority)
        self.publish(
            self.topics.event("loudspeaker"), ALARM,
            lambda env: Playback(
                **env, key=r.key, ref=r.ref, what=r.what, priority=r.priority, outcome=r.outcome, plays=r.plays,
                started=_iso(r.started) if r.started else None, ended=_iso(r.ended) if r.ended else None, error=r.error,
            ),
        )

    # ------------------------------------------------------------------ commands, health

    def _on_command(self, topic: str, payload: bytes) -> None:
        if self._command_handler is not None:
            self._command_handler(self, topic, payload)
            return
        name = topic.rsplit("/cmd/", 1)[-1]
        self.notice("command_rejected", f"command {name!r} rejected: this station accepts no commands (no county keys installed)",
                    source=name, details={"topic": topic, "bytes": len(payload)})

    def _command_hook(self, name: str, *args: Any) -> None:
        """Call an optional hook of the command handler (on_playback, tick, close), if it has one."""
        hook = getattr(self._command_handler, name, None)
        if hook is not None:
            hook(self, *args)

    def _publish_health(self) -> None:
        stats = self.outbox.stats()
        vitals = read_vitals(Path(self.cfg.outbox.path).parent)
        fps = {w.camera_id: round(w.fps(), 2) for w in self._camera_watches}
        for w in self._camera_watches:
            st = w.status()
            cam = st.get("camera", {})
            state = "stale" if st.get("stale") else str(cam.get("state", "ok"))
            error = cam.get("last_error") or st.get("last_error")
            self.device_state[f"camera:{w.camera_id}"] = f"{state}: {error}" if error and state != "streaming" else state
        devices = dict(self.device_state)
        devices["uplink"] = "connected" if self.uplink.stats.connected else f"offline: {self.uplink.stats.last_error}"
        self.publish(
            self.topics.health, TELEMETRY,
            lambda env: Health(
                **env, uptime_s=round(self._clock() - self.started_mono, 1), cpu_temp_c=vitals.cpu_temp_c,
                throttled=vitals.throttled, load_1m=vitals.load_1m, disk_free_bytes=vitals.disk_free_bytes,
                rss_bytes=vitals.rss_bytes, queue_depth=stats.depth, queue_bytes=stats.bytes,
                dropped_total=stats.dropped_total, loops=self.beats.ages(), devices=devices, camera_fps=fps,
            ),
        )
        if vitals.disk_free_bytes is not None:
            low = vitals.disk_free_bytes < self.cfg.health.disk_low_bytes
            self._apply(AlarmSignal("disk_low", "outbox", low, severity="danger", category="health",
                                    summary=f"{vitals.disk_free_bytes // (1024 * 1024)} MiB free where the outbox lives",
                                    details={"free_bytes": vitals.disk_free_bytes}), self._clock())
