"""A county-side subscriber that turns the wire into a readable live feed and checks it.

It validates every payload against the wire models, follows each station's `seq` to spot gaps
and duplicates, and keeps alarm lifecycles, so the demo (and a technician) can see at a glance
that nothing was lost.
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

    def __init__(self, on_line: Callable[[FeedLine], None] | None = None) -> None:
        self.on_line = on_line or (lambda line: None)
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
            line = FeedLine(time.time(), station, topic_kind, "snapshot", None, f"snapshot {len(payload)} bytes for {parts[-1]}", "magenta")
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
            line = self._describe(station, topic_kind, doc, retained, fresh)
        self.on_line(line)
        return line

    def _describe(self, station: str, topic_kind: str, d: dict, retained: bool, fresh: bool) -> FeedLine:
        kind = d["kind"]
        seq = d.get("seq")
        dup = "" if fresh else " (redelivery)"
        if kind == "status":
            self.status[station] = d["online"]
            state = "ONLINE" if d["online"] else f"OFFLINE ({d.get('reason') or 'no reason'})"
            text = f"{state} v{d['version']} config {d['config_hash']} caps {','.join(d['capabilities'])}" + (" [retained]" if retained else "")
            return FeedLine(time.time(), station, topic_kind, kind, seq, text, "bold green" if d["online"] else "bold red")
        if kind == "alarm":
            self.alarm_states[d["state"]] += 1
            text = f"ALARM {d['state'].upper()} {d['alarm']} [{d['severity']}] {d['source']}: {d['summary']}{dup}"
            style = {"raised": "bold red", "updated": "yellow", "cleared": "green", "acked": "cyan"}[d["state"]]
            return FeedLine(time.time(), station, topic_kind, kind, seq, text, style)
        if kind == "telemetry":
            values = ", ".join(f"{k}={v}" for k, v in d["values"].items())
            return FeedLine(time.time(), station, topic_kind, kind, seq, f"telemetry {d['sensor']}: {values}{dup}", "dim")
        if kind == "health":
            text = (f"health: up {d['uptime_s']:.0f}s, queue {d['queue_depth']}, dropped {d['dropped_total']}, "
                    f"rss {(d.get('rss_bytes') or 0) // 2**20} MiB, devices {d['devices']}{dup}")
            return FeedLine(time.time(), station, topic_kind, kind, seq, text, "blue")
        if kind == "playback":
            self.playbacks[d["outcome"]] += 1
            return FeedLine(time.time(), station, topic_kind, kind, seq,
                            f"LOUDSPEAKER {d['outcome']} x{d['plays']} [{d['priority']}]: {d['what']}{dup}", "bold magenta")
        if kind == "notice":
            return FeedLine(time.time(), station, topic_kind, kind, seq, f"NOTICE {d['notice']} [{d['severity']}]: {d['summary']}{dup}", "yellow")
        if kind == "reply":
            return FeedLine(time.time(), station, topic_kind, kind, seq, f"REPLY {d['command']} {d['outcome']}: {d['reason']}{dup}", "cyan")
        return FeedLine(time.time(), station, topic_kind, kind, seq, json.dumps(d, ensure_ascii=False)[:200])


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
