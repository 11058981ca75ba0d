"""Wire models of every MQTT message and the topic names.

These pydantic models are the contract with the county: their JSON Schemas are exported
(`countyctl contract`), never written by hand. Every message carries the envelope: `station`,
`seq`, `event_id`, `ts`, `clock_synced`, `boot_id`.

Sequence numbers: every message that goes through the outbox takes the next `seq` of the
station (monotonic and gap-free across restarts; a gap means a message dropped on purpose and
reported). The retained status is state, not an event: its `seq` is the last sequence number
allocated when it was made, so the county can tell how far the station had got.

`event_id`: for alarms, the alarm's id, shared by its raised/updated/acked/cleared messages (so
the county can follow one alarm); for every other message, a unique id of that message. The
de-duplication key of a delivery is (`station`, `seq`).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PROTOCOL = "vs/v1"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1
MAX_DEPTH = 32  # nesting of free-form values (details, result); a station's facts are flat

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
SmallCount = Annotated[int, Field(ge=0, le=INT32_MAX)]  # stored in 32-bit columns by the county


def wire_value_problem(value: Any) -> str | None:
    """Why a decoded JSON value cannot travel, or None: a non-finite number (NaN, Infinity), an integer beyond 64 bits, or
    nesting deeper than MAX_DEPTH, anywhere in it (keys included). Iterative, so hostile nesting cannot exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                return "an integer beyond 64 bits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "a non-finite number (NaN or Infinity)"
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                return f"nesting deeper than {MAX_DEPTH} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


class Topics:
    """Topic names of one station: `vs/v1/{county}/{town}/{village}/{station}/...`."""

    def __init__(self, county: str, town: str, village: str, station: str) -> None:
        self.prefix = f"{PROTOCOL}/{county}/{town}/{village}/{station}"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def health(self) -> str:
        return f"{self.prefix}/health"

    def event(self, kind: str) -> str:
        return f"{self.prefix}/event/{kind}"

    def telemetry(self, sensor_id: str) -> str:
        return f"{self.prefix}/telemetry/{sensor_id}"

    def snapshot(self, event_id: str) -> str:
        return f"{self.prefix}/snapshot/{event_id}"

    @property
    def commands(self) -> str:
        """Subscription filter for every command to this station."""
        return f"{self.prefix}/cmd/#"

    def command(self, name: str) -> str:
        return f"{self.prefix}/cmd/{name}"

    def reply(self, command_id: str) -> str:
        return f"{self.prefix}/reply/{command_id}"


class WireModel(BaseModel):
    """Base of wire payloads: unknown fields are refused when parsing (contract drift shows).

    Numbers must be finite and integers fit in 64 bits, everywhere, free-form dicts included: a
    database cannot store anything else, and one such message must not stop a county's ingest.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _finite_and_64_bit(cls, data: Any) -> Any:
        if isinstance(data, dict):
            problem = wire_value_problem(data)
            if problem is not None:
                raise ValueError(f"the message holds {problem}")
        return data


class Envelope(WireModel):
    """Fields every message carries."""

    station: str = Field(description="Station path county/town/village/station.")
    seq: int = Field(ge=0, le=INT64_MAX, description="Per-station sequence number, monotonic across restarts.")
    event_id: str = Field(description="Alarm id for alarm messages; a unique message id otherwise.")
    ts: datetime = Field(description="Wall-clock time at the station when the message was made (UTC).")
    clock_synced: bool = Field(description="False when the station's clock was not trustworthy (no NTP yet): order by seq.")
    boot_id: str = Field(description="Id of the gateway run that made the message; changes at every start.")


def envelope_fields(station: str, seq: int, ts: float, clock_synced: bool, boot_id: str, event_id: str | None = None) -> dict[str, Any]:
    """The envelope of one message as keyword arguments for a wire model: the one builder for
    stations and simulated stations alike (`event_id`: the alarm's id, else a fresh unique id)."""
    return {
        "station": station,
        "seq": seq,
        "event_id": event_id or uuid.uuid4().hex,
        "ts": datetime.fromtimestamp(ts, tz=timezone.utc),
        "clock_synced": clock_synced,
        "boot_id": boot_id,
    }


class Status(Envelope):
    """Retained presence of a station: the birth message and the Will."""

    kind: Literal["status"] = Field(default="status", description="Message type.")
    online: bool = Field(description="True in the birth message, False in the Will and the clean goodbye.")
    version: str = Field(default="", description="Gateway software version.")
    config_hash: str = Field(default="", description="Short hash of the running config.")
    capabilities: list[str] = Field(default_factory=list, description="What the station can do (water_level, fire, camera, loudspeaker...).")
    name: str = Field(default="", description="Human name of the station.")
    town_name: str = Field(default="", description="Human name of its township (e.g. 小旗乡), shown where the county's directory has none.")
    village_name: str = Field(default="", description="Human name of its village (e.g. 竹洼村), shown where the county's directory has none.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude of the station in degrees (WGS 84), for the county's map; None when not set.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude of the station in degrees (WGS 84), for the county's map; None when not set.")
    reason: str = Field(default="", description="Why it went offline (Will: connection lost; goodbye: shutdown).")


class SnapshotRef(WireModel):
    """Where an alarm's JPEG evidence was published."""

    topic: str = Field(description="Snapshot topic.")
    bytes: int = Field(ge=0, le=INT32_MAX, description="Size of the JPEG.")
    sha256: str = Field(description="Hash of the JPEG, to match it to the alarm.")


class Alarm(Envelope):
    """One lifecycle step of an alarm, on `event/{kind}`."""

    kind: Literal["alarm"] = Field(default="alarm", description="Message type.")
    alarm: str = Field(description="Alarm kind (water_level, flash_flood, fire, smoke, person_in_water_zone, possible_submersion, sensor_stale, outbox_full...).")
    state: Literal["raised", "updated", "acked", "cleared"] = Field(description="Lifecycle step.")
    severity: Literal["info", "warning", "danger", "critical"] = Field(description="How serious it is now.")
    category: Literal["safety", "health"] = Field(description="safety: people or property at risk; health: the station itself.")
    source: str = Field(description="Device, camera or zone the alarm is about.")
    summary: str = Field(default="", description="One human sentence.")
    details: dict[str, Any] = Field(default_factory=dict, description="Facts of the alarm (level, count, track ids, dwell time...); finite numbers, integers within 64 bits.")
    raised_at: datetime = Field(description="When the alarm was raised.")
    acked_by: str | None = Field(default=None, description="Operator who acknowledged it.")
    snapshot: SnapshotRef | None = Field(default=None, description="JPEG evidence, when there is one.")


class Notice(Envelope):
    """A one-off health event, on `event/{kind}`: a rejected command, dropped telemetry, a bad config, a recovered database."""

    kind: Literal["notice"] = Field(default="notice", description="Message type.")
    notice: str = Field(description="What happened (command_rejected, outbox_full, outbox_corrupt, config_invalid, device_error...).")
    severity: Literal["info", "warning", "danger", "critical"] = Field(description="How serious it is.")
    category: Literal["safety", "health"] = Field(default="health", description="Always health for now.")
    source: str = Field(default="", description="Device, command or file it is about.")
    summary: str = Field(description="One human sentence.")
    details: dict[str, Any] = Field(default_factory=dict, description="Facts (counts, seq ranges, problems); finite numbers, integers within 64 bits.")


class Playback(Envelope):
    """What the loudspeaker did with one request, on `event/loudspeaker`."""

    kind: Literal["playback"] = Field(default="playback", description="Message type.")
    key: str = Field(description="Alarm kind or command that asked for it.")
    ref: str = Field(default="", description="Alarm event_id or command id it was played for.")
    what: str = Field(description="Text spoken, or clip:NAME.")
    priority: Literal["emergency", "warning", "announcement"] = Field(description="Queue priority.")
    outcome: Literal["completed", "pre-empted", "expired", "cooldown", "quiet_hours", "silenced", "failed"] = Field(description="How it ended.")
    plays: int = Field(ge=0, le=INT32_MAX, description="Complete plays done.")
    started: datetime | None = Field(default=None, description="When the first play started.")
    ended: datetime | None = Field(default=None, description="When it ended.")
    error: str = Field(default="", description="Why it failed.")


class Telemetry(Envelope):
    """A periodic reading of one sensor, on `telemetry/{sensor_id}`."""

    kind: Literal["telemetry"] = Field(default="telemetry", description="Message type.")
    sensor: str = Field(description="Sensor id.")
    values: dict[str, float | Int64 | bool | None] = Field(description="Readings, units in the key names (level_m, distance_mm); finite numbers, integers within 64 bits.")
    samples: int = Field(default=1, ge=0, le=INT32_MAX, description="Readings summarised in this message.")


class Health(Envelope):
    """Periodic health of the station, on `health`."""

    kind: Literal["health"] = Field(default="health", description="Message type.")
    uptime_s: float = Field(description="Seconds since the gateway started.")
    cpu_temp_c: float | None = Field(default=None, description="SoC temperature.")
    throttled: str | None = Field(default=None, description="Raspberry Pi throttling flags (vcgencmd get_throttled), when available.")
    load_1m: float | None = Field(default=None, description="1-minute load average.")
    disk_free_bytes: Count | None = Field(default=None, description="Free space where the outbox lives.")
    rss_bytes: Count | None = Field(default=None, description="Resident memory of the gateway process.")
    queue_depth: SmallCount = Field(description="Messages waiting in the outbox.")
    queue_bytes: Count = Field(description="Payload bytes waiting in the outbox.")
    dropped_total: Count = Field(description="Telemetry messages dropped because the outbox was full, since the database was made.")
    loops: dict[str, float] = Field(default_factory=dict, description="Seconds since each loop last beat.")
    devices: dict[str, str] = Field(default_factory=dict, description="State of each device: ok, offline, error text.")
    camera_fps: dict[str, float] = Field(default_factory=dict, description="Frames per second of each camera.")


class Reply(Envelope):
    """The result of a command, on `reply/{command_id}`."""

    kind: Literal["reply"] = Field(default="reply", description="Message type.")
    command_id: str = Field(description="Id of the command answered.")
    command: str = Field(description="Command name.")
    ok: bool = Field(description="Whether it was carried out.")
    outcome: str = Field(description="What happened (done, rejected, played, pre-empted, expired...).")
    reason: str = Field(default="", description="Why, when it was rejected or failed.")
    result: dict[str, Any] = Field(default_factory=dict, description="Data returned by the command; finite numbers, integers within 64 bits.")


WIRE_MODELS: dict[str, type[Envelope]] = {
    "status": Status,
    "alarm": Alarm,
    "telemetry": Telemetry,
    "health": Health,
    "reply": Reply,
    "notice": Notice,
    "playback": Playback,
}


def to_payload(message: BaseModel) -> bytes:
    """Compact JSON with UTF-8 text kept readable (Chinese summaries stay legible)."""
    return message.model_dump_json(exclude_none=False).encode("utf-8")
