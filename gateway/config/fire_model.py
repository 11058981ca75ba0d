"""Settings of the learned fire/smoke detectors (`fire_smoke.model.type: learned`, `backbone` and `imagenet`).

A model file of its own rather than a `ModelConfig`: the shipped model needs no labels, no
input normalisation and no path (the package carries it), so the few settings a technician
tunes per site are the two thresholds and how many crops each frame may cost. Defaults are the
thresholds chosen on the validation split (see edge_models/models/MODEL_CARD.md). `backbone` names the
SSD it reads (the person detector's file, pinned by sha256) because the head is only valid on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from gateway.config.base import ConfigModel

FIRE_V3, SMOKE_V3 = 0.48, 0.41  # the shipped v3 head's thresholds (MODEL_CARD_v3.md)


class LearnedFireModel(ConfigModel):
    """The learned fire/smoke verifier: whole frame plus candidate crops, fire and smoke scored apart."""

    type: Literal["learned"] = Field(description="Model type: the learned two-stage fire/smoke verifier.")
    path: Path | None = Field(
        default=None, description="The .tflite file (relative to the working directory); None: the model shipped with the gateway."
    )
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the model; a mismatch refuses to load it."
    )
    threads: int = Field(default=1, ge=1, le=8, description="CPU threads of the interpreter.")
    fire: bool = Field(default=True, description="Look for flames.")
    smoke: bool = Field(
        default=False,
        description="Score smoke too. Off by default: the model's smoke output was trained on a few indoor/CCTV smoke videos and "
        "misses distant plumes (MODEL_CARD.md); keep the classical smoke cue on for smoke.",
    )
    fire_threshold: float = Field(default=0.89, gt=0, lt=1, description="Fire probability at which a view counts as fire.")
    smoke_threshold: float = Field(default=0.77, gt=0, lt=1, description="Smoke probability at which a view counts as smoke.")
    max_crops: int = Field(
        default=2, ge=0, le=8, description="Candidate crops scored per analysed frame besides the whole frame (each costs one invoke)."
    )

    def runtime_settings(self) -> dict[str, Any]:
        """Keyword arguments of `edge_models.fire_learned.LearnedFireSmoke.load`."""
        return {
            "path": self.path, "sha256": self.sha256, "threads": self.threads,
            "fire_threshold": self.fire_threshold, "smoke_threshold": self.smoke_threshold,
            "max_crops": self.max_crops, "detect_fire": self.fire, "detect_smoke": self.smoke,
        }


class _CellHeadModel(ConfigModel):
    """What a fire/smoke head on a backbone's feature map takes: the head file, threads, classes, thresholds."""

    head_path: Path | None = Field(
        default=None, description="The head .tflite (relative to the working directory); None: the head shipped with the gateway."
    )
    head_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the head; a mismatch refuses to load it."
    )
    threads: int = Field(default=1, ge=1, le=8, description="CPU threads of the backbone's interpreter.")
    fire: bool = Field(default=True, description="Look for flames.")

    def runtime_settings(self) -> dict[str, Any]:
        """Keyword arguments of `edge_models.fire_head.BackboneFireSmoke.load`."""
        s = self.model_dump()
        return {
            "backbone_path": s["backbone_path"], "backbone_sha256": s["backbone_sha256"], "layer": LAYERS[s["type"]],
            "head_path": self.head_path, "head_sha256": self.head_sha256, "threads": self.threads,
            "fire_threshold": s["fire_threshold"], "smoke_threshold": s["smoke_threshold"],
            "detect_fire": self.fire, "detect_smoke": s["smoke"],
        }


class BackboneFireModel(_CellHeadModel):
    """Fire and smoke from the shared COCO SSD's backbone features and a small trained head (one SSD invoke per frame)."""

    type: Literal["backbone"] = Field(description="Model type: a fire/smoke head on the COCO SSD MobileNet-V1's feature map.")
    backbone_path: Path = Field(
        description="The COCO SSD MobileNet-V1 .tflite the head was trained on (the person detector's model; relative to the working directory)."
    )
    backbone_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$",
        description="Expected sha256 of the SSD; a mismatch refuses to load it (the head reads one of its inner tensors).",
    )
    smoke: bool = Field(default=False, description="Score smoke too (see edge_models/models/MODEL_CARD_v2.md for how well it does).")
    fire_threshold: float = Field(
        default=0.67, gt=0, lt=1, description="Fire probability at which a cell counts as fire (chosen on validation at <= 3 % false positives)."
    )
    smoke_threshold: float = Field(
        default=0.31, gt=0, lt=1, description="Smoke probability at which a cell counts as smoke (chosen on validation at <= 3 % false positives)."
    )


class ImagenetFireModel(_CellHeadModel):
    """Fire and smoke from an ImageNet EfficientNet-Lite0 and a small trained head, both shipped (v3, MODEL_CARD_v3.md)."""

    type: Literal["imagenet"] = Field(
        description="Model type: a fire/smoke head on EfficientNet-Lite0 (ImageNet) features; one invoke of its own per analysed frame."
    )
    backbone_path: Path | None = Field(
        default=None, description="The EfficientNet-Lite0 .tflite (relative to the working directory); None: the one shipped with the gateway."
    )
    backbone_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the backbone; a mismatch refuses to load it."
    )
    smoke: bool = Field(default=True, description="Score smoke too (see edge_models/models/MODEL_CARD_v3.md for how well it does).")
    fire_threshold: float = Field(
        default=FIRE_V3, gt=0, lt=1, description="Fire probability at which a cell counts as fire (chosen on validation at <= 3 % false positives)."
    )
    smoke_threshold: float = Field(
        default=SMOKE_V3, gt=0, lt=1, description="Smoke probability at which a cell counts as smoke (chosen on validation at <= 3 % false positives)."
    )


LAYERS = {"backbone": "10x10", "imagenet": "effnet-10x10"}  # config type -> the feature map its head reads (edge_models.fire_maps)
