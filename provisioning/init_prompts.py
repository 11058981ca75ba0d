"""Interactive questions of `stationctl init`, asked from the config models themselves.

Which fields a driver needs is read from its pydantic model (required fields, plus a few
settings technicians most often change), with the field's description as help text, so a
driver that lands later is asked about without a change here. Every answer is checked as it
is typed (`init_answers`), against the model's own limits, and asked again when it is wrong.
Driver types default to the real hardware (ultrasonic gauge, GPIO input, RTSP camera, ALSA
loudspeaker); the simulated ones stay one word away for a bench test.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import typer
from serial.tools import list_ports

from gateway.config.station import FireInputConfig, LoudspeakerConfig, WaterSensorConfig
from gateway.config.vision import CameraConfig
from provisioning import init_answers as check
from provisioning.errors import ProvisioningError
from provisioning.i18n import pick
from provisioning.init_spec import driver_models, scalar
from provisioning.zone import parse_points

# Optional driver settings worth asking about; everything else keeps its default.
ALSO_ASK = {"frame_format", "register_type", "data_type", "scale", "value_is", "pull", "active", "device", "fps"}
REAL = {"water": "ultrasonic", "fire": "gpio", "camera": "rtsp", "speaker": "alsa"}


def _choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return None


def choose(label: str, choices: list[str], default: str | None = None) -> str:
    """Ask until the answer is one of `choices` (works with every typer version)."""

    def ok(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return typer.prompt(f"{label} ({', '.join(choices)})", default=default or choices[0], value_proc=ok)


def _short(description: str | None) -> str:
    """The first phrase of a field description, as help text for a prompt."""
    text = re.split(r" \(|; |: ", description or "")[0].rstrip(".")
    return text if len(text) < 80 else ""


def ask_field(name: str, info: Any, default: Any = None, lang: str = "zh") -> Any:
    """Ask for one field, checked against its model as typed; Literal fields offer their choices.

    An optional field without a default may be left empty: None is returned and the field is
    left out, so the model's default applies.
    """
    help_text = _short(info.description) if info is not None else ""
    label = f"  {name}" + (f" ({help_text})" if help_text else "")
    choices = _choices(info.annotation) if info is not None else None
    optional = info is not None and not info.is_required()
    if default is None and optional and info.default is not None:
        default = info.default
    if choices:
        return scalar(name, choose(label, choices, str(default) if default is not None else None))
    valid = check.field_value(name, info, lang)
    if default is None and optional:
        answer = typer.prompt(label + " [empty: default]", default="", show_default=False, value_proc=valid)
        return scalar(name, answer) if answer.strip() else None
    return scalar(name, str(typer.prompt(label, default=str(default) if default is not None else None, value_proc=valid)))


def ask_driver(section_model: type, port_default: str | None = None, kind_default: str | None = None, lang: str = "zh") -> dict[str, Any]:
    """The driver part of a device: its type (the real one by default), then what that type needs."""
    models = driver_models(section_model)
    kind = choose("  driver type", list(models), kind_default if kind_default in models else None)
    model = models[kind]
    out: dict[str, Any] = {"type": kind}
    if kind == "simulated" and "scenario" in model.model_fields:
        out["level_m"] = typer.prompt("  steady level to simulate, m", default="0.5", value_proc=check.number(lang))
        return out
    for name, info in model.model_fields.items():
        if name == "type" or not (info.is_required() or name in ALSO_ASK):
            continue
        value = ask_field(name, info, port_default if name == "port" else None, lang)
        if value is not None:
            out[name] = value
    if out.get("value_is") == "distance" and "mount_height_m" not in out:
        out["mount_height_m"] = ask_field("mount_height_m", model.model_fields["mount_height_m"], lang=lang)
    return out


def first_serial_port() -> str | None:
    ports = sorted(p.device for p in list_ports.comports())
    return ports[0] if ports else None


def _highest(flat: dict[str, Any]) -> float | None:
    """The highest level a distance gauge can report: its mount height less its blind zone."""
    if flat.get("type") == "ultrasonic" or flat.get("value_is") == "distance":
        mount = flat.get("mount_height_m")
        return float(mount) - float(flat.get("min_distance_m", 0.03)) if mount else None
    return None


def ask_thresholds(flat: dict[str, Any], lang: str, rise_default: float | None) -> None:
    """Warning, then danger above it, both within what the gauge can measure; the rate of rise."""
    top = _highest(flat)
    reach = pick(lang, ("水位计能测到的最高水位", "the highest level the gauge can measure"))
    flat["warning_m"] = typer.prompt(pick(lang, ("  预警水位（米，基准面以上）", "  warning level above the datum, m")),
                                     value_proc=check.number(lang, high=top, high_says=reach))
    flat["danger_m"] = typer.prompt(pick(lang, ("  危险水位（米，须高于预警水位）", "  danger level above the datum, m (above the warning level)")),
                                    value_proc=check.number(lang, low=flat["warning_m"], high=None,
                                                            low_says=pick(lang, ("预警水位", "the warning level"))))
    rate = typer.prompt(pick(lang, ("  急涨（山洪）报警速率，米/分钟（0：不用）", "  rate of rise for a flash-flood alarm, m/min (0: off)")),
                        default=str(rise_default or 0), value_proc=check.number(lang, low=-1e-9))
    if rate > 0:
        flat["rise_rate_m_per_min"] = rate


def ask_water_sensors(lang: str = "zh", taken: set[str] | None = None, first_default: bool = False,
                      rise_default: float | None = None) -> list[dict[str, Any]]:
    taken = taken if taken is not None else set()
    found: list[dict[str, Any]] = []
    while typer.confirm(pick(lang, ("添加水位计?", "Add a water-level sensor?")), default=first_default and not found):
        typer.echo(pick(lang, (f"水位计 {len(found) + 1}", f"Water-level sensor {len(found) + 1}")))
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"gauge-{len(found) + 1}", value_proc=check.device_id(lang, taken))}
        taken.add(flat["id"])
        flat.update(ask_driver(WaterSensorConfig, first_serial_port(), REAL["water"], lang))
        ask_thresholds(flat, lang, rise_default)
        found.append(flat)
    return found


def ask_fire_inputs(lang: str = "zh", taken: set[str] | None = None, first_default: bool = False) -> list[dict[str, Any]]:
    taken = taken if taken is not None else set()
    found: list[dict[str, Any]] = []
    while typer.confirm(pick(lang, ("添加火焰/烟雾探测器?", "Add a fire or smoke input?")), default=first_default and not found):
        typer.echo(pick(lang, (f"火焰/烟雾探测器 {len(found) + 1}", f"Fire/smoke input {len(found) + 1}")))
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"smoke-{len(found) + 1}", value_proc=check.device_id(lang, taken))}
        taken.add(flat["id"])
        flat["kind"] = choose("  kind", ["smoke", "fire"])
        flat.update(ask_driver(FireInputConfig, None, REAL["fire"], lang))
        found.append(flat)
    return found


def _existing_file(lang: str) -> Any:
    def ok(value: str) -> str:
        if value.strip() and not Path(value.strip()).is_file():
            raise typer.BadParameter(pick(lang, (f"{value} 不存在；留空以后再装", f"{value} does not exist; leave empty to install it later")))
        return value.strip()

    return ok


def _points(lang: str) -> Any:
    def ok(value: str) -> str:
        if value.strip():
            try:
                parse_points(value, lang)
            except ProvisioningError as exc:
                raise typer.BadParameter(f"{exc} ({exc.hint})") from None
        return value.strip()

    return ok


def ask_watch(flat: dict[str, Any], watch: str, lang: str, out: Path) -> None:
    """What the camera watches: people in a danger zone (a model, a zone), or fire and smoke."""
    cam = flat["id"]
    if watch == "fire_smoke":
        flat["fire_smoke"] = {}  # the built-in colour-and-flicker detector: no model file needed
        return
    model = typer.prompt(pick(lang, ("  人员检测模型 .tflite 路径（留空：以后用 stationctl model install 安装）",
                                     "  person detector .tflite (empty: install later with stationctl model install)")),
                         default="", show_default=False, value_proc=_existing_file(lang))
    later_model = f"stationctl model install MODEL --sha256 HEX --config {out} --camera {cam}"
    later_zone = f'stationctl zone {cam} --config {out} --points "x,y x,y x,y ..." --png {cam}-zone.png'
    if not model:
        typer.echo(pick(lang, (f"  以后请运行：{later_model}\n  然后画危险区：{later_zone}",
                               f"  later run: {later_model}\n  then set the danger zone: {later_zone}")))
        return
    labels = typer.prompt(pick(lang, ("  标签文件（留空：无）", "  label file (empty: none)")), default="", show_default=False,
                          value_proc=_existing_file(lang))
    flat["detection"] = {"model": {"path": model, **({"labels": labels} if labels else {})}}
    points = typer.prompt(pick(lang, ('  危险区角点 "x,y x,y x,y"（画面比例 0..1；留空：以后看着画面用 stationctl zone 画）',
                                      '  danger zone corners "x,y x,y x,y" (fractions 0..1; empty: set it later on the picture with stationctl zone)')),
                          default="", show_default=False, value_proc=_points(lang))
    if points:
        flat["zones"] = [{"id": "danger", "polygon": [list(p) for p in parse_points(points, lang)]}]
    else:
        typer.echo(pick(lang, (f"  以后请运行：{later_zone}", f"  later run: {later_zone}")))


def ask_cameras(lang: str = "zh", taken: set[str] | None = None, first_default: bool = False, watch: str = "person",
                out: Path = Path("station.yaml")) -> list[dict[str, Any]]:
    taken = taken if taken is not None else set()
    found: list[dict[str, Any]] = []
    while typer.confirm(pick(lang, ("添加摄像头?", "Add a camera?")), default=first_default and not found):
        typer.echo(pick(lang, (f"摄像头 {len(found) + 1}（不知道 RTSP 地址时：stationctl cameras probe IP）",
                               f"Camera {len(found) + 1} (RTSP address unknown? stationctl cameras probe IP)")))
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"cam-{len(found) + 1}", value_proc=check.device_id(lang, taken))}
        taken.add(flat["id"])
        flat.update(ask_driver(CameraConfig, None, REAL["camera"], lang))
        ask_watch(flat, watch, lang, out)
        found.append(flat)
    return found


def ask_loudspeaker(lang: str = "zh") -> dict[str, Any] | None:
    if not typer.confirm(pick(lang, ("有广播喇叭吗?", "Is there a public-address loudspeaker?")), default=True):
        return None
    return ask_driver(LoudspeakerConfig, None, REAL["speaker"], lang)
