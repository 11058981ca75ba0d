"""Fixtures for county commands: a county key, stations that trust it, a way to send and collect."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from county.send import BrokerOptions, build_command, send_and_wait
from tests.stations import station_dict, wait_for
from wire.signing import public_to_base64

STATION = "410421/xiaoqi/zhuwa/test-01"
PREFIX = f"vs/v1/{STATION}"


@pytest.fixture(scope="session")
def county_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def commands_doc(tmp: Path, port: int, key: Ed25519PrivateKey, **commands: Any) -> dict[str, Any]:
    """The fast simulated station of tests/stations.py, trusting `key`."""
    doc = station_dict(tmp, port)
    doc["commands"] = {"keys": [{"name": "county-test", "public_key": public_to_base64(key.public_key())}], **commands}
    return doc


def quiet_doc(tmp: Path, port: int, key: Ed25519PrivateKey, **commands: Any) -> dict[str, Any]:
    """A station whose gauge stays low: no alarms of its own, so the loudspeaker is free for commands."""
    doc = commands_doc(tmp, port, key, **commands)
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}]
    doc["water_sensors"][0]["telemetry_interval_s"] = 60
    return doc


def signed(key: Ed25519PrivateKey, name: str, args: dict[str, Any] | None = None, station: str = STATION,
           ttl: float = 300, now: float | None = None, command_id: str | None = None) -> dict[str, Any]:
    return build_command(key, station, name, args or {}, time.time() if now is None else now, ttl, command_id)


def send(port: int, doc: dict[str, Any], timeout: float = 20.0) -> list[dict[str, Any]]:
    """Send through the countyctl code path; the replies (interim ones included)."""
    return send_and_wait(BrokerOptions("127.0.0.1", port), doc, timeout)


class RawPublisher:
    """Publishes arbitrary bytes on command topics, as a broken or hostile county tool would."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, name: str, body: bytes | dict[str, Any], prefix: str = PREFIX) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(f"{prefix}/cmd/{name}", data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def raw(broker) -> Iterator[RawPublisher]:  # noqa: ANN001
    pub = RawPublisher(broker.port)
    yield pub
    pub.close()


def replies(collector, command_id: str | None = None) -> list[dict[str, Any]]:  # noqa: ANN001
    with collector.lock:
        return [m for m in collector.messages if m["kind"] == "reply" and (command_id is None or m["command_id"] == command_id)]


def notices(collector, notice: str = "command_rejected") -> list[dict[str, Any]]:  # noqa: ANN001
    with collector.lock:
        return [m for m in collector.messages if m["kind"] == "notice" and m["notice"] == notice]


def wait_reply(collector, command_id: str, timeout: float = 15.0) -> dict[str, Any]:  # noqa: ANN001
    assert wait_for(lambda: replies(collector, command_id), timeout=timeout), f"no reply to {command_id}"
    return replies(collector, command_id)[0]
