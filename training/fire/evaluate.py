"""Figures of the learned verifier and of the classical detector, on the same photos and video.

Two levels, because they answer different questions:
- per photo: the verifier's scores on one still (whole frame + its crops), giving per-class
  precision/recall on the validation split and on each held-out source; the thresholds are
  chosen here, on validation only.
- per alarm: each photo shown as a short moving clip (`drivers.stills.still_clip`, as
  `stationctl replay` does) through the detector and the real alarm rule (N of M); counted is
  whether the rule raised fire or smoke. This is the level at which the classical detector
  (which needs several frames for flicker and change) can be compared at all, and at which
  vtest.avi gives false alarms per hour of video.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.stills import still_clip
from edge_models.fire_learned import LearnedFireSmoke
from edge_models.fire_smoke import ClassicalFireSmoke
from edge_models.runtime import sha256_file
from gateway.rules.vision_fire import FireSettings, FireState, vision_fire_step

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT.parent / "shared" / "media"
FIGURES = ROOT / "training" / "fire" / "figures.json"
CARD = ROOT / "edge_models" / "models" / "MODEL_CARD.md"
CLIP_FRAMES = 12
MAX_FPR = (0.03, 0.05, 0.1)  # thresholds: the most recall at the first of these false-positive rates reachable on validation


def _load(path: Path) -> np.ndarray | None:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def photo_scores(photos: list, model: Path) -> list[dict[str, Any]]:
    """Best fire and smoke score of each photo (whole frame and candidate crops)."""
    det = LearnedFireSmoke.load(model)
    out = []
    for p in photos:
        bgr = _load(p.path)
        if bgr is None:
            continue
        det._prev = None
        ev = det.analyse(bgr)
        out.append({"source": p.source, "split": p.split, "fire": p.fire, "smoke": p.smoke,
                    "folder": p.path.parent.name, "fs": ev.fire_score, "ss": ev.smoke_score,
                    "fw": det.last_views[0].fire, "sw": det.last_views[0].smoke})
    return out


def _pr(rows: list[dict], kind: str, thr: float) -> dict[str, Any]:
    key, s = kind, "fs" if kind == "fire" else "ss"
    pos = [r for r in rows if r[key] == 1]
    neg = [r for r in rows if r[key] == 0]
    tp = sum(r[s] >= thr for r in pos)
    fp = sum(r[s] >= thr for r in neg)
    return {
        "positives": len(pos), "negatives": len(neg), "tp": tp, "fp": fp,
        "recall": round(tp / len(pos), 3) if pos else None,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "fpr": round(fp / len(neg), 3) if neg else None,
    }


def choose_threshold(rows: list[dict], kind: str) -> tuple[float, float]:
    """(threshold, false-positive rate aimed at): the highest recall on validation at a false-positive
    rate of at most the first reachable MAX_FPR (ties: the higher threshold)."""
    for limit in MAX_FPR:
        best = (-1.0, 0.0)
        for thr in np.round(np.arange(0.05, 0.991, 0.01), 2):
            m = _pr(rows, kind, float(thr))
            if m["fpr"] is not None and m["fpr"] <= limit and (m["recall"] or 0) > best[0]:
                best = (m["recall"] or 0, float(thr))
        if best[0] > 0:
            return best[1], limit
    return 0.99, MAX_FPR[-1]


def _alarm_run(detector: Any, frames: Any, fps: float, learned: bool) -> dict[str, int]:
    """Run frames through a detector and the real rule (6 of 10); whether each kind was raised."""
    settings = FireSettings("cam", trigger_frames=6, window_frames=10)
    state = FireState()
    ever = {"fire": False, "smoke": False}
    counts = {"fire_frames": 0, "smoke_frames": 0, "frames": 0}
    for n, frame in enumerate(frames):
        t = n / fps
        ev = detector.analyse(frame) if learned else detector.analyse(frame, t)
        counts["frames"] += 1
        counts["fire_frames"] += int(ev.fire)
        counts["smoke_frames"] += int(ev.smoke)
        state, _ = vision_fire_step(settings, state, ev, t)
        ever["fire"] |= state.fire.active
        ever["smoke"] |= state.smoke.active
    return {"fire": int(ever["fire"]), "smoke": int(ever["smoke"]), **counts}


def alarm_level(photos: list, model: Path, fire_thr: float, smoke_thr: float) -> list[dict[str, Any]]:
    """Per photo: did the rule raise fire / smoke on its still clip, for each detector."""
    learned = LearnedFireSmoke.load(model, fire_threshold=fire_thr, smoke_threshold=smoke_thr)
    out = []
    for p in photos:
        bgr = _load(p.path)
        if bgr is None:
            continue
        if max(bgr.shape[:2]) > 1280:
            scale = 1280 / max(bgr.shape[:2])
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        row = {"source": p.source, "split": p.split, "fire": p.fire, "smoke": p.smoke, "folder": p.path.parent.name}
        learned._prev = None
        row["learned"] = _alarm_run(learned, still_clip(bgr, frames=CLIP_FRAMES), 10.0, True)
        row["classical"] = _alarm_run(ClassicalFireSmoke(), still_clip(bgr, frames=CLIP_FRAMES), 10.0, False)
        smoke_only = _alarm_run(ClassicalFireSmoke(detect_fire=False), still_clip(bgr, frames=CLIP_FRAMES), 10.0, False)
        # learned fire and smoke, plus the classical smoke cue (forest-edge: `classical: {fire: false}`)
        row["hybrid"] = {**row["learned"], "smoke": int(row["learned"]["smoke"] or smoke_only["smoke"])}
        out.append(row)
    return out


def video_alarms(detector: Any, path: Path, learned: bool, every: int = 2) -> dict[str, Any]:
    """Alarms raised (rising edges) on a video, analysing every `every`-th frame (10 fps -> 5 fps, the
    forest-edge camera's max_fps), and per hour of video."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    settings = FireSettings("cam", trigger_frames=6, window_frames=10)
    state = FireState()
    raised = {"fire": 0, "smoke": 0}
    frames = analysed = 0
    ev_frames = {"fire": 0, "smoke": 0}
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        if (frames - 1) % every:
            continue
        analysed += 1
        t = (frames - 1) / fps
        ev = detector.analyse(frame) if learned else detector.analyse(frame, t)
        ev_frames["fire"] += int(ev.fire)
        ev_frames["smoke"] += int(ev.smoke)
        before = (state.fire.active, state.smoke.active)
        state, _ = vision_fire_step(settings, state, ev, t)
        raised["fire"] += int(state.fire.active and not before[0])
        raised["smoke"] += int(state.smoke.active and not before[1])
    cap.release()
    hours = frames / fps / 3600
    return {"media_s": round(frames / fps, 1), "analysed": analysed, "alarms": raised,
            "alarms_per_hour": {k: round(v / hours, 1) for k, v in raised.items()},
            "evidence_frames": ev_frames}


def _rate(rows: list[dict], who: str, kind: str, label: int) -> dict[str, Any]:
    sel = [r for r in rows if r[kind] == label] if kind in ("fire", "smoke") else rows
    hit = sum(r[who]["fire"] or r[who]["smoke"] for r in sel) if kind == "any" else sum(r[who][kind] for r in sel)
    return {"n": len(sel), "alarms": hit, "rate": round(hit / len(sel), 3) if sel else None}


def alarm_table(rows: list[dict]) -> dict[str, Any]:
    """Alarm-level recall (positives raising their kind) and false alarms (negatives raising anything)."""
    out: dict[str, Any] = {}
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[f"{r['split']}:{r['source']}"].append(r)
        if r["fire"] == 0 and r["smoke"] in (0, -1):
            groups[f"negatives:{r['source']}/{r['folder']}"].append(r)
    for name, sel in sorted(groups.items()):
        entry: dict[str, Any] = {}
        for who in ("learned", "classical", "hybrid"):
            pos_f = [r for r in sel if r["fire"] == 1]
            pos_s = [r for r in sel if r["smoke"] == 1]
            neg = [r for r in sel if r["fire"] == 0 and r["smoke"] in (0, -1)]
            entry[who] = {
                "fire_recall": _ratio(sum(r[who]["fire"] for r in pos_f), len(pos_f)),
                "smoke_recall": _ratio(sum(r[who]["smoke"] for r in pos_s), len(pos_s)),
                "any_recall": _ratio(sum(r[who]["fire"] or r[who]["smoke"] for r in pos_f + [r for r in pos_s if r not in pos_f]),
                                     len(pos_f) + len([r for r in pos_s if r not in pos_f])),
                "false_alarm_rate": _ratio(sum(r[who]["fire"] or r[who]["smoke"] for r in neg), len(neg)),
            }
        out[name] = entry
    return out


def _ratio(k: int, n: int) -> dict[str, Any]:
    return {"k": k, "n": n, "rate": round(k / n, 3) if n else None}


def shared_stills(model: Path, fire_thr: float, smoke_thr: float) -> dict[str, Any]:
    det = LearnedFireSmoke.load(model, fire_threshold=fire_thr, smoke_threshold=smoke_thr)
    out = {}
    for rel in ("fire/fire-basket.jpg", "fire/pan-fire.jpg", "smoke/wildfire_example.jpg", "people/messi5.jpg", "people/basketball1.png"):
        bgr = _load(MEDIA / rel)
        if bgr is None:
            continue
        det._prev = None
        ev = det.analyse(bgr)
        out[rel] = {"fire": round(ev.fire_score, 3), "smoke": round(ev.smoke_score, 3), "views": len(det.last_views)}
    return out


def evaluate_all(photos: list, model: Path) -> dict[str, Any]:
    """Every figure of the model card, measured now."""
    t0 = time.time()
    val = [p for p in photos if p.split == "val"]
    held = [p for p in photos if p.split == "heldout"]
    rows = photo_scores(val + held, model)
    vrows = [r for r in rows if r["split"] == "val"]
    chosen = {k: choose_threshold(vrows, k) for k in ("fire", "smoke")}
    thr = {k: v[0] for k, v in chosen.items()}
    per_photo: dict[str, Any] = {}
    sets: dict[str, list[dict]] = {"val": vrows}
    for r in rows:
        sets.setdefault(f"{r['split']}:{r['source']}", []).append(r)
    for name, sel in sets.items():
        per_photo[name] = {k: _pr(sel, k, thr[k]) for k in ("fire", "smoke")}
    whole = [{**r, "fs": r["fw"], "ss": r["sw"]} for r in rows]  # the same, whole frame only (max_crops 0)
    per_photo_whole = {}
    for name in sets:
        sel = [r for r in whole if name == "val" and r["split"] == "val" or name == f"{r['split']}:{r['source']}"]
        per_photo_whole[name] = {k: _pr(sel, k, thr[k]) for k in ("fire", "smoke")}
    alarm_rows = alarm_level(val + held, model, thr["fire"], thr["smoke"])
    raw = next((q for q in photos[0].path.parents if q.name == "raw"), None) if photos else None
    if raw is not None:  # every photo's scores, next to the photos (outside the repository)
        (raw.parent / "scores.json").write_text(json.dumps({"photos": rows, "alarms": alarm_rows}, default=str))
    vtest = MEDIA / "people" / "vtest.avi"
    video = {}
    if vtest.exists():
        video["learned"] = video_alarms(LearnedFireSmoke.load(model, fire_threshold=thr["fire"], smoke_threshold=thr["smoke"]), vtest, True)
        video["classical"] = video_alarms(ClassicalFireSmoke(), vtest, False)
    return {
        "model": {"path": str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model),
                  "sha256": sha256_file(model), "bytes": model.stat().st_size},
        "thresholds": thr,
        "threshold_val_fpr_limit": {k: v[1] for k, v in chosen.items()},
        "per_photo": per_photo,
        "per_photo_whole_frame_only": per_photo_whole,
        "alarm_level": alarm_table(alarm_rows),
        "clip_frames": CLIP_FRAMES,
        "vtest": video,
        "shared_stills": shared_stills(model, thr["fire"], thr["smoke"]),
        "seconds": round(time.time() - t0, 1),
    }


def _fmt(m: dict[str, Any] | None) -> str:
    if not m or m.get("rate") is None:
        return "-"
    return f"{m['rate']:.2f} ({m['k']}/{m['n']})"


def card_table(fig: dict[str, Any]) -> str:
    """The model card's figures section, generated from figures.json."""
    ev = fig["evaluation"]
    lines = [
        "Thresholds (chosen on validation: the most recall at a false-positive rate of at most "
        f"{ev['threshold_val_fpr_limit']['fire']:.0%} for fire, {ev['threshold_val_fpr_limit']['smoke']:.0%} for smoke): "
        f"fire {ev['thresholds']['fire']}, smoke {ev['thresholds']['smoke']}.",
        "",
        "Per photo (one still: whole frame + candidate crops), learned verifier:",
        "",
        "| set | fire precision | fire recall | fire FPR | smoke precision | smoke recall | smoke FPR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in ev["per_photo"].items():
        f, s = m["fire"], m["smoke"]
        lines.append(
            f"| {name} | {f['precision']} | {f['recall']} ({f['tp']}/{f['positives']}) | {f['fpr']} ({f['fp']}/{f['negatives']}) "
            f"| {s['precision']} | {s['recall']} ({s['tp']}/{s['positives']}) | {s['fpr']} ({s['fp']}/{s['negatives']}) |"
        )
    lines += [
        "",
        f"Per alarm (each photo as a {ev['clip_frames']}-frame moving clip through the real rule, 6 of 10 frames), "
        "learned vs classical (the old colour/flicker detector) on the same photos:",
        "",
        "| set | fire recall learned | fire recall classical | smoke recall learned | smoke recall classical "
        "| smoke recall learned + classical smoke | false alarms learned | false alarms classical "
        "| false alarms learned + classical smoke |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in ev["alarm_level"].items():
        a, c, h = m["learned"], m["classical"], m["hybrid"]
        lines.append(
            f"| {name} | {_fmt(a['fire_recall'])} | {_fmt(c['fire_recall'])} | {_fmt(a['smoke_recall'])} | {_fmt(c['smoke_recall'])} "
            f"| {_fmt(h['smoke_recall'])} | {_fmt(a['false_alarm_rate'])} | {_fmt(c['false_alarm_rate'])} | {_fmt(h['false_alarm_rate'])} |"
        )
    if ev["vtest"]:
        lines += ["", "vtest.avi (pedestrians, no fire; analysed at 5 fps):", "",
                  "| detector | video s | fire alarms | smoke alarms | alarms per hour (fire / smoke) | frames with evidence (fire / smoke) |",
                  "|---|---|---|---|---|---|"]
        for who, v in ev["vtest"].items():
            lines.append(
                f"| {who} | {v['media_s']} | {v['alarms']['fire']} | {v['alarms']['smoke']} "
                f"| {v['alarms_per_hour']['fire']} / {v['alarms_per_hour']['smoke']} "
                f"| {v['evidence_frames']['fire']} / {v['evidence_frames']['smoke']} of {v['analysed']} |"
            )
    lines += ["", "Shared stills (best view's score):", "", "| file | fire | smoke |", "|---|---|---|"]
    lines += [f"| {k} | {v['fire']} | {v['smoke']} |" for k, v in ev["shared_stills"].items()]
    return "\n".join(lines)


def write_outputs(fig: dict[str, Any], model: Path) -> None:
    """figures.json, and the figures section of the model card between its markers."""
    FIGURES.write_text(json.dumps(fig, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if CARD.exists():
        text = CARD.read_text(encoding="utf-8")
        start, end = "<!-- figures:start -->", "<!-- figures:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            CARD.write_text(f"{head}{start}\n{card_table(fig)}\n{end}{tail}", encoding="utf-8")
