"""Where a person who vanished was heading: the trend of their clearance from the zone's edge.

Pure. Under load the camera's frames are analysed far below its rate (one a second or less), so
someone walking out of the water can be last *seen* well inside the zone and never again: the
bank may lie outside the analysed regions. Their recent sightings tell: a walker's clearance from
the edge falls steadily, a person who went under had stopped (or only jittered in place).

The clearance (`Sighting.edge_distance`: feet from the zone's nearest edge less their height) is
what the rule already has; its rate of change is the walking speed towards that edge, so no zone
geometry is needed here. Inside a convex zone the distance to the edge is concave along a straight
walk, so extrapolating it linearly can only overstate how far inside the walker ends up: it errs
towards raising, never towards missing someone.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from statistics import median

Trail = tuple[tuple[float, float, float], ...]  # (seen_at, edge_distance, box height), oldest first

TRAIL_LEN = 5  # sightings kept per person: enough for a median slope that one noisy box cannot turn
WINDOW_S = 6.0  # only sightings this recent (before the last one) tell where they were heading
MIN_SIGHTINGS = 3  # fewer cannot outvote one noisy box: no trend, so the rule raises as before
MIN_SPAN_S = 1.0
MIN_SPEED = 0.3  # person heights a second towards the edge: a slow wade; a still swimmer's jitter stays below
HORIZON_MIN_S, HORIZON_MAX_S = 2.0, 5.0  # how far ahead a walk is followed: two analysis gaps, within these bounds


def add_sighting(trail: Trail, seen_at: float, edge_distance: float, height: float) -> Trail:
    """The trail with one fresh sighting added, bounded to the last `TRAIL_LEN`."""
    return (*trail, (seen_at, edge_distance, height))[-TRAIL_LEN:]


def last_gap_s(trail: Trail) -> float | None:
    """Seconds between the last two sightings (how sparse the analysis was when the person vanished)."""
    return trail[-1][0] - trail[-2][0] if len(trail) >= 2 else None


def heading_out(trail: Trail, gone_for: float, edge_margin: float) -> bool:
    """Whether the person was walking out: their clearance, followed ahead, reaches the edge band.

    The trend is the median of the slopes between every two recent sightings (Theil-Sen), so one
    box that jumped does not make a still person walk. Followed ahead for the time they have been
    gone, at most two analysis gaps (a walker is lost from sight by the next analysed frame or the
    one after) and never beyond `HORIZON_MAX_S`: a swimmer who drifted slowly and then sank far
    from the edge is still raised.
    """
    recent = _recent(trail)
    if len(recent) < MIN_SIGHTINGS or recent[-1][0] - recent[0][0] < MIN_SPAN_S:
        return False
    slope = median((b[1] - a[1]) / (b[0] - a[0]) for a, b in combinations(recent, 2) if b[0] > a[0])
    height = median(h for _, _, h in recent)
    if height <= 0 or -slope / height < MIN_SPEED:
        return False
    gap = last_gap_s(trail) or 0.0
    horizon = min(gone_for, min(HORIZON_MAX_S, max(HORIZON_MIN_S, 2 * gap)))
    last = recent[-1][0]
    at_last = median(e - slope * (t - last) for t, e, _ in recent)  # the fitted line at the last sighting, not its one box
    return at_last + slope * horizon < edge_margin


def _recent(trail: Sequence[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    if not trail:
        return []
    last = trail[-1][0]
    return [x for x in trail if last - x[0] <= WINDOW_S]
