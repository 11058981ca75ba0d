"""Property-based: random and malformed payloads at the command handler never crash it, never run, always get a rejection.

The handler is the real `CommandDesk` on a real (not started) Station, so every rejection goes
through the real reply and notice path into the real outbox, where the test reads it back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.commands.desk import CommandDesk, Decision
from gateway.station import Station
from gateway.uplink.outbox import ALARM
from tests.commands.conftest import PREFIX, quiet_doc, signed
from tests.stations import config_of

KEY = Ed25519PrivateKey.generate()
FIELDS = ["v", "id", "station", "name", "issued_at", "expires_at", "key_id", "args", "sig"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


class Rig:
    """A station that trusts KEY, its desk, and a cursor into its outbox to read what the desk published."""

    def __init__(self, tmp: Path) -> None:
        doc = quiet_doc(tmp, 1, KEY, rejections_per_minute=100000)
        cfg = config_of(doc)
        self.station = Station(cfg, command_handler=lambda *a: None)  # the desk below is driven directly
        self.desk = CommandDesk.build(self.station.desk_port(), clock=time.monotonic, wall=self.station.wall)
        self.cursor = self.station.outbox.last_seq
        self.ids_before = 0

    def handle(self, topic: str, payload: bytes) -> tuple[Decision, list[dict[str, Any]]]:
        self.ids_before = self.desk.guard.count()
        decision = self.desk.handle(topic, payload)
        fresh = self.station.outbox.peek(ALARM, self.cursor, 100)
        if fresh:
            self.cursor = fresh[-1].seq
        return decision, [json.loads(m.payload) for m in fresh]

    def assert_rejected(self, decision: Decision, published: list[dict[str, Any]]) -> None:
        assert not decision.accepted and decision.code and decision.reason
        kinds = sorted(m["kind"] for m in published)
        assert kinds == ["notice", "reply"], kinds
        reply = next(m for m in published if m["kind"] == "reply")
        assert reply["ok"] is False and reply["outcome"] == "rejected" and reply["result"]["code"] == decision.code
        assert "/" not in reply["command_id"] and "#" not in reply["command_id"] and "+" not in reply["command_id"]
        assert self.station.announcer is not None and not self.station.announcer.busy()  # nothing was queued to play
        assert self.desk.guard.count() == self.ids_before  # no id was consumed by a command that was not genuine
        assert self.station.alarms.open_alarms() == []


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    r = Rig(tmp_path_factory.mktemp("fuzz"))
    yield r
    r.desk.close()
    r.station.outbox.close()


@FUZZ
@given(payload=st.binary(max_size=2000), name=st.sampled_from(["announce", "silence", "ack", "status", "config/set", "x/../../y", ""]))
def test_random_bytes_are_rejected(rig: Rig, payload: bytes, name: str) -> None:
    rig.assert_rejected(*rig.handle(f"{PREFIX}/cmd/{name}", payload))


@FUZZ
@given(doc=json_values)
def test_random_json_is_rejected(rig: Rig, doc: Any) -> None:
    rig.assert_rejected(*rig.handle(f"{PREFIX}/cmd/announce", json.dumps(doc).encode()))


@FUZZ
@given(field=st.sampled_from(FIELDS), value=json_values, how=st.sampled_from(["set", "delete", "add"]))
def test_any_change_to_a_signed_command_is_rejected(rig: Rig, field: str, value: Any, how: str) -> None:
    original = signed(KEY, "announce", {"text": "测试"}, command_id="fuzz-" + uuid.uuid4().hex[:8])
    doc = dict(original)
    if how == "set":
        doc[field] = value
    elif how == "delete":
        del doc[field]
    else:
        doc["extra_" + field] = value
    assume(doc != original)
    rig.assert_rejected(*rig.handle(f"{PREFIX}/cmd/announce", json.dumps(doc).encode()))


@FUZZ
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_a_flipped_bit_anywhere_is_rejected(rig: Rig, position: int, bit: int) -> None:
    original = signed(KEY, "announce", {"text": "测试", "repeat": 2}, command_id="flip-" + uuid.uuid4().hex[:8])
    data = bytearray(json.dumps(original, ensure_ascii=False).encode())
    data[position % len(data)] ^= 1 << bit
    try:
        assume(json.loads(bytes(data)) != original)
    except ValueError:
        pass  # no longer JSON at all: certainly different
    rig.assert_rejected(*rig.handle(f"{PREFIX}/cmd/announce", bytes(data)))


@FUZZ
@given(name=st.sampled_from(["announce", "silence", "ack", "status", "selftest", "config/get", "config/set"]),
       args=st.dictionaries(st.sampled_from(["text", "clip", "priority", "repeat", "interval_s", "expires_s", "duration_s", "force",
                                             "event_id", "operator", "patch", "x"]), json_values, max_size=4))
def test_genuine_commands_with_random_arguments_never_crash_the_desk(rig: Rig, name: str, args: dict[str, Any]) -> None:
    doc = signed(KEY, name, args, command_id="args-" + uuid.uuid4().hex[:12])
    decision, published = rig.handle(f"{PREFIX}/cmd/{name}", json.dumps(doc).encode())
    replies = [m for m in published if m["kind"] == "reply"]
    if not decision.accepted:
        assert decision.code == "bad_arguments" and replies and replies[0]["result"]["code"] == "bad_arguments"
    elif name != "announce":  # an accepted announce is answered when the loudspeaker is done with it
        assert len(replies) == 1 and replies[0]["outcome"] != "rejected"
