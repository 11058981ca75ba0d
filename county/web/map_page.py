"""`/map`: the stations on a map with their live status, every byte of it from the county server.

Leaflet is Debian's `libjs-leaflet` (/usr/share/javascript/leaflet), mounted at `/leaflet/`:
a duty room's browser needs no internet and no CDN. Map tiles, when the county configures a tile
server (`--tiles URL` with {z}/{x}/{y}: its own, or 天地图 with its `tk` key), are fetched by the
server and handed on from `/map/tiles/z/x/y`, kept a while in a bounded memory cache: the key
stays on the server, the page's Content-Security-Policy stays "this server only", and a hundred
browsers cost the tile server one request per tile. Without tiles, the county's outline (a
GeoJSON file, `--outline`, checked when the server starts) is drawn under the stations.

The page itself (`static/map.js`) follows `/api/board` and `/api/events` as the board does; the
server sends only what the operator's scope holds, so the map shows nothing else.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from county.accounts import Operator
from county.i18n import Refused
from county.web import access

if TYPE_CHECKING:
    from county.web.app import Web

log = logging.getLogger(__name__)
LEAFLET_DIR = Path("/usr/share/javascript/leaflet")
MAX_OUTLINE_BYTES = 8 * 1024 * 1024
MAX_TILE_BYTES = 1024 * 1024
MAX_ZOOM = 20
TILE_TIMEOUT_S = 8.0
TILE_CACHE = 2000  # tiles kept in memory (a few tens of MB at most)
GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection")


class MapConfigError(Refused):
    """A map option the server cannot start with (said at the console, in both languages, before the port opens)."""


@dataclass(frozen=True)
class MapSettings:
    """The county's map: a tile URL template (or none), its attribution, the outline GeoJSON (checked, compact)."""

    tiles: str = ""
    attribution: str = ""
    outline: bytes | None = None
    leaflet_dir: Path = LEAFLET_DIR


def map_settings(tiles: str | None, attribution: str, outline: Path | None, leaflet_dir: Path = LEAFLET_DIR) -> MapSettings:
    """The `countyctl serve` map options, checked (MapConfigError says what to fix before the port opens)."""
    return MapSettings(check_tiles(tiles) if tiles else "", attribution[:500], load_outline(outline) if outline else None, leaflet_dir)


def check_tiles(url: str) -> str:
    """A tile URL template the server can fetch: http(s), with {z}, {x} and {y}."""
    if not re.match(r"^https?://[^/\s]+", url) or any(p not in url for p in ("{z}", "{x}", "{y}")):
        raise MapConfigError(f"--tiles 须为含 {{z}}、{{x}}、{{y}} 的 http(s) 地址，例 https://tiles.example/{{z}}/{{x}}/{{y}}.png；不能用 {url[:200]!r}",
                             f"--tiles must be an http(s) URL with {{z}}, {{x}} and {{y}}, e.g. https://tiles.example/{{z}}/{{x}}/{{y}}.png; "
                             f"not {url[:200]!r}")
    return url


def load_outline(path: Path) -> bytes:
    """The county outline as compact GeoJSON, or MapConfigError saying what is wrong with the file."""
    try:
        if path.stat().st_size > MAX_OUTLINE_BYTES:
            raise MapConfigError(f"{path}：超过 {MAX_OUTLINE_BYTES // 1024 // 1024} MB，请先简化边界（如 mapshaper）", f"{path}: larger than {MAX_OUTLINE_BYTES // 1024 // 1024} MB; simplify the outline (e.g. mapshaper)")
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise MapConfigError(f"{path}：无法读取县界文件：{exc.strerror or exc}", f"{path}: cannot read the outline: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise MapConfigError(f"{path}：不是 JSON：{exc}", f"{path}: not JSON: {exc}") from None
    problem = _geojson_problem(doc)
    if problem:
        raise MapConfigError(f"{path}：不是以经纬度（WGS 84）表示的 GeoJSON 县界：{problem}", f"{path}: not a GeoJSON outline in degrees: {problem}")
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _geojson_problem(doc: Any) -> str | None:
    """Why `doc` is not GeoJSON Leaflet can draw in WGS 84 degrees, or None (iterative: a hostile file cannot nest deep)."""
    pending, points = [doc], 0
    while pending:
        node = pending.pop()
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return "an object without a \"type\""
        kind = node["type"]
        if kind == "FeatureCollection":
            if not isinstance(node.get("features"), list):
                return "a FeatureCollection without a list of features"
            pending.extend(node["features"])
        elif kind == "Feature":
            if node.get("geometry") is not None:
                pending.append(node["geometry"])
        elif kind == "GeometryCollection":
            if not isinstance(node.get("geometries"), list):
                return "a GeometryCollection without geometries"
            pending.extend(node["geometries"])
        elif kind in GEOMETRIES:
            found = _positions(node.get("coordinates"))
            if isinstance(found, str):
                return f"{kind}: {found}"
            points += found
        else:
            return f"unknown type {kind[:40]!r}"
    return None if points else "no coordinates at all"


def _positions(coords: Any) -> int | str:
    """How many [lon, lat] positions `coords` holds, or what is wrong with them."""
    count, pending = 0, [coords]
    while pending:
        node = pending.pop()
        if not isinstance(node, list) or not node:
            return "coordinates must be (nested) lists of [longitude, latitude]"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in node):
            if len(node) < 2 or not all(math.isfinite(v) for v in node):
                return "a position needs a finite longitude and latitude"
            if not (-180 <= node[0] <= 180 and -90 <= node[1] <= 90):
                return f"[{node[0]}, {node[1]}] is not [longitude, latitude] in degrees (a projected file? export it as WGS 84)"
            count += 1
        else:
            pending.extend(node)
    return count


class TileCache:
    """Tiles fetched from the county's tile server, the most recent `size` kept (a bounded LRU)."""

    def __init__(self, template: str, size: int = TILE_CACHE) -> None:
        self.template, self.size = template, size
        self._tiles: OrderedDict[tuple[int, int, int], tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, z: int, x: int, y: int) -> tuple[bytes, str]:
        """(image, content type); OSError or ValueError when the tile server does not give an image."""
        key = (z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        url = self.template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        request = urllib.request.Request(url, headers={"User-Agent": "county-station-board"})
        with urllib.request.urlopen(request, timeout=TILE_TIMEOUT_S) as answer:  # noqa: S310 - the county's own configured URL
            body, kind = answer.read(MAX_TILE_BYTES + 1), answer.headers.get_content_type()
        if len(body) > MAX_TILE_BYTES or not kind.startswith("image/"):
            raise ValueError(f"the tile server sent {kind}, {len(body)} bytes, not a tile image")
        with self._lock:
            self._tiles[key] = (body, kind)
            while len(self._tiles) > self.size:
                self._tiles.popitem(last=False)
        return body, kind


def map_routes(w: Callable[[], Web], settings: MapSettings) -> list[BaseRoute]:
    tiles = TileCache(settings.tiles) if settings.tiles else None

    page_in, api_in = access.logged_in(w), access.logged_in(w, api=True)

    async def page(request: Request, op: Operator) -> Response:
        web = w()
        config = {"tiles": "/map/tiles/{z}/{x}/{y}" if tiles else "", "attribution": settings.attribution,
                  "outline": settings.outline is not None, "leaflet": (settings.leaflet_dir / "leaflet.js").is_file()}
        return web.page(request, "map.html", op, page="map",
                        map_config=json.dumps(config, ensure_ascii=False), has_leaflet=config["leaflet"])

    async def outline(request: Request, op: Operator) -> Response:
        if settings.outline is None:
            return Response('{"error": "no outline configured"}', 404, media_type="application/json")
        return Response(settings.outline, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=3600"})

    async def tile(request: Request, op: Operator) -> Response:
        z, x, y = (request.path_params[k] for k in ("z", "x", "y"))
        if tiles is None or not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return Response(b"", 404)
        try:
            body, kind = await run_in_threadpool(tiles.get, z, x, y)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.warning("map: tile %s/%s/%s not fetched: %s", z, x, y, exc)
            return Response(b"", 502)
        return Response(body, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})

    found: list[BaseRoute] = [
        Route("/map", page_in(page)),
        Route("/map/outline.geojson", api_in(outline)),
        Route("/map/tiles/{z:int}/{x:int}/{y:int}", api_in(tile)),
    ]
    if (settings.leaflet_dir / "leaflet.js").is_file():
        found.append(Mount("/leaflet", StaticFiles(directory=str(settings.leaflet_dir)), name="leaflet"))
    else:
        log.warning("map: Leaflet not found in %s (apt install libjs-leaflet); /map shows the stations as a list only", settings.leaflet_dir)
    return found
