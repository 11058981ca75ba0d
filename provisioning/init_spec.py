"""Pure builders of a station document from `key=value` device specs (no prompts, no I/O).

A device on the command line is one string, e.g.
`id=gauge-1,type=ultrasonic,port=hwgrep://1a86:7523,mount_height_m=3.2,warning_m=1.8,danger_m=2.4`.
Keys are routed by the config models themselves: a key of the device goes to the device, a
rule threshold to `rules`, anything else to the `driver`; dotted keys nest
(`amplifier.pin=27`). Values read as YAML scalars (numbers, true/false), except names and paths.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import yaml

from gateway.config.station import FireInputConfig, LoudspeakerConfig, WaterRules, WaterSensorConfig
from gateway.config.vision import CameraConfig
from provisioning.errors import ProvisioningError

TEXT_KEYS = {"id", "name", "port", "path", "device", "record_dir", "cache_dir", "clip_dir", "text", "clip", "url", "host"}
KEY_AHEAD = re.compile(r"\s*[a-z_][a-z0-9_.]*\s*=")  # config keys are lower-case: DEV=0 in an ALSA name is not one

# What the loudspeaker says for each alarm kind unless the technician changes it (Mandarin, the
# language of the villages; the voice is espeak-ng's `cmn`).
DEFAULT_WARNINGS: dict[str, tuple[str, str, str]] = {
    # alarm kind: (text, min_severity, priority)
    # neutral words: a site template (`--site pond|river|forest`) gives the words of its kind of place
    "water_level": ("水位上涨，危险，请马上远离水边", "danger", "emergency"),
    "flash_flood": ("山洪预警，水位快速上涨，请立即撤离到高处", "warning", "emergency"),
    "fire": ("发现火情，请立即远离并报警", "warning", "emergency"),
    "smoke": ("发现烟雾，请立即检查并远离火源", "warning", "emergency"),
    "person_in_water_zone": ("水深危险，请马上离开水边", "warning", "emergency"),
    "possible_submersion": ("紧急情况，有人在水中消失，可能溺水，请立即救援并拨打110", "critical", "emergency"),
}


def scalar(key: str, text: str) -> Any:
    """A spec value as YAML reads it, except names and paths, which stay text (ALSA `null` is a device)."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "device" and text.isdigit():
        return int(text)  # a V4L2 device index
    if leaf in TEXT_KEYS:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, str)) or value is None else text


def split_spec(spec: str) -> list[str]:
    """Split at commas that start a new `key=`; commas inside values (plughw:1,0) and quotes are kept."""
    parts, current, quote = [], "", ""
    for i, ch in enumerate(spec):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and current.endswith("="):
            quote = ch
        elif ch == "," and KEY_AHEAD.match(spec, i + 1):
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_spec(spec: str, what: str) -> dict[str, Any]:
    """`a=1,b.c=x` as `{"a": 1, "b": {"c": "x"}}`; a value may be quoted ('plughw:CARD=X,DEV=0')."""
    out: dict[str, Any] = {}
    for part in split_spec(spec.strip()):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProvisioningError(
                f"{what} {spec!r}: {part!r} is not key=value",
                f"write the {what} as comma-separated key=value pairs, e.g. id=gauge-1,type=simulated,level_m=0.5,warning_m=1,danger_m=2",
                exit_code=2,
            )
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        raw = value.strip()
        node[leaf] = _unquote(raw) if _unquote(raw) != raw else scalar(key, raw)
    return out


def driver_models(model: type, field: str = "driver") -> dict[str, type]:
    """The driver models a config section accepts, keyed by their `type` literal."""
    annotation = model.model_fields[field].annotation
    members = typing.get_args(annotation) or (annotation,)
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in members}


def _route(flat: dict[str, Any], own: set[str], groups: dict[str, set[str]]) -> dict[str, Any]:
    """Split a flat spec into the device's own keys, its driver and named sub-sections (in that order)."""
    doc: dict[str, Any] = {}
    driver: dict[str, Any] = dict(flat.get("driver") or {})
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key == "driver":
            continue
        if key in own:
            doc[key] = value
            continue
        for group, keys in groups.items():
            if key in keys:
                grouped.setdefault(group, {})[key] = value
                break
        else:
            driver[key] = value
    doc["driver"] = driver
    doc.update(grouped)
    return doc


def water_sensor(flat: dict[str, Any]) -> dict[str, Any]:
    """A water_sensors entry; a simulated gauge gets a steady scenario at `level_m` (default 0.5)."""
    own = set(WaterSensorConfig.model_fields) - {"driver", "rules"}
    doc = _route(flat, own, {"rules": set(WaterRules.model_fields)})
    driver = doc["driver"]
    driver.setdefault("type", "simulated")
    if driver["type"] == "simulated" and "scenario" not in driver:
        driver["scenario"] = [{"at_s": 0, "level_m": driver.pop("level_m", 0.5)}]
    return doc


def fire_input(flat: dict[str, Any]) -> dict[str, Any]:
    """A fire_inputs entry; `kind` defaults to smoke, the driver type to simulated."""
    doc = _route({**flat, "kind": flat.get("kind", "smoke")}, set(FireInputConfig.model_fields) - {"driver"}, {})
    doc["driver"].setdefault("type", "simulated")
    return doc


def camera(flat: dict[str, Any]) -> dict[str, Any]:
    """A cameras entry; the camera's own keys (id, name, ...) stay, the rest is its driver."""
    return _route(flat, set(CameraConfig.model_fields) - {"driver"}, {})


def loudspeaker(flat: dict[str, Any], alarm_kinds: list[str], site_words: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A loudspeaker section with warnings for the alarm kinds this station can raise: the site
    template's words (`site_words`) first, the standard ones for any kind it does not cover."""
    doc = _route(flat, set(LoudspeakerConfig.model_fields) - {"driver"}, {})
    doc["driver"].setdefault("type", "simulated")
    if "actions" not in doc:
        site = [a for a in site_words or [] if a["alarm"] in alarm_kinds]
        covered = {a["alarm"] for a in site}
        doc["actions"] = site + [
            {"alarm": kind, "min_severity": sev, "text": text, "priority": prio, "repeat": 2}
            for kind, (text, sev, prio) in DEFAULT_WARNINGS.items()
            if kind in alarm_kinds and kind not in covered
        ]
    return doc


def alarm_kinds(water: list[dict[str, Any]], fire: list[dict[str, Any]], cameras: list[dict[str, Any]]) -> list[str]:
    """The alarm kinds the configured devices can raise (what the loudspeaker needs words for)."""
    kinds: list[str] = []
    if water:
        kinds.append("water_level")
        if any((w.get("rules") or {}).get("rise_rate_m_per_min") for w in water):
            kinds.append("flash_flood")
    fire_kinds = {str(f.get("kind", "smoke")) for f in fire}
    if any(c.get("fire_smoke") is not None for c in cameras):
        fire_kinds |= {"fire", "smoke"}
    kinds.extend(sorted(fire_kinds))
    if any(c.get("detection") is not None or c.get("fire_smoke") is None for c in cameras):
        kinds.append("person_in_water_zone")  # a camera meant for people: check fails until it has a model and a zone
    return kinds


def parse_broker(value: str) -> tuple[str, int]:
    """`HOST[:PORT]` as (host, port); 1883 when no port is given."""
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, 1883
    if not host or not port.isdigit():
        raise ProvisioningError(f"--broker must be HOST or HOST:PORT, not {value!r}", "e.g. --broker mqtt.county.example:8883", exit_code=2)
    return host, int(port)


def station_document(
    identity: dict[str, Any],
    broker: dict[str, Any],
    data_dir: str,
    water: list[dict[str, Any]],
    fire: list[dict[str, Any]],
    cameras: list[dict[str, Any]],
    speaker: dict[str, Any] | None,
) -> dict[str, Any]:
    """The whole station file as plain data, in the order a technician reads it."""
    doc: dict[str, Any] = {
        "station": {k: v for k, v in identity.items() if v not in (None, "")},
        "broker": broker,
        "outbox": {"path": f"{data_dir.rstrip('/')}/outbox.db"},
    }
    if water:
        doc["water_sensors"] = water
    if fire:
        doc["fire_inputs"] = fire
    if cameras:
        doc["cameras"] = cameras
    if speaker is not None:
        doc["loudspeaker"] = speaker
    return doc
