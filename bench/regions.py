"""Regions at native resolution: person recall by height in a 1080p frame (full frame against
tiles), recall on the lifeguard photos, the cost of one analysed frame, the decode cost of a 1080p
stream and the peak memory of one camera with tiles.

    .venv/bin/python -m bench.regions            # print the figures as JSON
    LIFEGUARD_DATA=/path/to/data .venv/bin/python -m bench.regions

Recall by height: a person (with the picture around them) is cut from a source image, scaled so
the person is H pixels tall and pasted into the water zone (the lower third) of a 1920x1080
background (the vtest.avi plaza with its walkers removed by a per-pixel median). Ground truth is
the lifeguard set's labels; for the shared media (vtest.avi, basketball1.png, messi5.jpg), which
have no labels, it is what the detector finds at score 0.5 on the original, unscaled picture. A
person counts as found when a person box of score >= 0.5 overlaps it with IoU >= 0.3. For tiles,
only the tiles that touch the pasted picture are run (the rest hold only background).

The lifeguard set (CC BY 4.0, Roboflow "ai-drone-lifeguard") is read from LIFEGUARD_DATA (default
/work/data/lifeguard/data); without it those figures are skipped (see `_missing_data`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_models.centre_detector import CentreDetector
from edge_models.detector import Detection, SsdDetector
from edge_models.region_detector import RegionPlanner, RegionSettings
from edge_models.regions import Rect, merge_regions, to_frame, zone_crop
from edge_models.runtime import TfliteModel, load_labels
from edge_models.swimmer_head import SHIPPED_FAR_HEAD, SwimmerDetector, SwimmerHead
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import CameraProcessor
from training.swim.dataset import yolo_people

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media" / "people"
MODEL = ROOT.parent / "shared" / "models" / "coco_ssd_mobilenet_v1_quant"
SWIM_FIGURES = ROOT / "training" / "swim" / "figures.json"
CENTRE_FIGURES = ROOT / "training" / "swim" / "figures_centre.json"
DATA = Path(os.environ.get("LIFEGUARD_DATA", "/work/data/lifeguard/data"))
HEIGHTS = (15, 20, 30, 45, 70, 100, 200)
W, H = 1920, 1080
WATER = ((0.0, 2 / 3), (1.0, 2 / 3), (1.0, 1.0), (0.0, 1.0))  # a third of the frame
TILINGS = {"tiles320": 320, "tiles160": 160}
# The far band (RegionsConfig.far_band): the top third of the zone also in 64 px tiles (scored by the
# far head when the swimmer head is measured). A person up to FAR_MAX_PX tall is far away, so on a
# pond camera at the top of the zone: for that row they are pasted inside the band (taller people
# as for the other rows).
FAR_BAND, FAR_TILE, FAR_MAX_PX = 1 / 3, 64, 30
SAMPLES = int(os.environ.get("REGIONS_SAMPLES", "24"))
PHOTOS = int(os.environ.get("REGIONS_PHOTOS", "150"))
# Per-invoke time of the 300x300 uint8 SSD MobileNet v1 with LiteRT, 4 threads: ASSUMED, not
# measured here (no Pi at hand): Pi 4 about 55 ms, Pi 5 about 20 ms, in line with published
# benchmarks of SSD MobileNet V1 on the Pi 4 and 5 (e.g. arXiv 2409.16808); check on hardware.
PI_INVOKE_MS = {"pi4": 55.0, "pi5": 20.0}


def _missing_data() -> str:
    return (
        f"lifeguard set not found at {DATA}: get it with\n"
        "  git clone https://github.com/yashpotdar-py/drowning-detection-system && cd drowning-detection-system\n"
        "  git archive 21174a740fe9461af87183e8f96f34ca78f3fcdc data/train data/valid | tar -x -C /work/data/lifeguard\n"
        "then set LIFEGUARD_DATA=/work/data/lifeguard/data (never copy the photos into the repository)"
    )


def detector(keep_tensors: bool = False) -> SsdDetector:
    return SsdDetector(TfliteModel(MODEL / "detect.tflite", threads=2, keep_tensors=keep_tensors), load_labels(MODEL / "labelmap.txt"))


def swimmer_detector(combine: bool = True) -> SwimmerDetector:
    """The same SSD with the swimmer head (edge_models.swimmer_head); `combine`: max with COCO person."""
    return SwimmerDetector.load(MODEL / "detect.tflite", threads=2, combine_coco=combine)


def centre_detector(with_coco: bool = True) -> CentreDetector:
    """The swimmer centre net shipped in edge_models/models (edge_models.centre_detector); `with_coco`:
    the COCO SSD's person boxes at 0.5 kept too, as `head: centre` runs by default."""
    return CentreDetector.load(threads=2, coco=detector(keep_tensors=True) if with_coco else None)


def centre_score(scorer: str = "centre+coco") -> float:
    """The threshold training chose for the centre net on held-back training photos (never on valid)."""
    return float(json.loads(CENTRE_FIGURES.read_text())["chosen_threshold_on_held_back"][scorer])


def swimmer_score(scorer: str = "max") -> float:
    """The threshold training chose for the head on held-back training photos (never on valid)."""
    return float(json.loads(SWIM_FIGURES.read_text())["chosen_threshold_on_held_back"][scorer])


def _people(found: list[Detection]) -> list[Detection]:
    return [d for d in found if d.label == "person"]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def found(truth: tuple[float, ...], people: list[Detection]) -> bool:
    return any(_iou(truth, d.box) >= 0.3 for d in people)


def background() -> np.ndarray:
    cap = cv2.VideoCapture(str(MEDIA / "vtest.avi"))
    frames = []
    for i in range(0, 795, 16):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        if ok:
            frames.append(f)
    cap.release()
    median = np.median(np.stack(frames), axis=0).astype(np.uint8)
    return cv2.resize(median, (W, H), interpolation=cv2.INTER_CUBIC)


# ------------------------------------------------------------------------------ sources


def shared_targets(det: SsdDetector) -> dict[str, list[tuple[np.ndarray, tuple[int, int, int, int]]]]:
    """(image, person box in pixels) of the shared media, found on the originals at score 0.5."""
    out: dict[str, list[tuple[np.ndarray, tuple[int, int, int, int]]]] = {"vtest": [], "stills": []}
    cap = cv2.VideoCapture(str(MEDIA / "vtest.avi"))
    n = 0
    while len(out["vtest"]) < SAMPLES:
        ok, f = cap.read()
        if not ok:
            break
        n += 1
        if n % 25:
            continue
        for d in _people(det.detect(f, 0.5))[:3]:
            box = _px(d.box, f)
            if box[3] - box[1] >= 60:
                out["vtest"].append((f, box))
    cap.release()
    for name in ("basketball1.png", "messi5.jpg"):
        image = cv2.imread(str(MEDIA / name))
        out["stills"] += [(image, _px(d.box, image)) for d in _people(det.detect(image, 0.5))]
    return out


def _px(box: tuple[float, ...], image: np.ndarray) -> tuple[int, int, int, int]:
    h, w = image.shape[:2]
    return int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)


def lifeguard(split: str, limit: int | None = None, only: Callable[[str], bool] | None = None) -> list[tuple[Path, list[tuple[int, int, int, int]]]]:
    """(photo, labelled people in pixels) of one split (YOLO labels: class cx cy w h); `only`: the
    photos whose stem it accepts (e.g. training.swim.dataset.held_back)."""
    images = [p for p in sorted((DATA / split / "images").glob("*")) if only is None or only(p.stem)][:limit]
    out = []
    for path in images:
        label = DATA / split / "labels" / (path.stem + ".txt")
        image = cv2.imread(str(path))
        if image is None or not label.exists():
            continue
        h, w = image.shape[:2]
        out.append((path, [(int(b[0] * w), int(b[1] * h), int(b[2] * w), int(b[3] * h)) for b in yolo_people(label)]))
    return out


def lifeguard_photos(
    split: str, limit: int | None = None, only: Callable[[str], bool] | None = None
) -> Iterator[tuple[np.ndarray, list[tuple[float, float, float, float]]]]:
    """Each photo of a split with its labelled people normalised to it."""
    for path, boxes in lifeguard(split, limit, only):
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        yield image, [(b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in boxes]


def lifeguard_targets(split: str) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    out = []
    for path, boxes in lifeguard(split):
        tall = [b for b in boxes if b[3] - b[1] >= 60]
        if tall:
            out.append((cv2.imread(str(path)), tall[0]))
        if len(out) >= SAMPLES:
            break
    return out


# ------------------------------------------------------------------------------- recall


def paste(
    bg: np.ndarray, image: np.ndarray, box: tuple[int, int, int, int], height: int, rng: np.random.Generator, rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, Rect, tuple[float, ...]]:
    """The person of `box` with the picture around them, scaled to `height` px, in the zone (within `rows` when given)."""
    x1, y1, x2, y2 = box
    bh, bw = y2 - y1, x2 - x1
    side = int(bh * 1.6)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    ih, iw = image.shape[:2]
    wx1, wy1 = max(0, cx - side // 2), max(0, cy - side // 2)
    wx2, wy2 = min(iw, wx1 + max(side, bw + 8)), min(ih, wy1 + side)
    s = height / bh
    window = cv2.resize(image[wy1:wy2, wx1:wx2], None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    zh = H // 3
    if window.shape[0] > zh:  # keep the person, trim the picture around them to the zone
        top = int(max(0, min((y1 - wy1) * s - (zh - height) / 2, window.shape[0] - zh)))
        window, wy1 = window[top:top + zh], wy1 + top / s
    wh, ww = window.shape[:2]
    px = int(rng.integers(0, W - ww))
    top, bottom = rows or (H - zh, H)
    py = int(rng.integers(top, max(top, bottom - wh) + 1))
    frame = bg.copy()
    frame[py:py + wh, px:px + ww] = window
    truth = ((px + (x1 - wx1) * s) / W, (py + (y1 - wy1) * s) / H, (px + (x2 - wx1) * s) / W, (py + (y2 - wy1) * s) / H)
    return frame, Rect(px, py, ww, wh), truth


def tiled(
    det: SsdDetector, planner: RegionPlanner, frame: np.ndarray, near: Rect | None, score: float = 0.5, far_det: SsdDetector | None = None,
    far_score: float | None = None,
) -> tuple[list[Detection], int]:
    """People of the frame from the planner's regions (those touching `near` only; the far band's
    with `far_det` when given, as RegionDetector does); invokes."""
    rects = planner.layout(frame.shape[1], frame.shape[0])
    chosen = [
        i for i, r in enumerate(rects)
        if near is None or (r.x < near.x2 and near.x < r.x2 and r.y < near.y2 and near.y < r.y2)
    ]
    hits = []
    for i in chosen:
        r = rects[i]
        far = far_det is not None and planner.regions[i].far
        d = far_det if far else det
        hits += to_frame(_people(d.detect(frame[r.y:r.y2, r.x:r.x2], far_score if far and far_score is not None else score)), r, frame.shape[1], frame.shape[0], i)
    return merge_regions(hits), len(chosen)


def recall_by_height(
    det: SsdDetector, bg: np.ndarray, targets: list[tuple[np.ndarray, tuple[int, int, int, int]]], score: float = 0.5, far_det: SsdDetector | None = None,
    far_score: float | None = None,
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    far_rng = np.random.default_rng(1)  # its own draws: the other rows keep their pastes
    planners = {name: RegionPlanner(RegionSettings("tiles", tile, 0.25, 0.02), [WATER]) for name, tile in TILINGS.items()}
    far_names = [f"tiles{tile}_far{FAR_TILE}" for tile in TILINGS.values()]
    for name, tile in zip(far_names, TILINGS.values()):
        planners[name] = RegionPlanner(RegionSettings("tiles", tile, 0.25, 0.02, far_band=FAR_BAND, far_tile=FAR_TILE), [WATER])
    modes = ("full", *planners)
    out: dict[str, Any] = {"people": len(targets), **{mode: {} for mode in modes}}
    crop = zone_crop(WATER, W, H, 0.02)
    band = (H - H // 3, crop.y + int(round(crop.h * FAR_BAND)))  # the water inside the far band
    for height in HEIGHTS:
        hits = dict.fromkeys(modes, 0)
        for image, box in targets:
            frame, window, truth = paste(bg, image, box, height, rng)
            far = paste(bg, image, box, height, far_rng, band) if height <= FAR_MAX_PX else (frame, window, truth)
            hits["full"] += found(truth, _people(det.detect(frame, score)))
            for name, planner in planners.items():
                f, w, t = far if name in far_names else (frame, window, truth)
                hits[name] += found(t, tiled(det, planner, f, w, score, far_det if name in far_names else None, far_score)[0])
        for mode, n in hits.items():
            out[mode][str(height)] = round(n / max(1, len(targets)), 3)
    for mode in modes:
        r = out[mode]
        out[mode]["ratio_20_over_200"] = round(r["20"] / r["200"], 3) if r["200"] else None
    return out


def recall_on_photos(det: SsdDetector, split: str, limit: int | None, score: float = 0.5) -> dict[str, Any]:
    """Recall on the photos themselves (zone = the whole photo)."""
    people = hits_full = 0
    hits_tiles = {name: 0 for name in TILINGS}
    invokes = {name: 0 for name in TILINGS}
    for image, truths in lifeguard_photos(split, limit):
        people += len(truths)
        full = _people(det.detect(image, score))
        hits_full += sum(found(t, full) for t in truths)
        for name, tile in TILINGS.items():
            planner = RegionPlanner(RegionSettings("tiles", tile, 0.25, 0.0), [((0, 0), (1, 0), (1, 1), (0, 1))])
            dets, n = tiled(det, planner, image, None, score)
            invokes[name] += n
            hits_tiles[name] += sum(found(t, dets) for t in truths)
    out: dict[str, Any] = {"people": people, "full": round(hits_full / max(1, people), 3)}
    out.update({name: round(n / max(1, people), 3) for name, n in hits_tiles.items()})
    return out


# --------------------------------------------------------------------------------- cost


def camera(tile: int = 320, budget: int = 6, head: str = "coco", far_band: float = 0.0) -> CameraConfig:
    return CameraConfig.model_validate({
        "id": "pond-1080p", "driver": {"type": "file", "path": "pond.mp4"},
        "detection": {
            "model": {"path": str(MODEL / "detect.tflite"), "labels": str(MODEL / "labelmap.txt"), "threads": 2},
            "regions": {"mode": "tiles", "tile_size": tile, "overlap": 0.25, "max_invokes": budget, "revisit_s": 2.0,
                        "far_band": far_band, "far_tile_size": FAR_TILE, "far_min_score": swimmer_score() if head == "centre" else None},
            "head": head, "min_score": swimmer_score() if head == "swimmer" else centre_score() if head == "centre" else 0.5,
        },
        "zones": [{"id": "water", "polygon": [list(p) for p in WATER], "min_box_area": 0.0}],
        "motion": {"enabled": True, "force_every_s": 2.0},
    })


def quiet(bg: np.ndarray, frames: int) -> Iterator[np.ndarray]:
    """A quiet 1080p pond: the background with sensor noise only."""
    rng = np.random.default_rng(1)
    for _ in range(frames):
        yield np.clip(bg.astype(np.int16) + rng.normal(0, 2, bg.shape).astype(np.int16), 0, 255).astype(np.uint8)


def busy(bg: np.ndarray, frames: int) -> Iterator[np.ndarray]:
    """A busy 1080p pond: three crowds of walkers (vtest.avi at 0.6, people 40-110 px) in the water zone."""
    cap = cv2.VideoCapture(str(MEDIA / "vtest.avi"))
    try:
        for _ in range(frames):
            ok, f = cap.read()
            if not ok:
                return
            small = cv2.resize(f, None, fx=0.6, fy=0.6)
            frame = bg.copy()
            sh, sw = small.shape[:2]
            for x in (100, 760, 1420):
                frame[H - sh - 10:H - 10, x:x + sw] = small
            yield frame
    finally:
        cap.release()


def cost(scene: Iterator[np.ndarray], fps: float = 10.0, head: str = "coco", far_band: float = 0.0) -> dict[str, Any]:
    """Per analysed frame of the real CameraProcessor at 10 fps input (motion gate on)."""
    proc = CameraProcessor(camera(head=head, far_band=far_band))
    ms, cpu, invokes, infer = [], [], [], []
    n = 0
    for i, frame in enumerate(scene):
        n += 1
        c0, t0 = time.process_time(), time.perf_counter()
        obs, _ = proc.step(frame, i / fps, 1.8e9 + i / fps)
        t1, c1 = time.perf_counter(), time.process_time()
        if obs.analysed:
            ms.append((t1 - t0) * 1000)
            cpu.append((c1 - c0) * 1000)
            invokes.append(obs.invokes)
            if obs.invokes:
                infer.append(obs.infer_ms / obs.invokes)
    per_frame = statistics.mean(ms) if ms else 0.0
    all_ms = sum(ms) / max(1, n)
    return {
        "frames": n,
        "analysed": len(ms),
        "regions": len(proc.pipeline.regions.planner.regions) if proc.pipeline.regions else 1,
        "invokes_per_analysed_frame": round(statistics.mean(invokes), 2) if invokes else 0,
        "ms_per_analysed_frame": round(per_frame, 1),
        "cpu_ms_per_analysed_frame": round(statistics.mean(cpu), 1) if cpu else 0,
        "ms_per_invoke_incl_crop": round(statistics.median(infer), 2) if infer else None,
        "analysed_fps_max": round(1000 / per_frame, 1) if per_frame else None,
        "invokes_per_second_at_10fps": round(sum(invokes) / (n / fps), 1) if n else 0,
        "pipeline_ms_per_input_frame": round(all_ms, 2),
    }


def pi_estimate(c: dict[str, Any], x86_invoke_ms: float) -> dict[str, Any]:
    """Per-invoke ratio: the frame's time scaled by (Pi invoke / x86 invoke), the whole frame
    (crop, resize, motion) assumed to slow down by the same ratio as the invoke."""
    out = {}
    for pi, invoke in PI_INVOKE_MS.items():
        ratio = invoke / x86_invoke_ms
        frame_ms = c["ms_per_analysed_frame"] * ratio
        out[pi] = {"assumed_invoke_ms": invoke, "ratio": round(ratio, 1), "ms_per_analysed_frame": round(frame_ms), "analysed_fps": round(1000 / frame_ms, 2)}
    return out


def raw_invoke_ms(det: SsdDetector, frame: np.ndarray, n: int = 30) -> float:
    x = det.model.prepare(frame)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        det.model.invoke(x)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def decode_cost(make: Callable[[], Iterable[np.ndarray]]) -> dict[str, Any]:
    """CPU to decode a 1080p stream (H.264 when OpenCV's writer has it, else MPEG-4 part 2)."""
    with tempfile.TemporaryDirectory() as tmp:
        for fourcc, suffix in (("avc1", ".mp4"), ("H264", ".mkv"), ("mp4v", ".mp4")):
            path = Path(tmp) / f"pond{suffix}"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 10.0, (W, H))
            if writer.isOpened():
                for f in make():
                    writer.write(f)
                writer.release()
                if path.exists() and path.stat().st_size > 0:
                    break
            writer.release()
        else:
            return {"skipped": "no video encoder in OpenCV"}
        h264 = Path(tmp) / "pond-h264.mp4"
        try:  # a camera sends H.264: transcode when ffmpeg is at hand (4 Mbit/s, like a 1080p main stream)
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(path), "-c:v", "libx264", "-b:v", "4M", "-g", "20", str(h264)],
                           check=True, timeout=300)
            path, fourcc = h264, "h264 (libx264, 4 Mbit/s)"
        except (OSError, subprocess.SubprocessError):
            pass
        cap = cv2.VideoCapture(str(path))
        c0, t0 = time.process_time(), time.perf_counter()
        n = 0
        while cap.read()[0]:
            n += 1
        t1, c1 = time.perf_counter(), time.process_time()
        cap.release()
    return {"codec": fourcc, "frames": n, "ms_per_frame": round((t1 - t0) * 1000 / max(1, n), 2), "cpu_ms_per_frame": round((c1 - c0) * 1000 / max(1, n), 2)}


def peak_rss(bg: np.ndarray) -> dict[str, Any]:
    """Peak RSS of a fresh process running one 1080p camera over the busy scene, tiles and full
    (the background is handed over as a file: computing it costs more memory than the camera)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plaza.png"
        cv2.imwrite(str(path), bg)
        for mode in ("tiles", "full", "tiles-centre"):
            proc = subprocess.run([sys.executable, "-m", "bench.regions", "--rss", mode, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
            out[mode] = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-400:]}
    return out


def _rss_child(mode: str, background_png: str) -> None:
    cam = camera(head="centre") if mode == "tiles-centre" else camera()
    if mode == "full":
        d = cam.detection
        assert d is not None
        cam = cam.model_copy(update={"detection": d.model_copy(update={"regions": d.regions.model_copy(update={"mode": "full"})})})
    proc = CameraProcessor(cam)
    n = 0
    for i, f in enumerate(busy(cv2.imread(background_png), 100)):
        proc.step(f, i / 10, 1.8e9 + i / 10)
        n += 1
    # VmHWM, not getrusage: ru_maxrss survives exec and would report the parent's peak.
    hwm = next(int(ln.split()[1]) for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_mb": round(hwm / 1024, 1), "frames": n}))


def run() -> dict[str, Any]:
    det = detector()
    bg = background()
    out: dict[str, Any] = {"heights_px": list(HEIGHTS), "samples_per_source": SAMPLES, "frame": f"{W}x{H}", "water_zone": "lower third"}
    sources = shared_targets(det)
    recall = {name: recall_by_height(det, bg, t) for name, t in sources.items()}
    if (DATA / "train").is_dir() and (DATA / "valid").is_dir():
        for split in ("train", "valid"):
            recall[f"lifeguard_{split}"] = recall_by_height(det, bg, lifeguard_targets(split))
        out["lifeguard_photos"] = {"valid": recall_on_photos(det, "valid", PHOTOS), "train": recall_on_photos(det, "train", PHOTOS), "photos_per_split": PHOTOS}
    else:
        out["lifeguard_skipped"] = _missing_data()
    out["recall_by_height"] = recall
    out["cost"] = {"quiet": cost(quiet(bg, 100)), "busy": cost(busy(bg, 100))}
    x86 = raw_invoke_ms(det, next(busy(bg, 1)))
    out["raw_invoke_ms_here"] = round(x86, 2)
    out["pi_estimate_busy"] = pi_estimate(out["cost"]["busy"], x86)
    out["decode_1080p"] = decode_cost(lambda: busy(bg, 50))
    out["memory"] = peak_rss(bg)
    if SWIM_FIGURES.exists():
        out["swimmer_head"] = swimmer_figures(bg, sources)
    if CENTRE_FIGURES.exists():
        out["centre_net"] = centre_figures(bg, sources, x86)
    return out


def swimmer_figures(bg: np.ndarray, sources: dict[str, list[tuple[np.ndarray, tuple[int, int, int, int]]]]) -> dict[str, Any]:
    """The same measures with the swimmer head combined with COCO (max per anchor, as shipped),
    at the threshold training chose on held-back photos."""
    det, score = swimmer_detector(), swimmer_score()
    far = SwimmerDetector(det.model, SwimmerHead(SHIPPED_FAR_HEAD))
    out: dict[str, Any] = {"min_score": score}
    recall = {name: recall_by_height(det, bg, t, score, far) for name, t in sources.items()}
    if (DATA / "train").is_dir() and (DATA / "valid").is_dir():
        recall["lifeguard_valid"] = recall_by_height(det, bg, lifeguard_targets("valid"), score, far)
        out["lifeguard_photos"] = {"valid": recall_on_photos(det, "valid", PHOTOS, score)}
    out["recall_by_height"] = recall
    out["cost"] = {"quiet": cost(quiet(bg, 100), head="swimmer"), "busy": cost(busy(bg, 100), head="swimmer"),
                   "busy_far_band": cost(busy(bg, 100), head="swimmer", far_band=FAR_BAND)}
    return out


def centre_figures(bg: np.ndarray, sources: dict[str, list[tuple[np.ndarray, tuple[int, int, int, int]]]], ssd_invoke_ms: float) -> dict[str, Any]:
    """The same measures with `head: centre` (the centre net with COCO's walkers, as shipped) at
    the threshold training chose on held-back photos; the far band's tiles go to the SSD and the far
    head at its own threshold (far_min_score), as gateway.vision.person_detector builds it."""
    det, score = centre_detector(), centre_score()
    assert det.coco is not None
    far, far_score = SwimmerDetector(det.coco.model, SwimmerHead(SHIPPED_FAR_HEAD)), swimmer_score()
    out: dict[str, Any] = {"min_score": score, "far_min_score": far_score}
    recall = {name: recall_by_height(det, bg, t, score, far, far_score) for name, t in sources.items()}
    if (DATA / "train").is_dir() and (DATA / "valid").is_dir():
        recall["lifeguard_valid"] = recall_by_height(det, bg, lifeguard_targets("valid"), score, far, far_score)
        out["lifeguard_photos"] = {"valid": recall_on_photos(det, "valid", PHOTOS, score)}
    out["recall_by_height"] = recall
    out["cost"] = {"quiet": cost(quiet(bg, 100), head="centre"), "busy": cost(busy(bg, 100), head="centre"),
                   "busy_far_band": cost(busy(bg, 100), head="centre", far_band=FAR_BAND)}
    alone = centre_detector(with_coco=False)
    centre_ms = raw_invoke_ms(alone, next(busy(bg, 1)))  # type: ignore[arg-type]
    out["raw_invoke_ms_here"] = {"centre_net": round(centre_ms, 2), "ssd": round(ssd_invoke_ms, 2), "ratio": round(centre_ms / ssd_invoke_ms, 2)}
    # Pi: the measured frame scaled by the SSD's assumed Pi invoke over its invoke here (the net assumed to slow down as the SSD)
    out["pi_estimate_busy"] = pi_estimate(out["cost"]["busy"], ssd_invoke_ms)
    return out


if __name__ == "__main__":
    if "--rss" in sys.argv:
        _rss_child(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(run(), indent=2))
