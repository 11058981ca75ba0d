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
from provisioning.i18n import Pair
from provisioning.results import CheckResult

# Alarm kinds the gateway raises (wire.messages names them in prose; these are the ones it has).
KNOWN_KINDS = {"water_level", "flash_flood", "fire", "smoke", "person_in_water_zone",
               "sensor_stale", "camera_stale", "disk_low", "disk_full", "outbox_full"}
ZONE_NEXT: Pair = ('在摄像头画面上画一个：stationctl zone {cam} --config FILE --points "x,y x,y x,y ..." --png zone.png',
                   'set one on the camera\'s picture: stationctl zone {cam} --config FILE --points "x,y x,y x,y ..." --png zone.png')
MODEL_NEXT: Pair = ("安装人员检测模型：stationctl model install MODEL --sha256 HEX --config FILE --camera {cam}",
                    "install the person detector: stationctl model install MODEL --sha256 HEX --config FILE --camera {cam}")
NO_REASON: Pair = ("", "")


def both(pair: Pair, **values: Any) -> Pair:
    """A (zh, en) pair with the same values put into both texts."""
    return pair[0].format(**values), pair[1].format(**values)


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


def raisable(cfg: StationConfig) -> dict[str, Pair]:
    """alarm kind -> ("", "") when something can raise it, else why nothing can (zh, en)."""
    water = [w for w in cfg.water_sensors if (top := highest_level(w.driver)) is None or w.rules.warning_m < top]
    cams_watching = [c for c in cfg.cameras if person_watch(c)]
    fire_from = {k for c in cfg.cameras for k in fire_kinds(c)} | {f.kind for f in cfg.fire_inputs}
    why: dict[str, Pair] = {k: NO_REASON for k in KNOWN_KINDS - {"water_level", "flash_flood", "fire", "smoke", "person_in_water_zone"}}
    why["water_level"] = NO_REASON if water else (
        ("没有哪个水位计能达到它的报警水位", "no water sensor can reach its thresholds") if cfg.water_sensors
        else ("没有水位计", "there is no water sensor"))
    why["flash_flood"] = NO_REASON if any(w.rules.rise_rate_m_per_min for w in water) else (
        "没有水位计设置 rules.rise_rate_m_per_min", "no water sensor has rules.rise_rate_m_per_min")
    for kind, zh in (("fire", "火情"), ("smoke", "烟雾")):
        why[kind] = NO_REASON if kind in fire_from else (f"没有{zh}输入，也没有摄像头监测{zh}", f"no {kind} input and no camera watching for {kind}")
    if cams_watching:
        why["person_in_water_zone"] = NO_REASON
    elif not cfg.cameras:
        why["person_in_water_zone"] = ("没有摄像头", "there is no camera")
    elif not any(c.detection for c in cfg.cameras):
        why["person_in_water_zone"] = ("没有摄像头装有人员检测模型（detection.model）", "no camera has a person detector (detection.model)")
    elif not any(c.zones for c in cfg.cameras):
        why["person_in_water_zone"] = ("没有摄像头设置危险区域", "no camera has a danger zone")
    else:
        why["person_in_water_zone"] = ("没有哪个危险区域会布防（每个 armed.hours 时段都是空的）",
                                       "no danger zone is ever armed (every armed.hours window is empty)")
    return why


def _row(target: str, summary: Pair, hint: Pair) -> CheckResult:
    return CheckResult.of("config", target, "fail", summary, hint=hint)


def audit_cameras(cfg: StationConfig, exists: Callable[[Path], bool]) -> list[CheckResult]:
    rows: list[CheckResult] = []
    for cam in cfg.cameras:
        if cam.detection is None and cam.fire_smoke is None:
            model, zone = both(MODEL_NEXT, cam=cam.id), both(ZONE_NEXT, cam=cam.id)
            rows.append(_row(cam.id, ("摄像头没有模型：既没有人员检测，也没有火情/烟雾监测，不会产生任何告警",
                                      "the camera has no model: no detector and no fire/smoke watch, so it can raise no alarm"),
                             (f"{model[0]}，然后{zone[0]}", f"{model[1]}, then {zone[1]}")))
            continue
        if cam.detection is not None:
            if not exists(Path(cam.detection.model.path)):
                path = cam.detection.model.path
                rows.append(_row(cam.id, (f"人员检测模型 {path} 不存在", f"the person detector {path} is not there"), both(MODEL_NEXT, cam=cam.id)))
            if not cam.zones:
                rows.append(_row(cam.id, ("有人员检测但没有危险区域：永远不会产生 person_in_water_zone 告警",
                                          "a person detector but no danger zone: person_in_water_zone can never be raised"),
                                 both(ZONE_NEXT, cam=cam.id)))
        for zone in cam.zones:
            if not armed_ever(zone):
                hours = ", ".join(zone.armed.hours)
                rows.append(_row(f"{cam.id}/{zone.id}", (f"区域 {zone.id} 从不布防（{hours}）", f"zone {zone.id} is never armed ({hours})"),
                                 ("给区域设置有长度的布防时段，例如 armed.hours: ['00:00-24:00']（改文件或用 stationctl zone）",
                                  "give the zone hours with a length, e.g. armed.hours: ['00:00-24:00'] (edit the file or stationctl zone)")))
    return rows


def audit_water(cfg: StationConfig) -> list[CheckResult]:
    rows = []
    for w in cfg.water_sensors:
        top = highest_level(w.driver)
        if top is not None and w.rules.warning_m >= top:
            rows.append(_row(w.id, (f"warning_m {w.rules.warning_m} m 高于水位计能测到的最高水位（{top:.2f} m：安装高度减去盲区），"
                                    "它的告警永远不会触发",
                                    f"warning_m {w.rules.warning_m} m is above the highest level the gauge can measure ({top:.2f} m: "
                                    "mount height minus its blind zone), so its alarms never fire"),
                             ("重新测量安装高度（stationctl calibrate），或调低 rules.warning_m 和 rules.danger_m",
                              "measure the mount height again (stationctl calibrate) or lower rules.warning_m and rules.danger_m")))
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
            kinds = ", ".join(sorted(KNOWN_KINDS))
            rows.append(_row(target, (f"这条动作引用了不存在的告警类型：{action.alarm!r}", f"the action refers to an alarm kind that does not exist: {action.alarm!r}"),
                             (f"请用其中之一：{kinds}", f"use one of {kinds}")))
        elif any(reason := why.get(action.alarm, NO_REASON)):
            rows.append(_row(target, (f"广播喇叭要播报 {action.alarm}，但这个告警永远不会产生：{reason[0]}",
                                      f"the loudspeaker is told to announce {action.alarm}, which can never be raised: {reason[1]}"),
                             _raise_next(action.alarm, cfg)))
        if action.clip is not None:
            clip_dir = getattr(driver, "clip_dir", None)
            clip = Path(action.clip) if Path(action.clip).is_absolute() or clip_dir is None else Path(clip_dir) / action.clip
            if not exists(clip):
                rows.append(_row(target, (f"音频文件 {clip} 不存在", f"the clip {clip} is not there"),
                                 ("把 WAV 文件拷到那里，或改为播报文字（text: ...）", "copy the WAV there, or speak a text instead (text: ...)")))
    light = getattr(driver, "warning_light", None)
    if light is not None and not any(person_watch(c) for c in cfg.cameras):
        rows.append(_row("loudspeaker.driver.warning_light", ("警示灯随区域的警告开关，但没有会布防的区域",
                                                              "the warning light is switched by a zone's warning, and no armed zone exists"),
                         ("给摄像头加上人员检测和区域（stationctl zone CAM --config FILE --points ... --png zone.png），或去掉警示灯",
                          "add a person detector and a zone to a camera (stationctl zone CAM --config FILE --points ... --png zone.png), "
                          "or remove the warning light")))
    pins = {str(getattr(f.driver, "pin")): f.id for f in cfg.fire_inputs if getattr(f.driver, "pin", None) is not None}
    for name, relay in (("amplifier", getattr(driver, "amplifier", None)), ("warning_light", light)):
        if relay is not None and str(relay.pin) in pins:
            reader = pins[str(relay.pin)]
            rows.append(_row(f"loudspeaker.driver.{name}", (f"{name} 继电器接在 {relay.pin} 号引脚，而火情输入 {reader} 也在读这个引脚",
                                                            f"the {name} relay is on pin {relay.pin}, which fire input {reader} reads"),
                             ("把继电器接到空闲的 GPIO 引脚，并改好它的 pin", "wire the relay to a free GPIO pin and set its pin")))
    return rows


def _raise_next(kind: str, cfg: StationConfig) -> Pair:
    if kind == "person_in_water_zone":
        cam = next((c.id for c in cfg.cameras), "CAM")
        model, zone = both(MODEL_NEXT, cam=cam), both(ZONE_NEXT, cam=cam)
        return f"{model[0]}；{zone[0]}；或删去这条动作", f"{model[1]}; {zone[1]}; or remove the action"
    if kind == "flash_flood":
        return ("给水位计设置 rules.rise_rate_m_per_min（例如 0.1），或删去这条动作",
                "set rules.rise_rate_m_per_min on the water sensor (e.g. 0.1), or remove the action")
    if kind == "water_level":
        return ("添加一个报警水位能够达到的水位计（stationctl init --water ...），或删去这条动作",
                "add a water sensor with reachable thresholds (stationctl init --water ...), or remove the action")
    return (f"添加 {kind} 输入（--fire id=...,kind={kind}）或摄像头的 fire_smoke 监测，或删去这条动作",
            f"add a {kind} input (--fire id=...,kind={kind}) or a camera fire_smoke watch, or remove the action")


def audit(cfg: StationConfig, exists: Callable[[Path], bool] = Path.exists) -> list[CheckResult]:
    """Every way the file cannot work as it reads; one passing row when there is none."""
    rows = audit_cameras(cfg, exists) + audit_water(cfg) + audit_speaker(cfg, exists)
    return rows or [CheckResult.of("config", "station file", "pass", ("每个要播报的告警都能产生；每个摄像头都有模型",
                                                                      "every announced alarm can be raised; every camera has a model"))]
