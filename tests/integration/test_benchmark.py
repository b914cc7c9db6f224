"""playbooks/run_waa.yml end to end over real SSH against the stand-in VM and the WAA simulator:
tasks arrive live as events, the score traps are not counted, the task that raises is handled,
result files reach the controller in the watch round trips, a second run without clean keeps
(and skips) the earlier results, and a budget stops the client between tasks. A fleet's runs (shares,
second pass, circuit breaker, resume, --max-cost) are in test_standin_fleet.py.

The container comes from the real `waa vm-setup` (own name and loopback ports); the playbook runs
the way the CLI runs it (ansible-playbook, ANSIBLE_CONFIG, WAA_RUN_DIR, cwd = repo).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, docker_rm, write_inventory

NAME = "waa-bench-e2e"
PORTS = {"waa_server_port": 16100, "waa_vnc_port": 16101, "waa_rdp_port": 16102}
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}
PAINT = "409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"
NOTEPAD = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
CHROME = "048f01dc-d108-598e-beaf-dfd031cefd78-WOS"
SETTINGS = "010d2406-2406-5463-9960-10d4eb0bcd89-WOS"
ROOT = "pyautogui/a11y_tree/gpt-4o-mini/0"
HOST = "local-vm"


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _stat(path: str) -> str:
    out = subprocess.run(["docker", "exec", NAME, "stat", "-c", "%s %Y", path], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def bench_host(standin, tmp_path_factory):
    """A WAA container set up by the real CLI, and an inventory pointing at it."""
    base = tmp_path_factory.mktemp("bench")
    docker_rm(NAME)
    hostvars = dict(PORTS, waa_container_name=NAME, waa_state_dir=str(base / "vm-state"), waa_force_pull=True, **FAST)
    inventory = write_inventory(standin, base / "inventory.yml", hostvars)
    setup = subprocess.run([sys.executable, "-m", "openadapt_waa.cli", "vm-setup", "-i", str(inventory), "--skip-smoke-test",
                            "--run-dir", str(base / "setup-run")], cwd=str(REPO), capture_output=True, text=True,
                           timeout=400, stdin=subprocess.DEVNULL)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    yield {"inventory": inventory, "base": base, "state": base / "vm-state"}
    docker_rm(NAME)


def run_waa(bench_host, name: str, extra: dict) -> tuple[subprocess.CompletedProcess, Path, float]:
    run_dir = bench_host["base"] / name
    variables = dict({"waa_timeout": 300, "waa_benchmark_task_list": "evaluation_examples_windows/test_small.json"}, **extra)
    vars_file = bench_host["base"] / (name + "-vars.json")
    vars_file.write_text(json.dumps(variables))
    env = dict(os.environ, WAA_RUN_DIR=str(run_dir), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(bench_host["inventory"]),
                           "playbooks/run_waa.yml", "-e", "@" + str(vars_file)],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    return proc, run_dir, time.monotonic() - t0


def test_run_three_tasks_live_then_resume(bench_host):
    # -- first run: 3 tasks from a clean slate, 1 s of agent "thinking" per step ----------------
    first_three = ["microsoft_paint/" + PAINT, "notepad/" + NOTEPAD, "chrome/" + CHROME]
    proc, run_dir, took = run_waa(bench_host, "run-1", {
        "waa_benchmark_tasks": first_three, "waa_benchmark_clean_results": True,
        "waa_benchmark_env": {"WAA_SIM_STEP_SECONDS": "1.0"}})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    events = _events(run_dir)
    bench = [e for e in events if e["host"] == HOST and e["type"] in ("task_start", "task_step", "task_end", "benchmark")]

    starts = [e for e in bench if e["type"] == "task_start"]
    ends = [e for e in bench if e["type"] == "task_end"]
    steps = [e for e in bench if e["type"] == "task_step"]
    assert [e["task_id"] for e in starts] == [PAINT, NOTEPAD, CHROME]
    assert [(e["index"], e["total"]) for e in starts] == [(1, 3), (2, 3), (3, 3)]
    assert [e["task_id"] for e in ends] == [PAINT, NOTEPAD, CHROME]
    # Scores are lib_run_single's "Result: x.xx" only: the evaluators' "Result: true" and
    # "Result: Found a red circle..." lines and "Reward: 0.00" count for nothing.
    assert [(e["status"], e["score"], e["success"]) for e in ends] == [
        ("finished", 1.0, True), ("finished", 1.0, True), ("error", None, False)]
    assert "Read timed out" in ends[2]["error"]
    # Steps in order per task, each between its task's start and end, with its screenshot.
    assert [(e["task_id"], e["step_idx"]) for e in steps] == [
        (PAINT, 1), (PAINT, 2), (PAINT, 3), (NOTEPAD, 1), (NOTEPAD, 2), (CHROME, 1), (CHROME, 2)]
    assert "\n" in steps[0]["action"] and steps[2]["action"] == "DONE"
    order = [(e["type"], e.get("task_id")) for e in bench if e["type"] != "benchmark"]
    assert order.index(("task_start", NOTEPAD)) > order.index(("task_end", PAINT))
    for step in steps[:-1]:  # the raising step has no screenshot
        assert step["screenshot"] == "screenshots/%s/%s/step_%d.png" % (HOST, step["task_id"], step["step_idx"])
        assert (run_dir / step["screenshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert steps[-1]["screenshot"] is None
    summary = [e for e in bench if e["type"] == "benchmark"]
    assert summary[0]["stage"] == "start" and summary[0]["total_tasks"] == 3
    assert summary[-1]["stage"] == "end" and summary[-1]["status"] == "complete"
    assert (summary[-1]["success_count"], summary[-1]["error_count"], summary[-1]["average_score"]) == (2, 1, 1.0)
    # Live: the controller had the first task's result while the client was still working (the
    # VM and the controller share a clock here), and the events came in several round trips.
    timeline = [(e["type"], round(e["ts"] - starts[0]["ts"], 1), round(e["at"] - starts[0]["ts"], 1) if e.get("at") else None)
                for e in bench]
    assert ends[0]["ts"] < ends[-1]["at"], timeline
    batches = 1 + sum(1 for a, b in zip(bench, bench[1:]) if b["ts"] - a["ts"] > 1.0)
    assert batches >= 2, timeline

    live = json.loads((run_dir / "benchmark_live.json").read_text())
    assert (live["status"], live["total_tasks"], live["tasks_completed"], live["success_count"]) == ("complete", 3, 3, 2)

    # The result files are on the controller, as the client wrote them.
    results = run_dir / "results" / HOST
    assert (results / ROOT / "microsoft_paint" / PAINT / "result.txt").read_text() == "1\n"
    assert (results / ROOT / "notepad" / NOTEPAD / "result.txt").read_text() == "True\n"
    assert not (results / ROOT / "chrome" / CHROME / "result.txt").exists()
    for domain, task, steps_n in (("microsoft_paint", PAINT, 3), ("notepad", NOTEPAD, 2)):
        lines = (results / ROOT / domain / task / "traj.jsonl").read_text().splitlines()
        assert [json.loads(line)["step_num"] for line in lines] == list(range(steps_n + 1))
        shots = sorted(p.name for p in (results / ROOT / domain / task).glob("screenshot-step_*.png"))
        assert len(shots) == steps_n + 1 and shots[-1].startswith("screenshot-step_reset_")
        assert list((results / ROOT / domain / task / "logs").glob("task-0-*.log"))
        assert not list((results / ROOT / domain / task).glob("accessibility_tree-*"))  # left on the VM
    chrome_traj = (results / ROOT / "chrome" / CHROME / "traj.jsonl").read_text().splitlines()
    assert json.loads(chrome_traj[-1])["Error"] == "Exception in chrome/%s" % CHROME
    normal_logs = list((results / "logs").glob("normal-0-*.log"))
    assert normal_logs and "Average score: 1.0" in normal_logs[0].read_text()
    # The same files on the VM (the copy out of the container), accessibility trees included.
    vm = bench_host["state"] / "results"
    assert (vm / ROOT / "microsoft_paint" / PAINT / "result.txt").read_text() == "1\n"
    assert list((vm / ROOT / "microsoft_paint" / PAINT).glob("accessibility_tree-step_*.txt"))
    doc = json.loads((run_dir / "results" / (HOST + ".json")).read_text())
    assert doc["exit_code"] == 0 and doc["message"].startswith("Benchmark complete: 3 of 3 task(s) ended: 2 succeeded")
    human = (run_dir / "setup.log").read_text()
    assert "Benchmark: 3 task(s) to run" in human and "error: HTTPConnectionPool" in human, human

    paint_result = "%s/%s/microsoft_paint/%s/result.txt" % ("/client/results", ROOT, PAINT)
    before = _stat(paint_result)
    vm_before = (vm / ROOT / "microsoft_paint" / PAINT / "result.txt").stat().st_mtime

    # -- second run, no clean: 4 tasks, the 2 finished ones are kept and skipped --------------
    proc, run2, took2 = run_waa(bench_host, "run-2", {"waa_benchmark_tasks": first_three + ["settings/" + SETTINGS]})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    events2 = [e for e in _events(run2) if e["host"] == HOST]
    start = next(e for e in events2 if e["type"] == "benchmark" and e["stage"] == "start")
    assert (start["total_tasks"], start["tasks_in_list"], start["already_done"]) == (2, 4, 2)
    assert [e["task_id"] for e in events2 if e["type"] == "task_start"] == [CHROME, SETTINGS]
    assert [(e["task_id"], e["status"], e["score"], e["success"]) for e in events2 if e["type"] == "task_end"] == [
        (CHROME, "error", None, False), (SETTINGS, "finished", 0.0, False)]
    assert _stat(paint_result) == before  # untouched in the container
    assert (vm / ROOT / "microsoft_paint" / PAINT / "result.txt").stat().st_mtime == vm_before
    assert (vm / ROOT / "settings" / SETTINGS / "result.txt").read_text() == "0.0\n"
    # The second run's directory gets what this run wrote, not the earlier results again.
    results2 = run2 / "results" / HOST
    assert (results2 / ROOT / "settings" / SETTINGS / "result.txt").read_text() == "0.0\n"
    assert not (results2 / ROOT / "microsoft_paint").exists()
    assert took + took2 < 150, (took, took2)


def test_the_budget_stops_the_client_between_tasks_and_the_task_it_began_is_not_run(bench_host, tmp_path):
    """The module with a budget of 14 s and tasks of 8 s or more: the first task (3 steps of 4 s) runs whole;
    when it ends, a second would end past the budget, so the client is stopped and the task it had just
    begun is reported not run (exit 10, budget_stopped)."""
    from test_modules_support import run_module

    result = run_module("waa_benchmark", {
        "container_name": NAME, "task_list": "evaluation_examples_windows/test_small.json",
        "tasks": ["microsoft_paint/" + PAINT, "notepad/" + NOTEPAD], "clean_results": True,
        "results_dest": str(tmp_path / "results"), "run_id": "budget-test", "budget": {"seconds": 14},
        "env": {"WAA_SIM_STEP_SECONDS": "4.01"}}, tmp_path, timeout=120)
    assert result["failed"] and result["waa_exit_code"] == 10 and result["budget_stopped"], result
    assert [(t["task_id"], t["status"]) for t in result["tasks"]] == [(PAINT, "finished"), (NOTEPAD, "not_run")], result
    assert result["msg"].startswith("Stopped handing out tasks at --max-cost") and "1 task(s) not run" in result["msg"]
