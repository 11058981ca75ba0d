"""One camera's perception: frame -> motion gate -> detector -> tracker -> zones, and fire/smoke.

The pipeline knows images and models, nothing of alarms: it returns an `Observation` per frame
and the rules decide. Frames the motion gate skips cost only the gate; their observation says
`analysed=False` and repeats what the last analysed frame saw (an unchanged picture shows the
same people).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from edge_models.detector import Detection, SsdDetector
from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.fire_smoke import ClassicalFireSmoke, ModelFireSmoke
from edge_models.motion import MotionDecision, MotionGate
from edge_models.region_detector import RegionDetector
from edge_models.tracker import IouTracker, Track
from edge_models.zones import Zone


@dataclass(frozen=True, slots=True)
class Observation:
    """What one frame shows. `zones` maps zone id to the tracks counted in it."""

    ts: float
    width: int
    height: int
    analysed: bool
    motion: MotionDecision
    people: tuple[Detection, ...] = ()
    tracks: tuple[Track, ...] = ()
    zones: dict[str, tuple[Track, ...]] = field(default_factory=dict)
    fire: FireSmokeEvidence | None = None
    infer_ms: float = 0.0
    total_ms: float = 0.0
    invokes: int = 0


class VisionPipeline:
    """Holds the models and the per-camera state (tracker, gate, fire history); one per camera.

    With `regions`, the detector runs on zone crops or tiles at native resolution (see
    edge_models.region_detector) instead of the whole frame squeezed to the model's input.
    """

    def __init__(
        self,
        gate: MotionGate,
        detector: SsdDetector | None = None,
        person_labels: tuple[str, ...] = ("person",),
        min_score: float = 0.5,
        tracker: IouTracker | None = None,
        zones: tuple[Zone, ...] = (),
        fire: ClassicalFireSmoke | None = None,
        fire_model: ModelFireSmoke | None = None,
        regions: RegionDetector | None = None,
        smoke_min_score: float | None = None,
    ) -> None:
        self.gate = gate
        self.detector = detector
        self.person_labels = frozenset(person_labels)
        self.min_score = min_score
        self.tracker = tracker or IouTracker()
        self.zones = zones
        self.fire = fire
        self.fire_model = fire_model
        self.regions = regions
        self.smoke_min_score = smoke_min_score  # the model's smoke score a frame needs for the classical smoke cue to count
        self._last: Observation | None = None

    def process(self, bgr: np.ndarray, ts: float) -> Observation:
        """Analyse one frame taken at `ts` (monotonic seconds, or the media time in replay)."""
        t0 = time.perf_counter()
        h, w = bgr.shape[:2]
        decision = self.gate.check(bgr, ts)
        chosen: list[int] | None = None
        if self.regions is not None and (decision.run or self.regions.planner.settings.mode == "tiles"):
            chosen = self.regions.planner.plan(bgr, ts)  # tiles: their own motion and revisits count too
        if not decision.run and not chosen and self._last is not None:
            last = self._last
            return Observation(
                ts, w, h, False, decision, last.people, last.tracks, last.zones, last.fire,
                0.0, (time.perf_counter() - t0) * 1000,
            )
        people: list[Detection] = []
        infer_ms = 0.0
        invokes = 0
        if self.regions is not None:
            t1 = time.perf_counter()
            people = self.regions.detect(bgr, ts, self.min_score, self.person_labels, chosen)
            infer_ms = (time.perf_counter() - t1) * 1000
            invokes = self.regions.last_invokes
        elif self.detector is not None:
            t1 = time.perf_counter()
            found = self.detector.detect(bgr, self.min_score)
            infer_ms = (time.perf_counter() - t1) * 1000
            people = [d for d in found if d.label in self.person_labels]
            invokes = 1
        tracks = tuple(self.tracker.update(people, ts)) if self.detector is not None else ()
        in_zones = {z.id: tuple(t for t in tracks if z.admits(t.box, t.score)) for z in self.zones}
        evidence = None
        if self.fire is not None:
            evidence = self.fire.analyse(bgr, ts)
        if self.fire_model is not None:
            t1 = time.perf_counter()
            found_model = self.fire_model.analyse(bgr)
            infer_ms += (time.perf_counter() - t1) * 1000
            evidence = found_model if evidence is None else evidence.merged(found_model, self.smoke_min_score)
        obs = Observation(
            ts, w, h, True, decision, tuple(people), tracks, in_zones, evidence,
            infer_ms, (time.perf_counter() - t0) * 1000, invokes,
        )
        self._last = obs
        return obs
