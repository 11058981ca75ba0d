"""What the county web view shows, as plain state fed message by message (pure: time is passed in).

The board keeps every station under the served prefix (presence, name, last seen), every alarm
that is open or ended within the recent window (its whole lifecycle: raised, acked by whom,
cleared), and the commands this server sent with the replies that came back. Each record
carries a revision number that grows with every change, so a browser that receives a record
twice (once in the first full load, once as a live change) keeps the newer one.

`handle` returns what changed, as (kind, key) pairs, and the web layer pushes those records to
the browsers whose operator may see them. An old redelivered step never rolls an alarm back:
per alarm only a higher `seq` moves its state; acked and cleared times, once known, stay.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from county.times import epoch
from county.topics import normalise_prefix, parse_topic
from county.web.cards import AlarmCard, CommandCard, NoticeCard, ReplyLine, alarm_key, body_of, snapshot_number
from wire.messages import PROTOCOL

RECENT_S = 24 * 3600.0
MAX_ENDED_ALARMS = 2000
MAX_ENDED_VIEW = 200  # a page is sent the open alarms and this many of the newest ended ones (it shows no more)
MAX_COMMANDS = 500
MAX_NOTICES = 1000  # recent one-off health events kept for the pages (the database keeps them all)
MAX_NOTICES_VIEW = 100
HEALTH_FIELDS = ("queue_depth", "dropped_total", "disk_free_bytes", "cpu_temp_c", "uptime_s", "devices", "camera_fps")
LAST_SEEN_STEP_S = 30.0  # a station's "last seen" alone is pushed to browsers at most this often

Change = tuple[str, str]  # ("station" | "alarm" | "command" | "notice", key)


@dataclass
class StationCard:
    station: str
    county: str
    town: str
    village: str
    name: str = ""
    online: bool | None = None  # None: no status seen yet
    reason: str = ""
    last_seen: float | None = None
    capabilities: list[str] = field(default_factory=list)
    town_name: str = ""  # the birth message's display names and coordinates (issue 19: the map)
    village_name: str = ""
    lat: float | None = None
    lon: float | None = None
    health: dict[str, Any] = field(default_factory=dict)  # the latest health message's facts, and when it came
    rev: int = 0
    _pushed_seen: float | None = None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_pushed_seen"}


class Board:
    """Stations, alarms and commands under one prefix."""

    def __init__(self, prefix: str = PROTOCOL) -> None:
        self.prefix = normalise_prefix(prefix)
        self.stations: dict[str, StationCard] = {}
        self.alarms: dict[str, AlarmCard] = {}  # by `alarm_key(station, event_id)`; insertion order is arrival order
        self.commands: dict[str, CommandCard] = {}
        self.notices: dict[str, NoticeCard] = {}  # insertion order is arrival order
        self.malformed = 0
        self._rev = 0

    def _bump(self) -> int:
        self._rev += 1
        return self._rev

    def _station(self, station: str) -> StationCard:
        card = self.stations.get(station)
        if card is None:
            county, town, village, _ = (station.split("/") + ["", "", "", ""])[:4]
            card = self.stations[station] = StationCard(station, county, town, village)
        return card

    def under_prefix(self, station: str) -> bool:
        return (f"{PROTOCOL}/{station}/").startswith(self.prefix + "/")

    # ------------------------------------------------------------------ live messages

    def handle(self, topic: str, payload: bytes, retained: bool, now: float) -> list[Change]:
        """Apply one message; the records that changed."""
        parts = parse_topic(topic)
        if parts is None or not self.under_prefix(parts.station) or parts.channel == "snapshot":
            return []
        try:
            doc = json.loads(payload)
            kind = doc["kind"]
            if doc.get("station") != parts.station:
                raise ValueError("station does not match the topic")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.malformed += 1
            return []
        changes: list[Change] = []
        card = self._station(parts.station)
        seen = epoch(doc.get("ts")) if retained else now
        station_changed = card.rev == 0
        if seen is not None and (card.last_seen is None or seen > card.last_seen):
            card.last_seen = seen
            if card._pushed_seen is None or seen - card._pushed_seen >= LAST_SEEN_STEP_S:
                station_changed = True
        try:
            if kind == "status":
                before = (card.online, card.reason, card.name, card.capabilities)
                card.online, card.reason = bool(doc["online"]), str(doc.get("reason", ""))
                card.name = str(doc.get("name") or card.name)
                card.capabilities = [str(c) for c in doc.get("capabilities") or card.capabilities]
                place = (card.town_name, card.village_name, card.lat, card.lon)
                card.town_name, card.village_name = str(doc.get("town_name") or ""), str(doc.get("village_name") or "")
                card.lat, card.lon = _coordinates(doc.get("lat"), doc.get("lon"))
                station_changed |= before != (card.online, card.reason, card.name, card.capabilities) or place != (
                    card.town_name, card.village_name, card.lat, card.lon)
            elif kind == "alarm":
                if self._alarm(doc):
                    changes.append(("alarm", alarm_key(parts.station, str(doc["event_id"]))))
            elif kind == "playback":
                key = self._playback(doc)
                if key:
                    changes.append(("alarm", key))
            elif kind == "reply":
                if self._reply(doc, now):
                    changes.append(("command", str(doc["command_id"])))
            elif kind == "notice":
                key = self._notice(doc)
                if key:
                    changes.append(("notice", key))
            elif kind == "health":
                card.health = {**{k: doc.get(k) for k in HEALTH_FIELDS}, "at": epoch(doc.get("ts"))}
                station_changed = True
        except (KeyError, TypeError, ValueError):
            self.malformed += 1
        if station_changed:
            card.rev = self._bump()
            card._pushed_seen = card.last_seen
            changes.insert(0, ("station", card.station))
        return changes

    def _alarm(self, doc: dict[str, Any]) -> bool:
        event_id, seq, state = str(doc["event_id"]), int(doc["seq"]), str(doc["state"])
        key = alarm_key(str(doc["station"]), event_id)
        card = self.alarms.get(key)
        snapshot = doc.get("snapshot") or {}
        if card is None:
            card = self.alarms[key] = AlarmCard(
                event_id, str(doc["station"]), str(doc["alarm"]), str(doc["severity"]), state, str(doc.get("category", "")),
                str(doc.get("source", "")), str(doc.get("summary", "")), epoch(doc.get("raised_at")))
        elif seq <= card.last_seq and not _fills_in(card, state):
            return False  # a redelivery of an older step
        if seq > card.last_seq:
            if state == "updated":
                card.updates, card.updated_at = card.updates + 1, epoch(doc.get("ts"))
            card.last_seq, card.state, card.severity = seq, state, str(doc["severity"])
            card.summary = str(doc.get("summary", card.summary))
            card.details = dict(doc.get("details") or {})
        if state == "acked" and card.acked_at is None:
            card.acked_at, card.acked_by = epoch(doc.get("ts")), doc.get("acked_by")
        if state == "cleared" and card.cleared_at is None:
            card.cleared_at = epoch(doc.get("ts"))
        card.acked_by = card.acked_by or doc.get("acked_by")
        n = snapshot_number(event_id, str(snapshot.get("topic", ""))) or (1 if snapshot.get("sha256") else 0)  # unnamed: the first
        if n == 1:
            card.snapshot_sha256 = card.snapshot_sha256 or snapshot.get("sha256")
        if n:
            card.add_snapshot(n, snapshot.get("sha256"))
        card.rev = self._bump()
        return True

    def _playback(self, doc: dict[str, Any]) -> str | None:
        """A loudspeaker report played for one of the board's alarms (`ref` is its event id): counted once per seq."""
        card = self.alarms.get(alarm_key(str(doc["station"]), str(doc.get("ref", ""))))
        seq = int(doc["seq"])
        if card is None or seq in card._play_seqs:
            return None
        card._play_seqs = card._play_seqs | {seq}
        plays = int(doc.get("plays") or 0)
        if plays <= 0:
            return None  # expired, silenced, quiet hours: nothing was heard
        card.plays += plays
        card.played_at = max(card.played_at or 0.0, epoch(doc.get("ended")) or epoch(doc.get("ts")) or 0.0) or None
        card.rev = self._bump()
        return card.key

    def _notice(self, doc: dict[str, Any]) -> str | None:
        key = f"{doc['station']}#{int(doc['seq'])}"
        if key in self.notices:
            return None  # a redelivery
        self.notices[key] = NoticeCard(key, str(doc["station"]), str(doc["notice"]), str(doc["severity"]), str(doc.get("source", "")),
                                       str(doc.get("summary", "")), epoch(doc.get("ts")), int(doc["seq"]), self._bump())
        while len(self.notices) > MAX_NOTICES:
            del self.notices[next(iter(self.notices))]
        return key

    def _reply(self, doc: dict[str, Any], now: float) -> bool:
        card = self.commands.get(str(doc["command_id"]))
        if card is None or card.station != doc["station"]:
            return False  # a command of another tool (not ours to show), or a reply from a station it was not sent to
        card.replies.append(ReplyLine(str(doc["station"]), str(doc["outcome"]), bool(doc["ok"]), str(doc.get("reason", "")), now))
        card.rev = self._bump()
        return True

    # ------------------------------------------------------------------ what this server does

    def sent(self, command_id: str, batch: str, station: str, name: str, summary: str, operator: str, now: float, expires_at: float) -> Change:
        """Record a command this server published, so its replies are shown as they come (or their absence, after it expires)."""
        self.commands[command_id] = CommandCard(command_id, batch, station, name, summary, operator, now, expires_at, rev=self._bump())
        while len(self.commands) > MAX_COMMANDS:  # insertion order is sending order: the oldest goes first
            del self.commands[next(iter(self.commands))]
        return ("command", command_id)

    def prune(self, now: float) -> None:
        """Forget alarms that ended before the recent window (the database keeps them)."""
        ended = [a for a in self.alarms.values() if not a.open and (a.cleared_at or 0) < now - RECENT_S]
        for a in ended:
            del self.alarms[a.key]
        closed = sorted((a for a in self.alarms.values() if not a.open), key=lambda a: a.cleared_at or 0)
        for a in closed[: max(0, len(closed) - MAX_ENDED_ALARMS)]:
            del self.alarms[a.key]

    # ------------------------------------------------------------------ starting from the database

    def seed_stations(self, rows: Iterable[tuple[str, Any, str, str, Any, Any]]) -> None:
        """(station, online, reason, name, last_seen ts, capabilities JSON[, town_name, village_name, lat, lon]) from the
        ingest `stations` table."""
        for station, online, reason, name, ts, caps, *place in rows:
            if not self.under_prefix(station):
                continue
            card = self._station(station)
            card.online, card.reason, card.name, card.last_seen = bool(online), reason, name, epoch(ts)
            card.capabilities = list(caps if isinstance(caps, list) else json.loads(caps or "[]"))
            if len(place) == 4:
                card.town_name, card.village_name = place[0] or "", place[1] or ""
                card.lat, card.lon = _coordinates(place[2], place[3])
            card.rev = self._bump()

    def seed_alarms(self, rows: Iterable[tuple[Any, ...]]) -> list[Change]:
        """Rows of `web.data.alarm_rows` newer than what the board has; live messages win after.

        Each row: the ingest `alarms` columns, the first snapshot's sha256, the latest step's body (its details and newest
        snapshot), and the updates and loudspeaker plays counted in the events (count, latest time each); a row of the
        `alarms` columns and the sha256 alone is taken as one with nothing more to tell.
        """
        changes: list[Change] = []
        for row in rows:
            (event_id, station, alarm, source, category, severity, state, summary, raised_at, acked_by, acked_at, cleared_at,
             last_seq, snapshot_sha256, last_body, updates, updated_at, plays, played_at) = (*row, None, 0, None, 0, None)[:19]
            key = alarm_key(station, event_id)
            if not self.under_prefix(station):
                continue
            if key in self.alarms and self.alarms[key].last_seq >= last_seq:
                if self._catch_up(self.alarms[key], int(updates or 0), epoch(updated_at), int(plays or 0), epoch(played_at)):
                    changes.append(("alarm", key))  # counted by the ingest while this server was away from the broker
                continue
            self._station(station)
            body = body_of(last_body)
            card = self.alarms[key] = AlarmCard(
                event_id, station, alarm, severity, state, category, source, summary, epoch(raised_at), acked_by, epoch(acked_at),
                epoch(cleared_at), snapshot_sha256, dict(body.get("details") or {}), int(last_seq), self._bump(), int(updates or 0),
                epoch(updated_at), plays=int(plays or 0), played_at=epoch(played_at))
            if snapshot_sha256:
                card.add_snapshot(1, snapshot_sha256)
            latest = body.get("snapshot") or {}
            n = snapshot_number(event_id, str(latest.get("topic", ""))) if isinstance(latest, dict) else 0
            if n:
                card.add_snapshot(n, latest.get("sha256"))
            changes.append(("alarm", key))
        return changes

    def _catch_up(self, card: AlarmCard, updates: int, updated_at: float | None, plays: int, played_at: float | None) -> bool:
        """The stored counts where they are ahead of the card's (never backwards); whether anything changed."""
        if updates <= card.updates and plays <= card.plays:
            return False
        if updates > card.updates:
            card.updates, card.updated_at = updates, max(card.updated_at or 0.0, updated_at or 0.0) or None
        if plays > card.plays:
            card.plays, card.played_at = plays, max(card.played_at or 0.0, played_at or 0.0) or None
        card.rev = self._bump()
        return True

    def find_alarm(self, event_id: str, sees: Any, station: str = "") -> AlarmCard | None:
        """The alarm `event_id` of `station` if the operator sees it; without a station, the first one seen with that id.

        Event ids are the stations' own: another station reusing one gets its own record, never this one.
        """
        if station:
            card = self.alarms.get(alarm_key(station, event_id))
            return card if card is not None and sees(card.station) else None
        return next((a for a in self.alarms.values() if a.event_id == event_id and sees(a.station)), None)

    # ------------------------------------------------------------------ reading, per operator

    def view(self, sees: Any) -> dict[str, Any]:
        """Everything an operator may see (`sees(station) -> bool`), as JSON-ready records, and the revision they are at.

        Shallow copies only: it runs under the lock that paho's thread needs for every message.
        """
        return {
            "rev": self._rev,
            "stations": [c.public() for c in sorted(self.stations.values(), key=lambda c: c.station) if sees(c.station)],
            "alarms": self._alarms_view(sees),
            "commands": [c.public() for c in sorted(self.commands.values(), key=lambda c: -c.issued_at) if sees(c.station)],
            "notices": list(islice((n.public() for n in reversed(self.notices.values()) if sees(n.station)), MAX_NOTICES_VIEW)),
        }

    def _alarms_view(self, sees: Any) -> list[dict[str, Any]]:
        mine = [a for a in self.alarms.values() if sees(a.station)]
        ended = sorted((a for a in mine if not a.open), key=lambda a: a.cleared_at or 0, reverse=True)[:MAX_ENDED_VIEW]
        return [a.public() for a in mine if a.open] + [a.public() for a in ended]

    def record(self, change: Change) -> tuple[str, dict[str, Any]] | None:
        """(station path, JSON record) of one change, for the browsers allowed to see that station."""
        kind, key = change
        card = {"station": self.stations, "alarm": self.alarms, "command": self.commands, "notice": self.notices}[kind].get(key)
        if card is None:
            return None
        return card.station, card.public()


def _coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    """A station's (lat, lon) when both are finite numbers on the globe, else (None, None): the map never gets half a place."""
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (lat, lon))
    return (float(lat), float(lon)) if ok and -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)


def _fills_in(card: AlarmCard, state: str) -> bool:
    """An older step that still tells something new (the acked step arriving after cleared)."""
    return (state == "acked" and card.acked_at is None) or (state == "cleared" and card.cleared_at is None)

