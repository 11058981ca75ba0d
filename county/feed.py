"""A county-side subscriber that turns the wire into a readable live feed and checks it.

It validates every payload against the wire models, follows each station's `seq` to spot gaps
and duplicates, and keeps alarm lifecycles, so the demo (and a technician) can see at a glance
that nothing was lost. The lines are Chinese unless the collector is given `lang="en"`; kinds,
severities and alarm sentences come from `county.wording`, numbers, ids and paths stay as sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from county import wording as w
from county.i18n import COLON, pick
from wire.messages import PROTOCOL, WIRE_MODELS


@dataclass
class FeedLine:
    """One received message, ready to print."""

    received: float
    station: str
    topic_kind: str
    kind: str
    seq: int | None
    text: str
    style: str = ""


@dataclass
class SeqTracker:
    """Which seqs of one station were seen: gaps and duplicates."""

    seen: set[int] = field(default_factory=set)
    duplicates: int = 0

    def add(self, seq: int) -> bool:
        if seq in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(seq)
        return True

    def gaps(self) -> list[int]:
        if not self.seen:
            return []
        lo, hi = min(self.seen), max(self.seen)
        return [s for s in range(lo, hi + 1) if s not in self.seen]


class FeedCollector:
    """Parses messages of any station under a prefix; keeps counts, seqs and alarm states."""

    def __init__(self, on_line: Callable[[FeedLine], None] | None = None, lang: str = "zh") -> None:
        """`lang`: the language of the lines' text ("zh" or "en"); what is counted does not depend on it."""
        self.on_line = on_line or (lambda line: None)
        self.lang = lang
        self.counts: Counter[str] = Counter()
        self.seqs: dict[str, SeqTracker] = defaultdict(SeqTracker)
        self.alarm_states: Counter[str] = Counter()
        self.playbacks: Counter[str] = Counter()
        self.malformed: list[str] = []
        self.status: dict[str, bool] = {}
        self.messages: list[dict] = []
        self.lock = threading.Lock()

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> FeedLine | None:
        parts = topic.split("/")
        if len(parts) < 7 or "/".join(parts[:2]) != PROTOCOL:
            return None
        station = "/".join(parts[2:6])
        topic_kind = parts[6]
        if topic_kind == "snapshot":
            with self.lock:
                self.counts["snapshot"] += 1
            line = FeedLine(time.time(), station, topic_kind, "snapshot", None, snapshot_line(self.lang, len(payload), parts[-1]), "magenta")
            self.on_line(line)
            return line
        if topic_kind in ("cmd", "selftest"):  # commands to stations; `stationctl check` round-trip probes
            return None
        try:
            doc = json.loads(payload)
            model = WIRE_MODELS[doc["kind"]]
            msg = model.model_validate(doc)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            with self.lock:
                self.malformed.append(f"{topic}: {exc}"[:300])
            return None
        with self.lock:
            self.counts[msg.kind] += 1
            self.messages.append(doc)
            fresh = True
            if msg.kind != "status":
                fresh = self.seqs[station].add(msg.seq)
            line = self._describe(station, topic_kind, msg.model_dump(), retained, fresh)  # defaults filled in
        self.on_line(line)
        return line

    def _describe(self, station: str, topic_kind: str, d: dict, retained: bool, fresh: bool) -> FeedLine:
        kind, seq, lang = d["kind"], d.get("seq"), self.lang
        line = _line(lang, kind, d, retained, fresh)
        if kind == "status":
            self.status[station] = d["online"]
            return FeedLine(time.time(), station, topic_kind, kind, seq, line, "bold green" if d["online"] else "bold red")
        if kind == "alarm":
            self.alarm_states[d["state"]] += 1
            style = {"raised": "bold red", "updated": "yellow", "cleared": "green", "acked": "cyan"}[d["state"]]
            return FeedLine(time.time(), station, topic_kind, kind, seq, line, style)
        if kind == "playback":
            self.playbacks[d["outcome"]] += 1
        style = {"telemetry": "dim", "health": "blue", "playback": "bold magenta", "notice": "yellow", "reply": "cyan"}.get(kind, "")
        return FeedLine(time.time(), station, topic_kind, kind, seq, line, style)


def _line(lang: str, kind: str, d: dict, retained: bool, fresh: bool) -> str:
    """The words of one valid message in `lang`; numbers, ids and the station's own texts as they came."""
    zh = lang != "en"
    colon = pick(lang, COLON)
    dup = "" if fresh else pick(lang, ("（重复投递）", " (redelivery)"))

    def head(key: str) -> str:
        return w.label(w.MESSAGES, key, lang) if zh else w.label(w.MESSAGES, key, lang).upper()

    if kind == "status":
        online = "online" if d["online"] else "offline"
        state = w.label(w.PRESENCE, online, lang) if zh else online.upper()
        if not d["online"]:
            reason = w.label(w.OFFLINE_REASONS, d.get("reason") or "", lang)
            state += f"（{reason}）" if zh else f" ({reason})"
        caps = ("、" if zh else ", ").join(w.label(w.CAPABILITIES, c, lang) for c in d["capabilities"])
        words = [f"v{d['version']}" if d["version"] else "", f"{pick(lang, ('配置', 'config'))} {d['config_hash']}" if d["config_hash"] else "",
                 f"{pick(lang, ('功能', 'caps'))} {caps}" if caps else "", pick(lang, ("[保留消息]", "[retained]")) if retained else ""]
        return " ".join([state, *(part for part in words if part)])
    if kind == "alarm":
        sentence = w.summary_text(d["alarm"], d["state"], d["source"], d["details"], d["summary"], lang)
        where = "" if not d["source"] or d["source"] in sentence else f"{d['source']}{colon}"
        step = w.label(w.ALARM_STATES, d["state"], lang)
        acked = (f"，确认人 {d['acked_by']}" if zh else f", acked by {d['acked_by']}") if d.get("acked_by") else ""
        heading = f"告警{step}" if zh else f"ALARM {step.upper()}"
        return f"{heading} {w.label(w.KINDS, d['alarm'], lang)} [{w.label(w.SEVERITIES, d['severity'], lang)}] {where}{sentence}{acked}{dup}"
    if kind == "telemetry":
        values = ", ".join(f"{k}={v}" for k, v in d["values"].items())
        return f"{w.label(w.MESSAGES, kind, lang)} {d['sensor']}{colon}{values}{dup}"
    if kind == "health":
        devices = ("、" if zh else ", ").join(f"{name} {w.label(w.DEVICE_STATES, str(state), lang)}" if zh else f"{name}={state}"
                                             for name, state in d["devices"].items())
        rss = (d.get("rss_bytes") or 0) // 2**20
        if zh:
            return f"健康：运行 {d['uptime_s']:.0f} 秒，队列 {d['queue_depth']}，丢弃 {d['dropped_total']}，内存 {rss} MiB，设备 {devices or '无'}{dup}"
        return f"health: up {d['uptime_s']:.0f}s, queue {d['queue_depth']}, dropped {d['dropped_total']}, rss {rss} MiB, devices {devices or 'none'}{dup}"
    if kind == "playback":
        outcome, priority = w.label(w.PLAYBACK_OUTCOMES, d["outcome"], lang), w.label(w.PRIORITIES, d["priority"], lang)
        return f"{head(kind)} {outcome} {'×' if zh else 'x'}{d['plays']} [{priority}]{colon}{d['what']}{dup}"
    if kind == "notice":
        sentence = w.summary_text(d["notice"], "", d["source"], d["details"], d["summary"], lang)
        severity = w.label(w.SEVERITIES, d["severity"], lang)
        what = w.label(w.KINDS, d["notice"], lang)
        if sentence.startswith(what):  # the sentence names the notice itself ("站点缓存已满：...")
            return f"{head(kind)} [{severity}] {sentence}{dup}"
        return f"{head(kind)} {what} [{severity}]{colon}{sentence}{dup}"
    if kind == "reply":
        reason = f"{colon}{d['reason']}" if d["reason"] else ""
        return f"{head(kind)} {w.label(w.COMMANDS, d['command'], lang)} {w.label(w.REPLY_OUTCOMES, d['outcome'], lang)}{reason}{dup}"
    return json.dumps(d, ensure_ascii=False, default=str)[:200]  # a kind this feed does not know yet (its times are datetimes)


def snapshot_line(lang: str, size: int, event_id: str) -> str:
    """A snapshot JPEG (not JSON): its size and the alarm it belongs to."""
    return f"快照 {size} 字节，告警 {event_id}" if lang != "en" else f"snapshot {size} bytes for {event_id}"


class FeedSubscriber:
    """Subscribes to a prefix on a broker and feeds a collector (paho's own network thread)."""

    def __init__(self, host: str, port: int, prefix: str, collector: FeedCollector, client_id: str = "", durable: bool = False) -> None:
        """`durable`: a persistent session (needs a client id), so the broker keeps messages for it while it is away."""
        self.collector = collector
        self.prefix = prefix.rstrip("/")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=not durable)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 2)
        self.connected = threading.Event()
        self._host, self._port = host, port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        client.subscribe(f"{self.prefix}/#", qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        self.collector.handle(message.topic, bytes(message.payload), bool(message.retain))

    def start(self) -> "FeedSubscriber":
        self.client.connect_async(self._host, self._port, keepalive=10)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
