"""A negatives-only source added to the fire data for an experiment, without touching the shipped cache.

Why one place: each experiment (warm-lit copies, lamp-lit interiors) writes its photos under
`DATA/raw/<source>/`, keeps a data folder of its own (`raw` linked to the real one, its own
`split.json` and feature cache), and then runs the usual training modules with its source known.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

from training.fire import sources
from training.fire.sources import Source


def data_folder(data: Path, out: Path) -> list[dict[str, Any]]:
    """`out` made a data folder whose `raw` is `data`'s; returns `data`'s split manifest."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "raw").exists():
        (out / "raw").symlink_to((data / "raw").resolve())
    return json.loads((data / "split.json").read_text())


def write_split(out: Path, manifest: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    (out / "split.json").write_text(json.dumps(manifest + rows, indent=0))


def run_module(module: str, out: Path, argv: list[str], source: Source) -> None:
    """Run `training.fire.<module>` with `source` known and `--data out`."""
    sources.SOURCES = (*sources.SOURCES, source)  # enough: the modules that read SOURCES are first imported by the run below
    sys.argv = [module, "--data", str(out), *argv]
    runpy.run_module(f"training.fire.{module}", run_name="__main__", alter_sys=True)
