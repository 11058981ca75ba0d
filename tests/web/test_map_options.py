"""Issue 19 (map): what `countyctl serve --outline/--tiles` accepts, and what it says about what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from county.web.map_page import MapConfigError, check_tiles, load_outline, map_settings

SQUARE = [[[112.9, 33.7], [113.3, 33.7], [113.3, 34.0], [112.9, 33.7]]]


def write(tmp_path: Path, doc: object, name: str = "outline.geojson") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("doc", [
    {"type": "Polygon", "coordinates": SQUARE},
    {"type": "Feature", "properties": {"name": "示范县"}, "geometry": {"type": "MultiPolygon", "coordinates": [SQUARE]}},
    {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": SQUARE[0]}},
                                               {"type": "Feature", "properties": {}, "geometry": None}]},
])
def test_map_outline_accepts_geojson_in_degrees(tmp_path: Path, doc: dict) -> None:
    assert json.loads(load_outline(write(tmp_path, doc))) == doc


@pytest.mark.parametrize(("doc", "words"), [
    ("{not json", "not JSON"),
    ({"type": "Topology", "objects": {}}, "unknown type"),
    ({"type": "FeatureCollection"}, "list of features"),
    ({"type": "Polygon", "coordinates": [[[500000, 3700000], [510000, 3700000]]]}, "WGS 84"),
    ({"type": "Polygon", "coordinates": [[["113", "34"]]]}, "lists of \\[longitude, latitude\\]"),
    ({"type": "FeatureCollection", "features": []}, "no coordinates"),
    ("[" * 100_000 + "]" * 100_000, "not"),  # nesting a parser could choke on: refused with a sentence, not a crash
])
def test_map_outline_refuses_what_cannot_be_drawn_and_says_why(tmp_path: Path, doc: object, words: str) -> None:
    with pytest.raises(MapConfigError, match=words):
        load_outline(write(tmp_path, doc))


def test_map_outline_missing_file_and_tile_urls_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MapConfigError, match="cannot read"):
        load_outline(tmp_path / "nowhere.geojson")
    for url in ("tiles.example/{z}/{x}/{y}.png", "https://tiles.example/{z}/{x}.png", "file:///etc/{z}/{x}/{y}"):
        with pytest.raises(MapConfigError, match=r"\{z\}"):
            check_tiles(url)
    tianditu = "http://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=vec&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
    settings = map_settings(tianditu, "天地图", None)
    assert settings.tiles == tianditu and settings.outline is None
