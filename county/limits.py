"""Size limits of what the county ingest takes in, and the capped form in which refused payloads are kept.

A station's messages are a few kB and its alarm JPEG tens of kB; a payload far larger is a
mistake or an attack. Such a payload is refused before it is parsed, and it is held in memory
only while it arrives: the ingest keeps its first REJECT_KEEP_BYTES, its size and its sha256
(enough for a human to recognise it and match it to a station's log), never the whole of it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

JSON_MAX_BYTES = 256 * 1024  # a JSON message larger than this is refused unparsed (snapshots: county.payloads)
REJECT_KEEP_BYTES = 16 * 1024  # of a refused payload, the county keeps this much
TOPIC_KEEP_BYTES = 1024
ERROR_KEEP_BYTES = 500

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Capped:
    """The head of a payload, with the size and hash of the whole of it."""

    head: bytes
    size: int
    sha256: str

    @classmethod
    def of(cls, payload: bytes, keep: int = REJECT_KEEP_BYTES) -> "Capped":
        return cls(bytes(payload[:keep]), len(payload), hashlib.sha256(payload).hexdigest())

    @property
    def truncated(self) -> bool:
        return len(self.head) < self.size


def readable(data: bytes) -> str:
    """Text a database can hold: invalid UTF-8 and NUL replaced (a cut may split a character: it is replaced too)."""
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def cap_text(text: str, keep: int = REJECT_KEEP_BYTES) -> str:
    """At most `keep` bytes of UTF-8, with no NUL or lone surrogate (neither SQLite's UTF-8 nor PostgreSQL accepts them)."""
    head = _SURROGATE.sub("\ufffd", text[:keep]).replace("\x00", "\ufffd")  # a character is at least one byte
    return head.encode("utf-8")[:keep].decode("utf-8", errors="ignore")  # a character cut in two is dropped


def unstorable(doc: Any) -> str | None:
    """Why a decoded JSON document cannot go into the database as text or JSONB, or None: a NUL character (U+0000) or a
    lone UTF-16 surrogate (`\\ud800`) in any string, keys included. A stack, so any depth is safe."""
    pending = [doc]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character (U+0000), which the database cannot store"
            if _SURROGATE.search(item):
                return "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which the database cannot store"
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None
