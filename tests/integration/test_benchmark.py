"""playbooks/run_waa.yml end to end over real SSH against the stand-in VM and the WAA simulator:
tasks arrive live as events, the score traps are not counted, the task that raises is handled,
result files reach the controller in the watch round trips, and a second run without clean keeps
(and skips) the earlier results.

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
import yaml

from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import select_tasks
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


def _fleet_inventory(standin, bench_host, names: tuple[str, ...]) -> Path:
    """An inventory of several hosts that are this one VM and container: a fleet whose hosts run one at a time."""
    path = bench_host["base"] / "fleet.yml"
    data = yaml.safe_load(Path(bench_host["inventory"]).read_text())
    hosts = data["all"]["children"]["waa_vms"]["hosts"]
    # No task raises here (the simulator's chrome task would): every task of the sample gets a result.
    vm = dict(hosts.pop(HOST), waa_benchmark_env={"WAA_SIM_STEP_SECONDS": "0", "WAA_SIM_RAISE_TASKS": ""})
    hosts.update({name: dict(vm) for name in names})
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_fleet_splits_the_sampled_tasks_each_once_whatever_limit_runs_them(standin, bench_host, waa_cli):
    """Each host runs its share of the --num-tasks sample, from its place among the inventory's hosts: two
    runs with --limit (as AWX slices or two controllers would) run disjoint shares that cover the sample.
    --shard-by none gives a host the whole list."""
    inventory = _fleet_inventory(standin, bench_host, ("vm-b", "vm-a"))
    args = ["--task-list", "evaluation_examples_windows/test_small.json", "--num-tasks", "4", "--sample-seed", "1",
            "--clean-results", "--timeout", "240"]
    ran, dirs = {}, []
    for index, host in enumerate(("vm-a", "vm-b")):
        run = waa_cli(*args, "--limit", host, inventory=inventory, command="run", timeout=300)
        assert run.rc == 0, run.output
        assert f"share {index + 1}/2 of 4: " in run.stdout, run.output
        assert "4 task(s) sampled across the domains (seed 1)" in run.stdout, run.output
        ran[host] = [(e["domain"], e["task_id"]) for e in run.events() if e["type"] == "task_start"]
        assert len(ran[host]) == 2, ran
        dirs.append(str(run.run_dir))
        assert json.loads((run.run_dir / "results" / "summary.json").read_text())["hosts"].keys() == {host}
        assert "Benchmark summary: " in run.stdout and "Finish what has no result" in run.stdout, run.output
    small = json.loads((REPO / "tests/sim/rootfs/client/evaluation_examples_windows/test_small.json").read_text())
    assert not set(ran["vm-a"]) & set(ran["vm-b"]), ran
    assert sorted(ran["vm-a"] + ran["vm-b"]) == sorted(select_tasks(small, "all", None, 4, 1)), ran

    # The whole list on one host (--shard-by none): here a task vm-a ran already, in a run of its own.
    again = "%s/%s" % ran["vm-a"][0]
    whole = waa_cli("--task", again, "--clean-results", "--shard-by", "none", "--limit", "vm-b", "--json",
                    inventory=inventory, command="run", timeout=300)
    assert whole.rc == 0, whole.output
    printed = json.loads(whole.stdout)  # --json: the host's document with the run's summary
    assert printed["summary"]["tasks"] == 1 and list(printed["summary"]["hosts"]) == ["vm-b"], printed
    assert [e["task_id"] for e in whole.events() if e["type"] == "task_start"] == [ran["vm-a"][0][1]]
    start = next(e for e in whole.events() if e["type"] == "benchmark" and e.get("stage") == "start")
    assert start.get("share") is None and start["total_tasks"] == 1, start

    # One score from the three runs: each task once, the one with two results reported, not counted twice.
    dirs.append(str(whole.run_dir))
    merged = subprocess.run([sys.executable, "-m", "openadapt_waa.cli", "results", *dirs, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert merged.returncode == 0, merged.stderr
    doc = json.loads(merged.stdout)
    assert doc["tasks"] == 4 and set(doc["hosts"]) == {"vm-a", "vm-b"}, doc
    assert [d["task"] for d in doc["duplicates"]] == [again] and len(doc["duplicates"][0]["results"]) == 2, doc
    assert sum(entry["tasks"] for entry in doc["domains"].values()) == 4
    human = subprocess.run([sys.executable, "-m", "openadapt_waa.cli", "results", *dirs], capture_output=True,
                           text=True, timeout=60).stdout
    assert "Benchmark summary: 4 task(s) with a result" in human and "has 2 results (counted once" in human, human
    bad = subprocess.run([sys.executable, "-m", "openadapt_waa.cli", "results", str(bench_host["base"])],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "no results/ folder" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_a_dead_host_loses_no_task_its_circuit_opens_and_a_healthy_probe_closes_it(standin, bench_host, waa_cli,
                                                                                  tmp_path):
    """A fleet of a working host and one whose SSH port is closed (unreachable from the start). A run limited
    to the working host leaves the other share without a result; --resume runs just those tasks, over the
    fleet: the dead host's share goes to the working host in a second pass, and its circuit opens
    (--max-host-failures 1). The next run probes it, leaves it out and gives its share to the working host;
    once the host answers again, the probe lets it work (half-open) and its success closes the circuit."""
    inventory = _fleet_inventory(standin, bench_host, ("vm-a", "vm-dead"))
    data = yaml.safe_load(inventory.read_text())
    dead = data["all"]["children"]["waa_vms"]["hosts"]["vm-dead"]
    real_port = dead.get("ansible_port")
    dead["ansible_port"] = 1  # nothing listens: connection refused
    inventory.write_text(yaml.safe_dump(data))
    env = {"WAA_STATE_HOME": str(tmp_path / "state")}  # this test's circuit breakers only
    breaker = tmp_path / "state" / "breaker.json"
    small = json.loads((REPO / "tests/sim/rootfs/client/evaluation_examples_windows/test_small.json").read_text())
    sample = ["%s/%s" % pair for pair in select_tasks(small, "all", None, 4, 1)]

    first = waa_cli("--task-list", "evaluation_examples_windows/test_small.json", "--num-tasks", "4", "--sample-seed",
                    "1", "--clean-results", "--limit", "vm-a", inventory=inventory, command="run", env=env, timeout=300)
    assert first.rc == 0, first.output
    done = ["%s/%s" % (e["domain"], e["task_id"]) for e in first.events() if e["type"] == "task_start"]
    assert len(done) == 2 and "Second pass" not in first.stdout, first.output
    assert f"--resume {first.run_dir}" in first.stdout, first.output  # the next step names the run to finish

    refused = waa_cli("--resume", str(first.run_dir), "--num-tasks", "2", inventory=inventory, command="run", env=env)
    assert refused.rc == 1 and "leave out --num-tasks" in refused.stderr and "Traceback" not in refused.output

    resumed = waa_cli("--resume", str(first.run_dir), "--max-host-failures", "1", "--timeout", "240",
                      inventory=inventory, command="run", env=env, timeout=300)
    assert resumed.rc == 0, resumed.output
    assert f"Resuming {first.run_dir}: 2 of its 4 task(s) have no result." in resumed.stdout, resumed.output
    assert "Second pass: 1 task(s) without a result (failed hosts: vm-dead (exit 1)) run on vm-a 1" in resumed.stdout
    second = resumed.run_dir / "pass-2"
    ran = [("%s/%s" % (e["domain"], e["task_id"]), e["host"]) for d in (resumed.run_dir, second)
           for e in _events(d) if e["type"] == "task_start"]
    assert sorted(ref for ref, _host in ran) == sorted(set(sample) - set(done)) and {h for _r, h in ran} == {"vm-a"}
    summary = json.loads((resumed.run_dir / "results" / "summary.json").read_text())
    assert summary["tasks"] == 4 and summary["duplicates"] == [] and summary["without_result"] == [], summary
    assert "exit 1" in summary["hosts"]["vm-dead"]["failures"], summary["hosts"]
    assert json.loads(breaker.read_text())[str(inventory)]["vm-dead"]["failures"] == 1

    nothing = waa_cli("--resume", str(resumed.run_dir), inventory=inventory, command="run", env=env)
    assert nothing.rc == 0 and "Nothing to resume: each of the 4 task(s)" in nothing.stdout, nothing.output

    # The circuit is open: a probe first; it fails, so the whole sample goes to vm-a in one pass.
    opened = waa_cli("--task-list", "evaluation_examples_windows/test_small.json", "--num-tasks", "2", "--sample-seed",
                     "3", "--clean-results", "--max-host-failures", "1", "--json", inventory=inventory, command="run", env=env, timeout=300)
    assert opened.rc == 0, opened.output
    doc = json.loads(opened.stdout)
    assert any(note.startswith("vm-dead left out of this run: its circuit is open (1 failed run(s) in a row, "
                               "--max-host-failures 1) and its probe failed (exit 1") for note in doc["notes"]), doc
    assert doc["summary"]["tasks"] == 2 and list(doc["summary"]["hosts"]) == ["vm-a"], doc["summary"]
    assert len([e for e in opened.events() if e["type"] == "task_start"]) == 2
    assert not (opened.run_dir / "pass-2").exists()

    # The host answers again: its probe lets it work, and its success closes the circuit.
    dead["ansible_port"] = real_port
    inventory.write_text(yaml.safe_dump(data))
    healed = waa_cli("--task", sample[0], "--clean-results", "--max-host-failures", "1", "--limit", "vm-dead", inventory=inventory,
                     command="run", env=env, timeout=300)
    assert healed.rc == 0, healed.output
    assert "vm-dead: circuit half-open after 1 failed run(s) in a row: its probe is healthy" in healed.stdout
    assert json.loads(breaker.read_text()) == {}


def test_max_cost_hands_out_no_task_past_the_budget_and_needs_the_rate(bench_host, waa_cli):
    """--max-cost: a budget the setup alone spends (at 10 cents a second) lets no task start: exit 10, said, and the
    summary carries what the run cost. Without a rate (the stand-in names no VM size), exit 1 naming the options."""
    args = ["--task-list", "evaluation_examples_windows/test_small.json", "--num-tasks", "2", "--clean-results"]
    spent = waa_cli(*args, "--max-cost", "0.001", "--hourly-rate", "360", inventory=bench_host["inventory"],
                    command="run", timeout=300)
    assert spent.rc == 10, spent.output
    assert "Stopped handing out tasks at --max-cost" in spent.stdout and "2 task(s) not run" in spent.stdout, spent.output
    assert not [e for e in spent.events() if e["type"] == "task_start"]
    end = [e for e in spent.events() if e["type"] == "benchmark"][-1]
    assert end["budget_stopped"] is True, end
    summary = json.loads((spent.run_dir / "results" / "summary.json").read_text())
    assert summary["tasks"] == 0 and summary["cost_usd"] > 0.001, summary

    unknown = waa_cli(*args, "--max-cost", "5", inventory=bench_host["inventory"], command="run", timeout=300)
    assert unknown.rc == 1, unknown.output
    assert "--max-cost needs what an hour of the VM costs, and its size is unknown" in unknown.stdout, unknown.output
    bad = waa_cli(*args, "--max-cost", "0", inventory=bench_host["inventory"], command="run")
    assert bad.rc == 1 and "--max-cost must be more than 0" in bad.stderr, bad.output


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
