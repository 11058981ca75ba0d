"""Round-trip editing of a station file: change a few fields, keep everything else.

Why ruamel.yaml: a technician's station file carries comments (which sensor is where, why a
threshold was chosen) and its own layout; PyYAML would drop both on a rewrite. The edited text
is validated by the gateway's own loader before it replaces the file, and it replaces it
atomically (temporary file, fsync, rename), so a power cut mid-write or a bad edit never leaves
a station with a broken config.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from foundation.atomic_file import write_atomic
from gateway.config.station import StationConfig, parse_config
from provisioning.errors import ProvisioningError
from provisioning.i18n import pick


def _yaml_for(text: str) -> YAML:
    """A round-trip YAML instance that writes with the file's own indentation.

    The common layouts are tried and the one that reproduces the file unchanged wins (ruamel's
    own guess mistakes `  - id:` lists for 4-space mappings).
    """
    best: tuple[float, YAML] | None = None
    for mapping, offset in ((2, 2), (2, 0), (4, 2), (4, 0)):
        y = YAML(typ="rt")
        y.preserve_quotes = True
        y.width = 4096  # never re-wrap long texts
        y.indent(mapping=mapping, sequence=mapping + offset, offset=offset)
        buf = io.StringIO()
        y.dump(y.load(text), buf)
        score = difflib.SequenceMatcher(None, text, buf.getvalue(), autojunk=False).quick_ratio() if buf.getvalue() != text else 2.0
        if best is None or score > best[0]:
            best = (score, y)
    assert best is not None
    return best[1]


class StationFile:
    """A station file loaded for editing; `save()` validates and writes it back."""

    def __init__(self, path: Path, lang: str = "zh") -> None:
        self.path = Path(path)
        self.lang = lang  # of the errors the technician reads
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProvisioningError(
                pick(lang, (f"无法读取站点文件 {self.path}：{exc}", f"cannot read the station file {self.path}: {exc}")),
                pick(lang, ("用 --config 给出站点文件的路径（stationctl init 会生成一个）",
                            "give the path of the station file with --config (stationctl init writes one)")),
                exit_code=2,
            ) from exc
        parse_config(text, str(self.path))  # refuse to edit a file that is already broken
        self._yaml = _yaml_for(text)
        self.doc: CommentedMap = self._yaml.load(text)

    def dump(self) -> str:
        buf = io.StringIO()
        self._yaml.dump(self.doc, buf)
        return buf.getvalue()

    def save(self) -> StationConfig:
        """Validate the edited document and replace the file with it; the validated config."""
        text = self.dump()
        cfg = parse_config(text, str(self.path))
        write_atomic(self.path, text)
        return cfg

    # ---------------------------------------------------------------------------- finding things

    def item(self, section: str, item_id: str) -> CommentedMap:
        """The entry of a list section (water_sensors, cameras...) with this id."""
        items = self.doc.get(section) or []
        for entry in items:
            if isinstance(entry, dict) and str(entry.get("id")) == item_id:
                return entry
        known = ", ".join(str(e.get("id")) for e in items if isinstance(e, dict))
        raise ProvisioningError(
            pick(self.lang, (f"{self.path}：{section} 里没有 id 为 {item_id!r} 的条目（现有：{known or '无'}）",
                             f"{self.path}: no {section} entry with id {item_id!r} (known: {known or 'none'})")),
            pick(self.lang, ("用上面列出的 id 之一，或先用 stationctl init 或编辑器添加它",
                             "use one of the ids listed, or add it with stationctl init / an editor first")),
            exit_code=2,
        )

    def section(self, key: str) -> CommentedMap:
        """A top-level mapping, created (empty) when missing."""
        value = self.doc.get(key)
        if value is None:
            value = CommentedMap()
            self.doc[key] = value
        return value


def to_yaml_seq(points: list[tuple[float, float]]) -> CommentedSeq:
    """Polygon points as a flow-style list of [x, y] pairs: one short line per zone."""
    seq = CommentedSeq()
    for x, y in points:
        pair = CommentedSeq([x, y])
        pair.fa.set_flow_style()
        seq.append(pair)
    seq.fa.set_flow_style()
    return seq
