#!/usr/bin/env python3
"""Run the benchmarks of openadapt.waa against the stand-in VM and write docs/benchmarks.md.

    .venv/bin/python bench/run.py                      everything (~40 min on 2 cores)
    .venv/bin/python bench/run.py --quick              fewer repetitions (~20 min)
    .venv/bin/python bench/run.py --only readiness,pull
    .venv/bin/python bench/run.py --report-only        rewrite docs/benchmarks.md from bench/results/

Benchmarks (names for --only / --skip):
  readiness    1+2  readiness lag (p50/p95 over >= 10 fresh containers) and cold setup on a cached image
  rerun        3    re-run on a ready host vs no-op playbooks of as many tasks; profile of the re-run
  fleet        4    1, 4 and 8 hosts (network namespaces with their own sshd)
  fleet_run    9    `waa run` split over the stand-in's 8-VM fleet: wall vs ideal, one host killed mid-run
  pull         5    docker_pull_progress vs docker pull of a 1.2 GB image; stall detection latency
  sessions     6    SSH sessions per minute of waiting (60 s boot)
  viewer       7    live viewer, event to DOM (headless Chromium)
  golden       8    overlay reset at 1/16/256 GiB golden disks vs a sparse copy; fingerprint cost; `waa reset` end to end
  micro        -    cost of one task by module and SSH setting (profile support)
  experiments  -    candidate product changes on a patched copy of the collection (cold + re-run)

Each benchmark stores its figures in bench/results/<name>.json; the report is built from all
stored results, so a subset run updates its rows and keeps the others (each row says when it
was measured). Containers are named waa-bench7-*, ports are in 18000-18999, network namespaces
wb7-h*; all are removed at the end (and at the start, if a previous run was interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from common import REPO, WORK, load_average, log  # noqa: E402

RESULTS = HERE / "results"
ORDER = ["viewer", "readiness", "rerun", "sessions", "pull", "fleet", "fleet_run", "golden", "micro", "experiments"]


def _module(name: str):
    return __import__({"viewer": "viewer_latency", "golden": "golden_disk"}.get(name, name))


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "plugins", "roles",
                                "playbooks", "src"], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+uncommitted product changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def cleanup() -> None:
    from hosts import teardown_all_netns

    common.remove_our_containers()
    teardown_all_netns()


def run_one(name: str, quick: bool) -> dict:
    mod = _module(name)
    meta = {"name": name, "quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": commit(),
            "load_before": load_average()}
    t0 = time.monotonic()
    try:
        data = mod.bench(quick=quick)
        meta["ok"] = True
    except Exception as exc:  # a benchmark that breaks is reported, the others still run
        data = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
        meta["ok"] = False
        log(f"{name} FAILED: {exc}")
    meta["seconds"] = round(time.monotonic() - t0, 1)
    meta["load_after"] = load_average()
    doc = {"meta": meta, "data": data}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    ap.add_argument("--skip", help="comma-separated benchmarks to leave out")
    ap.add_argument("--report-only", action="store_true", help="only rewrite docs/benchmarks.md from bench/results/")
    ap.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args(argv)
    names = ORDER if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    skip = {n.strip() for n in (args.skip or "").split(",") if n.strip()}
    unknown = [n for n in list(names) + list(skip) if n not in ORDER]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {ORDER}")
    names = [n for n in ORDER if n in names and n not in skip]
    if not args.report_only:
        for name in ("fleet", "fleet_run"):
            if os.geteuid() != 0 and name in names:
                log(f"{name} needs root (ip netns); skipping it")
                names.remove(name)
        WORK.mkdir(parents=True, exist_ok=True)
        log(f"stand-in VM: up ({len(names)} benchmarks: {', '.join(names)}; work dir {WORK})")
        common.standin_up()
        cleanup()
        t0 = time.monotonic()
        try:
            for name in names:
                log(f"== {name}")
                doc = run_one(name, args.quick)
                log(f"== {name} done in {doc['meta']['seconds']}s")
        finally:
            cleanup()
        log(f"all done in {time.monotonic() - t0:.0f}s")
    import report

    path = report.write(RESULTS, Path(args.output))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
