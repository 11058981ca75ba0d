"""Is this payload a command this station may run? Parsing, signature, station and freshness.

Pure: the keys, the station, the policy and the time are passed in, nothing is read from the
clock, the disk or the network, so every rejection can be tested in a microsecond and fuzzed.
Replays are the one check that needs memory; the caller asks the `ReplayGuard` after this says
yes. Every rejection carries a code (for programs), a sentence (for operators) and the id to
reply to: the command's own id when it is usable, else one derived from the payload's hash.

The wire form of a command (`cmd/{name}`, JSON):

    {"v": 1, "id": "...", "station": "county/town/village/station", "name": "announce",
     "issued_at": 1767225600, "expires_at": 1767225900, "key_id": "...", "args": {...},
     "sig": "base64 Ed25519 signature of the canonical form of everything else"}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from wire.commands import MAX_PAYLOAD_BYTES, SignedCommand, is_command_id
from wire.signing import signature_valid

RejectCode = Literal[
    "malformed", "unknown_command", "unsigned", "unknown_key", "bad_signature", "wrong_station",
    "not_yet_valid", "expired", "stale", "too_long_lived", "replayed", "bad_arguments", "no_keys", "unavailable",
]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a station accepts: its path, the county keys (by key id) and the time tolerances."""

    station: str
    keys: Mapping[str, Ed25519PublicKey]
    max_skew_s: float = 60.0
    max_lifetime_s: float = 86400.0


@dataclass(frozen=True, slots=True)
class TimeView:
    """What the station knows of the time: the wall clock, whether it is trusted, and the floors.

    `floor`: a time known to have passed (the latest issue time the county signed; never goes
    back). `reset_at`: when the replay record had to be started afresh; commands issued before it
    cannot be checked for replay. A `reset_at` ahead of the station's time came from a clock that
    was wrong then, and is ignored rather than allowed to refuse every command.
    """

    now: float
    synced: bool
    floor: float = 0.0
    reset_at: float = 0.0

    @property
    def effective(self) -> float:
        """The latest time the station can vouch for."""
        return max(self.floor, self.now) if self.synced else self.floor


@dataclass(frozen=True, slots=True)
class Rejected:
    code: RejectCode
    reason: str
    reply_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Accepted:
    command: SignedCommand


def payload_id(payload: bytes) -> str:
    """The reply id of a payload without a usable command id: `sha256-` and its hex digest."""
    return "sha256-" + hashlib.sha256(payload).hexdigest()


def topic_name(topic: str, prefix: str) -> str | None:
    """The command name of a topic under `{prefix}/cmd/`, or None if the topic is not one."""
    head = f"{prefix}/cmd/"
    return topic[len(head):] if topic.startswith(head) else None


def _utc(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f}"


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice in one object")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(payload: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity; ValueError otherwise."""
    try:
        text = payload.decode("utf-8")
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc.reason}") from None


def _safe_name(name: str | None) -> str:
    if name and len(name) <= 64 and all(c.isascii() and (c.isalnum() or c in "/_-") for c in name):
        return name
    return "?"


def verify(topic_command: str | None, payload: bytes, policy: Policy, time: TimeView) -> Accepted | Rejected:
    """Decide whether a payload received on `cmd/{topic_command}` is a genuine, fresh command for this station."""
    name = _safe_name(topic_command)

    def no(code: RejectCode, reason: str, reply_id: str | None = None) -> Rejected:
        printable = "".join(c if c.isprintable() else "?" for c in reason[:500])  # reasons quote field names from outside
        return Rejected(code, printable, reply_id or payload_id(payload), name)

    if not policy.keys:
        return no("no_keys", "this station accepts no commands (no county keys installed)", _usable_id(payload))
    if len(payload) > MAX_PAYLOAD_BYTES:
        return no("malformed", f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        doc = parse_json(payload)
    except ValueError as exc:
        return no("malformed", f"not a JSON command: {exc}")
    if not isinstance(doc, dict):
        return no("malformed", f"a command is a JSON object, not {type(doc).__name__}")
    raw_id = doc.get("id")
    reply_id = raw_id if isinstance(raw_id, str) and is_command_id(raw_id) else None
    if "sig" not in doc:
        return no("unsigned", "the command carries no signature", reply_id)
    try:
        cmd = SignedCommand.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(command)"
        unknown = first["loc"] == ("name",)
        return no("unknown_command" if unknown else "malformed", f"{where}: {first['msg']}", reply_id)
    if topic_command != cmd.name:
        return no("malformed", f"command {cmd.name!r} was sent on the topic of {name!r}", reply_id)
    key = policy.keys.get(cmd.key_id)
    if key is None:
        return no("unknown_key", f"signed with key {cmd.key_id}, which this station does not trust", reply_id)
    if not signature_valid(key, doc, cmd.sig):
        return no("bad_signature", f"the signature does not match the command (key {cmd.key_id})", reply_id)
    # from here on the county really sent it: what it says may be trusted, if it is fresh and meant for us
    if cmd.station != policy.station:
        return no("wrong_station", f"the command is for station {cmd.station!r}, this is {policy.station!r}", reply_id)
    if cmd.expires_at <= cmd.issued_at:
        return no("malformed", "the command expires before it was issued", reply_id)
    if cmd.expires_at - cmd.issued_at > policy.max_lifetime_s:
        return no("too_long_lived", f"valid for {cmd.expires_at - cmd.issued_at} s, more than the {policy.max_lifetime_s:g} s allowed", reply_id)
    if cmd.expires_at + policy.max_skew_s < time.effective:
        return no("expired", f"expired at {_utc(cmd.expires_at)}; the station's time is {_utc(time.effective)}", reply_id)
    if time.synced and cmd.issued_at > time.now + policy.max_skew_s:
        return no("not_yet_valid", f"issued at {_utc(cmd.issued_at)}, in the future of this station's clock ({_utc(time.now)})", reply_id)
    if cmd.issued_at + policy.max_skew_s < time.reset_at <= time.effective + policy.max_skew_s:
        return no("stale", f"issued at {_utc(cmd.issued_at)}, before this station's replay record began ({_utc(time.reset_at)})", reply_id)
    return Accepted(cmd)


def _usable_id(payload: bytes) -> str | None:
    """The command's id if the payload parses and has a usable one (to reply where the county waits)."""
    try:
        doc = parse_json(payload) if len(payload) <= MAX_PAYLOAD_BYTES else None
    except ValueError:
        return None
    raw = doc.get("id") if isinstance(doc, dict) else None
    return raw if isinstance(raw, str) and is_command_id(raw) else None
