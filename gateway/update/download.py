"""Fetch an update over a village's poor link: bounded, resumable, verified.

The bytes go into `<name>.part`; a cut link leaves them there and the next attempt asks for the
rest with an HTTP Range request (a server that ignores Range sends everything again, and the
part file starts over). Never more than the declared size is read, and the finished file must
have the declared sha256, else it is deleted and refused as tampered. The standard library's
urllib is enough here: the station has no HTTP client dependency and needs no other.
"""

from __future__ import annotations

import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from foundation.errors import GatewayError
from foundation.file_hash import sha256_file

CHUNK = 256 * 1024
ATTEMPTS = 5  # a link that drops mid-download gets this many tries, each resuming where the last stopped


class DownloadError(GatewayError, OSError):
    """The download could not be completed (network, server, size)."""


class Tampered(GatewayError, ValueError):
    """The downloaded bytes are not the ones the command declared (size or sha256)."""


class NoRoom(GatewayError, OSError):
    """Too little free storage for the download (and what is unpacked from it)."""


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def ensure_room(needs: dict[Path, int], spare: int) -> None:
    """NoRoom unless each file system holding these folders has what they need (summed when shared) and `spare`
    bytes more: the outbox and the logs must never be starved by an update."""
    per_device: dict[int, tuple[Path, int]] = {}
    for folder, need in needs.items():
        probe = _existing(folder)
        dev = probe.stat().st_dev
        per_device[dev] = (probe, per_device.get(dev, (probe, 0))[1] + need)
    for probe, need in per_device.values():
        free = shutil.disk_usage(probe).free
        if free < need + spare:
            raise NoRoom(f"{free / 1e6:.0f} MB free in {probe}, the update needs {(need + spare) / 1e6:.0f} MB (with {spare / 1e6:.0f} MB kept free)")


def _attempt(url: str, part: Path, size: int, progress: Callable[[int], None], stop: threading.Event, timeout_s: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    if have == size:
        return
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 - the scheme is checked by UpdateArgs
        if have and resp.status != 206:  # Range ignored: the whole file again
            have = 0
        with part.open("r+b" if have else "wb") as out:
            out.seek(have)
            out.truncate()
            while have < size:
                if stop.is_set():
                    raise DownloadError("stopped: the gateway is shutting down")
                block = resp.read(min(CHUNK, size - have))
                if not block:
                    break
                out.write(block)
                have += len(block)
                progress(have)
            if have >= size and resp.read(1):
                raise Tampered(f"the server sent more than the declared {size} bytes")
            out.flush()
            os.fsync(out.fileno())
    if have < size:
        raise DownloadError(f"the connection ended after {have} of {size} bytes")


def fetch(url: str, dest: Path, size: int, sha256: str, progress: Callable[[int], None], stop: threading.Event,
          timeout_s: float = 30.0, attempts: int = ATTEMPTS) -> Path:
    """Download `url` to `dest` (resuming `dest.part`), exactly `size` bytes with this sha256; `dest` when done."""
    if dest.exists() and dest.stat().st_size == size and sha256_file(dest) == sha256:
        return dest  # downloaded before (an update sent again)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for _ in range(attempts):
        try:
            _attempt(url, part, size, progress, stop, timeout_s)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # our part is longer than the file: start over
                part.unlink(missing_ok=True)
            last = DownloadError(f"the server answered HTTP {exc.code} {exc.reason}")
            if 400 <= exc.code < 500 and exc.code not in (408, 416, 429):
                raise last from None
        except (urllib.error.URLError, OSError) as exc:
            if isinstance(exc, DownloadError) and stop.is_set():
                raise
            last = exc if isinstance(exc, DownloadError) else DownloadError(f"download failed: {getattr(exc, 'reason', exc)}")
        if stop.wait(1.0):
            raise DownloadError("stopped: the gateway is shutting down")
    else:
        raise last or DownloadError("download failed")
    got = sha256_file(part)
    if got != sha256:
        part.unlink(missing_ok=True)
        raise Tampered(f"sha256 of the download is {got[:16]}..., the command declared {sha256[:16]}...")
    os.replace(part, dest)
    return dest
