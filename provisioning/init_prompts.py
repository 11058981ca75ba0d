"""Interactive questions of `stationctl init`, asked from the config models themselves.

Which fields a driver needs is read from its pydantic model (required fields, plus a few
settings technicians most often change), with the field's description as help text, so a
driver that lands later is asked about without a change here.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import typer
from serial.tools import list_ports

from gateway.config.station import FireInputConfig, LoudspeakerConfig, WaterSensorConfig
from gateway.config.vision import CameraConfig
from provisioning.init_spec import driver_models, scalar

# Optional driver settings worth asking about; everything else keeps its default.
ALSO_ASK = {"frame_format", "register_type", "data_type", "scale", "value_is", "pull", "active", "device", "fps"}


def _choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return None


def choose(label: str, choices: list[str], default: str | None = None) -> str:
    """Ask until the answer is one of `choices` (works with every typer version)."""

    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return typer.prompt(f"{label} ({', '.join(choices)})", default=default or choices[0], value_proc=check)


def _short(description: str | None) -> str:
    """The first phrase of a field description, as help text for a prompt."""
    text = re.split(r" \(|; |: ", description or "")[0].rstrip(".")
    return text if len(text) < 80 else ""


def ask_field(name: str, info: Any, default: Any = None) -> Any:
    """Ask for one field; Literal fields offer their choices, the answer is read as a YAML scalar.

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
    if default is None and optional:
        answer = typer.prompt(label + " [empty: default]", default="", show_default=False)
        return scalar(name, answer) if answer.strip() else None
    return scalar(name, str(typer.prompt(label, default=str(default) if default is not None else None)))


def ask_driver(section_model: type, port_default: str | None = None) -> dict[str, Any]:
    """The driver part of a device: its type, then what that type needs."""
    models = driver_models(section_model)
    kind = choose("  driver type", list(models))
    model = models[kind]
    out: dict[str, Any] = {"type": kind}
    if kind == "simulated" and "scenario" in model.model_fields:
        out["level_m"] = float(typer.prompt("  steady level to simulate, m", default="0.5"))
        return out
    for name, info in model.model_fields.items():
        if name == "type" or not (info.is_required() or name in ALSO_ASK):
            continue
        value = ask_field(name, info, port_default if name == "port" else None)
        if value is not None:
            out[name] = value
    if out.get("value_is") == "distance" and "mount_height_m" not in out:
        out["mount_height_m"] = ask_field("mount_height_m", model.model_fields["mount_height_m"])
    return out


def first_serial_port() -> str | None:
    ports = sorted(p.device for p in list_ports.comports())
    return ports[0] if ports else None


def ask_water_sensors() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while typer.confirm("Add a water-level sensor?", default=False):
        typer.echo(f"Water-level sensor {len(found) + 1}")
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"gauge-{len(found) + 1}")}
        flat.update(ask_driver(WaterSensorConfig, first_serial_port()))
        flat["warning_m"] = float(typer.prompt("  warning level above the datum, m"))
        flat["danger_m"] = float(typer.prompt("  danger level above the datum, m"))
        found.append(flat)
    return found


def ask_fire_inputs() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while typer.confirm("Add a fire or smoke input?", default=False):
        typer.echo(f"Fire/smoke input {len(found) + 1}")
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"smoke-{len(found) + 1}")}
        flat["kind"] = choose("  kind", ["smoke", "fire"])
        flat.update(ask_driver(FireInputConfig))
        found.append(flat)
    return found


def ask_cameras() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while typer.confirm("Add a camera?", default=False):
        typer.echo(f"Camera {len(found) + 1}")
        flat: dict[str, Any] = {"id": typer.prompt("  id", default=f"cam-{len(found) + 1}")}
        flat.update(ask_driver(CameraConfig))
        found.append(flat)
    return found


def ask_loudspeaker() -> dict[str, Any] | None:
    if not typer.confirm("Is there a public-address loudspeaker?", default=True):
        return None
    return ask_driver(LoudspeakerConfig)
