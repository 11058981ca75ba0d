"""The water-level chart of a station's last day, drawn on the server as an SVG picture.

The web view shows it as an image: the browser needs no charting code, and every operator sees
the same picture. matplotlib is used through its object API only (a new `Figure` per chart, drawn
by the SVG backend of `savefig`): pyplot keeps global state and is not thread-safe, and a web
server renders several charts at once. Text is drawn as glyph paths (matplotlib's default; the
alternative is a global rcParam), so the picture does not depend on the viewer's fonts; the font
is DejaVu, which has no CJK glyphs, so titles must not be Chinese.

The station's warning and danger marks are drawn as labelled lines. The county learns them from
the water alarms (the station puts its configured `warning_m` and `danger_m` in every water
alarm's details); an older station that does not is charted with the lowest levels at which it
raised a warning and a danger alarm instead, and the legend says which it is.

A day at one reading per 5 s is 17,280 rows: the query walks the `telemetry_by_sensor` index
(station, sensor, ts) and the series is cut to at most 720 points, each time bucket keeping its
lowest and highest reading so that a short spike still shows. More than 10 minutes without a
reading is drawn as a gap, not bridged by a straight line: the station or its sensor was away.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from matplotlib.figure import Figure

from county.store import Store
from county.times import epoch

GAP_S = 600.0  # longer than this without a reading: offline, drawn as a gap
WIDTH_PX, HEIGHT_PX = 720, 260  # CSS pixels: the SVG is sized in pt at 96 px per inch
LINE_COLOR = "#1f5fa8"
BAND_COLORS = {"warning": "#f0a000", "danger": "#d62728", "critical": "#d62728"}  # anything else (info): grey
BAND_ALPHA = 0.2
LIMIT_COLORS = {"warning": "#f0a000", "danger": "#d62728"}
LIMIT_ALARMS_READ = 500  # the newest water alarm steps of the station read for its marks
_TICK_STEPS_H = (1, 2, 3, 6, 12, 24)
_MAX_LABELS = 8


@dataclass(frozen=True, slots=True)
class AlarmBand:
    """An alarm of the charted sensor, open over [start, end) in epoch seconds (end None: still open)."""

    start: float
    end: float | None
    severity: str


@dataclass(frozen=True, slots=True)
class Limits:
    """The warning and danger levels of a sensor (m), where they came from, and when that was said (epoch seconds).

    origin "station": the station's configured marks, as its latest water alarm carried them;
    origin "alarms": the lowest levels at which warning and danger alarms were raised (the station sent no marks).
    """

    warning_m: float | None
    danger_m: float | None
    origin: str
    at: float


# ---------------------------------------------------------------------- queries


def _level_sql(store: Store) -> tuple[str, str, str]:
    """(the readings hold a numeric `level_m`, its value, the reading's time) in the store's SQL dialect.

    PostgreSQL hands the time over as epoch seconds (a float is much cheaper to fetch than a
    datetime); SQLite keeps its ISO text, which `county.times.epoch` reads exactly.
    """
    if store.dialect.name == "postgresql":
        return ("jsonb_typeof(readings -> 'level_m') = 'number'", "(readings ->> 'level_m')::double precision",
                "EXTRACT(EPOCH FROM ts)::double precision")
    return "json_type(readings, '$.level_m') IN ('integer', 'real')", "json_extract(readings, '$.level_m')", "ts"


def sensors_sql(store: Store) -> str:
    """Distinct sensors by hopping through the index (a loose index scan: one probe per sensor, not one row per reading)."""
    has, _, _ = _level_sql(store)
    return f"""WITH RECURSIVE s(sensor) AS (
            SELECT MIN(sensor) FROM telemetry WHERE station = ?
            UNION ALL
            SELECT (SELECT MIN(sensor) FROM telemetry WHERE station = ? AND sensor > s.sensor) FROM s WHERE s.sensor IS NOT NULL)
        SELECT sensor FROM s WHERE sensor IS NOT NULL
            AND EXISTS (SELECT 1 FROM telemetry WHERE station = ? AND sensor = s.sensor AND ts >= ? AND {has})
        ORDER BY sensor"""


def series_sql(store: Store) -> str:
    """One index range (station, sensor, ts), already in time order."""
    has, value, epoch = _level_sql(store)
    return f"SELECT {epoch}, {value} FROM telemetry WHERE station = ? AND sensor = ? AND ts >= ? AND ts <= ? AND {has} ORDER BY ts"


def _seconds(value: Any) -> float:
    """A stored time that the query guarantees is there."""
    seconds = epoch(value)
    if seconds is None:
        raise ValueError(f"unreadable time {value!r} in the county database")
    return seconds


def level_sensors(store: Store, station: str, since: float) -> list[str]:
    """Sensors of the station that sent a `level_m` reading since `since` (epoch seconds), sorted."""
    rows = store.query(sensors_sql(store), (station, station, station, store.dialect.ts(since)))
    return [sensor for (sensor,) in rows]


def level_series(store: Store, station: str, sensor: str, since: float, until: float,
                 max_points: int = 720) -> list[tuple[float, float]]:
    """(epoch seconds, level_m) in time order over [since, until], cut to at most `max_points`.

    Keep `(until - since) / (max_points // 2)` at most 5 minutes (the default does for a day):
    two kept points are then never more than 10 minutes apart unless readings really stopped,
    so the chart's gaps stay true.
    """
    if max_points < 2:
        raise ValueError("max_points must be at least 2 (a bucket keeps its min and max)")
    d = store.dialect
    rows = store.query(series_sql(store), (station, sensor, d.ts(since), d.ts(until)))
    points = [(t, v) for t, v in ((_seconds(ts), float(level)) for ts, level in rows) if math.isfinite(t) and math.isfinite(v)]  # NaN/inf: no reading
    return points if len(points) <= max_points else downsample(points, since, until, max_points)


def downsample(points: Sequence[tuple[float, float]], since: float, until: float, max_points: int) -> list[tuple[float, float]]:
    """Equal time buckets over [since, until]; each keeps its lowest and highest point, in time order."""
    buckets = max_points // 2
    width = (until - since) / buckets or 1.0
    out: list[tuple[float, float]] = []
    current = -1
    lo = hi = points[0]

    def flush() -> None:
        if lo is hi:
            out.append(lo)
        else:
            out.extend((lo, hi) if lo[0] < hi[0] else (hi, lo))

    for p in points:
        bucket = min(max(int((p[0] - since) / width), 0), buckets - 1)
        if bucket != current:
            if current >= 0:
                flush()
            current, lo, hi = bucket, p, p
        elif p[1] < lo[1]:
            lo = p
        elif p[1] > hi[1]:
            hi = p
    flush()
    return out


def alarm_bands(store: Store, station: str, sensor: str, since: float, until: float) -> list[AlarmBand]:
    """Alarms of the station about this sensor (`source`) that were open at some time in [since, until], oldest first."""
    d = store.dialect
    rows = store.query(
        """SELECT raised_at, cleared_at, severity FROM alarms WHERE station = ? AND source = ? AND raised_at <= ?
           AND (cleared_at IS NULL OR cleared_at >= ?) ORDER BY raised_at, event_id""",
        (station, sensor, d.ts(until), d.ts(since)))
    return [AlarmBand(_seconds(raised), None if cleared is None else _seconds(cleared), severity) for raised, cleared, severity in rows]


def _metres(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) else None


def level_limits(store: Store, station: str, sensor: str) -> Limits | None:
    """The sensor's warning and danger marks from the station's newest water alarms (see `Limits`); None when none tell."""
    rows = store.query("SELECT ts, severity, body FROM events WHERE station = ? AND name = 'water_level' AND kind = 'alarm' "
                       "ORDER BY seq DESC LIMIT ?", (station, LIMIT_ALARMS_READ))
    raised: dict[str, float] = {}
    newest = 0.0
    for ts, severity, body in rows:
        doc = json.loads(body) if isinstance(body, str | bytes) else body
        if not isinstance(doc, dict) or doc.get("source") != sensor or not isinstance(doc.get("details"), dict):
            continue
        details, at = doc["details"], epoch(ts) or 0.0
        warning, danger = _metres(details.get("warning_m")), _metres(details.get("danger_m"))
        if warning is not None or danger is not None:
            return Limits(warning, danger, "station", at)
        level, band = _metres(details.get("level_m")), "danger" if severity in ("danger", "critical") else severity
        if level is not None and band in ("warning", "danger") and doc.get("state") in ("raised", "updated"):
            raised[band] = min(raised.get(band, level), level)
            newest = max(newest, at)
    return Limits(raised.get("warning"), raised.get("danger"), "alarms", newest) if raised else None


# ---------------------------------------------------------------------- the picture


def runs(series: Sequence[tuple[float, float]], gap_s: float = GAP_S) -> list[list[tuple[float, float]]]:
    """The series cut wherever readings stop for more than `gap_s`: each run is drawn as its own line."""
    out: list[list[tuple[float, float]]] = []
    last = None
    for p in series:
        if last is None or p[0] - last > gap_s:
            out.append([])
        out[-1].append(p)
        last = p[0]
    return out


def _hour_ticks(since: float, until: float, tz: tzinfo) -> tuple[list[float], list[str], list[float]]:
    """Labelled ticks on whole hours of `tz` (every 1, 2, 3, 6, 12 or 24 h; the date at midnight) and hourly minor ticks."""
    first = datetime.fromtimestamp(since, tz).replace(minute=0, second=0, microsecond=0).timestamp()
    hours = [first + 3600 * k for k in range(int((until - first) // 3600) + 1)]
    hours = [t for t in hours if since <= t <= until]
    span_h = (until - since) / 3600
    step = next((s for s in _TICK_STEPS_H if span_h / s <= _MAX_LABELS), _TICK_STEPS_H[-1])
    major, labels = [], []
    for t in hours:
        local = datetime.fromtimestamp(t, tz)
        if local.hour % step == 0:
            major.append(t)
            labels.append(local.strftime("%m-%d") if local.hour == 0 else local.strftime("%H:%M"))
    minor = hours if span_h <= 48 else []
    return major, labels, minor


def _tz_label(tz: tzinfo, at: float) -> str:
    offset = datetime.fromtimestamp(at, tz).utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _draw_limits(ax: Any, limits: Limits, tz: tzinfo) -> None:
    """The marks as dashed lines (ids `limit-warning`, `limit-danger`) and a legend saying where they came from (`limits-legend`)."""
    for band, value in (("warning", limits.warning_m), ("danger", limits.danger_m)):
        if value is not None:
            ax.axhline(value, color=LIMIT_COLORS[band], lw=1.1, ls="--", gid=f"limit-{band}", label=f"{band} {value:.2f} m")
    when = datetime.fromtimestamp(limits.at, tz).strftime("%m-%d %H:%M") if limits.at else "?"
    origin = f"station's marks (alarm {when})" if limits.origin == "station" else f"levels alarms were raised at (to {when})"
    legend = ax.legend(title=origin, loc="upper left", fontsize=7, title_fontsize=7, framealpha=0.85)
    legend.set_gid("limits-legend")


def water_chart_svg(series: Sequence[tuple[float, float]], since: float, until: float, bands: Sequence[AlarmBand] = (),
                    title: str = "", tz: tzinfo = timezone.utc, limits: Limits | None = None) -> bytes:
    """The level line over [since, until] as an SVG of about 720x260 px, alarm bands shaded behind it, the marks as lines.

    Each continuous run of readings is one line (SVG group id `level-run-N`), each band an
    `alarm-band-N`, each mark `limit-warning` / `limit-danger`, the empty-chart notice `no-readings`:
    the ids let tests and the web view find them.
    `title` must be Latin text (no CJK glyphs in the chart font); it is drawn as given, never parsed as `$math$`.
    """
    series = [(t, v) for t, v in series if math.isfinite(t) and math.isfinite(v)]  # a station's NaN or Infinity is no reading
    fig = Figure(figsize=(WIDTH_PX / 96, HEIGHT_PX / 96), dpi=96)
    ax = fig.add_axes((0.085, 0.12, 0.895, 0.78))  # fixed margins: no layout engine to pay for on every render
    for i, band in enumerate(bands):
        start, end = max(band.start, since), min(until if band.end is None else band.end, until)
        if end > start:
            ax.axvspan(start, end, color=BAND_COLORS.get(band.severity, "#9e9e9e"), alpha=BAND_ALPHA, lw=0, gid=f"alarm-band-{i}")
    for i, run in enumerate(runs(series)):
        xs, ys = zip(*run)
        ax.plot(xs, ys, color=LINE_COLOR, lw=1.3, marker="o" if len(run) == 1 else "", ms=2.5, gid=f"level-run-{i}")
    if not series:
        hours = (until - since) / 3600
        ax.text(0.5, 0.5, f"no readings in the last {hours:.3g} h", transform=ax.transAxes, ha="center", va="center",
                fontsize=11, color="#666666", gid="no-readings")
        ax.set_yticks([])
    else:
        ax.yaxis.get_major_formatter().set_useOffset(False)  # 1.23, not "+1.2" and 0.03
    if limits is not None and (limits.warning_m is not None or limits.danger_m is not None):
        _draw_limits(ax, limits, tz)
    ax.set_xlim(since, until)
    major, labels, minor = _hour_ticks(since, until, tz)
    ax.set_xticks(major, labels)
    ax.set_xticks(minor, minor=True)
    ax.tick_params(labelsize=8)
    ax.set_ylabel("level (m)", fontsize=9)
    ax.grid(True, color="#e3e3e3", lw=0.6)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, loc="left", fontsize=10, parse_math=False)
    ax.set_title(_tz_label(tz, until), loc="right", fontsize=8, color="#666666")
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # no render date in the picture's metadata
    return buf.getvalue()
