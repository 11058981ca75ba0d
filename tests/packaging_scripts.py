"""The scripts under packaging/ as modules for the tests (and the benchmarks).

packaging/ has no __init__.py on purpose: a package named `packaging` would shadow pip's `packaging`,
which bundle.py itself imports. So its scripts are loaded by path, once each.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


@cache
def load_script(name: str) -> ModuleType:
    """`packaging/<name>.py` as a module (e.g. "bundle", "pi_check")."""
    spec = importlib.util.spec_from_file_location(f"station_packaging_{name}", PACKAGING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
