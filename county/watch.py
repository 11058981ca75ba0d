"""`countyctl watch`: a live table of the stations under a county, township or village.

The state is a plain class fed messages (`FleetState.handle`) and read as rows (`rows`), so it
is tested without a broker or a terminal; the subscriber and the rich `Live` display are thin
shells around it. Presence comes from the retained status, alarms from their lifecycle
(raised/updated/acked open or change one, cleared closes it), queue depth and camera fps from
health. A redelivered old step never reopens an alarm: per alarm, only a higher `seq` counts.
The table's words are Chinese unless `lang="en"` (`countyctl watch --lang en`), from `county.wording`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from county.i18n import pick
from county.times import epoch
from county.topics import normalise_prefix, parse_topic, station_filter
from county.wording import ALARM_STATES, KINDS, OFFLINE_REASONS, PRESENCE, SEVERITIES, label
from wire.messages import PROTOCOL

SEVERITY_RANK = {"info": 0, "warning": 1, "danger": 2, "critical": 3}
SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "danger": "bold red", "critical": "bold white on red"}
CHANNELS = ("status", "event/+", "health", "telemetry/+", "reply/+")
COLUMNS: tuple[tuple[str, str, str], ...] = (("站点", "station", "left"), ("状态", "state", "left"), ("最后消息", "last seen", "right"),
                                             ("当前告警", "active alarms", "left"), ("队列", "queue", "right"), ("摄像头帧率", "camera fps", "left"))


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    event_id: str
    alarm: str
    severity: str
    state: str
    source: str
    summary: str


@dataclass
class StationView:
    """What the county knows of one station right now."""

    station: str
    online: bool | None = None  # None: no status seen yet
    reason: str = ""
    name: str = ""
    version: str = ""
    last_seen: float | None = None
    last_seq: int = -1
    alarms: dict[str, ActiveAlarm] = field(default_factory=dict)
    alarm_seq: dict[str, int] = field(default_factory=dict)
    queue_depth: int | None = None
    camera_fps: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table, as data (rendering is separate)."""

    station: str
    name: str
    online: bool | None
    reason: str
    last_seen_age_s: float | None
    alarms: tuple[ActiveAlarm, ...]
    queue_depth: int | None
    camera_fps: tuple[tuple[str, float], ...]

    @property
    def worst(self) -> int:
        return max((SEVERITY_RANK.get(a.severity, 0) for a in self.alarms), default=-1)


class FleetState:
    """Stations under one prefix, updated message by message (pure: time is passed in)."""

    def __init__(self, prefix: str = "vs/v1") -> None:
        self.prefix = normalise_prefix(prefix)
        self.stations: dict[str, StationView] = {}
        self.malformed = 0

    def handle(self, topic: str, payload: bytes, retained: bool, now: float) -> bool:
        """Apply one message; True when it changed what is shown."""
        parts = parse_topic(topic)
        if parts is None or not (topic + "/").startswith(self.prefix + "/"):
            return False
        if parts.channel not in ("status", "event", "health", "telemetry", "reply"):
            return False
        try:
            doc = json.loads(payload)
            kind = doc["kind"]
        except (ValueError, KeyError, TypeError):
            self.malformed += 1
            return False
        view = self.stations.setdefault(parts.station, StationView(parts.station))
        seen = epoch(doc.get("ts")) if retained else now
        if seen is not None:
            view.last_seen = max(view.last_seen or seen, seen)
        try:
            if kind == "status":
                view.online, view.reason = bool(doc["online"]), doc.get("reason", "")
                view.name, view.version = doc.get("name", view.name), doc.get("version", view.version)
            elif kind == "alarm":
                self._alarm(view, doc)
            elif kind == "health":
                view.queue_depth = int(doc["queue_depth"])
                view.camera_fps = {str(k): float(v) for k, v in (doc.get("camera_fps") or {}).items()}
            if kind != "status":
                view.last_seq = max(view.last_seq, int(doc["seq"]))
        except (KeyError, TypeError, ValueError):
            self.malformed += 1
        return True

    @staticmethod
    def _alarm(view: StationView, doc: dict[str, Any]) -> None:
        event_id, seq = str(doc["event_id"]), int(doc["seq"])
        if seq <= view.alarm_seq.get(event_id, -1):
            return  # a redelivery of an older step
        view.alarm_seq[event_id] = seq
        if doc["state"] == "cleared":
            view.alarms.pop(event_id, None)
            return
        view.alarms[event_id] = ActiveAlarm(event_id, doc["alarm"], doc["severity"], doc["state"], doc.get("source", ""), doc.get("summary", ""))

    def seed(self, stations: Sequence[tuple[str, bool, str, str, float | None]], alarms: Sequence[tuple[str, int, ActiveAlarm]],
             health: Sequence[tuple[str, int, dict[str, float]]] = ()) -> None:
        """Start from what the county database knows (alarms raised before this watch began); live messages win after."""
        for station, online, reason, name, last_seen in stations:
            if not (f"{PROTOCOL}/{station}/").startswith(self.prefix + "/"):
                continue
            view = self.stations.setdefault(station, StationView(station))
            view.online, view.reason, view.name, view.last_seen = online, reason, name, last_seen
        for station, seq, alarm in alarms:
            if not (f"{PROTOCOL}/{station}/").startswith(self.prefix + "/"):
                continue
            view = self.stations.setdefault(station, StationView(station))
            if seq > view.alarm_seq.get(alarm.event_id, -1):
                view.alarm_seq[alarm.event_id] = seq
                view.alarms[alarm.event_id] = alarm
        for station, depth, fps in health:
            if station in self.stations:
                self.stations[station].queue_depth, self.stations[station].camera_fps = depth, dict(fps)

    def rows(self, now: float) -> list[Row]:
        """Stations worst first: highest alarm severity, then offline, then by path."""
        out = [
            Row(
                station=v.station, name=v.name, online=v.online, reason=v.reason,
                last_seen_age_s=None if v.last_seen is None else max(0.0, now - v.last_seen),
                alarms=tuple(sorted(v.alarms.values(), key=lambda a: -SEVERITY_RANK.get(a.severity, 0))),
                queue_depth=v.queue_depth, camera_fps=tuple(sorted(v.camera_fps.items())),
            )
            for v in self.stations.values()
        ]
        return sorted(out, key=lambda r: (-r.worst, r.online is True, r.station))


def seed_from_store(state: FleetState, store: Any) -> None:
    """Seed a FleetState from an ingest database (county.store.Store): stations, open alarms, latest health."""
    stations = [(st, bool(online), reason, name, epoch(ts)) for st, online, reason, name, ts in
                store.query("SELECT station, online, reason, name, ts FROM stations")]
    alarms = [(st, int(seq), ActiveAlarm(eid, alarm, severity, astate, source, summary)) for eid, st, seq, alarm, severity, astate, source, summary in
              store.query("SELECT event_id, station, last_seq, alarm, severity, state, source, summary FROM alarms WHERE state <> 'cleared'")]
    health = [(st, int(depth), fps if isinstance(fps, dict) else json.loads(fps)) for st, depth, fps in store.query(
        "SELECT h.station, h.queue_depth, h.camera_fps FROM health h JOIN (SELECT station, MAX(seq) AS seq FROM health GROUP BY station) m"
        " ON h.station = m.station AND h.seq = m.seq")]
    state.seed(stations, alarms, health)


def _age(seconds: float | None, lang: str = "zh") -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return pick(lang, (f"{seconds:.0f} 秒前", f"{seconds:.0f} s ago"))
    if seconds < 5400:
        return pick(lang, (f"{seconds / 60:.0f} 分钟前", f"{seconds / 60:.0f} min ago"))
    return pick(lang, (f"{seconds / 3600:.1f} 小时前", f"{seconds / 3600:.1f} h ago"))


def _alarm(a: ActiveAlarm, lang: str) -> str:
    """"水位（危险）" / "water level (danger, acked)", coloured by severity."""
    words = [label(SEVERITIES, a.severity, lang)] + ([label(ALARM_STATES, "acked", lang)] if a.state == "acked" else [])
    said = f"{label(KINDS, a.alarm, lang)}（{'，'.join(words)}）" if lang == "zh" else f"{label(KINDS, a.alarm, lang)} ({', '.join(words)})"
    return f"[{SEVERITY_STYLE.get(a.severity, '')}]{escape(said)}[/]"


def render(rows: list[Row], title: str, lang: str = "zh") -> Table:
    """The rich table of rows, its words in `lang` ("zh" or "en")."""
    table = Table(title=title, header_style="bold", expand=False)
    for zh, en, justify in COLUMNS:
        table.add_column(pick(lang, (zh, en)), justify=justify)  # type: ignore[arg-type]
    for r in rows:
        if r.online:
            state = f"[green]{label(PRESENCE, 'online', lang)}[/]"
        elif r.online is None:
            state = "[dim]?[/]"
        else:
            state = f"[red]{label(PRESENCE, 'offline', lang)}[/] [dim]{escape(label(OFFLINE_REASONS, r.reason, lang))}[/]"
        alarms = ", ".join(_alarm(a, lang) for a in r.alarms) or f"[dim]{pick(lang, ('无', 'none'))}[/]"
        fps = ", ".join(f"{escape(cam)} {v:.1f}" for cam, v in r.camera_fps) or "-"
        name = escape(r.station) + (f" [dim]({escape(r.name)})[/]" if r.name else "")
        table.add_row(name, state, _age(r.last_seen_age_s, lang), alarms, "-" if r.queue_depth is None else str(r.queue_depth), fps)
    online, active = sum(1 for r in rows if r.online), sum(len(r.alarms) for r in rows)
    table.caption = pick(lang, (f"共 {len(rows)} 个站点，{online} 个在线，{active} 条当前告警", f"{len(rows)} stations, {online} online, {active} active alarms"))
    return table


class WatchSubscriber:
    """Feeds a FleetState from a broker on paho's own network thread; `lock` guards the state."""

    def __init__(self, host: str, port: int, state: FleetState, client_id: str = "", lang: str = "zh") -> None:
        self.state = state
        self.lang = lang
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 5)
        self._host, self._port = host, port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        client.subscribe([(station_filter(self.state.prefix, channel), 1) for channel in CHANNELS])
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        with self.lock:
            self.state.handle(message.topic, bytes(message.payload), bool(message.retain), time.time())

    def start(self) -> "WatchSubscriber":
        self.client.connect_async(self._host, self._port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def table(self) -> Table:
        with self.lock:
            rows = self.state.rows(time.time())
        title = pick(self.lang, ("站点实时状态", "stations")) + f" {self.state.prefix} @ {self._host}:{self._port}"
        return render(rows, title, self.lang)


def watch(prefix: str, host: str, port: int, once: bool, seconds: float, console: Console, db: str | None = None, lang: str = "zh") -> None:
    """Show the table: once (after `seconds` of listening) or live until Ctrl-C / `seconds`.

    With `db` (an ingest database), alarms raised before the watch started are shown too. `lang`: the table's words.
    """
    state = FleetState(prefix)
    if db is not None:
        from county.store import Store

        store = Store(db)
        try:
            seed_from_store(state, store)
        finally:
            store.close()
    sub = WatchSubscriber(host, port, state, lang=lang).start()
    try:
        if once:
            sub.connected.wait(min(5.0, seconds or 5.0))
            time.sleep(seconds or 1.0)
            console.print(sub.table())
            return
        deadline = time.monotonic() + seconds if seconds else float("inf")
        with Live(sub.table(), console=console, refresh_per_second=2, transient=False) as live:
            while time.monotonic() < deadline:
                time.sleep(0.5)
                live.update(sub.table())
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()
