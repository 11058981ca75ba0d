"""A stand-in station that answers `update`, to drive `countyctl update` end to end.

NOT the real handler: the station side's `update` (gateway/update/) and its own end-to-end test
(two real versions, a broken one rolled back, a tampered bundle refused) cover that. This one
does what the county relies on a station doing, with real parts: a real MQTT client against the
test's mosquitto (retained birth status with its version, a Will), the signature checked with
the real `wire.signing` against the county's public key, the file downloaded from the county's
server in two `Range` requests (as a resumed download would), size and sha256 checked, and
`Reply` messages made with the real wire models: downloading, restarting, then updated (or
rolled_back when told to).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion

from wire.messages import PROTOCOL, Reply, Status, envelope_fields, to_payload
from wire.signing import signature_valid


class FakeUpdatableStation:
    """One station path; `outcome` is what it ends with: updated, rolled_back (with `reason`), or silent (no final reply)."""

    def __init__(self, port: int, path: str, version: str, county_key: Ed25519PublicKey, outcome: str = "updated",
                 reason: str = "") -> None:
        self.port, self.path, self.version, self.county_key = port, path, version, county_key
        self.outcome, self.reason = outcome, reason
        self.boot_id = uuid.uuid4().hex[:16]
        self.seq = 0
        self.commands: list[dict[str, Any]] = []
        self.ranges: list[str] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-{uuid.uuid4().hex[:10]}", protocol=mqtt.MQTTv311)
        self.client.will_set(self.topic("status"), self._status(False, "connection lost"), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._connected.set()  # listening for commands from here on

    def topic(self, rest: str) -> str:
        return f"{PROTOCOL}/{self.path}/{rest}"

    def _envelope(self) -> dict[str, Any]:
        with self._lock:
            self.seq += 1
            return envelope_fields(self.path, self.seq, time.time(), True, self.boot_id)

    def _status(self, online: bool, reason: str = "") -> bytes:
        return to_payload(Status(**self._envelope(), online=online, version=self.version, name=f"fake {self.path}", reason=reason))

    def start(self) -> FakeUpdatableStation:
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        assert self._connected.wait(10), f"{self.path} did not connect"
        self.client.publish(self.topic("status"), self._status(True), qos=1, retain=True).wait_for_publish(5)  # the birth, retained
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        client.subscribe(self.topic("cmd/update"), qos=1)

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        doc = json.loads(message.payload)
        self.commands.append(doc)
        threading.Thread(target=self._update, args=(doc,), daemon=True).start()

    def reply(self, doc: dict[str, Any], outcome: str, ok: bool, result: dict[str, Any], reason: str = "") -> None:
        payload = to_payload(Reply(**self._envelope(), command_id=doc["id"], command="update", ok=ok, outcome=outcome, reason=reason, result=result))
        self.client.publish(self.topic(f"reply/{doc['id']}"), payload, qos=1)

    def _update(self, doc: dict[str, Any]) -> None:
        if doc.get("station") != self.path or not signature_valid(self.county_key, doc, doc.get("sig", "")):
            self.problems.append("bad signature")
            self.reply(doc, "refused", False, {}, "bad signature")
            return
        args = doc["args"]
        if args["version"] == self.version:
            self.reply(doc, "updated", True, {"version": self.version, "previous": self.version})
            return
        half = args["size"] // 2
        data = b""
        for wanted in (f"bytes=0-{half - 1}", f"bytes={half}-"):
            request = urllib.request.Request(args["url"], headers={"Range": wanted})
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status != 206:
                    self.problems.append(f"{wanted}: HTTP {response.status}")
                data += response.read()
            self.ranges.append(wanted)
            self.reply(doc, "downloading", True, {"bytes": len(data), "size": args["size"]})
        if len(data) != args["size"] or hashlib.sha256(data).hexdigest() != args["sha256"]:
            self.problems.append("tampered")
            self.reply(doc, "refused", False, {}, "tampered: size or sha256 differs")
            return
        old, new = self.version, args["version"]
        self.reply(doc, "restarting", True, {"from": old, "to": new})
        time.sleep(0.1)
        if self.outcome == "silent":
            return  # restarted and never came back to say so
        if self.outcome == "rolled_back":
            self.reply(doc, "rolled_back", False, {"version": old, "failed": new, "reason": self.reason}, self.reason)
            return
        self.version = new
        self.client.publish(self.topic("status"), self._status(True), qos=1, retain=True)
        self.reply(doc, "updated", True, {"version": new, "previous": old})
