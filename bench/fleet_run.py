"""Benchmark 9: `waa run` over the stand-in's fleet - one benchmark split across 8 hosts.

The fleet is the stand-in's own (tests/standin/fleet_vms.py: 8 network namespaces with their own sshd,
logging in as azureuser with sudo), set up once by `waa vm-setup`. The simulator's tasks last a fixed time
(WAA_SIM_TASK_SECONDS in the client's environment), so the ideal wall of a run is its overhead (the same
run with tasks of no time) plus the total task time divided by the hosts:

- split: 48 tasks of D s over 8 hosts; wall ÷ ideal (target <= 1.15), and the merged score against one
  host's score on the same 48 tasks (--shard-by none on vm-1);
- killed: the same run with one host's container killed once a quarter of the tasks have ended; every task
  must end with exactly one result (the second pass), wall ÷ ideal (target <= 1.5).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from common import WORK, log, new_run_dir, run_waa

import fleet_vms  # tests/standin (common puts it on the path)

HOSTS = 8
TASKS = 48
TASK_SECONDS = 10.0
TASK_LIST = "evaluation_examples_windows/test_all.json"


def _inventory(task_seconds: float) -> Path:
    """The fleet's inventory with the client's environment: tasks of a fixed time, none that raises."""
    data = yaml.safe_load(fleet_vms.INVENTORY.read_text())
    for hostvars in data["all"]["children"]["waa_vms"]["hosts"].values():
        hostvars["waa_benchmark_env"] = {"WAA_SIM_TASK_SECONDS": str(task_seconds), "WAA_SIM_RAISE_TASKS": ""}
        hostvars["waa_boot_timeout"] = 120
    path = WORK / "inv" / f"fleet-run-{task_seconds:g}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def _run(tag: str, inventory: Path, *extra: str, kill_after: int | None = None) -> dict:
    args = ["--task-list", TASK_LIST, "--num-tasks", str(TASKS), "--clean-results", "--timeout", "3600", *extra]
    run_dir = new_run_dir(tag)
    killer = fleet_vms.ContainerKiller(run_dir, 2, kill_after) if kill_after is not None else None
    if killer:
        killer.start()
    run = run_waa(inventory, run_dir, *args, command="run", timeout=3700)
    if killer:
        killer.stop()
    path = run_dir / "results" / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {}
    out = {"rc": run.rc, "wall": round(run.wall, 1), "tasks": summary.get("tasks"),
           "duplicates": len(summary.get("duplicates") or []), "without_result": len(summary.get("without_result") or []),
           "average_score": summary.get("average_score"), "success_rate": summary.get("success_rate"),
           "hosts": {h: v.get("tasks") for h, v in (summary.get("hosts") or {}).items()},
           "second_pass": (run_dir / "pass-2").is_dir(), "run_dir": str(run_dir)}
    if run.rc != 0:
        out["output"] = (run.stdout + run.stderr)[-1500:]
    if killer:
        out["killed"] = killer.killed
    log(f"{tag}: { {k: v for k, v in out.items() if k != 'output'} }")
    return out


def bench(quick: bool = False) -> dict:
    task_seconds = TASK_SECONDS / 2 if quick else TASK_SECONDS
    fleet_vms.up(HOSTS)
    try:
        setup = run_waa(_inventory(0), new_run_dir("fleet-run-setup"), "--skip-smoke-test", timeout=1800)
        if setup.rc != 0:
            raise RuntimeError(f"vm-setup over the fleet failed (exit {setup.rc}): {(setup.stdout + setup.stderr)[-2000:]}")
        overhead = _run("fleet-run-overhead", _inventory(0))
        single = _run("fleet-run-single", _inventory(0), "--shard-by", "none", "--limit", "vm-1")
        split = _run("fleet-run-split", _inventory(task_seconds))
        ideal = overhead["wall"] + TASKS * task_seconds / HOSTS
        # The killed host stays dead, as a host that failed does: its share goes to the others.
        killed = _run("fleet-run-killed", _inventory(task_seconds), kill_after=TASKS // 4)
        return {
            "hosts": HOSTS, "tasks": TASKS, "task_seconds": task_seconds, "setup_wall": round(setup.wall, 1),
            "overhead": overhead, "single": single, "split": split, "killed": killed, "ideal": round(ideal, 1),
            "ratio_split": round(split["wall"] / ideal, 3), "ratio_killed": round(killed["wall"] / ideal, 3),
            "same_score": split["average_score"] == single["average_score"] and split["tasks"] == single["tasks"],
        }
    finally:
        fleet_vms.down()
