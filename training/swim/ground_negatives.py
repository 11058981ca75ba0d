"""Photos of nobody: dry ground seen from above, rendered from CC0 ground textures (issue 15).

Why: the centre net learned people in water from drone photos of pools and beaches, and it has
never seen a bank of asphalt, paving, gravel or grass from above with nobody on it. Trained longer
it reached the 0.95 recall goal on valid photos but boxed a dark stain on dry asphalt as a swimmer
(SWIMMER_CENTRE.md); photos of streets at eye level (stop 30) did not teach it dry ground from above.
Ground textures are exactly that view, and Poly Haven's and ambientCG's are CC0.

A texture becomes a photo by tiling it 1.5-6 times across (the textures repeat seamlessly), turning
and mirroring it, and cutting a 16:9 frame. About one texture in five is kept aside by name (never
trained on) to measure false boxes on dry ground: `bench.regions_thresholds ground 320 centre`.

Run (the textures in DATA/textures, taken from the public repositories, commits and paths listed with
their sha256 in training/swim/ground_textures.tsv; neither textures nor photos are committed):
    PYTHONPATH=. .venv/bin/python -m training.swim.ground_negatives /work/data/ground
writes DATA/negatives/*.jpg (training textures), DATA/aside/*.jpg (kept-aside textures) and
DATA/negatives.txt (for `training.swim.centre_net --negatives`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from training.stable_split import fraction

ASIDE = 0.2
PER_TEXTURE = 3  # training photos per texture
TRAIN_SIZE, ASIDE_SIZE = (1280, 720), (1920, 1080)
REPEATS = (1.5, 6.0)  # how many times a texture spans the frame's width (log-uniform)
SEED = 15


def kept_aside(name: str) -> bool:
    """About ASIDE of the textures, by name: measured on, never trained on."""
    return fraction(name) < ASIDE


def render(texture: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One frame of ground: the texture repeated across, turned a quarter at random, mirrored half the time."""
    texture = np.rot90(texture, int(rng.integers(4)))
    if rng.random() < 0.5:
        texture = texture[:, ::-1]
    w, h = size
    repeats = float(np.exp(rng.uniform(np.log(REPEATS[0]), np.log(REPEATS[1]))))
    side = max(8, int(round(w / repeats)))
    tile = cv2.resize(np.ascontiguousarray(texture), (side, side), interpolation=cv2.INTER_AREA)
    big = np.tile(tile, (h // side + 2, w // side + 2, 1))
    x0, y0 = int(rng.integers(side)), int(rng.integers(side))
    return np.ascontiguousarray(big[y0 : y0 + h, x0 : x0 + w])


def make(data: Path) -> tuple[int, int]:
    """Renders every texture in DATA/textures; returns (training photos, aside photos)."""
    rng = np.random.default_rng(SEED)
    out, aside = data / "negatives", data / "aside"
    out.mkdir(parents=True, exist_ok=True)
    aside.mkdir(parents=True, exist_ok=True)
    listed = []
    for path in sorted((data / "textures").glob("*")):
        texture = cv2.imread(str(path))
        if texture is None:
            raise SystemExit(f"{path}: not an image")
        if kept_aside(path.stem):
            cv2.imwrite(str(aside / f"{path.stem}.jpg"), render(texture, ASIDE_SIZE, rng), [cv2.IMWRITE_JPEG_QUALITY, 92])
            continue
        for k in range(PER_TEXTURE):
            target = out / f"{path.stem}_{k}.jpg"
            cv2.imwrite(str(target), render(texture, TRAIN_SIZE, rng), [cv2.IMWRITE_JPEG_QUALITY, 92])
            listed.append(str(target))
    (data / "negatives.txt").write_text("\n".join(listed) + "\n")
    return len(listed), len(list(aside.glob("*.jpg")))


if __name__ == "__main__":
    trained, measured = make(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/data/ground"))
    print(f"{trained} training photos of nobody, {measured} kept aside")
