"""Copy the pinned source paths out of local git snapshots, blob by blob.

`git archive` would be one call, but a snapshot may lack some blobs; reading each file with
`git cat-file` copies what is present and lists what is not, so a partial snapshot still trains
(and the figures say how many files were missing). Photos go outside the repository.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from training.fire.sources import Source

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def git_dir(mirrors: Path, repo: str) -> Path:
    """The snapshot of `owner/name` under `mirrors` (layout `owner+name/repo`), cloned when absent."""
    where = mirrors / repo.replace("/", "+") / "repo"
    if not where.exists():
        where.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--bare", f"https://github.com/{repo}", str(where)], check=True)
    return where


def extract(source: Source, mirrors: Path, out_root: Path) -> dict[str, int]:
    """Write the source's image and label files under `out_root/<name>`; counts of copied and missing."""
    gd = git_dir(mirrors, source.repo)
    dest = out_root / source.name
    listing = subprocess.run(
        ["git", "-C", str(gd), "ls-tree", "-r", "-z", source.commit, "--", source.path or "."],
        check=True, capture_output=True,
    ).stdout.decode("utf-8", "surrogateescape")
    copied = missing = 0
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        _mode, kind, sha = meta.split()
        if kind != "blob" or not path.lower().endswith(IMAGE_SUFFIXES + (".txt",)):
            continue
        rel = Path(path).relative_to(source.path) if source.path else Path(path)
        target = dest / rel
        if target.exists():
            copied += 1
            continue
        blob = subprocess.run(["git", "-C", str(gd), "cat-file", "blob", sha], capture_output=True)
        if blob.returncode != 0:
            missing += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        copied += 1
    return {"copied": copied, "missing": missing}
