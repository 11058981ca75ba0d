"""`make bench`: every benchmark module in turn; figures go into BENCHMARKS.md by hand, with the command."""

from __future__ import annotations

import importlib
import json
import sys
import time

MODULES = ["bench.outbox", "bench.vision", "bench.regions", "bench.county", "bench.web", "bench.cases", "bench.case_load", "bench.update", "bench.fire"]


def main() -> int:
    results = {}
    for name in sys.argv[1:] or MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"{name}: not present, skipped")
                continue
            raise
        print(f"== {name}")
        t0 = time.monotonic()
        results[name] = module.run()
        print(f"   ({time.monotonic() - t0:.0f} s)")
    print(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
