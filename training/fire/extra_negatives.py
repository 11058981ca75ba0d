"""A negatives-only source added to the fire data for an experiment, without touching the shipped cache.

Why one place: each experiment (warm-lit copies, lamp-lit interiors) writes its photos under
`DATA/raw/<source>/`, keeps a data folder of its own (`raw` linked to the real one, its own
`split.json` and feature cache), and then runs the usual training modules with its source known.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from collections.abc import Callable
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


def negative(source: str, folder: str, name: str, split: str, origin: str, smoke: int = 0) -> dict[str, Any]:
    """The split row of one photo of nobody (no fire; smoke 0, or -1 when the photo says nothing of smoke)."""
    return {"path": f"raw/{source}/{folder}/{name}", "source": source, "split": split, "origin": f"{source}:{origin}",
            "fire": 0, "smoke": smoke}


def write_split(out: Path, manifest: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    (out / "split.json").write_text(json.dumps(manifest + rows, indent=0))


def run_module(module: str, out: Path, argv: list[str], source: Source) -> None:
    """Run `training.fire.<module>` with `source` known and `--data out`."""
    sources.SOURCES = (*sources.SOURCES, source)  # enough: the modules that read SOURCES are first imported by the run below
    sys.argv = [module, "--data", str(out), *argv]
    runpy.run_module(f"training.fire.{module}", run_name="__main__", alter_sys=True)


def main(doc: str, folder_flag: str, default_folder: Path, make: Callable[[argparse.Namespace, Path], dict[str, int]],
         source: Callable[[argparse.Namespace], Source], options: Callable[[argparse.ArgumentParser], None] = lambda ap: None) -> None:
    """An experiment's command line: `make` its photos, or run a training step (features, train_head,
    evaluate_head) on its own data folder (`folder_flag`) with its source known."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument(folder_flag, dest="folder", type=Path, default=default_folder, help="the experiment's own data folder")
    options(ap)
    ap.add_argument("step", choices=["make", "features", "train_head", "evaluate_head"])
    args, rest = ap.parse_known_args()
    if args.step == "make":
        print(json.dumps(make(args, args.folder)))
    else:
        run_module(args.step, args.folder, rest, source(args))
