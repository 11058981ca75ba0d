"""Helpers of the hostile-input tests: a raw MQTT publisher (a station that misbehaves) and strict JSON."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt


def strict_json(text: str) -> Any:
    """Parse as a browser's JSON.parse does: NaN and Infinity are errors."""
    def refuse(word: str) -> Any:
        raise ValueError(f"{word} is not JSON")
    return json.loads(text, parse_constant=refuse)


def publish_raw(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    """Publish bytes exactly as given (QoS 1) and wait until the broker has them."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def envelope(station: str, kind: str, seq: int, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "kind": kind, "station": station, "seq": seq, "event_id": f"{kind}-{seq}", "ts": "2026-12-03T00:00:00+00:00",
            "clock_synced": True, "boot_id": "b-1", **fields}
