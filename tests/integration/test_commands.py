"""server-start, probe and up reuse the vm-setup roles: each driven for real on the stand-in."""

from __future__ import annotations

import subprocess

from conftest import docker_rm, freeze_waa_server, unique_ports

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}


def test_up_sets_up_a_missing_container_then_server_start_and_probe_reuse_it(waa_cli):
    name = "waa-cmds"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, **FAST)

    up = waa_cli(hostvars=hv, command="up")
    assert up.rc == 0, up.output
    assert "Phase 2/9: Image pull" in up.stdout  # the container was missing: full setup
    cid = up.doc["container"]["id"]

    probe = waa_cli("--detailed", hostvars=hv, command="probe")
    assert probe.rc == 0, probe.output
    assert probe.doc["health_checks"] == {k: "healthy" for k in probe.doc["health_checks"]}
    assert "All health checks passing" in probe.stdout

    # A stopped container: server-start starts it again and waits for /probe.
    subprocess.run(["docker", "stop", "-t", "1", name], check=True, capture_output=True, timeout=60)
    down = waa_cli(hostvars=hv, command="probe")
    assert down.rc == 4, down.output  # the first unhealthy layer decides: the container
    assert down.doc["health_checks"]["container_status"] == "unhealthy"
    start = waa_cli(hostvars=hv, command="server-start")
    assert start.rc == 0, start.output
    assert "WAA server ready" in start.stdout

    again = waa_cli(hostvars=hv, command="up")
    assert again.rc == 0, again.output
    assert "Phase 2/9: Image pull" not in again.stdout  # the container existed: no setup
    assert again.doc["container"]["id"] == cid


def _started_at(name: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name], capture_output=True,
                          text=True, timeout=30).stdout.strip()


def test_server_start_restarts_a_container_whose_server_stopped_answering(waa_cli):
    name = "waa-cmds-hung"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_skip_smoke_test=True, **FAST)
    setup = waa_cli(hostvars=hv)
    assert setup.rc == 0, setup.output
    freeze_waa_server(name)  # the server accepts connections and never answers; the container runs on
    probe = waa_cli(hostvars=dict(hv, waa_server_timeout=8), command="probe")
    assert probe.rc == 6, probe.output  # the server layer, not the container, is what broke
    before = _started_at(name)
    start = waa_cli(hostvars=hv, command="server-start")
    assert start.rc == 0, start.output
    assert "Restarted " + name in start.stdout, start.output
    assert _started_at(name) != before


def test_server_start_without_a_container_says_run_vm_setup(waa_cli):
    hv = dict(unique_ports(), waa_container_name="waa-cmds-absent", **FAST)
    docker_rm("waa-cmds-absent")
    run = waa_cli(hostvars=hv, command="server-start")
    assert run.rc == 4, run.output
    assert "No container named waa-cmds-absent" in run.doc["message"] and "waa vm-setup" in run.doc["fix"], run.doc


def test_probe_of_a_missing_container_exits_4(waa_cli):
    run = waa_cli(hostvars=dict(unique_ports(), waa_container_name="waa-cmds-nothing"), command="probe")
    assert run.rc == 4, run.output
    assert run.doc["health_checks"]["docker_daemon"] == "healthy"
    assert run.doc["health_checks"]["container_status"] == "unhealthy"


NOTEPAD = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"


def test_run_setup_goes_from_no_container_to_a_finished_task_in_one_command(waa_cli):
    """`waa run --setup` on a VM without the container: the nine setup phases, then the benchmark,
    in one run (one run directory, one viewer); again on the ready host: straight to the task."""
    name = "waa-cmds-run-setup"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    refused = waa_cli("--ram-size", "4G", "--task", NOTEPAD, hostvars=hv, command="run")
    assert refused.rc == 1 and "--ram-size is a setup option: add --setup" in refused.stderr, refused.output

    first = waa_cli("--setup", "--skip-smoke-test", "--task", NOTEPAD, "--timeout", "300", hostvars=hv,
                    command="run", timeout=400)
    assert first.rc == 0, first.output
    assert "Phase 2/9: Image pull" in first.stdout and "Benchmark run" in first.stdout, first.stdout
    kinds = [e.get("phase") for e in first.events() if e["type"] == "phase_start"]
    assert kinds.index("image") < kinds.index("validate") < kinds.index("benchmark"), kinds
    ends = [e for e in first.events() if e["type"] == "task_end"]
    assert [e["task_id"] for e in ends] == [NOTEPAD.split("/")[1]], ends
    assert first.doc["container"]["name"] == name

    again = waa_cli("--setup", "--task", NOTEPAD, "--timeout", "300", hostvars=hv, command="run", timeout=400)
    assert again.rc == 0, again.output
    assert "Phase 2/9: Image pull" not in again.stdout, again.stdout  # the container existed: no setup
    assert again.doc["container"]["id"] == first.doc["container"]["id"]
