"""The pure verifier: every way a command can be wrong is refused with its own code, time passed in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from county.send import build_command
from gateway.commands.verify import Accepted, Policy, Rejected, TimeView, payload_id, verify
from wire.signing import key_id, sign

STATION = "410421/xiaoqi/zhuwa/test-01"
NOW = 1_780_000_000.0
KEY = Ed25519PrivateKey.generate()
OLD_KEY = Ed25519PrivateKey.generate()
POLICY = Policy(STATION, {key_id(KEY.public_key()): KEY.public_key(), key_id(OLD_KEY.public_key()): OLD_KEY.public_key()},
                max_skew_s=60, max_lifetime_s=3600)
SYNCED = TimeView(now=NOW, synced=True)


def cmd(name: str = "status", args: dict[str, Any] | None = None, key: Ed25519PrivateKey = KEY, **fields: Any) -> dict[str, Any]:
    doc = build_command(key, STATION, name, args or {}, NOW, 300, command_id="c-1")
    if fields:
        doc.update(fields)
        doc["sig"] = sign(key, doc)
    return doc


def run(doc: dict[str, Any] | bytes, topic_name: str | None = "status", time: TimeView = SYNCED) -> Accepted | Rejected:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return verify(topic_name, payload, POLICY, time)


def code(result: Accepted | Rejected) -> str:
    return result.code if isinstance(result, Rejected) else "accepted"


def test_a_good_command_from_either_rotation_key_is_accepted() -> None:
    assert isinstance(run(cmd()), Accepted)
    assert isinstance(run(cmd(key=OLD_KEY)), Accepted)


def test_rejections_each_have_their_code_and_reply_to_the_command_id() -> None:
    unsigned = cmd()
    del unsigned["sig"]
    tampered = cmd(args={})
    tampered["args"] = {"x": 1}
    stranger = Ed25519PrivateKey.generate()
    cases = {
        "unsigned": run(unsigned),
        "bad_signature": run(tampered),
        "unknown_key": run(cmd(key=stranger)),
        "wrong_station": run(cmd(station="410421/xiaoqi/zhuwa/test-02")),
        "expired": run(cmd(issued_at=int(NOW) - 1000, expires_at=int(NOW) - 100)),
        "not_yet_valid": run(cmd(issued_at=int(NOW) + 600, expires_at=int(NOW) + 900)),
        "too_long_lived": run(cmd(expires_at=int(NOW) + 7200)),
        "unknown_command": run(cmd(name="reboot"), topic_name="reboot"),
    }
    for expected, result in cases.items():
        assert isinstance(result, Rejected) and result.code == expected, (expected, result)
        assert result.reply_id == "c-1"
    assert code(run(cmd(), topic_name="announce")) == "malformed"  # the topic must name the command


def test_skew_tolerance_applies_to_both_ends() -> None:
    assert code(run(cmd(issued_at=int(NOW) + 30, expires_at=int(NOW) + 300))) == "accepted"
    assert code(run(cmd(issued_at=int(NOW) - 300, expires_at=int(NOW) - 30))) == "accepted"
    assert code(run(cmd(issued_at=int(NOW) - 300, expires_at=int(NOW) - 61))) == "expired"


def test_unsynced_clock_trusts_the_floor_not_the_wall_clock() -> None:
    # a Pi booted in 1970 without NTP: future issue times are fine, expiry is judged against what it has seen
    booted = TimeView(now=0.0, synced=False, floor=NOW)
    assert code(run(cmd(), time=booted)) == "accepted"
    assert code(run(cmd(issued_at=int(NOW) - 1000, expires_at=int(NOW) - 100), time=booted)) == "expired"
    # a wall clock stepped back does not make an expired command fresh again: the floor remembers
    stepped_back = TimeView(now=NOW - 10_000, synced=True, floor=NOW)
    assert code(run(cmd(issued_at=int(NOW) - 1000, expires_at=int(NOW) - 100), time=stepped_back)) == "expired"


def test_commands_issued_before_the_replay_record_began_are_stale() -> None:
    reset = TimeView(now=NOW, synced=True, reset_at=NOW - 10)
    assert code(run(cmd(issued_at=int(NOW) - 100, expires_at=int(NOW) + 100), time=reset)) == "stale"
    assert code(run(cmd(issued_at=int(NOW) - 20, expires_at=int(NOW) + 100), time=reset)) == "accepted"  # within skew
    # a reset time ahead of the station's clock was written by a clock that was wrong: it refuses nothing
    bogus = TimeView(now=NOW, synced=True, reset_at=NOW + 10_000_000)
    assert code(run(cmd(issued_at=int(NOW) - 100, expires_at=int(NOW) + 100), time=bogus)) == "accepted"


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe", b"[]", b"null", b'"x"', b"{", b'{"id": NaN}', b'{"a":1,"a":2}', b"[" * 100_000,
                                     b"x" * 70_000])
def test_garbage_is_malformed_and_replies_to_the_payload_hash(payload: bytes) -> None:
    result = run(payload)
    assert isinstance(result, Rejected) and result.code == "malformed"
    assert result.reply_id == payload_id(payload) and result.reply_id.startswith("sha256-")


def test_an_unusable_id_is_never_used_as_a_topic_level() -> None:
    doc = cmd()
    doc["id"] = "../../status/#"
    result = run(doc)
    assert isinstance(result, Rejected) and result.reply_id.startswith("sha256-")


def test_bool_is_not_an_int_and_extra_fields_are_refused() -> None:
    assert code(run(cmd(issued_at=True))) == "malformed"
    assert code(run(cmd(extra="x"))) == "malformed"


def test_no_keys_rejects_everything() -> None:
    result = verify("status", json.dumps(cmd()).encode(), Policy(STATION, {}), SYNCED)
    assert isinstance(result, Rejected) and result.code == "no_keys" and result.reply_id == "c-1"
