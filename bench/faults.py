"""Fault benchmark: builds SIGKILLed at seeded points, every kind of damage to every index file, a
full disk, a read-only folder. With the fake encoder of tests/conftest.py (no model).

    python bench/faults.py [--trials 40] [--seed 0] [--cli inprocess|subprocess] [--out bench/results/faults.json]

Kill trials: a build (first build, update, --compact, --force) runs in a child process that
SIGKILLs itself at a seeded hook event (phase boundaries and file writes of every phase, from
the build lock to the post-publish tidy); the index must then answer exactly as before the build
or as after it, pass ``qa verify``, and a following build must heal it with no debris.
Corruption matrix: each damage of each file (and of CURRENT) through the API, ``qa info``,
``qa verify``, ``qa ask``, ``qa build --force``, and a failing build that must keep the intact
files. Verdicts: a refused clearly, b same as intact, c SILENT WRONG, d TRACEBACK, L LOST.
The implementation is tests/faults_harness.py (shared with tests/test_faults.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import (  # bench/common.py: the script's folder is on sys.path
    RESULTS,
    ROOT,
    describe_machine,
    write_results,
)

sys.path.insert(0, str(ROOT))  # tests.faults_harness, and qa from this checkout

from tests import faults_harness as h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="kill trials (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cli",
        choices=("inprocess", "subprocess"),
        default="inprocess",
        help="run qa info/verify/ask/build of the matrix in this process (fast) or in child processes",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "faults.json")
    args = parser.parse_args(argv)
    logging.getLogger("qa").setLevel(logging.ERROR)  # the builds' warnings about damaged indexes
    runner = h.run_inprocess if args.cli == "inprocess" else h.run_child
    results: dict[str, Any] = {"machine": describe_machine(), "args": {**vars(args), "out": str(args.out)}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-faults-") as temp:
        work = Path(temp)
        template = h.make_template(work)

        clock = time.perf_counter()
        dries, kills = h.kill_trials(template, args.trials, args.seed, work)
        results["dry_runs"] = {
            mode: {
                "seconds": round(d.seconds, 2),
                "events": len(d.events),
                "phases": Counter(e.phase for e in d.events),
            }
            for mode, d in dries.items()
        }
        results["kills"] = h.as_json(kills)
        results["kills_seconds"] = round(time.perf_counter() - clock, 1)

        clock = time.perf_counter()
        base = h.baseline(template, work, runner)
        cases = [h.run_case(template, c, base, work, runner, args.seed) for c in h.corruption_cases(template)]
        results["cases"] = h.as_json(cases)
        results["cases_seconds"] = round(time.perf_counter() - clock, 1)

        clock = time.perf_counter()
        update = dries["update"]
        faults: list[int | h.Event] = [*h.disk_full_limits(template, update, work), *h.enospc_events(update)]
        limits = [h.disk_full_trial(template, update, fault, work) for fault in faults]
        limits.append(h.read_only_trial(template, update, work))
        results["limits"] = h.as_json(limits)
        results["limits_seconds"] = round(time.perf_counter() - clock, 1)

    failures = [
        f"kill #{i} {k.mode}/{k.phase} at {k.label}: {f}" for i, k in enumerate(kills, 1) for f in k.failures
    ]
    failures += [f"{c.case}: {s} {v.code} {v.detail}" for c in cases for s, v in c.failures.items()]
    failures += [f"{r.name}: {f}" for r in limits for f in r.failures]
    results["failures"] = failures
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_results(results, args.out)

    served = Counter(k.served for k in kills)
    print(f"## Kill trials ({len(kills)}, seed {args.seed}): served {dict(served)}\n")
    print(h.kill_table(kills))
    codes = Counter(v.code for c in cases for v in c.verdicts.values())
    print(f"\n## Corruption matrix ({len(cases)} cases, CLI {args.cli}): verdicts {dict(codes)}\n")
    print(h.case_table(cases))
    print("\n## Full disk and read-only folder\n")
    print(h.limit_table(limits))
    print(f"\n## Failures ({len(failures)})\n")
    for failure in failures:
        print(f"- {failure}")
    print(f"\n{results['seconds']}s; wrote {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
