"""Real releases for the update tests: the project's wheel built at versions 9.0.1, 9.0.2 and a broken 9.0.3,
each in a bundle for THIS machine and Python made by `packaging/bundle.py` (its host mode).

The dependency wheels (this venv's versions, ~115 MB) are fetched with `pip download` once into
`var/host-wheels` (gitignored) and reused by every later session; pip's own cache makes even a
refetch cheap. The package registry is reachable wherever `make test` installs itself, so this
needs nothing more than `make test` does. Building the three wheels and bundles takes ~30 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.update import guard
from gateway.update.bundle_check import unpack, verify
from gateway.update.download import sha256_file
from gateway.update.venvs import install
from tests.packaging_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
WHEEL_CACHE = ROOT / "var" / "host-wheels"
SOURCES = ("foundation", "wire", "gateway", "drivers", "edge_models", "provisioning", "county")


def load_bundle_tool() -> ModuleType:
    return load_script("bundle")


@dataclass(frozen=True)
class Release:
    version: str
    tarball: Path
    size: int
    sha256: str

    def args(self, url: str, deadline_s: int = 120) -> dict[str, object]:
        return {"kind": "software", "version": self.version, "url": url, "size": self.size, "sha256": self.sha256, "deadline_s": deadline_s}


def project_wheel(version: str, work: Path, broken: bool = False) -> Path:
    """The project's wheel from a copy of this tree with its version set (a broken one exits at import)."""
    src = work / f"src-{version}"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in SOURCES:
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    (src / "foundation" / "version.py").write_text(f'"""The software version."""\n\n__version__ = "{version}"\n', encoding="utf-8")
    if broken:
        init = src / "gateway" / "__init__.py"
        init.write_text(f'raise ImportError("version {version} is broken on purpose (the update tests)")\n' + init.read_text(encoding="utf-8"), encoding="utf-8")
    out = work / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return next(out.glob(f"village_station_gateway-{version}-*.whl"))


@pytest.fixture(scope="session")
def county_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Release]:
    work = tmp_path_factory.mktemp("releases")
    tool = load_bundle_tool()
    out = {}
    for version, broken in (("9.0.1", False), ("9.0.2", False), ("9.0.3", True)):
        tarball = tool.build_host(project_wheel(version, work, broken), work / "dist", WHEEL_CACHE)
        out[version] = Release(version, tarball, tarball.stat().st_size, sha256_file(tarball))
    return out


def install_first(release: Release, root: Path, work: Path) -> None:
    """What install.sh does for the software on a fresh station: the venv step (the same code an update
    runs), `current`, and the update guard beside the versions."""
    top = unpack(release.tarball, work / f"unpacked-{release.version}")
    install(verify(top, release.version), root)
    guard.switch_current(root, release.version)
    shutil.copy2(top / "update-guard", root / "update-guard")
    shutil.rmtree(top.parent)


def clean_env() -> dict[str, str]:
    """The station's environment: nothing that would make it import this checkout instead of its venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
