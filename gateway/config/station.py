"""The station file: one YAML document validated by pydantic models.

The config is the single source of truth; its JSON Schema is exported (`stationctl schema`), not
hand-written. `load_config` reports every problem with its field path and YAML line, so a
technician can fix a file without reading Python tracebacks.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from foundation.errors import ConfigError
from foundation.mqtt_login import read_password
from foundation.redact import redact_doc
from gateway.config.base import ConfigModel
from gateway.config.devices import FireInputDriver, SpeakerDriver, WaterLevelDriver
from gateway.config.sl651 import Sl651Config
from gateway.config.vision import CameraConfig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

LEVEL_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
DEVICE_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class StationIdentity(ConfigModel):
    """Where the station sits in the administrative tree; the four levels of its MQTT topics."""

    county: str = Field(pattern=LEVEL_ID, description="County code or name, first topic level (e.g. 410421).")
    town: str = Field(pattern=LEVEL_ID, description="Township, second topic level (e.g. xiaoqi).")
    village: str = Field(pattern=LEVEL_ID, description="Village, third topic level (e.g. zhuwa).")
    id: str = Field(pattern=LEVEL_ID, description="Station id, fourth topic level (e.g. pond-01).")
    name: str = Field(default="", description="Human name of the station shown to operators.")
    town_name: str = Field(default="", max_length=100, description="Human name of the township (e.g. 小旗乡), sent in the birth message.")
    village_name: str = Field(default="", max_length=100, description="Human name of the village (e.g. 竹洼村), sent in the birth message.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude in degrees (WGS 84, as a phone's map shows it), for the county's map.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude in degrees (WGS 84), for the county's map; set both or neither.")

    @model_validator(mode="after")
    def _both_coordinates(self) -> "StationIdentity":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("station: give both lat and lon, or neither")
        return self

    @property
    def path(self) -> str:
        return f"{self.county}/{self.town}/{self.village}/{self.id}"


class TlsConfig(ConfigModel):
    """TLS towards the broker: a CA to trust and, for mutual TLS, the station's certificate."""

    ca_file: Path = Field(description="PEM file of the CA that signed the broker's certificate.")
    cert_file: Path | None = Field(default=None, description="Station certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(default=None, description="Station private key (PEM) for mutual TLS.")


class BrokerConfig(ConfigModel):
    """The MQTT broker of the county (or township) and how to reach it."""

    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive; the Will fires after 1.5 times this.")
    client_id: str | None = Field(default=None, description="MQTT client id (default: vs-{county}-{station}).")
    username: str | None = Field(default=None, description="MQTT user name.")
    password_file: Path | None = Field(default=None, description="File holding the MQTT password (never put it in this file).")
    password_env: str | None = Field(default=None, description="Environment variable holding the MQTT password.")
    tls: TlsConfig | None = Field(default=None, description="TLS settings; None for plain TCP.")
    backoff_initial_s: float = Field(default=1.0, gt=0, description="First reconnection delay.")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Cap of the reconnection delay.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Give up on a connection attempt after this long.")
    max_inflight: int = Field(default=100, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK at once.")

    @model_validator(mode="after")
    def _backoff(self) -> "BrokerConfig":
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be below backoff_initial_s")
        return self

    def password(self) -> str | None:
        """The password from its file or environment variable; never logged."""
        return read_password(self.password_file, self.password_env)


class OutboxConfig(ConfigModel):
    """The durable SQLite queue between events and the uplink."""

    path: Path = Field(default=Path("/var/lib/station-gateway/uplink/outbox.db"), description="SQLite database file.")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Size bound of queued payloads; beyond it the oldest telemetry is dropped."
    )


class ClockConfig(ConfigModel):
    """How the gateway decides whether its wall clock can be trusted (`clock_synced`)."""

    sync_check: Literal["kernel", "plausible"] = Field(
        default="kernel",
        description="kernel: trust the clock once the kernel says NTP synchronised it; plausible: trust any time after earliest_valid (stations with an RTC).",
    )
    earliest_valid: str = Field(
        default="2025-01-01T00:00:00Z", description="A wall clock earlier than this is never trusted (no RTC, no NTP yet)."
    )


class HealthConfig(ConfigModel):
    """Periodic health reports and the watchdog."""

    interval_s: float = Field(default=60.0, gt=0, description="Seconds between health messages.")
    loop_stall_s: float = Field(default=30.0, gt=0, description="A loop silent this long counts as stalled (no watchdog ping).")
    disk_low_bytes: int = Field(default=50 * 1024 * 1024, ge=0, description="Free space under which a disk_low alarm is raised.")


class WaterRules(ConfigModel):
    """Thresholds of one water-level sensor; all levels in metres above the datum."""

    warning_m: float = Field(description="Level at which a warning is raised.")
    danger_m: float = Field(description="Level at which the alarm becomes danger (flood).")
    hysteresis_m: float = Field(default=0.05, ge=0, description="A level must fall this far below a threshold to step down.")
    rise_rate_m_per_min: float | None = Field(
        default=None, gt=0, description="Rate of rise that raises a flash_flood alarm (None: off)."
    )
    rise_window_s: float = Field(default=120.0, gt=0, description="Window over which the rate of rise is measured.")

    @model_validator(mode="after")
    def _ordered(self) -> "WaterRules":
        if self.danger_m <= self.warning_m:
            raise ValueError("danger_m must be above warning_m")
        return self


class WaterSensorConfig(ConfigModel):
    """One water-level sensor: its driver, how often to read it, and its rules."""

    id: str = Field(pattern=DEVICE_ID, description="Sensor id, used in topics and events.")
    name: str = Field(default="", description="Human name (e.g. 'bridge gauge').")
    driver: WaterLevelDriver = Field(description="Which driver reads the sensor, chosen by `type`.")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Seconds between readings.")
    telemetry_interval_s: float = Field(default=60.0, gt=0, description="Seconds between telemetry messages.")
    stale_after_s: float = Field(default=120.0, gt=0, description="No good reading for this long raises sensor_stale.")
    rules: WaterRules = Field(description="Warning, danger and rate-of-rise thresholds.")


class FireInputConfig(ConfigModel):
    """One fire or smoke input: its driver and how it is debounced."""

    id: str = Field(pattern=DEVICE_ID, description="Input id, used in topics and events.")
    name: str = Field(default="", description="Human name (e.g. 'smoke detector, store room').")
    kind: Literal["fire", "smoke"] = Field(description="What the input detects; the alarm kind.")
    driver: FireInputDriver = Field(description="Which driver reads the input, chosen by `type`.")
    poll_interval_s: float = Field(default=0.2, gt=0, description="Seconds between reads of the input.")
    debounce_s: float = Field(default=2.0, ge=0, description="The input must stay active this long to raise the alarm.")
    min_clear_s: float = Field(default=30.0, ge=0, description="The input must stay inactive this long to clear the alarm.")


Priority = Literal["emergency", "warning", "announcement"]
Severity = Literal["info", "warning", "danger", "critical"]


class SpeakerAction(ConfigModel):
    """What the loudspeaker plays when an alarm of a kind is raised (or escalates)."""

    alarm: str = Field(description="Alarm kind that triggers it (e.g. water_level, fire, person_in_water_zone).")
    min_severity: Severity = Field(default="warning", description="Play only at or above this severity.")
    text: str | None = Field(default=None, max_length=500, description="Text spoken by the speech engine.")
    clip: str | None = Field(default=None, description="WAV clip to play instead of text.")
    priority: Priority = Field(default="warning", description="Queue priority: emergency pre-empts warning pre-empts announcement.")
    repeat: int = Field(default=1, ge=1, le=20, description="How many times to play it.")
    interval_s: float = Field(default=2.0, ge=0, description="Pause between repeats.")
    cooldown_s: float = Field(default=60.0, ge=0, description="Do not play this action again within this time.")
    expires_s: float = Field(default=120.0, gt=0, description="Drop it if it could not start within this time.")

    @model_validator(mode="after")
    def _one_source(self) -> "SpeakerAction":
        if (self.text is None) == (self.clip is None):
            raise ValueError("give exactly one of text or clip")
        return self


class QuietHours(ConfigModel):
    """Local hours during which only emergencies are played."""

    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="Start, HH:MM local time.")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="End, HH:MM local time (may be past midnight).")


class LoudspeakerConfig(ConfigModel):
    """The station's public-address loudspeaker and what it plays for which alarm."""

    driver: SpeakerDriver = Field(description="Which driver plays sound, chosen by `type`.")
    actions: list[SpeakerAction] = Field(default_factory=list, description="Alarm kinds and what to play for them.")
    quiet_hours: QuietHours | None = Field(default=None, description="Hours when only emergencies play.")


KEY_FILE_MAX_BYTES = 16384  # a PEM public key is about 113 bytes


class CountyKey(ConfigModel):
    """One county public key that may sign commands; give the key inline or as a file."""

    name: str = Field(min_length=1, max_length=64, description="Label of the key (e.g. county-2026), shown in replies and logs.")
    public_key: str | None = Field(default=None, description="Ed25519 public key: base64 of its 32 raw bytes, or PEM (countyctl keygen prints it).")
    public_key_file: Path | None = Field(default=None, description="File holding the public key, base64 or PEM.")

    @model_validator(mode="after")
    def _loadable(self) -> "CountyKey":
        if (self.public_key is None) == (self.public_key_file is None):
            raise ValueError("give exactly one of public_key or public_key_file")
        self.load()
        return self

    def load(self) -> "Ed25519PublicKey":
        """The Ed25519 public key; ValueError if it cannot be read."""
        from wire.signing import load_public_key

        if self.public_key is not None:
            return load_public_key(self.public_key)
        path = self.public_key_file
        assert path is not None
        try:
            if not path.is_file():  # a FIFO or /dev/zero would hang start-up: a key is a small regular file
                raise ValueError(f"{path} is not a regular file" if path.exists() else f"{path} does not exist")
            with path.open("rb") as f:
                data = f.read(KEY_FILE_MAX_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > KEY_FILE_MAX_BYTES:
            raise ValueError(f"{path} is larger than {KEY_FILE_MAX_BYTES} bytes: not a public key file")
        return load_public_key(data)


class CommandsConfig(ConfigModel):
    """Signed commands from the county: which keys are trusted and how strictly they are checked."""

    keys: list[CountyKey] = Field(
        default_factory=list,
        description="County public keys; a command signed by any of them is accepted (several during a rotation). None: every command is rejected.",
    )
    max_clock_skew_s: float = Field(default=60.0, ge=0, le=3600, description="Tolerated difference between the county's clock and the station's.")
    max_lifetime_s: float = Field(default=86400.0, gt=0, le=7 * 86400, description="Longest validity (expiry minus issue time) a command may ask for.")
    text_max_chars: int = Field(default=200, ge=1, le=2000, description="Longest text an announce command may ask the loudspeaker to speak.")
    config_rollback_s: float = Field(
        default=120.0, ge=5, le=3600, description="After a config/set, go back to the previous file unless the gateway is online again within this time."
    )
    rejections_per_minute: int = Field(
        default=30, ge=1, le=100000, description="Replies and notices for rejected commands beyond this rate are counted, not sent (a flood must not fill the outbox)."
    )


class StationConfig(ConfigModel):
    """A village station: identity, broker, outbox, sensors, cameras, loudspeaker and rules."""

    station: StationIdentity = Field(description="Identity and place in the administrative tree.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The county's MQTT broker.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outgoing queue.")
    clock: ClockConfig = Field(default_factory=ClockConfig, description="Wall-clock trust.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Health reports and watchdog.")
    water_sensors: list[WaterSensorConfig] = Field(default_factory=list, description="Water-level sensors.")
    fire_inputs: list[FireInputConfig] = Field(default_factory=list, description="Fire and smoke inputs.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras and their detection settings.")
    loudspeaker: LoudspeakerConfig | None = Field(default=None, description="Public-address loudspeaker (None: no PA).")
    commands: CommandsConfig = Field(default_factory=CommandsConfig, description="Signed commands from the county (none accepted until keys are installed).")
    sl651: Sl651Config | None = Field(None, description="SL 651-2014 reporting to the county's hydrology platform (None: off).")

    @model_validator(mode="after")
    def _unique_ids(self) -> "StationConfig":
        seen: set[str] = set()
        for device in [*self.water_sensors, *self.fire_inputs, *self.cameras]:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} is used twice")
            seen.add(device.id)
        return self

    def fingerprint(self) -> str:
        """A short hash of the validated config, sent in the birth message so the county sees drift.

        Taken over the config with camera logins masked (as config/get shows it): a hash that covered
        a password would let whoever reads the reply test guesses against it offline."""
        doc = redact_doc(self.model_dump(mode="json"))
        return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------- loading


def _line_index(node: yaml.Node, path: tuple[Any, ...] = (), seen: set[int] | None = None) -> dict[tuple[Any, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line.

    A node reached again through an alias is not walked again: nested aliases ("billion laughs")
    would otherwise make the walk exponential, and a few lines of YAML would hang the start-up.
    """
    seen = set() if seen is None else seen
    lines: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if id(node) in seen:
        return lines
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines.update(_line_index(value_node, (*path, key), seen))
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i), seen))
    return lines


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    """Turn a pydantic error location into a readable field path and the nearest YAML line.

    Pydantic puts union tags into locations (`driver.simulated.scenario`): a part that is not a
    key of the document is skipped, unless it is the last one (a missing field), which is named
    and placed at its parent's line.
    """
    path: tuple[Any, ...] = ()
    for i, part in enumerate(loc):
        if (*path, part) in lines:
            path = (*path, part)
        elif i == len(loc) - 1:
            return _dotted((*path, part)), lines.get(path)
    return _dotted(path) or "(top level)", lines.get(path)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_config(text: str, source: str = "<config>") -> StationConfig:
    """Validate a station document; raise ConfigError listing each problem with path and line."""
    try:
        return _parse_config(text, source)
    except RecursionError:  # thousands of nested brackets: PyYAML and the walks below recurse
        problem = f"{source}: not a station file: nested too deeply"
        raise ConfigError(problem, [problem]) from None


def _parse_config(text: str, source: str) -> StationConfig:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = f"{source}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        raise ConfigError(problem, [problem]) from exc
    except ValueError as exc:  # PyYAML's own conversions, e.g. an integer of thousands of digits
        problem = f"{source}: not valid YAML: {exc}"
        raise ConfigError(problem, [problem]) from exc
    if not isinstance(data, dict):
        problem = f"{source}: the station file must be a YAML mapping (station:, broker:, ...)"
        raise ConfigError(problem, [problem])
    lines = _line_index(node) if node is not None else {}
    try:
        return StationConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name, line = _locate(tuple(err["loc"]), lines)
            at = f" (line {line})" if line else ""
            problems.append(f"{name}{at}: {err['msg']}")
        raise ConfigError(f"{source}: {len(problems)} problem(s)\n  " + "\n  ".join(problems), problems) from None


def load_config(path: str | os.PathLike[str]) -> StationConfig:
    """Read and validate a station file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"{p}: cannot read the station file: {exc}"
        raise ConfigError(problem, [problem]) from exc
    return parse_config(text, str(p))


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the station file, generated from the models."""
    return StationConfig.model_json_schema()
