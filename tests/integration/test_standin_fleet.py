"""`waa run` over the stand-in's fleet (tests/standin/fleet_vms.py): two VMs in network namespaces, each with
its own sshd (azureuser with sudo), container, ports, state and storage, set up once by `waa vm-setup` over
them. What a researcher with a fleet meets, for real: a host whose container dies mid-run and one that SSH
cannot reach (their tasks run once on the others, their circuits open and close), a run finished with
--resume and merged with `waa results`, a budget (--max-cost) and the meter stopped (--deallocate-after,
`waa down`, `waa up`) through the loopback ARM.

The fleet's namespaces, ports (17100+) and containers (waa-fleet-N) are the stand-in's own: this file replaces
a fleet `make local-fleet` brought up, and removes it at its end.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import fleet_vms  # tests/standin
import pytest
import yaml
from fake_azure import FakeAzure

from ansible_collections.openadapt.waa.plugins.module_utils import _lease
from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import select_tasks
from conftest import REPO, WAA

VMS = ("vm-1", "vm-2")
TASK_LIST = "evaluation_examples_windows/test_all.json"
FAST = {"waa_boot_timeout": 120, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}


class Fleet:
    """The fleet's inventory, and variants of it for one test (per-host variables changed)."""

    def __init__(self, base: Path):
        self.base = base
        self.data = yaml.safe_load(fleet_vms.INVENTORY.read_text())
        for hostvars in self.hosts(self.data).values():
            hostvars.update(FAST, waa_benchmark_env={"WAA_SIM_TASK_SECONDS": "1", "WAA_SIM_RAISE_TASKS": ""})
        self.inventory = self.variant("fleet")

    @staticmethod
    def hosts(data: dict) -> dict:
        return data["all"]["children"]["waa_vms"]["hosts"]

    def variant(self, name: str, **per_host: dict) -> Path:
        data = json.loads(json.dumps(self.data))
        for host, changes in per_host.items():
            self.hosts(data)[host].update(changes)
        path = self.base / f"{name}.yml"
        path.write_text(yaml.safe_dump(data))
        return path


@pytest.fixture(scope="module")
def fleet(standin, tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    fleet_vms.up(len(VMS))
    try:
        fleet = Fleet(base)
        setup = subprocess.run(WAA + ["vm-setup", "-i", str(fleet.inventory), "--skip-smoke-test", "--run-dir",
                                      str(base / "setup")], cwd=str(REPO), capture_output=True, text=True, timeout=600,
                               stdin=subprocess.DEVNULL)
        assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
        yield fleet
    finally:
        fleet_vms.down()


def _started_in(run_dir: Path) -> list[tuple[str, str]]:
    """(task, host) of every task a run directory's events say began."""
    events = run_dir / "events.jsonl"
    return [("%s/%s" % (e["domain"], e["task_id"]), e["host"]) for e in map(json.loads, events.read_text().splitlines())
            if e["type"] == "task_start"] if events.exists() else []


def _started(run) -> list[tuple[str, str]]:
    """(task, host) of every task the run and its second pass began."""
    return _started_in(run.run_dir) + _started_in(run.run_dir / "pass-2")


def _summary(run) -> dict:
    return json.loads((run.run_dir / "results" / "summary.json").read_text())


def _sample(count: int, seed: int) -> list[str]:
    tasks = json.loads((REPO / "tests/sim/rootfs/client" / TASK_LIST).read_text())
    return sorted("%s/%s" % pair for pair in select_tasks(tasks, "all", None, count, seed))


def test_a_host_that_dies_or_cannot_be_reached_loses_no_task_and_its_circuit_opens_then_closes(fleet, waa_cli,
                                                                                              tmp_path):
    """vm-2's container is killed after its first task: its other task runs on vm-1 in a second pass, each task
    once, and its circuit opens (--max-host-failures 1). The next run probes vm-2, leaves it out and gives its
    share to vm-1. Then vm-2 is set up again (`waa up`) and vm-1 stops answering SSH: vm-2's probe lets it work
    again (half-open) and its success closes its circuit, while vm-1's share goes to vm-2 and vm-1's circuit
    opens."""
    env = {"WAA_STATE_HOME": str(tmp_path / "state")}  # this test's circuit breakers only
    breaker = tmp_path / "state" / "breaker.json"
    args = ["--task-list", TASK_LIST, "--clean-results", "--max-host-failures", "1", "--timeout", "300"]
    # Tasks of 3 s while vm-2 is killed; then of 1 s, in the same inventory file (circuits are kept per inventory).
    inventory = fleet.variant("breaker", **{h: {"waa_benchmark_env": {"WAA_SIM_TASK_SECONDS": "3",
                                                                      "WAA_SIM_RAISE_TASKS": ""}} for h in VMS})
    run_dir = tmp_path / "killed"
    killer = fleet_vms.ContainerKiller(run_dir, 1, after=1, host="vm-2", timeout=300)
    killer.start()
    try:
        killed = waa_cli(*args, "--num-tasks", "4", "--sample-seed", "5", "--run-dir", str(run_dir),
                         inventory=inventory, command="run", env=env, timeout=400)
    finally:
        killer.stop()
    assert killer.killed, "vm-2's container was never killed"
    assert killed.rc == 0, killed.output
    assert "Second pass: " in killed.stdout and "(failed hosts: vm-2 (exit " in killed.stdout, killed.output
    summary = _summary(killed)
    assert summary["tasks"] == 4 and summary["duplicates"] == [] and summary["without_result"] == [], summary
    assert sorted(summary["hosts"]) == list(VMS) and summary["hosts"]["vm-2"]["failures"], summary["hosts"]
    second = _started_in(killed.run_dir / "pass-2")  # what vm-2 left, on the host that did not fail
    assert second and {host for _task, host in second} == {"vm-1"}, second
    assert set(_sample(4, 5)) == {task for task, _host in _started(killed)}, _started(killed)
    assert json.loads(breaker.read_text())[str(inventory)]["vm-2"]["failures"] == 1
    assert fleet.variant("breaker") == inventory  # tasks of 1 s from here on

    # The circuit is open: a probe first; vm-2's container is dead, so the probe fails and the sample goes to
    # vm-1 in one pass.
    opened = waa_cli(*args, "--num-tasks", "2", "--sample-seed", "6", "--json", inventory=inventory, command="run",
                     env=env, timeout=400)
    assert opened.rc == 0, opened.output
    doc = json.loads(opened.stdout)
    assert any(note.startswith("vm-2 left out of this run: its circuit is open (1 failed run(s) in a row, "
                               "--max-host-failures 1) and its probe failed (exit") for note in doc["notes"]), doc
    assert doc["summary"]["tasks"] == 2 and list(doc["summary"]["hosts"]) == ["vm-1"], doc["summary"]
    assert {host for _task, host in _started(opened)} == {"vm-1"}
    assert not (opened.run_dir / "pass-2").exists()

    # vm-2 set up again; vm-1 unreachable.
    healed = waa_cli("--limit", "vm-2", inventory=fleet.inventory, command="up", timeout=400)
    assert healed.rc == 0, healed.output
    fleet_vms.power_off(0)
    try:
        mixed = waa_cli(*args, "--num-tasks", "4", "--sample-seed", "7", inventory=inventory, command="run", env=env,
                        timeout=400)
    finally:
        fleet_vms.power_on(0)
    assert mixed.rc == 0, mixed.output
    assert "vm-2: circuit half-open after 1 failed run(s) in a row: its probe is healthy" in mixed.stdout, mixed.output
    assert "Second pass: 2 task(s) without a result (failed hosts: vm-1 (exit " in mixed.stdout, mixed.output
    assert ") run on vm-2 2" in mixed.stdout, mixed.output
    assert sorted(task for task, _host in _started(mixed)) == _sample(4, 7), _started(mixed)
    assert {host for _task, host in _started(mixed)} == {"vm-2"}
    assert list(json.loads(breaker.read_text())[str(inventory)]) == ["vm-1"]  # vm-2's circuit closed, vm-1's opened


def test_resume_runs_only_what_has_no_result_across_the_fleet_and_results_merges_runs(fleet, waa_cli):
    """A run limited to vm-1 runs its share of the sample (printed); --resume over the fleet runs the tasks it
    left, each once, dealt over both hosts, and nothing else; its summary covers the whole sample. A task run again elsewhere
    (--shard-by none) is reported by `waa results`, not counted twice."""
    args = ["--task-list", TASK_LIST, "--num-tasks", "6", "--sample-seed", "1", "--clean-results"]
    first = waa_cli(*args, "--limit", "vm-1", inventory=fleet.inventory, command="run", timeout=300)
    assert first.rc == 0, first.output
    assert "share 1/2 of 6: " in first.stdout and "6 task(s) sampled across the domains (seed 1)" in first.stdout
    done = [task for task, _host in _started(first)]
    assert len(done) == 3 and {h for _t, h in _started(first)} == {"vm-1"}, _started(first)

    refused = waa_cli("--resume", str(first.run_dir), "--num-tasks", "2", inventory=fleet.inventory, command="run")
    assert refused.rc == 1 and "leave out --num-tasks" in refused.stderr and "Traceback" not in refused.output

    resumed = waa_cli("--resume", str(first.run_dir), inventory=fleet.inventory, command="run", timeout=300)
    assert resumed.rc == 0, resumed.output
    assert f"Resuming {first.run_dir}: 3 of its 6 task(s) have no result." in resumed.stdout, resumed.output
    ran = _started(resumed)
    assert sorted(t for t, _h in ran) == sorted(set(_sample(6, 1)) - set(done)), ran
    # The three tasks left are dealt anew over the whole fleet, each once.
    assert {h for _t, h in ran} == set(VMS) and not (resumed.run_dir / "pass-2").exists(), ran
    summary = _summary(resumed)
    assert summary["tasks"] == 6 and summary["duplicates"] == [] and summary["without_result"] == [], summary

    nothing = waa_cli("--resume", str(resumed.run_dir), inventory=fleet.inventory, command="run")
    assert nothing.rc == 0 and "Nothing to resume: each of the 6 task(s)" in nothing.stdout, nothing.output

    again = done[0]
    whole = waa_cli("--task", again, "--clean-results", "--shard-by", "none", "--limit", "vm-2", "--json",
                    inventory=fleet.inventory, command="run", timeout=300)
    assert whole.rc == 0, whole.output
    assert json.loads(whole.stdout)["summary"]["tasks"] == 1 and _started(whole) == [(again, "vm-2")]

    dirs = [str(first.run_dir), str(resumed.run_dir), str(whole.run_dir)]
    merged = subprocess.run(WAA + ["results", *dirs, "--json"], capture_output=True, text=True, timeout=60)
    assert merged.returncode == 0, merged.stderr
    doc = json.loads(merged.stdout)
    assert doc["tasks"] == 6 and set(doc["hosts"]) == set(VMS), doc
    assert [d["task"] for d in doc["duplicates"]] == [again] and len(doc["duplicates"][0]["results"]) == 2, doc
    human = subprocess.run(WAA + ["results", *dirs], capture_output=True, text=True, timeout=60).stdout
    assert "Benchmark summary: 6 task(s) with a result" in human and "has 2 results (counted once" in human, human
    bad = subprocess.run(WAA + ["results", str(fleet.base)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "no results/ folder" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_max_cost_shares_the_budget_and_hands_out_no_task_past_it(fleet, waa_cli):
    """--max-cost over two hosts: a budget the setup alone spends (at 10 cents a second) lets no host start a
    task: exit 10, said, no second pass, and the summary carries what the fleet cost. Without a rate (the
    stand-in names no VM size), exit 1 naming the options; a budget of 0 is refused."""
    args = ["--task-list", TASK_LIST, "--num-tasks", "2", "--clean-results"]
    spent = waa_cli(*args, "--max-cost", "0.001", "--hourly-rate", "360", inventory=fleet.inventory, command="run",
                    timeout=300)
    assert spent.rc == 10, spent.output
    assert "Stopped handing out tasks at --max-cost" in spent.stdout, spent.output
    assert "--max-cost reached on vm-1, vm-2: no more tasks were handed out." in spent.stdout, spent.output
    assert _started(spent) == [] and not (spent.run_dir / "pass-2").exists()
    assert {e["host"] for e in spent.events() if e["type"] == "benchmark" and e.get("budget_stopped")} == set(VMS)
    summary = _summary(spent)
    per_host = sum(doc["costs"]["estimated_cost_usd"] for doc in spent.results.values())
    assert summary["tasks"] == 0 and summary["cost_usd"] == pytest.approx(per_host, abs=1e-3) and per_host > 0.001

    unknown = waa_cli(*args, "--max-cost", "5", "--limit", "vm-1", inventory=fleet.inventory, command="run", timeout=300)
    assert unknown.rc == 1, unknown.output
    assert "--max-cost needs what an hour of the VM costs, and its size is unknown" in unknown.stdout, unknown.output
    bad = waa_cli(*args, "--max-cost", "0", inventory=fleet.inventory, command="run")
    assert bad.rc == 1 and "--max-cost must be more than 0" in bad.stderr, bad.output


@pytest.fixture
def azure(fleet, tmp_path):
    """The loopback ARM with the fleet's VMs in it (running): deallocating one stops its sshd, starting it starts it."""
    fake = FakeAzure(tmp_path, start_delay=0.5)
    try:
        for index, name in enumerate(VMS):
            vm = fleet_vms.host(index)
            fake.add_vm(f"waa-{name}", vm.address, lambda i=index: fleet_vms.power_on(i),
                        lambda i=index: fleet_vms.power_off(i), power="running")
        yield fake
    finally:
        for index in range(len(VMS)):
            fleet_vms.power_on(index)  # the next test's fleet answers whatever this one did
        fake.close()


def test_the_meter_stops_deallocate_after_and_down_over_the_fleet(fleet, azure, waa_cli):
    """--deallocate-after deallocates every host of the fleet once the run needs it no more; `waa up` starts them
    again; `waa down` refuses the VM whose lease another run holds and deallocates the others, then that one
    once it is free, and leaves the deallocated ones as they are."""
    azure_vars = {name: {"waa_azure_vm_name": f"waa-{name}", "waa_azure_resource_group": azure.resource_group,
                         "waa_azure_subscription_id": azure.subscription, "waa_azure_arm_endpoint": azure.arm_endpoint,
                         "waa_azure_login_endpoint": azure.arm_endpoint, "waa_azure_imds_endpoint": azure.imds_endpoint,
                         "waa_azure_ca_file": str(azure.ca), "waa_azure_auth_source": "msi"} for name in VMS}
    inventory = fleet.variant("azure", **azure_vars)
    run = waa_cli("--task-list", TASK_LIST, "--num-tasks", "2", "--clean-results", "--deallocate-after",
                  inventory=inventory, command="run", timeout=300)
    assert run.rc == 0, run.output
    assert "Benchmark summary: 2 task(s) with a result" in run.stdout, run.output
    for name in VMS:
        assert f"{name}: Deallocated the Azure VM waa-{name} (it was running)" in run.stdout, run.output
        assert azure.vms[f"waa-{name}"].power == "deallocated"
    assert len(azure.calls("POST", "/deallocate")) == 2
    assert fleet_vms.host(0).ssh("true", timeout=10).returncode != 0  # deallocated: no SSH

    up = waa_cli(inventory=inventory, command="up", timeout=400)
    assert up.rc == 0, up.output
    assert len(azure.calls("POST", "/start")) == 2 and {vm.power for vm in azure.vms.values() if vm.name != azure.name} \
        == {"running"}

    lease = str(Path(fleet.hosts(fleet.data)["vm-2"]["waa_state_dir"]) / "lock")
    assert _lease.try_acquire(lease, "other-run-9", 600)[0]
    try:
        refused = waa_cli("--json", inventory=inventory, command="down", timeout=300)
    finally:
        assert _lease.release(lease, "other-run-9")
    assert refused.rc == 1, refused.output
    assert "Another waa run (other-run-9) holds this VM" in refused.results["vm-2"]["message"], refused.results
    assert refused.results["vm-2"]["phase"] == "deallocate"
    assert [azure.vms[f"waa-{n}"].power for n in VMS] == ["deallocated", "running"]

    down = waa_cli(inventory=inventory, command="down", timeout=300)
    assert down.rc == 0, down.output
    assert down.results["vm-2"]["message"].startswith("Deallocated the Azure VM waa-vm-2 (it was running)")
    assert down.results["vm-1"]["message"] == "The Azure VM waa-vm-1 is already deallocated", down.results
    assert {azure.vms[f"waa-{n}"].power for n in VMS} == {"deallocated"} and len(azure.calls("POST", "/deallocate")) == 4
