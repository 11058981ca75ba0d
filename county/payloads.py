"""Turning what arrives on a station topic into something to store: a validated message, an alarm snapshot or a reject.

A JSON payload must validate against its wire model (wire.messages refuses NaN, Infinity and
integers beyond 64 bits anywhere) and hold only text the databases can store; a snapshot must be
a JPEG of at most SNAPSHOT_MAX_BYTES. Anything else is a Reject with the reason, kept capped
(county.limits): the ingest stores and acknowledges it like a message, so it never comes back.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import ValidationError

from county.limits import JSON_MAX_BYTES, Capped, readable, unstorable
from county.store import Incoming, Reject, SnapshotIncoming
from county.topics import TopicParts, parse_topic
from wire.messages import WIRE_MODELS

SNAPSHOT_MAX_BYTES = 2 * 1024 * 1024  # a station's evidence JPEG is tens of kB; more is a mistake or abuse
JPEG_MAGIC = b"\xff\xd8\xff"  # SOI marker followed by the first segment's marker
_EVENT_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)  # uuid hex in practice; nothing that could not be a key


def arrival_limit(topic: str) -> int:
    """The largest payload worth keeping whole on this topic: a snapshot's JPEG, else a JSON message."""
    parts = parse_topic(topic)
    return SNAPSHOT_MAX_BYTES if parts is not None and parts.channel == "snapshot" else JSON_MAX_BYTES


def capped_reject(topic: str, error: str, payload: bytes, received_at: float, whole: Capped | None = None) -> Reject:
    """A capped reject: the head of the payload as text, the size and sha256 of all of it."""
    whole = whole or Capped.of(payload)
    return Reject(topic, error, readable(whole.head), received_at, whole.size, whole.sha256)


def parse(topic: str, payload: bytes, received_at: float, whole: Capped | None = None) -> Incoming | SnapshotIncoming | Reject:
    """Validate one payload against its wire model (a snapshot: see `parse_snapshot`); anything else becomes a Reject with the reason.

    `whole`: the size and hash of a payload that arrived too big, of which `payload` is the head."""
    parts = parse_topic(topic)
    snapshot = parts is not None and parts.channel == "snapshot"
    limit = SNAPSHOT_MAX_BYTES if snapshot else JSON_MAX_BYTES
    if whole is not None or len(payload) > limit:
        whole = whole or Capped.of(payload)
        error = f"{'snapshot: ' if snapshot else ''}too big, {whole.size} bytes (at most {limit})"
        return binary_reject(topic, error, whole, received_at) if snapshot else capped_reject(topic, error, payload, received_at, whole)
    if snapshot:
        assert parts is not None
        return parse_snapshot(topic, parts, payload, received_at)
    try:
        text = payload.decode("utf-8")  # the wire is UTF-8 JSON: UTF-16 would be stored as garbage, and PostgreSQL refuse it
        doc = json.loads(text)
        # Valid JSON may still hold U+0000 or a lone surrogate, which the databases refuse. In UTF-8 JSON either can only come
        # from a \u escape (a raw NUL or surrogate is not valid UTF-8 JSON), so a payload without one is clean without a look.
        problem = unstorable(doc) if "\\u" in text else None
        if problem is not None:
            return capped_reject(topic, problem, payload, received_at)
        model = WIRE_MODELS[doc["kind"]]
        message = model.model_validate(doc)  # refuses NaN, Infinity and integers beyond 64 bits anywhere (wire.messages)
    except (ValueError, KeyError, TypeError, RecursionError, ValidationError) as exc:  # RecursionError: '[' nested 100,000 deep
        return capped_reject(topic, f"{type(exc).__name__}: {exc}"[:500], payload, received_at)
    if parts is None or parts.station != message.station:
        return capped_reject(topic, f"station {message.station[:200]!r} does not match the topic", payload, received_at)
    return Incoming(topic, message, text, received_at)

def parse_snapshot(topic: str, parts: TopicParts, payload: bytes, received_at: float) -> SnapshotIncoming | Reject:
    """Raw JPEG bytes, not JSON: checked for the event id, size and magic bytes, and hashed to match the alarm's SnapshotRef."""
    if not _EVENT_ID.fullmatch(parts.rest):
        error = f"snapshot: bad event id {parts.rest[:80]!r} in the topic"
    elif len(payload) > SNAPSHOT_MAX_BYTES:
        error = f"snapshot: too big, {len(payload)} bytes (at most {SNAPSHOT_MAX_BYTES})"
    elif not payload.startswith(JPEG_MAGIC):
        error = "snapshot: not a JPEG (it does not start with FF D8 FF)"
    else:
        return SnapshotIncoming(topic, parts.station, parts.rest, payload, hashlib.sha256(payload).hexdigest(), received_at)
    return binary_reject(topic, error, Capped.of(payload, 32), received_at)


def binary_reject(topic: str, error: str, whole: Capped, received_at: float) -> Reject:
    """Binary, maybe megabytes: a description for a human (PostgreSQL TEXT cannot hold NUL bytes anyway), its size and hash."""
    return Reject(topic, error, f"{whole.size} bytes, starting {whole.head[:32].hex(' ')}", received_at, whole.size, whole.sha256)
