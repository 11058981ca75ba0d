"""`update` with kind=model: a new person-detector .tflite, switched through the config trial.

The model file lands beside the one in use, under a name carrying its sha256 (so two models
never overwrite each other and the old one stays for a rollback), is loaded once with LiteRT
to prove this station can run it, and then every camera's `detection.model` path and sha256 are
changed by a merge patch of the station file: the same config/set trial (restart, kept only when
back online, else rolled back), not a second mechanism.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from foundation.errors import GatewayError


class NoModelToUpdate(GatewayError, ValueError):
    """The station file has no camera with a person detector."""


def current_model(config_path: Path) -> tuple[Path, str]:
    """(folder on disk, path as the station file writes it) of the first camera's detector model."""
    doc = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for camera in (doc or {}).get("cameras") or []:
        model = ((camera or {}).get("detection") or {}).get("model") or {}
        if model.get("path"):
            written = Path(str(model["path"]))
            return (written.parent if written.is_absolute() else Path.cwd() / written.parent), str(written)
    raise NoModelToUpdate("this station has no camera with a person detector model to update")


def model_file_name(version: str, sha256: str) -> str:
    return f"{version}-{sha256[:12]}.tflite"


def patch_for(config_path: Path, path_as_written: str, sha256: str) -> dict[str, Any]:
    """The merge patch giving every camera's detector the new model (lists are replaced whole)."""
    doc = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    cameras = copy.deepcopy(doc.get("cameras") or [])
    changed = 0
    for camera in cameras:
        model = ((camera or {}).get("detection") or {}).get("model")
        if isinstance(model, dict):
            model.update(path=path_as_written, sha256=sha256)
            changed += 1
    if not changed:
        raise NoModelToUpdate("this station has no camera with a person detector model to update")
    return {"cameras": cameras}


def check_loads(path: Path) -> None:
    """ModelError (a ValueError) unless LiteRT loads it as an image model on this station."""
    from edge_models.runtime import TfliteModel

    TfliteModel(path, threads=1)
