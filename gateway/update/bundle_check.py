"""Is a downloaded bundle whole, the version it claims, and for this machine? Checked before anything is installed.

A bundle is the tar.gz of `packaging/bundle.py build`: one top folder with `VERSION`,
`SHA256SUMS` (every other file's sha256), `wheels/`, one `constraints-py<XY>-<machine>.txt`
per Python and machine it carries, `install.sh` and the systemd unit. The outer sha256 was
checked by the download; here the archive is unpacked safely (regular files and folders only,
nothing outside its folder) and every file is checked against the manifest, so a bundle
altered after it was built is refused even when its outer hash was declared to match.
"""

from __future__ import annotations

import platform
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from foundation.errors import GatewayError
from gateway.update.download import Tampered, sha256_file

MAX_MEMBERS = 2000
MAX_UNPACKED = 2 * 1024 * 1024 * 1024


class WrongBundle(GatewayError, ValueError):
    """A sound bundle that is not for this station (version, Python or machine)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """An unpacked, verified bundle."""

    top: Path
    version: str
    constraints: Path
    wheels: Path


def constraints_name(python: tuple[int, int] | None = None, machine: str | None = None) -> str:
    """The lock file a bundle carries for this Python and machine, e.g. constraints-py311-aarch64.txt."""
    major, minor = python or sys.version_info[:2]
    return f"constraints-py{major}{minor}-{machine or platform.machine()}.txt"


def unpack(archive: Path, into: Path) -> Path:
    """Unpack a bundle into a fresh folder; its top folder. Tampered on anything unsafe or malformed."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            if not members or len(members) > MAX_MEMBERS:
                raise Tampered(f"the bundle holds {len(members)} entries")
            tops, total = set(), 0
            for m in members:
                path = PurePosixPath(m.name)
                if path.is_absolute() or ".." in path.parts or not (m.isfile() or m.isdir()):
                    raise Tampered(f"the bundle holds an unsafe entry: {m.name[:100]}")
                tops.add(path.parts[0])
                total += m.size
            if len(tops) != 1 or total > MAX_UNPACKED:
                raise Tampered("the bundle is not one folder of a sensible size")
            tar.extractall(into, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(into)  # noqa: S202 - members checked above
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise Tampered(f"the bundle cannot be unpacked: {exc}") from None
    return into / tops.pop()


def check_manifest(top: Path) -> list[str]:
    """Problems with the folder's SHA256SUMS (empty when every file matches and none is extra)."""
    manifest = top / "SHA256SUMS"
    if not manifest.is_file():
        return ["SHA256SUMS is missing"]
    problems, listed = [], set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        listed.add(rel)
        path = top / rel
        if ".." in PurePosixPath(rel).parts or not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel}: sha256 differs")
    extra = {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()} - listed - {"SHA256SUMS"}
    return problems + [f"{rel}: not in SHA256SUMS" for rel in sorted(extra)]


def verify(top: Path, version: str) -> Bundle:
    """The bundle, if it is whole (Tampered), the version asked for and made for this machine (WrongBundle)."""
    problems = check_manifest(top)
    if problems:
        raise Tampered("the bundle's files do not match its manifest: " + "; ".join(problems[:5]))
    found = (top / "VERSION").read_text(encoding="utf-8").strip() if (top / "VERSION").is_file() else ""
    if found != version:
        raise WrongBundle(f"the bundle holds version {found or '(none)'}, the command named {version}")
    constraints = top / constraints_name()
    if not constraints.is_file():
        carried = sorted(p.name for p in top.glob("constraints-*.txt"))
        raise WrongBundle(f"the bundle has no wheels for this station ({constraints.name}); it carries {', '.join(carried) or 'none'}")
    if not any((top / "wheels").glob("pip-*.whl")):
        raise WrongBundle("the bundle carries no pip wheel to install with")
    return Bundle(top, version, constraints, top / "wheels")
