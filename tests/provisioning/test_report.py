"""`stationctl report`: JSON and a self-contained HTML page the county can archive."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np

from tests.provisioning.conftest import STATION, sim_station, stationctl
from tests.stations import write_station


class Page(HTMLParser):
    """Collects the images, table rows (by table id) and element texts of the report."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.rows: dict[str, int] = {}
        self.ids: dict[str, str] = {}
        self._table: str | None = None
        self._capture: list[str] = []
        self._open_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        if tag == "table":
            self._table = a.get("id") or a.get("class")
        if tag == "tr" and self._table:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        if "id" in a and tag != "table":
            self._open_id, self._capture = a["id"], []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        if self._open_id and tag in ("p", "pre"):
            self.ids[self._open_id] = "".join(self._capture)
            self._open_id = None

    def handle_data(self, data: str) -> None:
        if self._open_id:
            self._capture.append(data)


def test_report_json_and_html(tmp_path: Path, broker) -> None:
    doc = sim_station(tmp_path, broker.port)
    doc["station"]["name"] = "<b>竹洼</b> & pond"
    config = write_station(tmp_path / "station.yaml", doc)
    out = tmp_path / "report"
    result = stationctl("report", "--config", config, "--out", out, "--technician", "Li Wei", "--samples", 3, "--frames", 3, "--lang", "en")
    assert result.exit_code == 0, result.output

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["station"] == STATION and report["ok"] is True and report["technician"] == "Li Wei"
    assert report["config_text"] == config.read_text(encoding="utf-8")
    checks = {(r["check"], r["target"]) for r in report["results"]}
    assert {("water", "gauge-1"), ("fire", "smoke-1"), ("camera", "cam-1"), ("speaker", "loudspeaker")} <= checks
    assert any(c == "broker" for c, _ in checks)
    (cam,) = report["cameras"]
    assert cam["snapshot"] == "snapshots/cam-1.jpg" and (out / cam["snapshot"]).exists()  # relative: the folder moves whole
    assert {d["id"] for d in report["devices"]} == {"gauge-1", "smoke-1", "cam-1", "loudspeaker"}

    html = (out / "report.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    assert "<b>竹洼</b>" not in html and "&lt;b&gt;竹洼&lt;/b&gt; &amp; pond" in html  # text from the field never becomes markup
    assert page.rows["results"] == len(report["results"]) + 1
    assert page.rows["readings"] >= 3 and page.rows["devices"] == 5
    assert "All checks passed" in page.ids["verdict"]
    assert page.ids["config"] == report["config_text"]
    (snap,) = [img for img in page.images if img["alt"] == "snapshot cam-1"]
    assert snap["src"].startswith("data:image/jpeg;base64,")
    frame = cv2.imdecode(np.frombuffer(base64.b64decode(snap["src"].split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (576, 768, 3)
    assert "0.42" in html  # the gauge's readings are on the page


def test_report_of_a_failing_station_is_written_and_exits_1(tmp_path: Path, broker) -> None:
    config = write_station(tmp_path / "station.yaml", sim_station(tmp_path, broker.port))
    broker.stop()
    out = tmp_path / "report"
    result = stationctl("report", "--config", config, "--out", out, "--samples", 2, "--frames", 2, "--no-sound", "--lang", "en")
    assert result.exit_code == 1
    assert "fix them and run the report again" in result.output
    chinese = stationctl("report", "--config", config, "--out", tmp_path / "report-zh", "--samples", 2, "--frames", 2, "--no-sound")
    assert chinese.exit_code == 1 and "修好后重新生成报告" in chinese.output and "1 项检查失败" in chinese.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] is False and report["counts"]["fail"] == 1 and report["counts"]["skip"] == 1
    assert "check(s) failed" in (out / "report.html").read_text(encoding="utf-8")
