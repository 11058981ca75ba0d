"""One camera's decisions, without threads: the pipeline, the rules and the snapshots.

`CameraProcessor.step(image, now, wall)` is the single code path from a frame to alarm signals.
The live `CameraWatch` calls it with camera frames and `stationctl replay` with file frames and
media time, so a replay shows exactly what the gateway would have raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from edge_models.classifier import ImageClassifier
from edge_models.detector import SsdDetector
from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.fire_head import BackboneFireSmoke
from edge_models.fire_learned import LearnedFireSmoke
from edge_models.fire_smoke import ClassicalFireSmoke, ModelFireSmoke
from edge_models.motion import MotionGate
from edge_models.pipeline import Observation, VisionPipeline
from edge_models.region_detector import RegionDetector, RegionPlanner, RegionSettings
from edge_models.snapshot import GREEN, GREY, ORANGE, RED, annotate, encode_jpeg
from edge_models.tracker import IouTracker
from edge_models.zone_edges import edge_distance
from edge_models.zones import Box, Zone
from gateway.alarms import AlarmSignal
from gateway.config.fire_model import BackboneFireModel, ImagenetFireModel, LearnedFireModel
from gateway.config.vision import CameraConfig, ClassifierFireModel, DetectionConfig, MotionConfig, ZoneConfig
from gateway.rules.fire_suppression import Suppression, alarm_box, filter_evidence
from gateway.rules.person_dwell import DwellSettings, DwellState, Sighting, entered_times, person_dwell_step
from gateway.rules.person_zone import CLOCK_SET_AFTER, ZoneObservation, ZoneSettings, ZoneState, is_armed, person_zone_step
from gateway.rules.vision_fire import FireSettings, FireState, vision_fire_step
from gateway.vision.person_detector import far_band_detector, load_model, person_detector


def zones_of(cfg: CameraConfig) -> tuple[Zone, ...]:
    floor = cfg.detection.threshold() if cfg.detection is not None else 0.5  # (zones need detection: the config says so)
    return tuple(Zone(z.id, tuple(z.polygon), floor if z.min_score is None else z.min_score, z.min_box_area) for z in cfg.zones)


def region_settings(d: DetectionConfig, m: MotionConfig) -> RegionSettings:
    """The region settings of a camera (tile motion uses the camera's grey-level threshold)."""
    r = d.regions
    return RegionSettings(
        r.mode, r.tile_size, r.overlap, r.margin, r.max_invokes, r.revisit_s, m.pixel_threshold, r.motion_min_changed, r.motion_width,
        r.far_band, r.far_tile_size, r.far_min_score,
    )


def region_planner(cfg: CameraConfig, d: DetectionConfig) -> RegionPlanner:
    """The camera's regions over its zones (a planner keeps visit state: one per pipeline)."""
    return RegionPlanner(region_settings(d, cfg.motion), [tuple(z.polygon) for z in cfg.zones])


def build_pipeline(cfg: CameraConfig) -> VisionPipeline:
    """The perception of one camera, from its config (loads the models: may raise ModelError)."""
    m = cfg.motion
    gate = MotionGate(m.enabled, m.pixel_threshold, m.min_changed, m.force_every_s, m.width)
    detector = tracker = regions = None
    person_labels: tuple[str, ...] = ("person",)
    min_score = 0.5
    if cfg.detection is not None:
        d = cfg.detection
        detector = person_detector(d)  # type: ignore[assignment]  # COCO SSD or the swimmer head, same detect()
        t = d.tracker
        tracker = IouTracker(t.iou_threshold, t.max_distance, t.max_age_s, t.min_hits)
        person_labels, min_score = tuple(d.person_labels), d.threshold()
        if d.regions.mode != "full":
            planner = region_planner(cfg, d)
            regions = RegionDetector(detector, planner, far_band_detector(detector, planner.settings, d))  # type: ignore[arg-type]
    fire = fire_model = None
    if cfg.fire_smoke is not None:
        fs = cfg.fire_smoke
        if fs.classical is not None:
            c = fs.classical
            fire = ClassicalFireSmoke(
                detect_fire=c.fire, detect_smoke=c.smoke, fire_min_area=c.fire_min_area,
                fire_min_flicker=c.fire_min_flicker, smoke_min_area=c.smoke_min_area, smoke_min_changing=c.smoke_min_changing,
            )
        if isinstance(fs.model, LearnedFireModel):
            fire_model = LearnedFireSmoke.load(**fs.model.runtime_settings())
        elif isinstance(fs.model, (BackboneFireModel, ImagenetFireModel)):
            fire_model = BackboneFireSmoke.load(**fs.model.runtime_settings())
        elif fs.model is not None:
            model, labels = load_model(fs.model.model)
            net = ImageClassifier(model, labels) if isinstance(fs.model, ClassifierFireModel) else SsdDetector(model, labels)
            fire_model = ModelFireSmoke(net, tuple(fs.model.fire_labels), tuple(fs.model.smoke_labels), fs.model.min_score)
    smoke_min = cfg.fire_smoke.classical_smoke_min_model_score if cfg.fire_smoke is not None else None
    return VisionPipeline(gate, detector, person_labels, min_score, tracker, zones_of(cfg), fire, fire_model, regions, smoke_min)


SuppressionsOf = Callable[[str, float], Sequence[Suppression]]  # (camera id, wall time) -> its live suppressions

KEPT_FRAMES = 4  # frames held as the evidence of people who might be lost in the water


@dataclass
class _ZoneRule:
    zone: Zone
    settings: ZoneSettings
    state: ZoneState
    dwell: DwellSettings
    dwell_state: DwellState = field(default_factory=DwellState)
    seen_frames: dict[int, tuple[np.ndarray, Observation, float]] = field(default_factory=dict)  # last frame each person was found in


def dwell_settings(source: str, z: ZoneConfig, max_snapshots: int) -> DwellSettings:
    """A zone's lost-in-water parameters (`lost_after_s` None when it is off: dwell is still followed)."""
    lost = z.lost_in_water
    if lost is None:
        return DwellSettings(source, lost_after_s=None, max_snapshots=max_snapshots, name=z.name)
    return DwellSettings(
        source, lost.after_s, lost.edge_margin, lost.min_tracked_s, lost.rejoin_distance,
        forget_after_s=lost.after_s + 30.0, hold_s=lost.hold_s, max_snapshots=max_snapshots, name=z.name,
    )


class CameraProcessor:
    """Frame in, alarm signals (with snapshots) out; holds the rule states of one camera.

    Rules step on analysed frames only (a frame the motion gate skips repeats the last one), so
    N of M counts analysed frames and the rules' timers advance at least every `force_every_s`.
    """

    def __init__(self, cfg: CameraConfig, pipeline: VisionPipeline | None = None, suppressions: SuppressionsOf | None = None) -> None:
        """`suppressions`: the county's "false alarm here" regions of a camera; fire/smoke evidence on them is dropped."""
        self.cfg = cfg
        self._suppressions = suppressions
        self.pipeline = pipeline if pipeline is not None else build_pipeline(cfg)
        tz = cfg.tzinfo()
        self._zones = [
            _ZoneRule(
                zone,
                ZoneSettings(
                    source=f"{cfg.id}/{z.id}", trigger_frames=z.trigger_frames, window_frames=z.window_frames,
                    clear_after_s=z.clear_after_s, severity=z.severity, min_update_s=z.min_update_s, count_settle_s=z.count_settle_s,
                    hours=tuple(z.armed.hours), months=tuple(z.armed.months), tz=tz, name=z.name,
                    escalate=tuple((e.after_s, e.severity) for e in z.escalate), max_snapshots=cfg.snapshot.max_per_alarm,
                ),
                ZoneState(),
                dwell_settings(f"{cfg.id}/{z.id}", z, cfg.snapshot.max_per_alarm),
            )
            for zone, z in zip(self.pipeline.zones, cfg.zones)
        ]
        fs = cfg.fire_smoke
        self._fire = (
            FireSettings(cfg.id, fs.trigger_frames, fs.window_frames, fs.clear_after_s, fs.severity) if fs is not None else None
        )
        self._fire_state = FireState()
        self._last_box: dict[str, list[float]] = {}

    def step(self, image: np.ndarray, now: float, wall: float) -> tuple[Observation, list[AlarmSignal]]:
        """Analyse one frame (`now` monotonic or media time, `wall` its Unix time)."""
        obs = self.pipeline.process(image, now)
        if not obs.analysed:
            return obs, []
        signals: list[AlarmSignal] = []
        for rule in self._zones:
            signals.extend(self._zone_step(rule, image, obs, now, wall))
        if self._fire is not None and obs.fire is not None:
            evidence = obs.fire
            if self._suppressions is not None:
                evidence = filter_evidence(evidence, self._suppressions(self.cfg.id, wall), self.cfg.id, wall)
                obs = replace(obs, fire=evidence)
            self._fire_state, out = vision_fire_step(self._fire, self._fire_state, evidence, now)
            signals.extend(self._with_snapshot(self._with_box(s, evidence), image, obs, wall) for s in out)
        return obs, signals

    def _with_box(self, signal: AlarmSignal, evidence: FireSmokeEvidence) -> AlarmSignal:
        """A raised fire/smoke signal carries its evidence region (`details.box`): what a "false alarm here" suppresses.

        A restatement on a frame without boxes repeats the last one (the alarm book keeps the latest details).
        """
        boxes = evidence.fire_boxes if signal.kind == "fire" else evidence.smoke_boxes
        if boxes:
            self._last_box[signal.kind] = [round(v, 4) for v in alarm_box(boxes)]
        box = self._last_box.get(signal.kind)
        if not signal.active or box is None:
            return signal
        return replace(signal, details={**signal.details, "box": box})

    def _zone_step(self, rule: _ZoneRule, image: np.ndarray, obs: Observation, now: float, wall: float) -> list[AlarmSignal]:
        """One zone: each person followed (dwell, lost in the water), then the person-in-zone alarm."""
        s = rule.settings
        armed = wall < CLOCK_SET_AFTER or is_armed(s.hours, s.months, wall, s.tz)
        inside = {t.id for t in obs.zones.get(rule.zone.id, ())}
        sightings = [
            Sighting(t.id, t.last_seen, t.id in inside, self._clearance(rule.zone, t.box, obs), t.box)
            for t in obs.tracks
        ]
        rule.dwell_state, lost = person_dwell_step(rule.dwell, rule.dwell_state, sightings, now, armed)
        self._keep_seen_frames(rule, image, obs, now, wall)
        tracks = obs.zones.get(rule.zone.id, ())
        entered = tuple(entered_times(rule.dwell_state).items())
        zobs = ZoneObservation(tuple(t.id for t in tracks), wall, tuple(t.score for t in tracks), entered)
        rule.state, out = person_zone_step(s, rule.state, zobs, now)
        signals = [self._with_snapshot(x, image, obs, wall, hot_zone=rule.zone.id) if x.fresh_evidence else x for x in out]
        for x in lost:
            if x.active and x.fresh_evidence:
                last = [p for p in rule.dwell_state.people if p.lost]
                newest = max(last, key=lambda p: p.last_seen)
                frame, seen_obs, seen_wall = rule.seen_frames.get(newest.id, (image, obs, wall))
                marks = {p.id: (p.box, f"lost #{p.id}") for p in last}
                x = replace(x, snapshot_jpeg=self.snapshot(frame, seen_obs, seen_wall, x, rule.zone.id, marks))
            signals.append(x)
        return signals

    @staticmethod
    def _keep_seen_frames(rule: _ZoneRule, image: np.ndarray, obs: Observation, now: float, wall: float) -> None:
        """The last frame each person who could be lost was found in (the evidence if they are), a few frames at most.

        Only people well inside the water are candidates; a 1080p frame is 6 MB, so at most
        `KEPT_FRAMES` different frames are held (the oldest go first).
        """
        if rule.dwell.lost_after_s is None:
            return
        inside = {t.id for t in obs.zones.get(rule.zone.id, ())}
        for t in obs.tracks:
            if t.id in inside and t.last_seen == now:
                rule.seen_frames[t.id] = (image, obs, wall)
        candidates = {p.id for p in rule.dwell_state.people if p.inside and p.edge_distance >= rule.dwell.edge_margin}
        kept = {i: f for i, f in rule.seen_frames.items() if i in candidates}
        by_age = sorted({id(f[0]): f[2] for f in kept.values()}.items(), key=lambda x: x[1], reverse=True)
        newest = {frame_id for frame_id, _ in by_age[:KEPT_FRAMES]}
        rule.seen_frames = {i: f for i, f in kept.items() if id(f[0]) in newest}

    @staticmethod
    def _clearance(zone: Zone, box: Box, obs: Observation) -> float:
        """How far inside the zone the whole person is: feet from its edge less their height (frame's larger side = 1).

        The detector needs the whole body: one whose feet are less than their height from the edge
        reaches out of the watched region (a zone crop or its tiles) and is lost from sight there
        when walking out, which must not look like going under.
        """
        height = (box[3] - box[1]) * obs.height / max(obs.width, obs.height, 1)
        return edge_distance(zone, box, obs.width, obs.height) - height

    def open_alarms(self) -> list[str]:
        """Sources of the alarms this camera's rules hold open (for status and replay summaries)."""
        out = [r.settings.source for r in self._zones if r.state.active]
        out += [f"possible_submersion:{r.settings.source}" for r in self._zones if r.dwell_state.active]
        if self._fire_state.fire.active:
            out.append(f"fire:{self.cfg.id}")
        if self._fire_state.smoke.active:
            out.append(f"smoke:{self.cfg.id}")
        return out

    def _with_snapshot(
        self, signal: AlarmSignal, image: np.ndarray, obs: Observation, wall: float, hot_zone: str | None = None
    ) -> AlarmSignal:
        if not signal.active:
            return signal
        return replace(signal, snapshot_jpeg=self.snapshot(image, obs, wall, signal, hot_zone))

    def snapshot(
        self, image: np.ndarray, obs: Observation, wall: float, signal: AlarmSignal, hot_zone: str | None = None,
        marks: dict[int, tuple[Box, str]] | None = None,
    ) -> bytes:
        """The annotated frame of an alarm as a size-bounded JPEG (`marks`: tracks drawn with their own label, e.g. lost)."""
        marks = marks or {}
        inside = {t.id for t in obs.zones.get(hot_zone, ())} if hot_zone else set()
        boxes = [(t.box, f"#{t.id} {t.score:.2f}", RED if t.id in inside else GREEN) for t in obs.tracks if t.id not in marks]
        boxes += [(box, label, RED) for box, label in marks.values()]
        if obs.fire is not None:
            boxes += [(b, "fire", ORANGE) for b in obs.fire.fire_boxes]
            boxes += [(b, "smoke", GREY) for b in obs.fire.smoke_boxes]
        tz = self.cfg.tzinfo()
        local = datetime.fromtimestamp(wall, tz) if tz is not None else datetime.fromtimestamp(wall).astimezone()
        stamp = local.strftime("%Y-%m-%d %H:%M:%S %Z")
        caption = f"{self.cfg.id} {signal.kind} {signal.source}  {stamp}"
        drawn = annotate(image, self.pipeline.zones, hot_zone, boxes, caption)
        s = self.cfg.snapshot
        return encode_jpeg(drawn, s.max_bytes, s.quality, s.min_quality, s.max_width)

