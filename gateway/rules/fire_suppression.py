""""False alarm here": regions of a camera where fire/smoke evidence is ignored until a deadline.

Pure, wall time passed in (a suppression outlives restarts, so it is timed on the Unix clock).
The county marks an alarm as false; the station turns its evidence box, widened by a margin,
into a `Suppression` of that camera and kind. Evidence boxes that overlap a live suppression
(intersection over the smaller of the two boxes at least `min_overlap`: a box inside the region,
or a box that holds the region, such as a whole-frame view) are dropped before the N-of-M rule
sees them, so that spot cannot raise the alarm again; evidence elsewhere in the frame still can.
At most `max_per_camera` suppressions are kept per camera; adding one more drops the oldest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.zones import Box

KINDS = ("fire", "smoke")
MAX_PER_CAMERA = 8
MAX_HOURS = 168
DEFAULT_MARGIN = 0.05
MIN_OVERLAP = 0.5
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class Suppression:
    """One "false alarm here": camera, kind (fire or smoke), normalized region, until (Unix s)."""

    camera: str
    kind: str
    region: Box
    until: float
    added_at: float
    event_id: str = ""


def area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box (0 when either is empty)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min(area(a), area(b))
    if iw <= 0 or ih <= 0 or smaller <= 0:
        return 0.0
    return iw * ih / smaller


def widen(b: Box, margin: float = DEFAULT_MARGIN) -> Box:
    """The box grown by `margin` (fraction of the frame) on every side, kept inside the frame."""
    return (max(0.0, b[0] - margin), max(0.0, b[1] - margin), min(1.0, b[2] + margin), min(1.0, b[3] + margin))


def alarm_box(boxes: Sequence[Box]) -> Box:
    """The region an alarm stands for: the union of its specific boxes (a whole-frame view only when nothing else)."""
    specific = [b for b in boxes if b != WHOLE] or list(boxes)
    if not specific:
        return WHOLE
    return (min(b[0] for b in specific), min(b[1] for b in specific), max(b[2] for b in specific), max(b[3] for b in specific))


def expire(items: Sequence[Suppression], now: float) -> list[Suppression]:
    """The suppressions still in force at `now`."""
    return [s for s in items if s.until > now]


def add(items: Sequence[Suppression], new: Suppression, now: float, max_per_camera: int = MAX_PER_CAMERA) -> list[Suppression]:
    """`items` with `new` added, the expired removed and, per camera, only the newest `max_per_camera` kept."""
    kept = [*expire(items, now), new]
    same = sorted((s for s in kept if s.camera == new.camera), key=lambda s: s.added_at)
    drop = {id(s) for s in same[: max(0, len(same) - max_per_camera)]}
    return [s for s in kept if id(s) not in drop]


def _kept(boxes: tuple[Box, ...], regions: Sequence[Box], min_overlap: float) -> tuple[Box, ...]:
    return tuple(b for b in boxes if all(overlap(b, r) < min_overlap for r in regions))


def filter_evidence(
    evidence: FireSmokeEvidence, items: Sequence[Suppression], camera: str, now: float, min_overlap: float = MIN_OVERLAP
) -> FireSmokeEvidence:
    """The evidence without the boxes that fall on a live suppressed region of `camera`.

    A kind whose every box is dropped is not seen in this frame (flag off, area and score 0). A
    kind flagged without any box (a whole-frame classifier) counts as one whole-frame box, which
    holds every region, so it is dropped while any region of that kind is suppressed.
    """
    live = [s for s in expire(items, now) if s.camera == camera]
    if not live:
        return evidence
    out = evidence
    for kind in KINDS:
        regions = [s.region for s in live if s.kind == kind]
        seen: bool = getattr(evidence, kind)
        if not regions or not seen:
            continue
        boxes: tuple[Box, ...] = getattr(evidence, f"{kind}_boxes") or (WHOLE,)
        kept = _kept(boxes, regions, min_overlap)
        if len(kept) == len(boxes):
            continue
        if kept:
            out = replace(out, **{f"{kind}_boxes": kept, f"{kind}_area": min(getattr(evidence, f"{kind}_area"), max(area(b) for b in kept))})
        else:
            out = replace(out, **{kind: False, f"{kind}_boxes": (), f"{kind}_area": 0.0, f"{kind}_score": 0.0})
    return out


def counts(items: Sequence[Suppression], now: float) -> dict[str, int]:
    """Live suppressions per camera (for health)."""
    out: dict[str, int] = {}
    for s in expire(items, now):
        out[s.camera] = out.get(s.camera, 0) + 1
    return out
