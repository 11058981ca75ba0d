"""Issue 19: the map of stations with live status, and the statistics as a page and CSV, against a real county.

Real parts: a mosquitto, the ingest, `countyctl serve` as its own process (twice: with the county outline and no
tiles, and with a tile server), real gateway stations with coordinates in their station files, a tile server the
test starts (a local HTTP server standing in for the county's own or 天地图), Debian's Chromium. Every request the
browser makes is recorded: the map must come whole from the county server (Leaflet included), never a CDN.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import httpx2 as httpx
import numpy as np
import pytest

from county.sim.webdemo import start_center
from county.store import Store
from gateway.localbroker import free_port
from gateway.station import Station
from tests.conftest import ROOT
from tests.stations import config_of, wait_for
from tests.web.conftest import OPERATORS, PASSWORD, water_station, web_up

BRIDGE = "410421/xiaoqi/zhuwa/bridge-01"
FERRY = "410421/dongfeng/liuzhuang/ferry-02"
UNPLACED = "410421/xiaoqi/houshan/gauge-03"
OUTLINE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "示范县"}, "geometry": {
    "type": "Polygon", "coordinates": [[[112.9, 33.7], [113.3, 33.7], [113.3, 34.0], [112.9, 34.0], [112.9, 33.7]]]}}]}


class Tiles(BaseHTTPRequestHandler):
    """The county's tile server: one grey PNG for every tile, each request counted."""

    png = cv2.imencode(".png", np.full((256, 256, 3), 200, np.uint8))[1].tobytes()
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Tiles.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class MapCounty:
    root: Path
    plain_url: str  # outline, no tiles
    tiled_url: str  # tiles through the county server
    tile_port: int
    stations: dict[str, Station] = field(default_factory=dict)


@contextmanager
def serving(root: Path, name: str, db_url: str, broker_port: int, key_file: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    log = open(root / f"{name}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "county.cli", "serve", "--db", db_url, "--broker", f"127.0.0.1:{broker_port}",
                             "--key", str(key_file), "--listen", f"127.0.0.1:{port}", "--secret-file", str(root / f"{name}.secret"),
                             "--tz", "Asia/Shanghai", *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: web_up(url) or proc.poll() is not None, timeout=30) and proc.poll() is None, \
            (root / f"{name}.log").read_text(errors="replace")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def placed(doc: dict[str, Any], lat: float | None, lon: float | None, town_name: str) -> dict[str, Any]:
    doc["station"].update({"town_name": town_name} | ({"lat": lat, "lon": lon} if lat is not None else {}))
    return doc


@pytest.fixture(scope="module")
def map_county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapCounty]:
    root = tmp_path_factory.mktemp("map-county")
    center = start_center(root, OPERATORS, PASSWORD, ingest_id="map-test-ingest")
    outline = root / "county.geojson"
    outline.write_text(json.dumps(OUTLINE, ensure_ascii=False), encoding="utf-8")
    tiles = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    tile_url = f"http://127.0.0.1:{tiles.server_port}/{{z}}/{{x}}/{{y}}.png?tk=secret-key"
    args = (center.db_url, center.broker.port, center.key_file)
    try:
        with serving(root, "plain", *args, "--outline", str(outline)) as plain, \
                serving(root, "tiled", *args, "--tiles", tile_url, "--tiles-attribution", "图源 <b>测试</b>") as tiled:
            county = MapCounty(root, plain, tiled, tiles.server_port)
            port, key = center.broker.port, center.public_key
            docs = {
                BRIDGE: placed(water_station(root / "bridge", port, key, BRIDGE, "竹洼村漫水桥", rise_at_s=1.0), 33.8724, 113.0581, "小旗乡"),
                FERRY: placed(water_station(root / "ferry", port, key, FERRY, "刘庄渡口<b>x</b>", rise_at_s=None), 33.92, 113.2, "东风乡"),
                UNPLACED: placed(water_station(root / "gauge", port, key, UNPLACED, "后山水位", rise_at_s=None), None, None, "小旗乡"),
            }
            try:
                for path, doc in docs.items():
                    station = county.stations[path] = Station(config_of(doc))
                    station.start()
                    assert wait_for(lambda s=station: s.uplink.stats.connected, timeout=15), path
                yield county
            finally:
                for station in county.stations.values():
                    station.stop()
    finally:
        tiles.shutdown()
        center.stop()


def open_map(browser: Any, base_url: str, name: str) -> tuple[Any, list[str]]:
    """A logged-in page on /map, and the list every request of the browser goes into."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base_url + "/")
    page.goto("/map")
    return page, requests


def marker(page: Any, station: str, status: str, timeout: float = 30_000) -> Any:
    return page.wait_for_selector(f'path.station-marker[data-station="{station}"][data-status="{status}"]', timeout=timeout)


def hosts(requests: list[str]) -> set[str]:
    return {urlsplit(u).netloc for u in requests if not u.startswith(("data:", "blob:"))}


def test_map_draws_stations_at_their_coordinates_over_the_outline_all_from_the_county_server(map_county: MapCounty, browser) -> None:  # noqa: ANN001
    page, requests = open_map(browser, map_county.plain_url, "duty")
    try:
        marker(page, FERRY, "online")
        marker(page, BRIDGE, "danger")  # its gauge rose to danger: the open alarm colours the marker
        page.wait_for_selector("#map[data-outline=drawn]")
        assert page.locator(".leaflet-overlay-pane path").count() >= 3  # the outline and two stations
        assert page.locator("img.leaflet-tile").count() == 0  # no tiles configured: none asked for
        unplaced = page.wait_for_selector(f'#map-unplaced li[data-station="{UNPLACED}"]')
        assert "后山水位" in unplaced.text_content()
        assert page.locator(f'path.station-marker[data-station="{UNPLACED}"]').count() == 0
        marker(page, FERRY, "online").click()
        popup = page.wait_for_selector('.leaflet-popup-content .popup[data-station="%s"]' % FERRY)
        assert "刘庄渡口<b>x</b>" in popup.text_content() and popup.query_selector("b") is None  # a station's text is never HTML
        assert popup.query_selector("a").get_attribute("href") == "/stations/410421/dongfeng/liuzhuang/ferry-02"
        marker(page, BRIDGE, "danger").click()  # live updates change the marker in place: an open popup stays open
        page.wait_for_selector('.leaflet-popup-content .popup[data-station="%s"]' % BRIDGE)
        page.wait_for_timeout(3000)
        assert page.locator('.leaflet-popup-content .popup[data-station="%s"]' % BRIDGE).count() == 1
        assert any(u.endswith("/leaflet/leaflet.js") for u in requests)
        assert hosts(requests) == {urlsplit(map_county.plain_url).netloc}, requests
    finally:
        page.context.close()


def test_map_a_township_account_sees_only_its_own_stations(map_county: MapCounty, browser) -> None:  # noqa: ANN001
    page, _ = open_map(browser, map_county.plain_url, "xiaoqi")
    try:
        marker(page, BRIDGE, "danger")
        page.wait_for_selector(f'#map-unplaced li[data-station="{UNPLACED}"]')
        page.wait_for_timeout(500)
        assert page.locator(f'[data-station="{FERRY}"]').count() == 0
        assert page.locator("#count-online").text_content() == "2"
    finally:
        page.context.close()


def test_map_tiles_come_through_the_county_server_and_its_key_stays_there(map_county: MapCounty, browser) -> None:  # noqa: ANN001
    page, requests = open_map(browser, map_county.tiled_url, "duty")
    try:
        marker(page, FERRY, "online")
        page.wait_for_selector("img.leaflet-tile-loaded")
        assert Tiles.asked and all("tk=secret-key" in p for p in Tiles.asked)
        assert hosts(requests) == {urlsplit(map_county.tiled_url).netloc}, requests
        assert not any("secret-key" in u for u in requests) and "secret-key" not in page.content()
        attribution = page.locator(".leaflet-control-attribution").text_content()
        assert "图源 <b>测试</b>" in attribution  # the configured text, shown as text
    finally:
        page.context.close()


def logged_in_client(base_url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf": token}).status_code in (200, 303)
    return client


def test_stats_page_and_csv_open_in_excel_with_chinese_headers_and_keep_the_scope(map_county: MapCounty) -> None:
    with closing(logged_in_client(map_county.plain_url, "duty")) as duty, closing(logged_in_client(map_county.plain_url, "xiaoqi")) as xiaoqi:
        store = Store(f"sqlite:///{map_county.root / 'county.db'}")
        try:  # the bridge's danger alarm is stored before the figures are asked (they are kept a minute)
            assert wait_for(lambda: store.query("SELECT COUNT(*) FROM alarms WHERE station = ?", (BRIDGE,))[0][0] > 0, timeout=30)
        finally:
            store.close()
        assert BRIDGE in duty.get("/stats.csv?group=station").content.decode("utf-8-sig")
        csv_zh = duty.get("/stats.csv?group=station")
        assert csv_zh.headers["content-type"].startswith("text/csv") and csv_zh.content.startswith(b"\xef\xbb\xbf")
        header = csv_zh.content.decode("utf-8-sig").splitlines()[0]
        assert header.startswith("时段,分组,名称,告警数,案件数") and "误报占比（%）" in header
        assert duty.get("/stats.csv?group=station&lang=en").content.decode("utf-8-sig").startswith("period,group,name,alarms,cases")
        mine = xiaoqi.get("/stats.csv?group=station").content.decode("utf-8-sig")
        assert BRIDGE in mine and FERRY not in mine and "dongfeng" not in mine
        page = duty.get("/stats?group=town")
        assert page.status_code == 200 and 'id="stats-lines"' in page.text and "410421/xiaoqi" in page.text
        bad = duty.get("/stats?period=range&from=2026-12-05&to=2026-12-01")
        assert bad.status_code == 400 and "早于开始日期" in bad.text  # said in the session's language, Chinese first
        assert "before it starts" in duty.get("/stats?period=range&from=2026-12-05&to=2026-12-01&lang=en").text
        assert duty.get("/stats.csv?period=range&from=junk&to=2026-12-01").status_code == 400


def test_map_serve_refuses_an_outline_that_is_not_geojson_in_degrees(map_county: MapCounty, tmp_path: Path) -> None:
    projected = tmp_path / "projected.geojson"
    projected.write_text(json.dumps({"type": "Polygon", "coordinates": [[[500000, 3700000], [510000, 3700000], [500000, 3710000]]]}))
    db = f"sqlite:///{map_county.root / 'county.db'}"
    for path, words in ((projected, "WGS 84"), (tmp_path / "missing.geojson", "cannot read")):
        done = subprocess.run([sys.executable, "-m", "county.cli", "serve", "--db", db, "--key", str(map_county.root / "county.key"),
                               "--listen", f"127.0.0.1:{free_port()}", "--outline", str(path)], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and words in done.stderr, done.stderr


def test_map_a_station_going_offline_turns_its_marker_grey_live(map_county: MapCounty, browser) -> None:  # noqa: ANN001
    page, _ = open_map(browser, map_county.plain_url, "duty")
    try:
        marker(page, FERRY, "online")
        map_county.stations.pop(FERRY).stop()  # the clean goodbye: a retained offline status
        marker(page, FERRY, "offline", timeout=20_000)
        assert page.locator("#count-offline").text_content() == "1"
    finally:
        page.context.close()
