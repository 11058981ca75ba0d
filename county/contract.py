"""The wire contract as an AsyncAPI 3.0 document, generated from the pydantic wire models.

Nothing here is a hand-written schema: every payload schema comes from `wire.messages`
(`models_json_schema`), so the document cannot drift from what the gateway sends. The
document describes the station's side (it sends status, events, telemetry, snapshots, health
and replies; it receives commands); the county subscribes to what the station sends.

Commands: the signed command's model (`wire.commands.SignedCommand`) and each command's
argument model (`wire.command_args.ARGS`); each command name gets its own message whose `args`
is that model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from foundation.version import __version__
from wire.command_args import ARGS
from wire.commands import SignedCommand
from wire.messages import PROTOCOL, WIRE_MODELS

ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING = "0.2.0"
REF = "#/components/schemas/{model}"
STATION = f"{PROTOCOL}/{{county}}/{{town}}/{{village}}/{{station}}"

_LEVELS = {
    "county": "County code (e.g. the 6-digit administrative code 410421).",
    "town": "Township id (e.g. xiaoqi).",
    "village": "Village id (e.g. zhuwa).",
    "station": "Station id, unique in its village (e.g. pond-01).",
}

# channel -> (address suffix, extra parameters, message names, operation, qos, retain, description)
_CHANNELS: dict[str, tuple[str, dict[str, str], list[str], str, int, bool, str]] = {
    "status": ("status", {}, ["status"], "send", 1, True,
               "Retained presence: birth (online) on every connection, Will (offline, connection lost), goodbye (offline, shutdown)."),
    "event": ("event/{kind}", {"kind": "Alarm kind (water_level, fire, smoke, person_in_water_zone...), notice name, or `loudspeaker`."},
              ["alarm", "notice", "playback"], "send", 1, False,
              "Alarm lifecycle steps (raised, updated, acked, cleared; event_id shared), one-off notices, loudspeaker reports."),
    "telemetry": ("telemetry/{sensor_id}", {"sensor_id": "Sensor id from the station file."}, ["telemetry"], "send", 1, False,
                  "Periodic readings; dropped oldest-first (and reported) when the outbox is full."),
    "snapshot": ("snapshot/{event_id}", {"event_id": "The alarm's event_id; later evidence of the same alarm (an escalation, a person lost in the water) as {event_id}-{n}."}, ["snapshot"], "send", 1, False,
                 "JPEG evidence of an alarm, best effort; the alarm refers to the newest by topic, size and sha256."),
    "health": ("health", {}, ["health"], "send", 1, False, "Periodic health: temperature, disk, queue depth, camera fps, loops."),
    "cmd": ("cmd/{name}", {"name": "Command name; may span levels (config/get)."}, ["command"], "receive", 1, False,
            "County to station: signed commands, checked for signature, station and freshness before they run."),
    "reply": ("reply/{command_id}", {"command_id": "Id of the command answered."}, ["reply"], "send", 1, False,
              "The result of a command."),
}

def command_model() -> type[BaseModel]:
    """The signed command's wire model."""
    return SignedCommand


def command_args() -> dict[str, type[BaseModel]]:
    """Command name -> its argument model."""
    return dict(ARGS)


def _command_message_name(name: str) -> str:
    return "command_" + name.replace("/", "_")


def payload_models() -> dict[str, type[BaseModel]]:
    """Message name -> model, for every JSON payload model of the contract (command arguments included)."""
    models: dict[str, type[BaseModel]] = dict(WIRE_MODELS)
    models["command"] = command_model()
    for name, args in command_args().items():
        models[f"args_{name}"] = args
    return models


def _schemas(models: dict[str, type[BaseModel]]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Message name -> `$ref` into components/schemas, and the schemas themselves (shared `$defs` hoisted)."""
    keyed, top = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF)
    refs = {name: keyed[(model, "validation")] for name, model in models.items()}
    return refs, top.get("$defs", {})


def _message(name: str, model: type[BaseModel] | None, ref: dict[str, Any] | None) -> dict[str, Any]:
    if name == "snapshot":
        return {
            "name": "snapshot", "title": "Snapshot", "contentType": "image/jpeg",
            "summary": "JPEG with the detection boxes drawn; not JSON.",
            "payload": {"type": "string", "format": "binary", "contentMediaType": "image/jpeg"},
        }
    assert model is not None and ref is not None
    message: dict[str, Any] = {
        "name": name, "title": model.__name__, "summary": (model.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json", "payload": ref,
    }
    if name == "reply":
        message["correlationId"] = {"description": "The id of the command this answers.", "location": "$message.payload#/command_id"}
    return message


def _command_messages(models: dict[str, type[BaseModel]], refs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One message per command name: the signed command whose `name` is fixed and `args` is that command's model."""
    out: dict[str, dict[str, Any]] = {}
    names = [key[len("args_"):] for key in models if key.startswith("args_")]
    for name in names:
        out[_command_message_name(name)] = {
            "name": name, "title": f"Command {name}", "contentType": "application/json",
            "summary": f"{(models['command'].__doc__ or '').strip().splitlines()[0]} ({name}: {(models['args_' + name].__doc__ or '').strip()})",
            "payload": {"allOf": [refs["command"], {"properties": {"name": {"const": name}, "args": refs["args_" + name]}}]},
        }
    if not out:
        out["command"] = _message("command", models["command"], refs["command"])
    return out


def build_contract(server: str = "county-broker:1883") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and payload, from the wire models."""
    models = payload_models()
    refs, schemas = _schemas(models)
    commands = _command_messages(models, refs)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for key, (suffix, params, names, action, qos, retain, description) in _CHANNELS.items():
        if key == "cmd":
            names = list(commands)
        parameters = {level: {"description": text} for level, text in {**_LEVELS, **params}.items()}
        channels[key] = {
            "address": f"{STATION}/{suffix}",
            "description": description,
            "parameters": parameters,
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        }
        operations[f"{action}_{key}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": description,
            "messages": [{"$ref": f"#/channels/{key}/messages/{name}"} for name in names],
            "bindings": {"mqtt": {"qos": qos, "retain": retain, "bindingVersion": MQTT_BINDING}},
        }
    component_messages = {name: _message(name, models.get(name), refs.get(name)) for key, spec in _CHANNELS.items() if key != "cmd" for name in spec[2]}
    component_messages.update(commands)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Village station gateway: wire contract",
            "version": f"{PROTOCOL}+{__version__}",
            "description": (
                "MQTT topics and payloads between a village station gateway and the county (or township). "
                "Described from the station's side. Every JSON payload carries station, seq, event_id, ts, "
                "clock_synced and boot_id; delivery is at-least-once, de-duplicate on (station, seq). "
                "Schemas are generated from wire/messages.py by `countyctl contract`; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "county": {
                "host": server, "protocol": "mqtt", "protocolVersion": "3.1.1",
                "description": "The county (or township) broker.",
                "bindings": {"mqtt": {
                    "cleanSession": True, "keepAlive": 30, "bindingVersion": MQTT_BINDING,
                    "lastWill": {"topic": f"{STATION}/status", "qos": 1, "retain": True,
                                 "message": "A Status payload with online=false, reason='connection lost'."},
                }},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": component_messages, "schemas": schemas},
    }


def channel_of(contract: dict[str, Any], topic: str) -> str | None:
    """The channel key whose address matches a concrete topic, or None."""
    for key, channel in contract["channels"].items():
        address = re.escape(channel["address"])
        if key == "cmd":  # a command name may span levels (cmd/config/get)
            address = re.sub(r"\\\{[a-z_]+\\\}$", ".+", address)
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", address) + "$"
        if re.match(pattern, topic):
            return key
    return None


def dump(contract: dict[str, Any], path: Path | None) -> str:
    """YAML for .yaml/.yml files, JSON otherwise; written to `path` when given, returned always."""
    if path is not None and path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(contract, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(contract, indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return text


def main(out: Path | None, server: str) -> str:
    """`countyctl contract`: the document on stdout, or in `out` (YAML for .yaml/.yml)."""
    return dump(build_contract(server), out)
