"""What is sent: a software bundle (`make bundle`'s tar.gz) or a model (.tflite), read and checked first.

A bundle whose manifest is broken would be refused by 300 stations one by one after each of them
downloaded it; the county reads it whole once (streamed, nothing extracted) and refuses it
before a single command goes out: the top folder, VERSION, and every file against SHA256SUMS
(none missing, none extra, no links or paths leaving the folder). The version sent is the
bundle's own VERSION, so a renamed file cannot lie about what it holds.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from county.i18n import Refused
from foundation.file_hash import sha256_stream
from wire.command_args import MAX_UPDATE_BYTES, UPDATE_VERSION

MANIFEST = "SHA256SUMS"
VERSION_FILE = "VERSION"
TFLITE_MAGIC = b"TFL3"  # bytes 4..8 of a TensorFlow Lite flatbuffer
_VERSION = re.compile(UPDATE_VERSION)
_LINE = re.compile(r"^([0-9a-f]{64})  (\S(?:.*\S)?)$")


@dataclass(frozen=True, slots=True)
class UpdateFile:
    """One file ready to offer: what the `update` command says about it."""

    path: Path
    kind: Literal["software", "model"]
    version: str
    size: int
    sha256: str


def _size_of(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Refused(f"无法读取 {path}：{exc.strerror or exc}", f"cannot read {path}: {exc.strerror or exc}") from None
    if not 0 < size <= MAX_UPDATE_BYTES:
        raise Refused(f"{path} 大小 {size} 字节，须在 1 字节到 512 MiB 之间", f"{path} is {size} bytes; it must be 1 byte to 512 MiB")
    return size


def _bad(path: Path, zh: str, en: str) -> Refused:
    return Refused(f"{path.name} 不是完好的更新包：{zh}", f"{path.name} is not a sound bundle: {en}")


def _members(path: Path) -> tuple[str, dict[str, str], bytes | None, bytes | None]:
    """(top folder, sha256 of each regular file by its path inside the top folder, SHA256SUMS, VERSION)."""
    top: str | None = None
    digests: dict[str, str] = {}
    manifest = version = None
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for m in tar:
                parts = m.name.split("/")
                if m.name.startswith("/") or ".." in parts or not parts[0]:
                    raise _bad(path, f"{m.name!r} 指向包外", f"{m.name!r} points outside the bundle")
                top = top or parts[0]
                if parts[0] != top:
                    raise _bad(path, f"有两个顶层目录 {top!r} 和 {parts[0]!r}", f"two top folders, {top!r} and {parts[0]!r}")
                if m.isdir():
                    continue
                if not m.isfile():
                    raise _bad(path, f"{m.name!r} 是链接或特殊文件", f"{m.name!r} is a link or a special file")
                rel = "/".join(parts[1:])
                f = tar.extractfile(m)
                assert f is not None  # a regular file always has content
                if rel in (MANIFEST, VERSION_FILE):
                    data = f.read(1 << 20)
                    digests[rel] = hashlib.sha256(data).hexdigest()
                    manifest, version = (data, version) if rel == MANIFEST else (manifest, data)
                else:
                    digests[rel] = sha256_stream(f)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _bad(path, f"不是 tar.gz（{exc}）", f"not a tar.gz ({exc})") from None
    if top is None:
        raise _bad(path, "包是空的", "the archive is empty")
    return top, digests, manifest, version


def read_bundle(path: Path) -> UpdateFile:
    """A software bundle checked whole against its manifest; `Refused` (zh/en) saying what is wrong."""
    size = _size_of(path)
    top, digests, manifest, version_bytes = _members(path)
    if manifest is None:
        raise _bad(path, f"缺少 {MANIFEST}", f"{MANIFEST} is missing")
    listed: dict[str, str] = {}
    for n, line in enumerate(manifest.decode("utf-8", errors="replace").splitlines(), 1):
        match = _LINE.match(line)
        if match is None:
            raise _bad(path, f"{MANIFEST} 第 {n} 行格式不对", f"{MANIFEST} line {n} is malformed")
        listed[match.group(2)] = match.group(1)
    problems = [f"{rel}: missing" for rel in sorted(listed) if rel not in digests]
    problems += [f"{rel}: sha256 differs" for rel in sorted(listed) if rel in digests and digests[rel] != listed[rel]]
    problems += [f"{rel}: not in {MANIFEST}" for rel in sorted(set(digests) - set(listed) - {MANIFEST})]
    if problems:
        shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5})" if len(problems) > 5 else "")
        raise _bad(path, f"与 {MANIFEST} 不符：{shown}", f"it does not match {MANIFEST}: {shown}")
    if version_bytes is None or VERSION_FILE not in listed:
        raise _bad(path, f"缺少 {VERSION_FILE}（或它不在 {MANIFEST} 里）", f"{VERSION_FILE} is missing (or not in {MANIFEST})")
    version = version_bytes.decode("utf-8", errors="replace").strip()
    if not _VERSION.match(version):
        raise _bad(path, f"{VERSION_FILE} 的内容 {version[:40]!r} 不是版本号", f"{VERSION_FILE} holds {version[:40]!r}, not a version")
    if version not in top:
        raise _bad(path, f"顶层目录 {top!r} 与版本 {version} 不符", f"its top folder {top!r} does not match its version {version}")
    with path.open("rb") as f:
        sha = sha256_stream(f)
    return UpdateFile(path, "software", version, size, sha)


def read_model(path: Path, version: str) -> UpdateFile:
    """A detection model (.tflite) under the version the operator names."""
    if not _VERSION.match(version):
        raise Refused(f"版本 {version[:40]!r} 不合格（字母数字和 .+_-，最多 64 个）", f"version {version[:40]!r} is not valid (letters, digits, .+_-, up to 64)")
    size = _size_of(path)
    with path.open("rb") as f:
        head = f.read(8)
        f.seek(0)
        sha = sha256_stream(f)
    if head[4:8] != TFLITE_MAGIC:
        raise Refused(f"{path.name} 不是 TFLite 模型（文件头不是 TFL3）", f"{path.name} is not a TFLite model (no TFL3 header)")
    return UpdateFile(path, "model", version, size, sha)
