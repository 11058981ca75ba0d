"""The versions side by side under the install root: a new venv from a bundle, and old ones pruned.

The same steps as the bundle's `install.sh` (step 4), so an update installs exactly what a
technician's install would: a venv made with the running Python, pip from the bundle's own
wheel, then the gateway with `--no-index --find-links <bundle>/wheels -c <constraints>`, never
the network. A venv is finished only when `.bundle-sha256` is written; a half-made one (power
cut) is made again. The root is the folder holding the `current` link (install.sh's
/opt/village-station-gateway); it is found from the running venv, so nothing needs configuring.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from foundation.atomic_file import write_atomic
from foundation.errors import GatewayError
from gateway.update.bundle_check import Bundle
from gateway.update.download import sha256_file
from gateway.update.guard import CURRENT, current_version

APP = "village-station-gateway"
KEEP_OLD = 2  # old versions kept as fallbacks besides `current`
DEBIAN_LGPIO = (Path("/usr/lib/python3/dist-packages"), ("lgpio.py", "_lgpio*.so"))


class InstallError(GatewayError, RuntimeError):
    """The new venv could not be made from the bundle."""


def install_root(prefix: Path | None = None) -> Path | None:
    """The folder holding `current` and the versions, when this gateway runs from one of them; else None."""
    venv = Path(prefix or sys.prefix).absolute()
    for candidate in (venv.parent, venv.resolve().parent):
        if (candidate / CURRENT).is_symlink():
            return candidate
    return None


def _run(cmd: list[str], what: str, timeout_s: float, stop: threading.Event) -> None:
    """Run one step; killed when the gateway stops (a half-made venv has no `.bundle-sha256` and is made again)."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        except OSError as exc:
            raise InstallError(f"{what}: {exc}") from None
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None:
            if stop.wait(0.2) or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise InstallError(f"{what}: {'stopped (the gateway is shutting down)' if stop.is_set() else f'took longer than {timeout_s:g} s'}")
        if proc.returncode != 0:
            out.seek(0)
            tail = " | ".join(out.read().decode(errors="replace").strip().splitlines()[-3:])
            raise InstallError(f"{what} failed (exit {proc.returncode}): {tail[:300]}")


def install(bundle: Bundle, root: Path, stop: threading.Event | None = None, python: str | None = None, timeout_s: float = 900.0) -> Path:
    """`<root>/<version>` made from the bundle alone; returned as is when already made from this very bundle."""
    dest = root / bundle.version
    marker = dest / ".bundle-sha256"
    bundle_sum = sha256_file(bundle.top / "SHA256SUMS")
    if marker.is_file() and marker.read_text().strip() == bundle_sum and (dest / "bin" / "station-gateway").exists():
        return dest
    if current_version(root) == bundle.version:
        raise InstallError(f"{dest} is the running version's venv; it is not replaced")
    stop = stop or threading.Event()
    shutil.rmtree(dest, ignore_errors=True)
    base = python or getattr(sys, "_base_executable", None) or sys.executable
    _run([base, "-m", "venv", "--without-pip", str(dest)], "making the venv", 120, stop)
    pip_wheel = sorted(bundle.wheels.glob("pip-*.whl"))[0]
    py = str(dest / "bin" / "python")
    _run([py, f"{pip_wheel}/pip", "install", "-q", "--no-index", "--find-links", str(bundle.wheels), "-c", str(bundle.constraints), "pip"],
         "installing pip from the bundle", 300, stop)
    reqs = [f"{APP}=={bundle.version}"]
    if any(line.startswith("lgpio==") for line in bundle.constraints.read_text(encoding="utf-8").splitlines()):
        reqs.append("lgpio")
    _run([py, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(bundle.wheels), "-c", str(bundle.constraints), *reqs],
         "installing the gateway from the bundle's wheels", timeout_s, stop)
    _link_debian_lgpio(dest, reqs)
    write_atomic(marker, (bundle_sum + "\n").encode())
    return dest


def _link_debian_lgpio(dest: Path, reqs: list[str]) -> None:
    """As install.sh: with no lgpio wheel for this Python (trixie), Debian's module and nothing else of the system's."""
    folder, patterns = DEBIAN_LGPIO
    if "lgpio" in reqs or not (folder / "lgpio.py").exists():
        return
    site = next((dest / "lib").glob("python3*/site-packages"), None)
    for pattern in patterns if site else ():
        for f in folder.glob(pattern):
            (site / f.name).unlink(missing_ok=True)  # type: ignore[operator]
            (site / f.name).symlink_to(f)  # type: ignore[operator]


def prune(root: Path, keep_also: str) -> list[str]:
    """Remove old versions beyond the `KEEP_OLD` newest; never `current` nor `keep_also` (its predecessor)."""
    current = current_version(root)
    versions = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and (p / "bin").is_dir()]
    old = sorted((p for p in versions if p.name not in (current, keep_also)), key=lambda p: p.stat().st_mtime, reverse=True)
    room = max(0, KEEP_OLD - (1 if keep_also and (root / keep_also).is_dir() else 0))
    removed = []
    for p in old[room:]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    return removed
