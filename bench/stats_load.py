"""The statistics (issue 19) over a large county: 500 stations, 30 days of alarms and the cases they opened.

Run: `.venv/bin/python -m bench.stats_load [--db postgresql://...] [--per-day 24]`.

The database is seeded directly (alarms, cases and their steps as the ingest and the loop write them):
by default 500 stations x 30 days x 24 alarms a day (one an hour: 360,000 alarms), every fourth one
opening a case that is accepted and closed (90,000 cases, 270,000 steps). Figures: the time to compute
the table of `/stats` (last 30 days by day; grouped by township, station, kind), for the whole county
and for one township's account, and the size of its CSV.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from county import stats
from county.cases.db import LoopDb
from county.cases.store import CaseStore
from county.stats_query import alarm_counts, case_rows
from county.store import Store
from county.web.stats_page import COLUMNS

TZ = ZoneInfo("Asia/Shanghai")
KINDS = ("water_level", "person_in_water_zone", "fire", "smoke")


def seed(url: str, stations: int, days: int, per_day: int, now: float) -> None:
    store, db = Store(url), LoopDb(url)
    CaseStore(db)
    ts = store.dialect.ts
    rng = random.Random(19)
    paths = [f"410421/town{i // 50:02d}/village{i // 5:03d}/st-{i:03d}" for i in range(stations)]
    alarms, cases = [], []
    for day in range(days):
        for path in paths:
            for k in range(per_day):
                at = now - (day * 86400 + rng.uniform(0, 86400))
                kind = KINDS[(k + day) % len(KINDS)]
                alarms.append((f"e{len(alarms)}", path, kind, ts(at), ts(at)))
                if k % 4 == 0:
                    cases.append((path, kind, at, rng.uniform(60, 1800), rng.uniform(1800, 7200), rng.random() < 0.1, rng.random() < 0.3))
    cur = store._db.cursor()
    cur.execute(store.dialect.begin)
    cur.executemany(store.dialect.sql("""INSERT INTO alarms (event_id, station, alarm, source, category, severity, state, summary, raised_at,
        last_seq, updated_at) VALUES (?, ?, ?, 's', 'safety', 'danger', 'cleared', '', ?, 1, ?)"""), alarms)
    cur.executemany(store.dialect.sql("""INSERT INTO cases (station, kind, severity, summary, state, level, overdue, result, opened_by,
        opened_at, accept_due, handle_due, assignees, updated_at) VALUES (?, ?, 'danger', '', 'closed', 0, ?, ?, 'system', ?, ?, ?, '[]', ?)"""),
        [(p, k, over, "false_alarm" if false else "resolved", ts(at), ts(at), ts(at), ts(at)) for p, k, at, _, _, over, false in cases])
    cur.execute("COMMIT")
    ids = [r[0] for r in store.query("SELECT id FROM cases ORDER BY id")]
    steps = []
    for case_id, (_, _, at, accept_s, close_s, _, _) in zip(ids, cases, strict=True):
        steps += [(case_id, ts(at), "open"), (case_id, ts(at + accept_s), "accept"), (case_id, ts(at + close_s), "close")]
    cur.execute(store.dialect.begin)
    cur.executemany(store.dialect.sql("""INSERT INTO case_steps (case_id, at, actor, action, from_state, to_state, note, photos)
        VALUES (?, ?, 'x', ?, '', '', '', '[]')"""), steps)
    cur.execute("COMMIT")
    print(f"seeded {len(alarms)} alarms, {len(cases)} cases, {len(steps)} steps")
    db.close()
    store.close()


def timed(store: Store, buckets: list[stats.Bucket], group: stats.Group, scope: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    lines = stats.aggregate(buckets, group, alarm_counts(store, buckets, scope), case_rows(store, buckets, scope))
    return time.perf_counter() - t0, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=24, help="alarms per station per day")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='stats-bench-')}/county.db"
    now = datetime(2026, 12, 3, 12, tzinfo=timezone.utc).timestamp()
    seed(url, args.stations, args.days, args.per_day, now)
    store = Store(url)
    buckets = stats.last_days(now, TZ)
    for scope in ("", "410421/town03"):
        for group in stats.GROUPS:
            runs = [timed(store, buckets, group, scope) for _ in range(3)]
            best = min(r[0] for r in runs)
            print(f"{store.dialect.name} scope={scope or 'county'} group={group}: {best * 1000:.0f} ms for {runs[0][1]} lines "
                  f"({len(COLUMNS)} columns)")
    store.close()


if __name__ == "__main__":
    main()
