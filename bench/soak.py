"""`make soak`: the long fault campaign. The short versions of the same scenarios run in `make test`.

Each scenario is a function in tests/faults (shared with the tests); this runs them long and
prints their figures as Markdown for RELIABILITY.md, and writes them as JSON beside the work
folders (`--out`, default var/soak). Failures are reported, not raised, so one bad scenario does
not hide the others' figures; the exit status is 1 if any scenario broke a promise.

    .venv/bin/python -m bench.soak                       # everything: about 45 minutes
    .venv/bin/python -m bench.soak --only steady --minutes 30
    .venv/bin/python -m bench.soak --only kills,flaps --kills 100 --flaps 100
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the scenarios live in tests/faults, shared with `make test`
    sys.path.insert(0, str(ROOT))

SCENARIOS = ("kills", "powercut", "outage", "flaps", "fuzz", "steady")


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {k: _plain(v) for k, v in dataclasses.asdict(obj).items() if k not in ("samples", "log_tail")}
    return obj


def kills(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from gateway.localbroker import LocalBroker
    from tests.faults.gateway_proc import kill_campaign

    with LocalBroker(workdir=work / "broker") as broker:
        r = kill_campaign(broker, work, kills=args.kills, seed=args.seed)
    w = r.wire
    problems = [p for p, bad in (
        (f"{len(w.missing)} accepted messages lost: {w.missing[:10]}", w.missing),
        (f"redeliveries differ: {w.redelivery_mismatches[:10]}", w.redelivery_mismatches),
        (f"out of order: {w.out_of_order}", w.out_of_order),
        (f"integrity_check: {w.integrity}", w.integrity != "ok"),
        (f"final run exit {r.returncode}", r.returncode != 0),
        (f"Will seen {r.wills_seen}/{r.kills}", r.wills_seen != r.kills),
    ) if bad]
    return _plain(r), problems


def powercut(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.faults.powercut import campaign, kill_writers

    r = campaign(work / "cuts", pauses=args.cut_pauses, variants=5, seed=args.seed)
    accepted, lost, verdict = kill_writers(work / "kills" / "o.db", args.writer_kills, random.Random(args.seed))
    out = _plain(r) | {"problems": r.problems[:20], "writer_kills": args.writer_kills, "writer_accepted": accepted,
                       "writer_lost": lost, "writer_integrity": verdict}
    problems = r.problems[:20] + ([f"writer kills lost {lost[:10]}"] if lost else []) + ([verdict] if verdict != "ok" else [])
    if r.cuts_mid_write == 0:
        problems.append("no power cut landed mid-write: the model was not exercised")
    return out, problems


def outage(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.faults.outage import outage_drain

    r = outage_drain(work, backlog=args.backlog, alarms=10, outage_s=args.outage_minutes * 60)
    problems = [p for p, bad in (
        (f"delivered {r.telemetry_delivered}/{r.backlog}", r.telemetry_delivered != r.backlog),
        ("telemetry out of order", not r.telemetry_in_order),
        (f"gaps {r.gaps[:10]}", r.gaps),
        (f"alarms {r.alarms_delivered}/{r.alarms_raised}", r.alarms_delivered != r.alarms_raised),
        (f"an alarm waited behind the backlog: {r.overtaken}", not all(n > 0 for n in r.overtaken)),
    ) if bad]
    return _plain(r), problems


def flaps(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.faults.flapping import flap

    r = flap(work, flaps=args.flaps, seed=args.seed)
    return _plain(r), r.problems()


def fuzz(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    import subprocess

    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults/test_config_fuzz.py"],
                          cwd=ROOT, env={**os.environ, "FAULTS_FUZZ_EXAMPLES": str(args.fuzz_examples)}, capture_output=True, text=True)
    tail = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()[-300:]]
    return {"examples_per_test": args.fuzz_examples, "seconds": round(time.monotonic() - t0), "result": tail[0]}, ([] if done.returncode == 0 else [done.stdout[-2000:]])


def steady(work: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.faults.steady import steady as run

    r = run(work, seconds=args.minutes * 60, speedup=10.0, every_s=30.0, progress=True)
    w = r.wire
    problems = [p for p, bad in (
        (f"{len(w.missing)} messages lost: {w.missing[:10]}", w.missing),
        (f"fds {r.fds_min}..{r.fds_max}", r.fds_max - r.fds_min > 1),  # one may be open for a moment (the speaker's record)
        (f"threads {r.threads_min}..{r.threads_max}", r.threads_min != r.threads_max),
        (f"RSS grows {r.rss_slope_mib_per_h} MiB/h in the second half", r.rss_slope_mib_per_h > 1.0),
        (f"exit {r.returncode}", r.returncode != 0),
    ) if bad]
    return _plain(r), problems


RUNNERS: dict[str, Callable[[Path, argparse.Namespace], tuple[dict[str, Any], list[str]]]] = {
    "kills": kills, "powercut": powercut, "outage": outage, "flaps": flaps, "fuzz": fuzz, "steady": steady,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated scenarios: {', '.join(SCENARIOS)}")
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the steady soak at 10x rates")
    ap.add_argument("--kills", type=int, default=100, help="SIGKILLs of a publishing gateway")
    ap.add_argument("--cut-pauses", type=int, default=600, help="frozen moments of the outbox writer (5 power cuts each)")
    ap.add_argument("--writer-kills", type=int, default=200, help="plain SIGKILLs of an outbox writer")
    ap.add_argument("--backlog", type=int, default=100_000, help="telemetry queued during the outage")
    ap.add_argument("--outage-minutes", type=float, default=2.0, help="least length of the broker outage")
    ap.add_argument("--flaps", type=int, default=100, help="broker stops and restarts")
    ap.add_argument("--fuzz-examples", type=int, default=5000, help="hypothesis examples per config fuzz test")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "soak")
    args = ap.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    failed = False
    for name in chosen:
        work = args.out / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            figures, problems = RUNNERS[name](work, args)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other scenarios
            figures, problems = {}, [f"{type(exc).__name__}: {exc}"]
        figures["wall_seconds"] = round(time.monotonic() - t0)
        figures["problems"] = problems
        failed |= bool(problems)
        results[name] = figures
        print(json.dumps(figures, indent=1, default=str, ensure_ascii=False), flush=True)
        print(f"   {name}: {'FAILED: ' + '; '.join(map(str, problems))[:500] if problems else 'ok'} ({figures['wall_seconds']} s)", flush=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False))
    cmd = "make soak" if set(chosen) == set(SCENARIOS) else f"{Path(sys.executable).name} -m bench.soak " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\ncommand: {cmd}\nresults: {args.out / 'results.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
