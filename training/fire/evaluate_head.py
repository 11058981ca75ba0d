"""Per-alarm figures of the backbone head next to the v1 verifier and the classical detector.

Each photo is shown as a short moving clip (`drivers.stills.still_clip`, as `stationctl replay`
does) through each detector and the real alarm rule (6 of 10), exactly as
`training.fire.evaluate` does for v1; plus vtest.avi (people, no fire) as false alarms per hour
and the shared stills. Photos are split over worker processes (each loads its own interpreters).

    python -m training.fire.evaluate_head --head PATH --fire-threshold T [--smoke-threshold S] --variant V
        [--layer 10x10|19x19|19x19+10x10|effnet-10x10] [--backbone PATH] [--crops N --crop-side F]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.stills import still_clip
from edge_models.fire_maps import OWN_BACKBONE
from training.fire.evaluate import CLIP_FRAMES, MEDIA, _alarm_run, _ratio, video_alarms
from training.fire.features import SSD, photos_of_split
from training.fire.train_head import EXCLUDED

V1_THRESHOLDS = {"fire_threshold": 0.89, "smoke_threshold": 0.77}  # the shipped v1's, from its model card
VERIFY_SCORES = (0.05, 0.1, 0.15, 0.2, 0.3)  # classical smoke verified by the model's smoke score (FireSmokeEvidence.merged)
WHO = ("backbone", "v1", "classical", "backbone+classical_smoke", *(f"backbone+verified_smoke@{t}" for t in VERIFY_SCORES))


class _Replay:
    """Evidence computed beforehand, handed to the rule frame by frame (the frames are their indices)."""

    def __init__(self, evidence: list[Any]) -> None:
        self.evidence = evidence

    def analyse(self, n: int, _t: float) -> Any:
        return self.evidence[n]


def clip_runs(model: Any, bgr: np.ndarray) -> dict[str, dict[str, int]]:
    """The clip through the model and the classical smoke cue once, then the evidence through the rule: the model
    alone (`backbone`), either of the two alarms (`backbone+classical_smoke`), and the cue verified by the model once
    per `VERIFY_SCORES` (`FireSmokeEvidence.merged`)."""
    from edge_models.fire_smoke import ClassicalFireSmoke

    classical = ClassicalFireSmoke(detect_fire=False)
    pairs = [(classical.analyse(f, n / 10.0), model.analyse(f)) for n, f in enumerate(still_clip(bgr, frames=CLIP_FRAMES))]
    frames = range(len(pairs))
    alone = _alarm_run(_Replay([m for _, m in pairs]), frames, 10.0, False)
    cue = _alarm_run(_Replay([c for c, _ in pairs]), frames, 10.0, False)
    return {
        "backbone": alone,
        "backbone+classical_smoke": {**alone, "smoke": int(alone["smoke"] or cue["smoke"])},
        **{f"backbone+verified_smoke@{t}": _alarm_run(_Replay([c.merged(m, t) for c, m in pairs]), frames, 10.0, False) for t in VERIFY_SCORES},
    }


def _detectors(head: Path, fire_thr: float, smoke_thr: float, runtime: dict[str, Any]) -> dict[str, Any]:
    from edge_models.fire_head import BackboneFireSmoke
    from edge_models.fire_learned import LearnedFireSmoke

    return {
        "backbone": BackboneFireSmoke.load(
            runtime.get("backbone_path") or (None if runtime.get("layer") in OWN_BACKBONE else SSD),
            head_path=head, fire_threshold=fire_thr, smoke_threshold=smoke_thr, **{k: v for k, v in runtime.items() if k != "backbone_path"},
        ),
        "v1": LearnedFireSmoke.load(**V1_THRESHOLDS),
    }


def read_photo(path: str, longest: int = 1280) -> np.ndarray | None:
    """A photo as a camera would give it: at most `longest` px on its longer side (None if unreadable)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is not None and max(bgr.shape[:2]) > longest:
        f = longest / max(bgr.shape[:2])
        bgr = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return bgr


def _rows(job: tuple[list[tuple[str, str, str, int, int, str]], Path, float, float, bool, dict[str, Any]]) -> list[dict[str, Any]]:
    from edge_models.fire_smoke import ClassicalFireSmoke

    items, head, fire_thr, smoke_thr, old, runtime = job
    dets = _detectors(head, fire_thr, smoke_thr, runtime)
    out = []
    for path, source, split, fire, smoke, folder in items:
        bgr = read_photo(path)
        if bgr is None:
            continue
        row: dict[str, Any] = {"path": path, "source": source, "split": split, "fire": fire, "smoke": smoke, "folder": folder}
        row.update(clip_runs(dets["backbone"], bgr))
        if old:
            dets["v1"]._prev = None
            row["v1"] = _alarm_run(dets["v1"], still_clip(bgr, frames=CLIP_FRAMES), 10.0, True)
            row["classical"] = _alarm_run(ClassicalFireSmoke(), still_clip(bgr, frames=CLIP_FRAMES), 10.0, False)
        out.append(row)
    return out


def set_name(source: str, split: str, variant: str) -> str:
    """`unseen:` a source never trained on; `val:` validation photos of a trained source."""
    if source in EXCLUDED[variant]:
        return f"unseen:{source}"
    return f"{split}:{source}"


def table(rows: list[dict[str, Any]], variant: str, who_all: tuple[str, ...] = WHO) -> dict[str, Any]:
    """Per set: fire and smoke recall and false alarms (a negative raising anything), per detector."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        name = set_name(r["source"], r["split"], variant)
        groups[name].append(r)
        if r["fire"] == 0 and r["smoke"] in (0, -1):
            groups[f"{name}/{r['folder']}"].append(r)
    out: dict[str, Any] = {}
    for name, sel in sorted(groups.items()):
        pos_f = [r for r in sel if r["fire"] == 1]
        pos_s = [r for r in sel if r["smoke"] == 1]
        neg = [r for r in sel if r["fire"] == 0 and r["smoke"] in (0, -1)]
        out[name] = {
            who: {
                "fire_recall": _ratio(sum(r[who]["fire"] for r in pos_f), len(pos_f)),
                "smoke_recall": _ratio(sum(r[who]["smoke"] for r in pos_s), len(pos_s)),
                "false_alarm_rate": _ratio(sum(r[who]["fire"] or r[who]["smoke"] for r in neg), len(neg)),
                "fire_false_alarm_rate": _ratio(sum(r[who]["fire"] for r in neg), len(neg)),
            }
            for who in who_all
            if who in sel[0]
        }
    return out


def evaluate(
    data: Path, head: Path, variant: str, fire_thr: float, smoke_thr: float, workers: int = 2, old: bool = False,
    runtime: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per-alarm table on validation and the unseen sources, vtest.avi and the shared stills; `old`: v1 and
    the classical detector on the same clips too (their figures otherwise come from MODEL_CARD.md);
    `runtime`: the head's `layer`, `crops`, `crop_side` (BackboneFireSmoke)."""
    runtime = runtime or {}
    t0 = time.time()
    photos = [p for p in photos_of_split(data) if p.split in ("val", "heldout") or p.source in EXCLUDED[variant]]
    items = [(str(p.path), p.source, p.split, p.fire, p.smoke, p.path.parent.name) for p in photos]
    jobs = [(items[w::workers], head, fire_thr, smoke_thr, old, runtime) for w in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        rows = [r for part in pool.map(_rows, jobs) for r in part]
    (data / f"alarms_{variant}_{head.stem}.json").write_text(json.dumps(rows))
    dets = _detectors(head, fire_thr, smoke_thr, runtime)
    vtest = MEDIA / "people" / "vtest.avi"
    video = {who: video_alarms(dets[who], vtest, True) for who in ("backbone", "v1") if old or who == "backbone"} if vtest.exists() else {}
    stills = {}
    for rel in ("fire/fire-basket.jpg", "fire/pan-fire.jpg", "smoke/wildfire_example.jpg", "people/messi5.jpg", "people/basketball1.png"):
        bgr = cv2.imread(str(MEDIA / rel))
        if bgr is not None:
            ev = dets["backbone"].analyse(bgr)
            verified = {who: r["smoke"] for who, r in clip_runs(dets["backbone"], bgr).items() if "verified" in who}
            stills[rel] = {"fire": round(ev.fire_score, 3), "smoke": round(ev.smoke_score, 3), "smoke_alarm": verified}
    return {"alarm_level": table(rows, variant), "vtest": video, "shared_stills": stills, "clip_frames": CLIP_FRAMES,
            "thresholds": {"fire": fire_thr, "smoke": smoke_thr}, "runtime": runtime, "seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument("--head", type=Path, required=True)
    ap.add_argument("--variant", choices=sorted(EXCLUDED), default="cair-heldout")
    ap.add_argument("--fire-threshold", type=float, required=True)
    ap.add_argument("--smoke-threshold", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--old", action="store_true", help="also run v1 and the classical detector on every clip")
    ap.add_argument("--layer", default="10x10", help="the feature map(s) the head reads (edge_models.fire_maps)")
    ap.add_argument("--crops", type=int, default=0, help="candidate crops per analysed frame")
    ap.add_argument("--crop-side", type=float, default=0.4)
    ap.add_argument("--backbone", type=Path, default=None, help="an EfficientNet backbone other than the shipped v3 one (e.g. training.fire.finetune's)")
    args = ap.parse_args()
    runtime = {"layer": args.layer, "crops": args.crops, "crop_side": args.crop_side}
    if args.backbone is not None:
        runtime["backbone_path"] = str(args.backbone)
    fig = evaluate(args.data, args.head, args.variant, args.fire_threshold, args.smoke_threshold, args.workers, args.old, runtime)
    print(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()
