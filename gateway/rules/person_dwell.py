"""Each person in a water zone followed: when they went in, whether they left, or were lost in the water.

Pure: `(settings, state, sightings, now) -> (state, signals)`. A drowning person goes under
quietly: no splash, no cry, the detector simply stops finding them. So a track that vanishes
*inside* the zone, away from its edges (where people walk out or leave the picture) and without
having been seen outside, is "lost in the water"; after `lost_after_s` it raises a critical
`possible_submersion` alarm. A person found again near where they vanished (often under a new
track id: the tracker's identities break when a swimmer is hidden for a few seconds) is the same
person: the dwell time goes on and a lost person is no longer lost.

A track last seen mid-zone but walking steadily towards an edge (its recent sightings, see
`track_motion`) walked out between two sparse analysed frames: it is treated like one last seen at
the edge, never raised. Raising it later instead would not help: a walker who left is never seen
again, so it would only be a late false alarm; someone who goes under stops first, and is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from gateway.alarms import AlarmSignal
from gateway.rules.track_motion import Trail, add_sighting, heading_out, last_gap_s

KIND = "possible_submersion"

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Sighting:
    """One confirmed track on an analysed frame, as one zone sees it."""

    id: int
    seen_at: float  # when the detector last found it (the tracker coasts a missed track on its last box)
    inside: bool  # its last box counts in the zone
    edge_distance: float  # how far inside the whole person is: feet from the zone's edge less their height (frame's larger side = 1)
    box: Box  # normalised (x1, y1, x2, y2)


@dataclass(frozen=True, slots=True)
class Person:
    """What is known of one person who went into the zone."""

    id: int
    entered_at: float
    last_seen: float
    inside: bool
    edge_distance: float
    box: Box
    lost: bool = False
    born_at: float = 0.0  # when this track was first seen in the zone, and where
    born_box: Box = (0.0, 0.0, 0.0, 0.0)
    trail: Trail = ()  # the last few fresh sightings (time, edge distance, box height): where they were heading


@dataclass(frozen=True, slots=True)
class DwellSettings:
    """Lost-in-water parameters of one zone (from `ZoneConfig.lost_in_water`); `lost_after_s` None: off."""

    source: str
    lost_after_s: float | None = 10.0
    edge_margin: float = 0.03
    min_tracked_s: float = 2.0
    rejoin_distance: float = 2.0
    forget_after_s: float = 30.0
    hold_s: float = 900.0
    max_snapshots: int = 3
    name: str = ""


@dataclass(frozen=True, slots=True)
class DwellState:
    """The people followed, and whether the possible_submersion alarm is up (since when, for whom)."""

    people: tuple[Person, ...] = ()
    active: bool = False
    raised_at: float | None = None
    sent_lost: tuple[int, ...] = ()
    snapshots: int = 0


def _feet_distance(a: Box, b: Box) -> float:
    """Distance of the feet of two boxes in units of the taller box's height (scale-free, like the tracker)."""
    ax, ay = (a[0] + a[2]) / 2, a[3]
    bx, by = (b[0] + b[2]) / 2, b[3]
    h = max(a[3] - a[1], b[3] - b[1], 1e-6)
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / h


def _rejoin(people: dict[int, Person], s: Sighting, seen_now: set[int], max_distance: float) -> Person | None:
    """The vanished person nearest a new track's first box, if near enough to be the same one."""
    best: tuple[float, Person] | None = None
    for p in people.values():
        if p.id in seen_now or p.last_seen >= s.seen_at:
            continue
        d = _feet_distance(p.box, s.box)
        if d <= max_distance and (best is None or d < best[0]):
            best = (d, p)
    return best[1] if best is not None else None


def _handed_over(p: Person, people: Iterable[Person], window_s: float, max_distance: float) -> bool:
    """Whether another track was born next to where this one was last seen, about when it vanished.

    Identities split: a detection kept from a tile not revisited yet, or two boxes on one swimmer,
    leave a twin track that ends mid-water while the real one walks on. A person that close to
    another cannot go under unnoticed, so this is not raised as lost.
    """
    return any(
        q.id != p.id and abs(q.born_at - p.last_seen) <= window_s and _feet_distance(q.born_box, p.box) <= max_distance
        for q in people
    )


def _height(box: Box) -> float:
    return box[3] - box[1]


def entered_times(state: DwellState) -> dict[int, float]:
    """Entry time of each person inside the zone and not lost (for dwell times and severity)."""
    return {p.id: p.entered_at for p in state.people if p.inside and not p.lost}


def longest_dwell(state: DwellState, now: float) -> float:
    """The longest time anyone now in the zone has been in it."""
    return max((now - p.entered_at for p in state.people if p.inside and not p.lost), default=0.0)


def person_dwell_step(
    settings: DwellSettings, state: DwellState, sightings: Sequence[Sighting], now: float, armed: bool = True
) -> tuple[DwellState, list[AlarmSignal]]:
    """Feed one analysed frame's tracks; return the new state and any possible_submersion raise, update or clear."""
    if not armed:
        if state.active:
            return DwellState(), [_clear(settings, state, "zone disarmed by its schedule")]
        return DwellState(), []
    people = {p.id: p for p in state.people}
    seen_now = {s.id for s in sightings}
    for s in sorted(sightings, key=lambda s: s.id):
        p = people.get(s.id)
        if p is None:
            found = _rejoin(people, s, seen_now, settings.rejoin_distance)
            if found is not None:  # the same person found again under a new id (maybe out of the water): not lost
                del people[found.id]
                p = replace(found, id=s.id, lost=False)
            elif not s.inside:
                continue  # someone on the bank: followed only once they go in
            else:
                p = Person(s.id, s.seen_at, s.seen_at, True, s.edge_distance, s.box, born_at=s.seen_at, born_box=s.box,
                           trail=add_sighting((), s.seen_at, s.edge_distance, _height(s.box)))
        if s.seen_at > p.last_seen:  # a fresh detection (a coasting track repeats its last one)
            entered = s.seen_at if (s.inside and not p.inside) else p.entered_at
            trail = add_sighting(p.trail, s.seen_at, s.edge_distance, _height(s.box))
            p = replace(p, entered_at=entered, last_seen=s.seen_at, inside=s.inside, edge_distance=s.edge_distance, box=s.box,
                        lost=False, trail=trail)
        people[s.id] = p
    for pid, p in list(people.items()):
        gone_for = now - p.last_seen
        if (
            settings.lost_after_s is not None and p.inside and not p.lost and gone_for >= settings.lost_after_s
            and p.edge_distance >= settings.edge_margin and p.last_seen - p.entered_at >= settings.min_tracked_s
            and not _handed_over(p, people.values(), settings.lost_after_s, settings.rejoin_distance)
            and not heading_out(p.trail, gone_for, settings.edge_margin)
        ):
            people[pid] = replace(p, lost=True)
        elif not p.lost and gone_for > settings.forget_after_s:
            del people[pid]
    st = replace(state, people=tuple(people[i] for i in sorted(people)))
    lost = tuple(sorted(p.id for p in st.people if p.lost))
    if not st.active:
        if lost:
            st = replace(st, active=True, raised_at=now, sent_lost=lost, snapshots=1)
            return st, [_signal(settings, st, now, sightings, fresh=True)]
        return st, []
    if not lost:
        return replace(st, active=False, raised_at=None, sent_lost=(), snapshots=0), [
            _clear(settings, st, "the person was seen again")
        ]
    if st.raised_at is not None and now - st.raised_at >= settings.hold_s:
        kept = tuple(p for p in st.people if not p.lost)
        return DwellState(people=kept), [_clear(settings, st, f"no one seen again there for {settings.hold_s:.0f} s; the alarm ends")]
    if lost != st.sent_lost:
        newly = bool(set(lost) - set(st.sent_lost))
        fresh = newly and st.snapshots < settings.max_snapshots
        st = replace(st, sent_lost=lost, snapshots=st.snapshots + (1 if fresh else 0))
        return st, [_signal(settings, st, now, sightings, fresh=fresh)]
    return st, []


def _signal(settings: DwellSettings, st: DwellState, now: float, sightings: Sequence[Sighting], fresh: bool) -> AlarmSignal:
    lost = [p for p in st.people if p.lost]
    newest = max(lost, key=lambda p: p.last_seen)
    where = settings.name or settings.source
    return AlarmSignal(
        KIND,
        settings.source,
        True,
        severity="critical",
        summary=f"{len(lost)} person(s) vanished in {where} and not seen leaving (possible submersion)",
        details={
            "lost": len(lost),
            "zone": where,
            "track_ids": [p.id for p in lost],
            "last_seen_s_ago": round(now - newest.last_seen, 1),
            "last_box": [round(v, 4) for v in newest.box],
            "dwell_before_lost_s": round(newest.last_seen - newest.entered_at, 1),
            "count": sum(1 for s in sightings if s.inside),
            "max_dwell_s": round(longest_dwell(st, now), 1),
            **_sparse(newest),
        },
        updates_on=("lost",),
        fresh_evidence=fresh,
    )


def _sparse(p: Person) -> dict[str, float]:
    """The gap between the person's last two sightings when analysis was sparse (over 1 s): judge the alarm with it."""
    gap = last_gap_s(p.trail)
    return {"sighting_gap_s": round(gap, 1)} if gap is not None and gap > 1.0 else {}


def _clear(settings: DwellSettings, st: DwellState, why: str) -> AlarmSignal:
    return AlarmSignal(KIND, settings.source, False, severity="critical", summary=why, details={"lost": 0, "zone": settings.name or settings.source})
