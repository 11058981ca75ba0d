"""The AsyncAPI contract: generated from the wire models, and what a running gateway sends fits it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from typer.testing import CliRunner

from county.cli import app
from county.contract import REF, build_contract, channel_of, command_model
from gateway.localbroker import LocalBroker
from gateway.station import Station
from gateway.uplink.outbox import ALARM
from tests.county.capture import Capture
from tests.stations import config_of, station_dict, wait_for
from wire.messages import WIRE_MODELS, Reply

BASE = "urn:vs-contract"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def validator_for(contract: dict[str, Any], message: str) -> Draft7Validator:
    """A validator of one message's payload, resolving its $refs inside the whole document."""
    registry = Registry().with_resource(BASE, Resource(contents=contract, specification=DRAFT7))
    return Draft7Validator({"$ref": f"{BASE}#/components/messages/{message}/payload"}, registry=registry)


def message_names(contract: dict[str, Any], channel: str) -> list[str]:
    return [ref["$ref"].rsplit("/", 1)[-1] for ref in contract["channels"][channel]["messages"].values()]


def resolve(doc: dict[str, Any], pointer: str) -> Any:
    node: Any = doc
    for part in pointer.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


def test_document_has_every_topic_and_every_ref_resolves() -> None:
    doc = build_contract()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {k: c["address"] for k, c in doc["channels"].items()}
    station = "vs/v1/{county}/{town}/{village}/{station}"
    assert addresses == {
        "status": f"{station}/status", "event": f"{station}/event/{{kind}}", "telemetry": f"{station}/telemetry/{{sensor_id}}",
        "snapshot": f"{station}/snapshot/{{event_id}}", "health": f"{station}/health", "cmd": f"{station}/cmd/{{name}}",
        "reply": f"{station}/reply/{{command_id}}",
    }
    for key, channel in doc["channels"].items():  # every {parameter} of an address is described
        params = {p.strip("{}") for p in channel["address"].split("/") if p.startswith("{")}
        assert set(channel["parameters"]) == params, key
    refs = all_refs(doc)
    assert refs and all(r.startswith("#/") for r in refs)
    for ref in refs:
        resolve(doc, ref)  # raises KeyError when dangling
    actions = {op["channel"]["$ref"]: op["action"] for op in doc["operations"].values()}
    assert actions["#/channels/cmd"] == "receive" and actions["#/channels/status"] == "send"
    status_op = next(op for op in doc["operations"].values() if op["channel"]["$ref"] == "#/channels/status")
    assert status_op["bindings"]["mqtt"] == {"qos": 1, "retain": True, "bindingVersion": "0.2.0"}
    assert set(message_names(doc, "event")) == {"alarm", "notice", "playback"}


def test_schemas_are_generated_from_the_models_not_written() -> None:
    schemas = build_contract()["components"]["schemas"]
    for model in WIRE_MODELS.values():
        generated = model.model_json_schema(ref_template=REF)
        generated.pop("$defs", None)
        assert schemas[model.__name__] == generated
    assert schemas["Alarm"]["additionalProperties"] is False  # extra="forbid" travels into the contract
    command = command_model()
    assert command is not None and command.__name__ in schemas  # the commands work's model is picked up by the hook


def test_cli_writes_yaml_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "--out", str(tmp_path / "contract.yaml")])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "contract.yaml").read_text(encoding="utf-8")) == json.loads(json.dumps(build_contract()))
    assert f"已写入接口文档 {tmp_path / 'contract.yaml'}" in result.stderr and result.stdout == ""
    result = runner.invoke(app, ["contract", "--out", str(tmp_path / "contract.json"), "--lang", "en"])
    assert result.exit_code == 0 and f"wrote {tmp_path / 'contract.json'}" in result.stderr
    assert json.loads((tmp_path / "contract.json").read_text(encoding="utf-8")) == json.loads(json.dumps(build_contract()))
    result = runner.invoke(app, ["contract"])
    assert result.exit_code == 0 and json.loads(result.stdout)["asyncapi"] == "3.0.0" and result.stderr == ""
    assert runner.invoke(app, ["contract", "--lang", "en"]).stdout == result.stdout  # the document is the same in both languages
    nowhere = tmp_path / "missing" / "contract.yaml"
    result = runner.invoke(app, ["contract", "--out", str(nowhere)])
    assert result.exit_code == 1 and f"接口文档：无法写入 {nowhere}" in result.stderr
    result = runner.invoke(app, ["contract", "--out", str(nowhere), "--lang", "en"])
    assert result.exit_code == 1 and f"contract: cannot write {nowhere}" in result.stderr


def reply_to_commands(station: Station, topic: str, payload: bytes) -> None:
    """A command handler answering every command, so the station sends a Reply through its real outbox."""
    doc = json.loads(payload)
    name = topic.rsplit("/cmd/", 1)[-1]
    station.publish(station.topics.reply(doc["id"]), ALARM,
                    lambda env: Reply(**env, command_id=doc["id"], command=name, ok=True, outcome="done", result={"echo": name}))


def test_messages_of_a_running_gateway_validate_against_the_contract(broker: LocalBroker, tmp_path: Path) -> None:
    contract = build_contract()
    capture = Capture(broker.port)
    doc = station_dict(tmp_path, broker.port, health={"interval_s": 0.5})
    station = Station(config_of(doc), command_handler=reply_to_commands)
    command = command_model()
    assert command is not None
    now = int(time.time())
    cmd = command(v=1, id="c-0001", station=station.station_path, name="status", issued_at=now, expires_at=now + 60,
                  key_id="0123456789abcdef", args={}, sig="c2ln").model_dump_json().encode()
    station.start()
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        capture.publish(station.topics.command("status"), cmd)
        station.uplink.send_snapshot(station.topics.snapshot("e-1"), JPEG)
        seen = lambda kind: [p for t, p, _ in capture.snapshot() if f'"kind":"{kind}"' in p.decode("utf-8", "replace")]  # noqa: E731
        assert wait_for(lambda: any(b'"state":"cleared"' in p for p in seen("alarm")) and seen("playback") and seen("reply")
                        and seen("health") and seen("telemetry"), timeout=30)
    finally:
        station.stop()
    assert wait_for(lambda: any(b'"reason":"shutdown"' in p for p in seen("status")), timeout=5)
    capture.stop()

    covered: set[str] = set()
    for topic, payload, _ in capture.snapshot():
        channel = channel_of(contract, topic)
        assert channel is not None, f"{topic} is not in the contract"
        covered.add(channel)
        if channel == "snapshot":
            assert contract["components"]["messages"]["snapshot"]["contentType"] == "image/jpeg" and payload[:2] == b"\xff\xd8"
            continue
        body = json.loads(payload)
        fits = [name for name in message_names(contract, channel) if validator_for(contract, name).is_valid(body)]
        assert len(fits) == 1, f"{topic}: fits {fits}; errors: {[e.message for e in validator_for(contract, message_names(contract, channel)[0]).iter_errors(body)][:3]}"
    assert covered == set(contract["channels"]), f"channels never exercised: {set(contract['channels']) - covered}"


def test_contract_refuses_drift() -> None:
    """What the schemas reject: unknown fields, wrong types, a lifecycle step that does not exist, a bad command."""
    contract = build_contract()
    alarm = {"station": "a/b/c/d", "seq": 3, "event_id": "e", "ts": "2026-01-01T00:00:00Z", "clock_synced": True, "boot_id": "b",
             "kind": "alarm", "alarm": "fire", "state": "raised", "severity": "danger", "category": "safety", "source": "s",
             "summary": "", "details": {}, "raised_at": "2026-01-01T00:00:00Z", "acked_by": None, "snapshot": None}
    v = validator_for(contract, "alarm")
    v.validate(alarm)
    for broken in ({**alarm, "colour": "red"}, {**alarm, "seq": "3"}, {**alarm, "seq": -1}, {**alarm, "state": "forgotten"},
                   {k: val for k, val in alarm.items() if k != "boot_id"}):
        assert not v.is_valid(broken), broken
    announce = validator_for(contract, "command_announce")
    good = {"v": 1, "id": "c1", "station": "a/b/c/d", "name": "announce", "issued_at": 1, "expires_at": 2, "key_id": "0123456789abcdef",
            "args": {"text": "hello"}, "sig": "x"}
    announce.validate(good)
    assert not announce.is_valid({**good, "args": {"text": "hello", "volume": 11}})
    assert not announce.is_valid({**good, "name": "silence"})
    assert not announce.is_valid({**good, "v": 2})
    assert not announce.is_valid({**good, "key_id": "not-hex"})
