"""What a station file promises but can never do: the `config` step of `stationctl check`.

A file can be valid and still silent: a loudspeaker told to announce `person_in_water_zone` on a
camera with no detector or no zone, a zone never armed, a gauge whose thresholds lie beyond what
it can measure, a warning light with no zone to switch it, a clip that is not there. Each finding
is a failed row with the reason and the next step. Pure: it reads the validated config and asks
`exists` about files, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.config.station import StationConfig
from gateway.config.vision import CameraConfig, ZoneConfig, scored_kinds
from provisioning.results import CheckResult

# Alarm kinds the gateway raises (wire.messages names them in prose; these are the ones it has).
KNOWN_KINDS = {"water_level", "flash_flood", "fire", "smoke", "person_in_water_zone",
               "sensor_stale", "camera_stale", "disk_low", "disk_full", "outbox_full"}
ZONE_NEXT = 'set one on the camera\'s picture: stationctl zone {cam} --config FILE --points "x,y x,y x,y ..." --png zone.png'
MODEL_NEXT = "install the person detector: stationctl model install MODEL --sha256 HEX --config FILE --camera {cam}"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def armed_ever(zone: ZoneConfig) -> bool:
    """False when every daily window of the zone is empty (start equals end, as gateway.rules.person_zone reads it)."""
    return any(_minutes(w.split("-")[0]) != _minutes(w.split("-")[1]) for w in zone.armed.hours)


def person_watch(cam: CameraConfig) -> list[ZoneConfig]:
    """The zones of `cam` that can raise person_in_water_zone (a detector and an armed zone)."""
    return [z for z in cam.zones if armed_ever(z)] if cam.detection is not None else []


def fire_kinds(cam: CameraConfig) -> set[str]:
    fs = cam.fire_smoke
    if fs is None:
        return set()
    kinds = set()
    if fs.classical is not None:
        kinds |= {k for k in ("fire", "smoke") if getattr(fs.classical, k)}
    if fs.model is not None:
        kinds |= scored_kinds(fs.model)
    return kinds


def highest_level(driver: Any) -> float | None:
    """The highest level a distance-measuring gauge can report (mount height minus its blind zone)."""
    mount = getattr(driver, "mount_height_m", None)
    if mount is None or getattr(driver, "value_is", "distance") != "distance":
        return None
    return float(mount) - float(getattr(driver, "min_distance_m", 0.0) or 0.0)


def raisable(cfg: StationConfig) -> dict[str, str]:
    """alarm kind -> "" when something can raise it, else why nothing can."""
    water = [w for w in cfg.water_sensors if (top := highest_level(w.driver)) is None or w.rules.warning_m < top]
    cams_watching = [c for c in cfg.cameras if person_watch(c)]
    fire_from = {k for c in cfg.cameras for k in fire_kinds(c)} | {f.kind for f in cfg.fire_inputs}
    why: dict[str, str] = {k: "" for k in KNOWN_KINDS - {"water_level", "flash_flood", "fire", "smoke", "person_in_water_zone"}}
    why["water_level"] = "" if water else ("no water sensor can reach its thresholds" if cfg.water_sensors else "there is no water sensor")
    why["flash_flood"] = "" if any(w.rules.rise_rate_m_per_min for w in water) else "no water sensor has rules.rise_rate_m_per_min"
    for kind in ("fire", "smoke"):
        why[kind] = "" if kind in fire_from else f"no {kind} input and no camera watching for {kind}"
    if cams_watching:
        why["person_in_water_zone"] = ""
    elif not cfg.cameras:
        why["person_in_water_zone"] = "there is no camera"
    elif not any(c.detection for c in cfg.cameras):
        why["person_in_water_zone"] = "no camera has a person detector (detection.model)"
    elif not any(c.zones for c in cfg.cameras):
        why["person_in_water_zone"] = "no camera has a danger zone"
    else:
        why["person_in_water_zone"] = "no danger zone is ever armed (every armed.hours window is empty)"
    return why


def _row(target: str, summary: str, hint: str) -> CheckResult:
    return CheckResult("config", target, "fail", summary, hint=hint)


def audit_cameras(cfg: StationConfig, exists: Callable[[Path], bool]) -> list[CheckResult]:
    rows: list[CheckResult] = []
    for cam in cfg.cameras:
        if cam.detection is None and cam.fire_smoke is None:
            rows.append(_row(cam.id, "the camera has no model: no detector and no fire/smoke watch, so it can raise no alarm",
                             MODEL_NEXT.format(cam=cam.id) + f", then {ZONE_NEXT.format(cam=cam.id)}"))
            continue
        if cam.detection is not None:
            if not exists(Path(cam.detection.model.path)):
                rows.append(_row(cam.id, f"the person detector {cam.detection.model.path} is not there", MODEL_NEXT.format(cam=cam.id)))
            if not cam.zones:
                rows.append(_row(cam.id, "a person detector but no danger zone: person_in_water_zone can never be raised",
                                 ZONE_NEXT.format(cam=cam.id)))
        for zone in cam.zones:
            if not armed_ever(zone):
                rows.append(_row(f"{cam.id}/{zone.id}", f"zone {zone.id} is never armed ({', '.join(zone.armed.hours)})",
                                 "give the zone hours with a length, e.g. armed.hours: ['00:00-24:00'] (edit the file or stationctl zone)"))
    return rows


def audit_water(cfg: StationConfig) -> list[CheckResult]:
    rows = []
    for w in cfg.water_sensors:
        top = highest_level(w.driver)
        if top is not None and w.rules.warning_m >= top:
            rows.append(_row(w.id, f"warning_m {w.rules.warning_m} m is above the highest level the gauge can measure ({top:.2f} m: "
                                   "mount height minus its blind zone), so its alarms never fire",
                             "measure the mount height again (stationctl calibrate) or lower rules.warning_m and rules.danger_m"))
    return rows


def audit_speaker(cfg: StationConfig, exists: Callable[[Path], bool]) -> list[CheckResult]:
    if cfg.loudspeaker is None:
        return []
    rows: list[CheckResult] = []
    why = raisable(cfg)
    driver = cfg.loudspeaker.driver
    for i, action in enumerate(cfg.loudspeaker.actions):
        target = f"loudspeaker.actions[{i}] {action.alarm}"
        if action.alarm not in KNOWN_KINDS:
            rows.append(_row(target, f"the action refers to an alarm kind that does not exist: {action.alarm!r}",
                             f"use one of {', '.join(sorted(KNOWN_KINDS))}"))
        elif why.get(action.alarm):
            rows.append(_row(target, f"the loudspeaker is told to announce {action.alarm}, which can never be raised: {why[action.alarm]}",
                             _raise_next(action.alarm, cfg)))
        if action.clip is not None:
            clip_dir = getattr(driver, "clip_dir", None)
            clip = Path(action.clip) if Path(action.clip).is_absolute() or clip_dir is None else Path(clip_dir) / action.clip
            if not exists(clip):
                rows.append(_row(target, f"the clip {clip} is not there", "copy the WAV there, or speak a text instead (text: ...)"))
    light = getattr(driver, "warning_light", None)
    if light is not None and not any(person_watch(c) for c in cfg.cameras):
        rows.append(_row("loudspeaker.driver.warning_light", "the warning light is switched by a zone's warning, and no armed zone exists",
                         "add a person detector and a zone to a camera (stationctl zone CAM --config FILE --points ... --png zone.png), or remove the warning light"))
    pins = {str(getattr(f.driver, "pin")): f.id for f in cfg.fire_inputs if getattr(f.driver, "pin", None) is not None}
    for name, relay in (("amplifier", getattr(driver, "amplifier", None)), ("warning_light", light)):
        if relay is not None and str(relay.pin) in pins:
            rows.append(_row(f"loudspeaker.driver.{name}", f"the {name} relay is on pin {relay.pin}, which fire input {pins[str(relay.pin)]} reads",
                             "wire the relay to a free GPIO pin and set its pin"))
    return rows


def _raise_next(kind: str, cfg: StationConfig) -> str:
    if kind == "person_in_water_zone":
        cam = next((c.id for c in cfg.cameras), "CAM")
        return f"{MODEL_NEXT.format(cam=cam)}; {ZONE_NEXT.format(cam=cam)}; or remove the action"
    if kind == "flash_flood":
        return "set rules.rise_rate_m_per_min on the water sensor (e.g. 0.1), or remove the action"
    if kind == "water_level":
        return "add a water sensor with reachable thresholds (stationctl init --water ...), or remove the action"
    return f"add a {kind} input (--fire id=...,kind={kind}) or a camera fire_smoke watch, or remove the action"


def audit(cfg: StationConfig, exists: Callable[[Path], bool] = Path.exists) -> list[CheckResult]:
    """Every way the file cannot work as it reads; one passing row when there is none."""
    rows = audit_cameras(cfg, exists) + audit_water(cfg) + audit_speaker(cfg, exists)
    return rows or [CheckResult("config", "station file", "pass", "every announced alarm can be raised; every camera has a model")]
