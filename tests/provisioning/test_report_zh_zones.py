"""The commissioning report: Chinese by default, English on request, zones in distinct colours, people boxed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from provisioning.report_render import render_html
from provisioning.zone_draw import BOX, PALETTE
from tests.provisioning.conftest import sim_station, stationctl
from tests.stations import write_station

ZONES = [
    {"id": "deep", "name": "深水区", "polygon": [[0.02, 0.02], [0.3, 0.02], [0.3, 0.3], [0.02, 0.3]]},
    {"id": "weir", "name": "堰", "polygon": [[0.7, 0.02], [0.98, 0.02], [0.98, 0.3], [0.7, 0.3]]},
]


def report_of(tmp_path: Path, broker, *lang: str) -> tuple[dict, str, Path]:
    doc = sim_station(tmp_path, broker.port)
    doc["cameras"][0]["zones"] = ZONES
    config = write_station(tmp_path / "station.yaml", doc)
    out = tmp_path / f"report-{'-'.join(lang) or 'default'}"
    result = stationctl("report", "--config", config, "--out", out, "--samples", 2, "--frames", 3, "--no-sound", *lang)
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text(encoding="utf-8")), (out / "report.html").read_text(encoding="utf-8"), out


def tint(drawn: np.ndarray, plain: np.ndarray, polygon: list[list[float]], boxes: list[list[float]]) -> np.ndarray:
    """The colour blended into a zone (drawn = 0.25 colour + 0.75 plain), read away from boxes, outline and label."""
    h, w = plain.shape[:2]
    (x0, y0), (x1, y1) = polygon[0], polygon[2]
    found = []
    for fx in np.linspace(x0 + 0.03, x1 - 0.03, 8):
        for fy in np.linspace(y0 + 0.03, y1 - 0.03, 8):
            if any(b[0] - 0.02 <= fx <= b[2] + 0.02 and b[1] - 0.02 <= fy <= b[3] + 0.02 for b in boxes):
                continue
            if abs(fx - (x0 + x1) / 2) < 0.08 and abs(fy - (y0 + y1) / 2) < 0.06:  # the zone's name label
                continue
            px, py = int(fx * (w - 1)), int(fy * (h - 1))
            found.append((drawn[py, px].astype(float) - 0.75 * plain[py, px].astype(float)) / 0.25)
    assert found, "no free pixel in the zone"
    return np.median(np.array(found), axis=0)


def test_report_is_chinese_by_default_with_distinct_zone_colours_and_boxes(tmp_path: Path, broker) -> None:
    report, html, out = report_of(tmp_path, broker)
    assert '<html lang="zh-CN">' in html and "站点调试报告" in html and "全部检查通过" in html and "危险区" in html
    assert "All checks passed" not in html and "Commissioning report" not in html
    # the rows in the page's language: the probes' Chinese summaries, in the self-test and the readings tables
    assert "2 个读数：0.420, 0.420 m；中位数 0.420 m" in html and "烟雾输入：正常 正常" in html and "已连接，用时" in html
    assert "摄像头" in html and "广播喇叭" in html and "跳过" in html  # check names and status words as `stationctl check` shows them
    assert "reading(s)" not in html and "smoke input" not in html and "connected in" not in html
    water = next(r for r in report["results"] if r["check"] == "water")
    assert water["summary"].startswith("2 reading(s)") and water["summary_zh"].startswith("2 个读数")  # report.json keeps both
    (cam,) = report["cameras"]
    colours = [z["colour"] for z in cam["zones"]]
    assert len(set(colours)) == 2 and all(c in html for c in colours)  # the zone table shows each zone's colour

    plain = cv2.imread(str(out / cam["snapshot"]))
    drawn = cv2.imread(str(out / cam["zones_png"]))
    assert drawn.shape == plain.shape
    boxes = cam["boxes"]
    assert boxes, "vtest.avi always shows pedestrians: the detector's boxes are on the picture"
    for zone, colour in zip(cam["zones"], PALETTE):
        assert np.abs(tint(drawn, plain, zone["polygon"], boxes) - np.array(colour)).max() < 12, zone["name"]
    # each box outlined in white: the middle of its left edge
    h, w = plain.shape[:2]
    outlined = 0
    for x1, y1, x2, y2, _score in boxes:
        px, py = int(round(x1 * (w - 1))), int(round((y1 + y2) / 2 * (h - 1)))
        outlined += int(tuple(int(v) for v in drawn[py, px]) == BOX)
    assert outlined >= max(1, len(boxes) - 1)  # boxes may overlap one another's outline


def test_report_in_english_on_request(tmp_path: Path, broker) -> None:
    report, html, out = report_of(tmp_path, broker, "--lang", "en")
    assert '<html lang="en">' in html and "Commissioning report" in html and "All checks passed" in html
    assert "站点调试报告" not in html
    assert "2 reading(s): 0.420, 0.420 m; median 0.420 m" in html and "smoke input: idle idle" in html and "connected in" in html
    assert "个读数" not in html and "烟雾输入" not in html

    # a report.json written before rows carried Chinese still renders: the Chinese page shows their English
    for row in report["results"]:
        del row["summary_zh"], row["hint_zh"]
    old = render_html(report, out, "zh")
    assert "站点调试报告" in old and "2 reading(s): 0.420, 0.420 m; median 0.420 m" in old
