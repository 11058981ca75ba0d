"""Cost of the learned fire/smoke detectors per analysed frame, next to the person detector.

    .venv/bin/python -m bench.fire

Per analysed frame the verifier runs 1 + (candidate crops) invokes of a 96x96 CNN, plus the
cheap colour/change proposal; it is timed whole (`LearnedFireSmoke.analyse`) on real video
(vtest.avi, people, no fire: mostly change candidates) and on the fire/smoke stills as moving
clips (colour candidates), alternating round by round with one resize + invoke of the shared
SSD person detector on the same frames, so the ratio holds on a noisy shared machine. The
Raspberry Pi 4 figure is that ratio times the SSD's assumed Pi 4 invoke (as bench.regions).
The classical colour/flicker detector is timed the same way for comparison, and the cell heads
(`edge_models.fire_head`) likewise: v2 (one SSD invoke keeping its tensors, plus the head) and v3
(one EfficientNet-Lite0 int8 invoke at 320 x 320, plus the head).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.regions import PI_INVOKE_MS
from drivers.stills import still_clip
from edge_models.detector import SsdDetector
from edge_models.fire_head import BackboneFireSmoke
from edge_models.fire_learned import LearnedFireSmoke
from edge_models.fire_smoke import ClassicalFireSmoke
from edge_models.runtime import TfliteModel, load_labels

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media"
SSD = ROOT.parent / "shared" / "models" / "coco_ssd_mobilenet_v1_quant"
ROUNDS = 5
THREADS = 2


def _frames() -> dict[str, list[np.ndarray]]:
    cap = cv2.VideoCapture(str(MEDIA / "people" / "vtest.avi"))
    video = []
    while len(video) < 60:
        ok, f = cap.read()
        if not ok:
            break
        video.append(f)
    cap.release()
    stills = []
    for rel in ("fire/fire-basket.jpg", "fire/pan-fire.jpg", "smoke/wildfire_example.jpg"):
        image = cv2.imread(str(MEDIA / rel))
        if image is not None:
            stills += list(still_clip(image, frames=20))
    return {"vtest": video, "fire_smoke_stills": stills}


def _time(fn: Any, frames: list[np.ndarray]) -> float:
    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        fn(f, i / 10)
    return (time.perf_counter() - t0) * 1000 / len(frames)


def run() -> dict[str, Any]:
    ssd = SsdDetector(TfliteModel(SSD / "detect.tflite", threads=THREADS), load_labels(SSD / "labelmap.txt"))
    learned = LearnedFireSmoke.load(threads=THREADS)
    heads = {"backbone": BackboneFireSmoke.load(SSD / "detect.tflite", threads=THREADS),
             "imagenet": BackboneFireSmoke.load(layer="effnet-10x10", threads=THREADS, detect_smoke=True)}
    out: dict[str, Any] = {"threads": THREADS, "rounds": ROUNDS, "model_bytes": learned.model.path.stat().st_size,
                           "head_bytes": heads["backbone"].head.path.stat().st_size,
                           "imagenet_bytes": heads["imagenet"].head.path.stat().st_size + heads["imagenet"].backbone.path.stat().st_size}
    for name, frames in _frames().items():
        rounds: dict[str, list[float]] = {"learned": [], "ssd": [], "classical": [], "invokes": [], "backbone": [], "imagenet": []}
        for _ in range(ROUNDS):
            learned._prev = None
            views = []

            def step(f: np.ndarray, _t: float) -> None:
                learned.analyse(f)
                views.append(len(learned.last_views))

            rounds["learned"].append(_time(step, frames))
            rounds["invokes"].append(sum(views) / len(views))
            rounds["ssd"].append(_time(lambda f, _t: ssd.detect(f, 0.5), frames))
            for who, det in heads.items():
                rounds[who].append(_time(lambda f, _t, d=det: d.analyse(f), frames))
            classical = ClassicalFireSmoke()
            rounds["classical"].append(_time(classical.analyse, frames))
        ratios = [a / b for a, b in zip(rounds["learned"], rounds["ssd"])]
        ratio = statistics.median(ratios)
        out[name] = {
            "frames": len(frames),
            "learned_ms_per_frame": round(statistics.median(rounds["learned"]), 2),
            "invokes_per_frame": round(statistics.median(rounds["invokes"]), 2),
            "ssd_person_ms_per_invoke": round(statistics.median(rounds["ssd"]), 2),
            "classical_ms_per_frame": round(statistics.median(rounds["classical"]), 2),
            "learned_over_ssd": round(ratio, 3),
            "pi4_estimate_ms": round(ratio * PI_INVOKE_MS["pi4"], 1),
            "pi5_estimate_ms": round(ratio * PI_INVOKE_MS["pi5"], 1),
        }
        for who in heads:
            r = statistics.median(a / b for a, b in zip(rounds[who], rounds["ssd"]))
            out[name].update({
                f"{who}_ms_per_frame": round(statistics.median(rounds[who]), 2), f"{who}_over_ssd": round(r, 3),
                f"{who}_pi4_estimate_ms": round(r * PI_INVOKE_MS["pi4"], 1), f"{who}_pi5_estimate_ms": round(r * PI_INVOKE_MS["pi5"], 1),
            })
    return out


def main() -> None:
    print(json.dumps(run(), indent=1))


if __name__ == "__main__":
    main()
