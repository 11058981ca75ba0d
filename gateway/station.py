"""The station process: builds its parts from the config, starts them and stops them.

Flow, one way: device loops (`device_loops`, one thread per sensor or input) and camera loops
put typed events (`events`) into the brain's inbox; the brain thread (`brain`) hands each to the
decision step (`decisions`: rules, alarm lifecycles, snapshots, announcements), the loudspeaker
side (`loudspeaker`) or the command desk; every message goes through `publisher` into the
durable outbox, which the uplink thread drains to the broker. Each loop survives the failure of
the others: a device that fails is reported and retried, never allowed to stop the brain or the uplink.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.clock import WallClock, new_boot_id
from foundation.errors import DeviceUnavailable
from gateway.alarms import AlarmBook, AlarmSignal
from gateway.announcer import Announcer
from gateway.brain import Brain
from gateway.command_side import CommandSide, HandlerCommands, RefuseCommands
from gateway.commands.port import DeskPort
from gateway.config.station import StationConfig
from gateway.decisions import Decisions
from gateway.device_loops import DeviceLoops, Loops
from gateway.events import CommandReceived, Inbox, SignalRaised, Stop
from gateway.health import Heartbeats, SystemdNotifier
from gateway.health_report import HealthReport
from gateway.loudspeaker import Loudspeaker, silence_file_of
from gateway.publisher import MakeMessage, Publisher, capabilities
from gateway.sl651.reporter import Sl651Reporter
from gateway.uplink.mqtt import Uplink
from gateway.uplink.outbox import Outbox
from gateway.vision.suppressions import RecentCameraAlarms, SuppressionStore, false_alarm_action, suppressions_path
from wire.messages import Topics

if TYPE_CHECKING:
    from gateway.vision.camera_watch import CameraWatch

log = logging.getLogger(__name__)

CommandHandler = Callable[["Station", str, bytes], None]  # a stand-in for the command desk (tests)


def _no_loudspeaker(duration_s: float, emergencies: bool) -> None:
    raise DeviceUnavailable("loudspeaker", "this station has no loudspeaker")


class Station:
    """One village station: sensors, rules, outbox, uplink, loudspeaker, health."""

    def __init__(
        self,
        cfg: StationConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] | WallClock = time.time,
        notifier: SystemdNotifier | None = None,
        command_handler: CommandHandler | None = None,
        config_path: Path | None = None,
    ) -> None:
        """`config_path`: the station file, which config/set rewrites (None: config/set is refused).
        `command_handler`: answers commands instead of the command desk."""
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
        self.config_path = config_path
        self.exit_code: int | None = None  # set by request_exit: the process should end with it
        self.device_state: dict[str, str] = {}
        self._inbox: Inbox = queue.Queue()
        self._stop = threading.Event()
        self._run_stop: threading.Event | None = None
        self._loops = Loops(self._inbox, self._stop)
        self._camera_watches: list[CameraWatch] = []

        self.outbox = Outbox(cfg.outbox.path, cfg.outbox.max_bytes, clock=self.wall.now)
        # "false alarm here" from the county: per-camera regions where fire/smoke evidence is ignored
        fire_cameras = [c.id for c in cfg.cameras if c.fire_smoke is not None]
        self.suppressions = SuppressionStore(suppressions_path(cfg.outbox.path)) if fire_cameras else None
        self._recent_alarms = RecentCameraAlarms(self.outbox, fire_cameras)
        self.alarms = AlarmBook(store=self._recent_alarms)
        self.uplink = Uplink(
            cfg.broker,
            client_id=cfg.broker.client_id or f"vs-{ident.county}-{ident.town}-{ident.id}",
            status_topic=self.topics.status,
            command_filter=self.topics.commands,
            outbox=self.outbox,
            status=lambda online, reason: self.publisher.status_payload(online, reason),
            on_command=lambda topic, payload: self._inbox.put(CommandReceived(topic, payload)),
            beat=self.beats.beat,
        )
        self.publisher = Publisher(cfg, self.topics, self.outbox, self.uplink, self.wall, clock, self.boot_id, self.device_state,
                                   raise_alarm=lambda signal, now: self.decisions.apply(signal, now))
        self.loudspeaker = None if cfg.loudspeaker is None else Loudspeaker(
            cfg.loudspeaker, silence_file_of(cfg.outbox), self.publisher, self._inbox, clock, self.wall, self.beats.beat)
        self.announcer: Announcer | None = self.loudspeaker.announcer if self.loudspeaker is not None else None
        # SL 651 to the county's hydrology platform: its own links, independent of the broker
        self.sl651 = Sl651Reporter.from_station(cfg)
        self.decisions = Decisions(cfg, self.alarms, self.publisher, clock, self.wall, self.device_state,
                                   send_snapshot=self.uplink.send_snapshot, announce=self.announcer.submit if self.announcer else None,
                                   hydrology=self.sl651)
        self._devices = DeviceLoops(cfg.water_sensors, cfg.fire_inputs, self._inbox, self._stop, clock, self.beats.beat)
        self.commands = self._command_side(command_handler)
        health = HealthReport(cfg, self.publisher, self.uplink, self.beats, self.device_state, lambda: self._camera_watches,
                              self.decisions.apply, clock, self.started_mono,
                              hydrology=self.sl651.status if self.sl651 is not None else None,
                              suppressions=self.suppressions.counts if self.suppressions is not None else None, wall=self.wall.now)
        self._brain = Brain(self._inbox, clock, self.beats.beat, self.publisher, self.decisions, self.loudspeaker, self.commands,
                            health, cfg.health.interval_s)

    def _command_side(self, handler: CommandHandler | None) -> CommandSide:
        if handler is not None:
            return HandlerCommands(lambda topic, payload: handler(self, topic, payload))
        if not self.cfg.commands.keys:
            return RefuseCommands(self.publisher.notice)
        from gateway.commands.desk import CommandDesk

        return CommandDesk.build(self.desk_port(), clock=self._clock, wall=self.wall, config_path=self.config_path)

    def desk_port(self) -> DeskPort:
        """This station as the command desk sees it."""
        return DeskPort(
            cfg=self.cfg, topics=self.topics, boot_id=self.boot_id, announcer=self.announcer,
            publish=self.publisher.publish, notice=self.publisher.notice, acknowledge=self.decisions.acknowledge,
            silence=self.loudspeaker.silence if self.loudspeaker is not None else _no_loudspeaker,
            request_exit=self.request_exit, exit_requested=lambda: self.exit_code is not None,
            capabilities=self.capabilities, uptime_s=lambda: self._clock() - self.started_mono,
            link=lambda: self.uplink.stats, queue=self.outbox.stats, alarms_queued=self.outbox.has_alarms,
            open_alarms=self.alarms.open_alarms, stalled_loops=self.beats.stalled, devices=lambda: dict(self.device_state),
            **({} if self.suppressions is None else {"suppress_false_alarm": false_alarm_action(
                self.suppressions, lambda event_id: self.alarms.find(event_id) or self._recent_alarms.get(event_id), self.wall.now)}),
        )

    # ------------------------------------------------------------------ what others call

    def capabilities(self) -> list[str]:
        return capabilities(self.cfg)

    def publish(self, topic: str, klass: int, make: MakeMessage, event_id: str | None = None) -> int | None:
        """A message around a fresh envelope into the outbox (see `Publisher.publish`); its seq, or None."""
        return self.publisher.publish(topic, klass, make, event_id)

    def notice(self, notice: str, summary: str, severity: str = "warning", source: str = "", details: dict[str, Any] | None = None) -> None:
        """A one-off health event (an invalid config at start, ...)."""
        self.publisher.notice(notice, summary, severity, source, details)

    def emit(self, signal: AlarmSignal) -> None:
        """Entry point for loops that produce alarm signals themselves (cameras)."""
        self._inbox.put(SignalRaised(signal))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.publisher.report_outbox_at_start()
        self.decisions.restore()
        if self.suppressions is not None and self.suppressions.problem:
            self.notice("suppressions_unreadable", self.suppressions.problem, source=str(self.suppressions.path))
        self._loops.spawn("brain", self._brain.run)
        self._devices.start(self._loops)
        if self.cfg.cameras:  # the camera loops load the detection model: imported only when cameras are configured
            from gateway.vision.camera_watch import start_camera_watches

            self._camera_watches = start_camera_watches(self.cfg.cameras, self.emit, self.beats.beat, clock=self._clock, wall=self.wall.now,
                                                        suppressions=self.suppressions.for_camera if self.suppressions is not None else None)
        if self.loudspeaker is not None:
            self.loudspeaker.start()
        self.uplink.start()
        if self.sl651 is not None:
            self.sl651.start()
        self.notifier.ready()

    def stop(self) -> None:
        """Stop every loop, say goodbye on the status topic, close the outbox."""
        self.notifier.stopping()
        if self.loudspeaker is not None:  # first, so its last reports (pre-empted: gateway stopping) reach the brain
            self.loudspeaker.stop()
        self._stop.set()
        self._inbox.put(Stop())
        for watch in self._camera_watches:
            watch.stop()
        self._loops.join(5)
        self.uplink.stop()
        if self.sl651 is not None:
            self.sl651.stop()
        self.commands.close()
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
