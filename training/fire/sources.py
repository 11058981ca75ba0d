"""The public photo sets the fire/smoke model is trained and measured on, pinned to commits.

Each source says how its files are labelled, because every set does it differently: YOLO boxes
with their own class ids, or one folder per class. `heldout` marks the source kept out of
training entirely, so its figures are on photos of a kind the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """One repository path at one commit and how to read its labels."""

    name: str
    repo: str
    commit: str
    path: str
    licence: str
    layout: str  # "yolo": images/ + labels/ ; "folders": class per folder
    yolo_classes: dict[int, str] = field(default_factory=dict)  # class id -> fire | smoke | ignore
    folder_labels: dict[str, tuple[int, int]] = field(default_factory=dict)  # folder -> (fire, smoke); -1 unknown
    heldout: bool = False


SOURCES: tuple[Source, ...] = (
    Source(
        "bombatronic", "AdhyaksaWP/Bombatronic", "01af55254f6298c8c89c171f9fd287b9a4891b6c",
        "Fire-Dataset-for-YOLOv8-10", "CC BY 4.0 (Roboflow fire-dataset-for-yolov8 v10, aj-garcia-736tc)",
        "yolo", yolo_classes={0: "fire"},
    ),
    Source(
        "roboflow-fire8", "Abonia1/YOLOv8-Fire-and-Smoke-Detection", "f2c67efae8ff249f2c3e1c34df0fd3a6351a1efb",
        "datasets/fire-8", "CC BY 4.0 (Roboflow fire-wrpgm v8, custom-thxhn)",
        "yolo", yolo_classes={0: "fire", 1: "ignore", 2: "smoke"},
    ),
    Source(
        "cair", "cair/Fire-Detection-Image-Dataset", "2e5d7e36300b9dbf7e6dbab9c97fef0462a33c1a",
        "", "MIT (compilation)", "folders",
        folder_labels={"fire_images": (1, -1), "normal_images": (0, 0)},
    ),
    Source(
        "weather", "Potassium-chromate/CNN-for-recognizer-weather", "9bbc18025a4e6c27cd4bd559b6de1d1ae1743e34",
        "weather_image(dataset)", "upstream weather set (licence not stated in the repo); used as negatives only",
        "folders",
        folder_labels={"cloudy": (0, 0), "rain": (0, 0), "shine": (0, 0), "sunrise": (0, 0)},
    ),
    Source(
        "dfire-sample", "z3qi/ECE176_Final_Project", "bbb8a1a5450671045920cd2ab2848b0dc212334b",
        "data/train", "CC0 (D-Fire, sample of 100 surveillance frames)",
        "yolo", yolo_classes={0: "smoke", 1: "fire"}, heldout=True,
    ),
)
