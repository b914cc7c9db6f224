"""Re-running on a ready host is safe: N consecutive runs, no failure and no change."""

from __future__ import annotations

import os

from conftest import docker_rm, unique_ports

# 30 in make test (WAA_SOAK_RUNS for more): a re-run on a ready host is one survey and a probe
# (about 3 s), so 30 cost about 30 s more than 20 did.
RUNS = int(os.environ.get("WAA_SOAK_RUNS", "30"))


def test_consecutive_reruns_on_a_ready_host_change_nothing(waa_cli):
    name = "waa-soak"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_stop_timeout=1)
    first = waa_cli(hostvars=hv)
    assert first.rc == 0, first.output
    cid = first.doc["container"]["id"]
    failures, changes, durations = [], [], []
    for index in range(RUNS):
        run = waa_cli(hostvars=hv)
        durations.append(run.duration)
        if run.rc != 0:
            failures.append((index, run.rc, run.doc.get("message") if run.results else run.stderr[-500:]))
            continue
        if run.doc["changed_tasks"] or run.doc["container"]["id"] != cid:
            changes.append((index, run.doc["changed_tasks"], run.doc["container"]["id"]))
    print(f"soak: {RUNS} re-runs, median {sorted(durations)[len(durations) // 2]:.1f}s, max {max(durations):.1f}s")
    assert failures == [], failures
    assert changes == [], changes
