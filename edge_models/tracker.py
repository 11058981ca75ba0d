"""Keeps identities of detected people across frames: greedy IoU matching with a centroid fallback.

Why this and not SORT/DeepSORT: with at most ten boxes a frame and people moving a fraction of
their width between analysed frames, box overlap alone matches almost every pair; the centroid
fallback covers the frames skipped by motion gating, where a walker's boxes may stop
overlapping. DeepSORT would need an appearance model (none is licensed here, and it would double
the CPU per frame); a Kalman filter buys little at these speeds. Identities only need to be good
enough to count people, name them in updates and measure dwell time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from edge_models.detector import Detection
from edge_models.zones import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance of the box centres in units of the larger box's height (scale-free)."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    h = max(a[3] - a[1], b[3] - b[1], 1e-6)
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / h


@dataclass(frozen=True, slots=True)
class Track:
    """One identity: its latest box and score, when it was first and last seen, how often."""

    id: int
    box: Box
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1


@dataclass
class IouTracker:
    """Greedy IoU tracker; call `update` once per analysed frame with that frame's detections.

    A track is reported once it has `min_hits` matches and is kept (coasting on its last box)
    for `max_age_s` after its last match, so one missed detection does not end an identity.
    """

    iou_threshold: float = 0.3
    max_distance: float = 1.0
    max_age_s: float = 2.0
    min_hits: int = 2
    _tracks: dict[int, Track] = field(init=False, repr=False, default_factory=dict)
    _next_id: int = field(init=False, repr=False, default=1)

    def update(self, detections: list[Detection], now: float) -> list[Track]:
        """Match, create and expire tracks; return the confirmed ones still alive."""
        self._tracks = {i: t for i, t in self._tracks.items() if now - t.last_seen <= self.max_age_s}
        unmatched = set(range(len(detections)))
        free = set(self._tracks)
        pairs = sorted(
            ((iou(t.box, detections[j].box), i, j) for i, t in self._tracks.items() for j in unmatched),
            reverse=True,
        )
        for score, i, j in pairs:
            if score < self.iou_threshold:
                break
            if i in free and j in unmatched:
                self._match(i, detections[j], now)
                free.discard(i)
                unmatched.discard(j)
        far = sorted(
            (_centre_distance(self._tracks[i].box, detections[j].box), i, j) for i in free for j in unmatched
        )
        for dist, i, j in far:
            if dist > self.max_distance:
                break
            if i in free and j in unmatched:
                self._match(i, detections[j], now)
                free.discard(i)
                unmatched.discard(j)
        for j in sorted(unmatched):
            d = detections[j]
            self._tracks[self._next_id] = Track(self._next_id, d.box, d.score, now, now)
            self._next_id += 1
        return [t for t in self._tracks.values() if t.hits >= self.min_hits]

    def _match(self, track_id: int, d: Detection, now: float) -> None:
        t = self._tracks[track_id]
        self._tracks[track_id] = replace(t, box=d.box, score=d.score, last_seen=now, hits=t.hits + 1)

    def reset(self) -> None:
        self._tracks.clear()
