"""What one analysed frame shows of fire and smoke: the one evidence type, from the classical
cues or a model (`edge_models.fire_smoke`) to the alarm rule (`gateway.rules.vision_fire`).

A module of its own, with no OpenCV or LiteRT behind it, so the pure rule (and the station that
imports it) can take the evidence type without loading the image stack. It lives here, not in
the gateway, because perception sits below the gateway: the rule may import it, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_models.zones import Box


@dataclass(frozen=True, slots=True)
class FireSmokeEvidence:
    """What one analysed frame shows: fire and smoke flags, their regions (normalized boxes),
    area fractions, flicker (grey levels), growth (area now / smallest area in the window),
    score (a 0..1 confidence) and `source` (classical or model)."""

    fire: bool = False
    smoke: bool = False
    fire_boxes: tuple[Box, ...] = ()
    smoke_boxes: tuple[Box, ...] = ()
    fire_area: float = 0.0
    smoke_area: float = 0.0
    flicker: float = 0.0
    growth: float = 1.0
    fire_score: float = 0.0
    smoke_score: float = 0.0
    monochrome: bool = False
    source: str = "classical"

    @classmethod
    def from_boxes(
        cls, fire_boxes: tuple[Box, ...], smoke_boxes: tuple[Box, ...], fire_score: float, smoke_score: float, source: str
    ) -> "FireSmokeEvidence":
        """A learned detector's evidence: the boxes that passed its thresholds and its best scores."""
        return cls(
            fire=bool(fire_boxes),
            smoke=bool(smoke_boxes),
            fire_boxes=fire_boxes,
            smoke_boxes=smoke_boxes,
            fire_area=max((box_area(b) for b in fire_boxes), default=0.0),
            smoke_area=max((box_area(b) for b in smoke_boxes), default=0.0),
            fire_score=fire_score,
            smoke_score=smoke_score,
            source=source,
        )

    def merged(self, other: "FireSmokeEvidence", smoke_min_score: float | None = None) -> "FireSmokeEvidence":
        """Either source suffices (classical OR model); regions and scores are combined. With
        `smoke_min_score`, this (classical) evidence's smoke counts only when `other` (the model)
        scores smoke at least that high in the same frame: the model verifies the change cue, which
        alone takes drifting cloud, fog and glare for smoke, at a score lower than its own threshold."""
        own_smoke = self.smoke and (smoke_min_score is None or other.smoke_score >= smoke_min_score)
        own_boxes = self.smoke_boxes if own_smoke else ()
        return FireSmokeEvidence(
            fire=self.fire or other.fire,
            smoke=own_smoke or other.smoke,
            fire_boxes=self.fire_boxes + other.fire_boxes,
            smoke_boxes=own_boxes + other.smoke_boxes,
            fire_area=max(self.fire_area, other.fire_area),
            smoke_area=max(self.smoke_area if own_smoke else 0.0, other.smoke_area),
            flicker=max(self.flicker, other.flicker),
            growth=max(self.growth, other.growth),
            fire_score=max(self.fire_score, other.fire_score),
            smoke_score=max(self.smoke_score, other.smoke_score),
            monochrome=self.monochrome and other.monochrome,
            source=f"{self.source}+{other.source}",
        )


def box_area(b: Box) -> float:
    """Area of a normalized box (0 for an empty one)."""
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
