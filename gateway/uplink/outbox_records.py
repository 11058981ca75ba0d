"""What the outbox hands out: a queued message, its figures, and what happened at a failed opening."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Queued:
    """A message waiting for the broker."""

    seq: int
    klass: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    alarms: int
    bytes: int
    dropped_total: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class Recovery:
    """What happened when the database could not be opened: where it went, where numbering resumed."""

    moved_to: str
    error: str
    resumed_at_seq: int
