"""Display names of the county's places: townships, villages and stations, from the county's directory file.

Stations are addressed by codes (`410421/xiaoqi/zhuwa/pond-01`); people read names (小旗乡 竹洼村
竹洼塘). The county keeps one UTF-8 CSV file (Excel's BOM is fine), one place a line:

    # path,中文名,English name (optional)
    410421,示范县,Shifan County
    410421/xiaoqi,小旗乡,Xiaoqi Township
    410421/xiaoqi/zhuwa,竹洼村,Zhuwa Village
    410421/xiaoqi/zhuwa/pond-01,竹洼塘,Zhuwa pond

A header line `path,...` and lines starting with `#` are skipped. A name comes from the directory
first, then from the station's birth message (`name`, `town_name`, `village_name`), then the code
itself; an English reader without an English name gets the Chinese one. The file is checked
whole at start-up (`countyctl serve --directory`): a bad line stops the start with its number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from county.i18n import Pair, Refused, pick

LEVELS = ("county", "town", "village", "station")
BIRTH_FIELDS = {"town": "town_name", "village": "village_name", "station": "name"}  # the birth message's names, per level
MAX_BYTES = 5 * 1024 * 1024
MAX_NAME = 60
SEGMENT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class DirectoryError(Refused):
    """The directory file cannot be used; the message names the file and the line."""


class Directory:
    """Code path → (中文名, English name); empty when the county has no file (every name then comes from the stations)."""

    def __init__(self, entries: Mapping[str, Pair] | None = None) -> None:
        self._names: dict[str, Pair] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._names)

    def name(self, path: str, lang: str) -> str | None:
        """The directory's name of exactly this place (county, township, village or station), None when it has none."""
        pair = self._names.get(path.strip("/"))
        return pick(lang, pair) or pair[0] if pair else None

    def labels(self, station: str, lang: str, birth: Mapping[str, Any] | None = None) -> dict[str, str]:
        """{"county", "town", "village", "station"}: each level's display name (directory, birth message, code).

        `birth`: the station's birth message fields (or a board card): `name`, `town_name`, `village_name`.
        A path shorter than a station (a township) gives its own levels and "" for the rest.
        """
        parts = [p for p in station.strip("/").split("/") if p]
        out: dict[str, str] = {}
        for i, level in enumerate(LEVELS):
            if i >= len(parts):
                out[level] = ""
                continue
            found = self.name("/".join(parts[: i + 1]), lang)
            told = (birth or {}).get(BIRTH_FIELDS.get(level, ""))
            out[level] = found or (told.strip() if isinstance(told, str) and told.strip() else parts[i])
        return out

    def display(self, path: str, lang: str, birth: Mapping[str, Any] | None = None) -> str:
        """One line for a place: "小旗乡 竹洼村 竹洼塘" for a station (the county left out: every reader is in it), "小旗乡" for a
        township; the path itself when nothing has a name."""
        labels = self.labels(path, lang, birth)
        shown = [labels[level] for level in LEVELS if labels[level]]
        if shown == [p for p in path.strip("/").split("/") if p]:
            return path.strip("/")  # no name known at any level: the path reads better than its codes apart
        return " ".join(shown[1:] if len(shown) > 1 else shown)


def parse_directory(text: str, origin: str = "directory") -> Directory:
    """The directory in `text`; DirectoryError naming `origin` and the line for the first bad line."""
    names: dict[str, Pair] = {}
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        number = reader.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if not names and row[0].strip().lower() in ("path", "code", "编码", "路径"):
            continue  # the header line (the first that is not a comment)
        where = f"{origin} 第 {number} 行", f"{origin} line {number}"
        if len(row) not in (2, 3):
            raise DirectoryError(f"{where[0]}：应为 路径,中文名[,English name]，实有 {len(row)} 列",
                                 f"{where[1]}: expected path,中文名[,English name], found {len(row)} column(s)")
        path = row[0].strip().strip("/")
        segments = path.split("/")
        if not 1 <= len(segments) <= len(LEVELS) or not all(SEGMENT.match(s) for s in segments):
            raise DirectoryError(f"{where[0]}：路径 {path[:80]!r} 无效（1 至 4 级编码，字母数字 . _ -，以 / 分隔）",
                                 f"{where[1]}: path {path[:80]!r} is not valid (1 to 4 codes of letters, digits, . _ -, joined by /)")
        zh, en = row[1].strip(), (row[2].strip() if len(row) == 3 else "")
        for name in (zh, en):
            if len(name) > MAX_NAME or any(not c.isprintable() for c in name):
                raise DirectoryError(f"{where[0]}：名称最多 {MAX_NAME} 个可打印字符", f"{where[1]}: a name is at most {MAX_NAME} printable characters")
        if not zh:
            raise DirectoryError(f"{where[0]}：缺少中文名", f"{where[1]}: the Chinese name is missing")
        if path in names:
            raise DirectoryError(f"{where[0]}：{path} 已在第 {first_line[path]} 行出现", f"{where[1]}: {path} is already on line {first_line[path]}")
        names[path], first_line[path] = (zh, en or zh), number
    return Directory(names)


def load_directory(path: Path) -> Directory:
    """The county's directory file; DirectoryError (a start-up error) when it is missing, too big, not UTF-8 or has a bad line."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DirectoryError(f"{path} 超过 {MAX_BYTES // 1024 // 1024} MB", f"{path} is larger than {MAX_BYTES // 1024 // 1024} MB")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DirectoryError(f"无法读取目录文件 {path}：{exc.strerror or exc}", f"cannot read the directory file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DirectoryError(f"{path} 不是 UTF-8 文本（第 {exc.start} 字节）", f"{path} is not UTF-8 text (byte {exc.start})") from None
    try:
        return parse_directory(text, str(path))
    except csv.Error as exc:
        raise DirectoryError(f"{path} 无法解析：{exc}", f"{path} cannot be parsed: {exc}") from None
