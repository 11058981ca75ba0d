"""What a fleet update costs a station: download, check and install one bundle (issue 17, point 4).

Run: `.venv/bin/python -m bench.update` (part of `python -m bench.run`). Builds a bundle for this machine
from this tree (`packaging/bundle.py build-host`; its dependency wheels come from `var/host-wheels`, fetched
once), serves it on loopback and times the station's own steps: `gateway.update.download.fetch` (with the
sha256), `bundle_check.unpack` + `verify` (the manifest), `venvs.install` (a new venv from the bundle
alone). Reference in the same run: a plain `urllib` read of the same file into a file, hashed with
hashlib and fsync'd (the least any verified download does; ratio = fetch / raw). On a Pi 4 the venv step dominates even more (pip unpacks ~400 MB to the SD card): the
pi-check run records the install there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.update.bundle_check import unpack, verify
from gateway.update.download import fetch, sha256_file
from gateway.update.venvs import install
from tests.packaging_scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


def bundle_tool() -> Any:
    return load_script("bundle")


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-update-"))
    try:
        wheels = work / "wheel"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
        t0 = time.perf_counter()
        tarball = bundle_tool().build_host(next(wheels.glob("*.whl")), work / "dist", ROOT / "var" / "host-wheels")
        build_s = time.perf_counter() - t0
        size, sha = tarball.stat().st_size, sha256_file(tarball)
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tarball.parent)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{tarball.name}"
        raw, ours = [], []
        for i in range(ROUNDS):
            t0 = time.perf_counter()
            digest = hashlib.sha256()
            with urllib.request.urlopen(url) as answer, (work / f"raw-{i}").open("wb") as out:
                while block := answer.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fetch(url, work / f"got-{i}.tar.gz", size, sha, lambda _n: None, threading.Event())
            ours.append(time.perf_counter() - t0)
        server.shutdown()
        t0 = time.perf_counter()
        top = unpack(work / "got-0.tar.gz", work / "unpacked")
        bundle = verify(top, (top / "VERSION").read_text().strip())
        check_s = time.perf_counter() - t0
        root = work / "opt"
        root.mkdir()
        t0 = time.perf_counter()
        venv = install(bundle, root)
        install_s = time.perf_counter() - t0
        f = {"bundle_mib": size / 2**20, "build_s": build_s, "raw_download_s": statistics.median(raw), "fetch_s": statistics.median(ours),
             "fetch_over_raw": statistics.median(ours) / statistics.median(raw), "check_s": check_s, "install_s": install_s,
             "venv_mib": du_mib(venv)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"  bundle {f['bundle_mib']:.0f} MiB (built in {f['build_s']:.0f} s): download + sha256 {f['fetch_s']:.2f} s, raw urllib read + sha256 + fsync "
          f"{f['raw_download_s']:.2f} s (ratio {f['fetch_over_raw']:.2f}, medians of {ROUNDS}); unpack + manifest {f['check_s']:.1f} s; "
          f"new venv from the bundle {f['install_s']:.1f} s, {f['venv_mib']:.0f} MiB on disk")
    return f


if __name__ == "__main__":
    run()
