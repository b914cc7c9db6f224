"""`waa vm-setup` end to end over real SSH against the stand-in VM: success, idempotence,
rebuild, the human and JSON output, and every exit code 1-9 provoked by a real fault."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import jsonschema
import yaml
import pytest

import shapes
from conftest import REPO, docker_rm, unique_ports, vm_state_dir, write_inventory

SCHEMA = json.loads((REPO / "docs" / "schemas" / "vm_setup_result.schema.json").read_text())
PHASE_LINES = [
    "Phase 1/9: Pre-flight checks", "Phase 2/9: Image pull", "Phase 3/9: Container creation",
    "Phase 4/9: Windows VM boot", "Phase 5/9: WAA server initialization",
    "Phase 6/9: Accessibility tree verification", "Phase 7/9: End-to-end smoke test",
    "Phase 8/9: Persist results", "Phase 9/9: Final validation",
]
# Short waits, and a short ACPI stop: the simulator, like the real image, ignores SIGTERM.
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _container_id(name: str) -> str:
    out = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def test_setup_succeeds_is_idempotent_and_rebuilds(waa_cli, standin, tmp_path):
    name = "waa-e2e"
    docker_rm(name)
    hostvars = dict(unique_ports(), waa_container_name=name, **FAST)

    first = waa_cli(hostvars=hostvars)
    assert first.rc == 0, first.output
    for line in PHASE_LINES:
        assert f"[vm-setup] {line}" in first.stdout, first.output
    assert "SUCCESS: WAA container ready for evaluation" in first.stdout
    # Each detail line says what its phase checked.
    assert re.search(r"Smoke test passed: Notepad opened, window \"[^\"]*Notepad\" found, screenshot \d+ KB "
                     r"\(\d+x\d+\), closed\.", first.stdout), first.output
    assert ("5 layers healthy: Docker answers, container running, Windows booted (VNC answers), "
            "WAA server answers /probe, accessibility tree has") in first.stdout, first.output
    # The VM lock, the run's first round trip, proved SSH: no separate ping.
    assert re.search(r"✓ SSH connectivity: azureuser@127\.0\.0\.1:\d+", first.stdout), first.output
    assert re.search(r"✓ Container waa-e2e: created \(ID: [0-9a-f]{12}\)", first.stdout), first.output
    doc = first.doc
    assert doc["exit_code"] == 0 and doc["success"] is True
    # Run files hold logs and screenshots: private to the user (umask 077).
    for path in [first.run_dir, *first.run_dir.rglob("*")]:
        if not path.is_symlink():
            assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    assert set(doc["health_checks"].values()) == {"healthy"}
    cid = _container_id(name)
    assert cid.startswith(doc["container"]["id"])

    # The ports are on the VM's loopback only, and the printed tunnel reaches the server.
    ports = subprocess.run(["docker", "port", name], capture_output=True, text=True, timeout=30).stdout
    assert ports and all("127.0.0.1:" in line for line in ports.splitlines()), ports
    local = _free_port()
    tunnel = doc["tunnel_command"].replace(f"-L {hostvars['waa_server_port']}:", f"-L {local}:")
    tunnel += f" -o UserKnownHostsFile={standin.known_hosts} -o ExitOnForwardFailure=yes"
    proc = subprocess.Popen(tunnel.split(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = None
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{local}/probe", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body is not None, "the tunnel never answered (ssh %s)" % ("running" if proc.poll() is None else "exited")
        assert json.loads(body) == {"message": "Service is operational", "status": "Probe successful"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    # Persisted results on the VM: container id, config, record; not world-writable.
    state_dir = vm_state_dir(standin)
    assert (state_dir / "container_id").read_text().strip() == cid
    for path in ("container_id", "container.json", "setup.json"):
        assert (state_dir / path).stat().st_mode & 0o002 == 0

    second = waa_cli(hostvars=hostvars)
    assert second.rc == 0, second.output
    assert _container_id(name) == cid
    assert second.doc["changed_tasks"] == [], second.doc["changed_tasks"]
    assert "already running with the same configuration" in second.stdout
    # A ready host: the run's survey found phases 1-6 done (no task of theirs ran), and nothing to persist.
    assert second.stdout.count("(found at the start of this run)") == 5, second.output
    assert "nothing changed, nothing written" in second.stdout, second.output
    # Three round trips: the survey, the smoke test's probe (which the final validation shares), the release.
    assert _remote_tasks(second.run_dir) == ["waa_survey", "waa_probe", "vm_lock"], _remote_tasks(second.run_dir)
    assert (second.run_dir / "screenshots" / "local-vm-smoke.png").read_bytes().startswith(b"\x89PNG")
    events = [json.loads(line) for line in (second.run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events].count("server_ready") == 1
    # The document says what the survey found, as the human lines do: a message for each of phases 1-6, the
    # image's size and registry as on the first run.
    found = {phase["role"]: phase for phase in second.doc["phases"]}
    assert all(found[role]["message"] for role in ("docker", "image", "container", "windows_boot", "waa_server",
                                                   "accessibility")), second.doc["phases"]
    assert "already present; nothing pulled" in found["image"]["message"], found["image"]
    image = next(phase for phase in doc["phases"] if phase["role"] == "image")
    assert found["image"]["image_size_bytes"] == image["image_size_bytes"] > 0, (found["image"], image)
    assert found["image"]["source"] == image["source"] == "127.0.0.1:5001", (found["image"], image)
    assert second.doc["image"]["image_size_bytes"] == image["image_size_bytes"], second.doc["image"]
    # The document and the events keep their shape (keys, types, and the document's values) whatever moves
    # inside the house.
    assert shapes.check("vm_setup_ready_host", second.doc, events) == []

    # Results live on the VM, outside the container (one directory per container).
    results = state_dir / "client-results" / name
    assert _exec(name, "sh", "-c", "mkdir -p /client/results/kept && echo 1 > /client/results/kept/result.txt") == 0
    assert (results / "kept" / "result.txt").read_text() == "1\n"

    # A change that would recreate the running container is refused, and the container kept.
    changed = waa_cli("--ram-size", "4G", hostvars=hostvars)
    assert changed.rc == 4, changed.output
    assert changed.doc["phase"] == "container", changed.doc
    assert "running with another configuration" in changed.doc["message"], changed.doc
    assert "environment RAM_SIZE" in changed.doc["message"], changed.doc
    assert "--rebuild" in changed.doc["fix"] and str(results) in changed.doc["fix"], changed.doc
    assert _container_id(name) == cid, "the running container was recreated"
    assert shapes.check("vm_setup_refused", changed.doc, changed.events()) == []

    third = waa_cli("--rebuild", "--ram-size", "4G", hostvars=hostvars)
    assert third.rc == 0, third.output
    assert _container_id(name) not in ("", cid)
    assert "rebuild requested" in third.stdout
    # The rebuilt container has the results of the one it replaced, and the new configuration.
    assert _exec(name, "cat", "/client/results/kept/result.txt") == 0
    env = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Env}}", name], capture_output=True, text=True,
                         timeout=30).stdout
    assert "RAM_SIZE=4G" in env, env
    # Paths with a space and a quote: the printed copy-paste commands are shell-quoted.
    odd = tmp_path / "it's an inventory"
    odd.mkdir()
    inventory = write_inventory(standin, odd / "waa.yml", hostvars)
    log_file = f"/tmp/waa setup's {name}.log"
    Path(log_file).write_text("an earlier run's line\n")
    try:
        fourth = waa_cli("--ram-size", "4G", "--skip-smoke-test", "--log-file", log_file, inventory=inventory)
        assert fourth.rc == 0 and "already running with the same configuration" in fourth.stdout, fourth.output
        run_line = next(line for line in fourth.stdout.splitlines() if "2. Run the benchmark:" in line)
        words = shlex.split(run_line.split(":", 1)[1])
        assert words[:4] == ["waa", "run", "-i", str(inventory)], words
        logs_line = next(line for line in fourth.stdout.splitlines() if "4. View logs:" in line)
        words = shlex.split(logs_line.split(":", 1)[1])
        assert words[0] == "ssh" and shlex.split(words[-1]) == ["tail", "-f", log_file], words
        # The log is appended to: the earlier line stays, then this run's start, phases and end.
        text = Path(log_file).read_text()
        assert text.startswith("an earlier run's line\n") and text.count(" started (run ") == 1, text
        assert "Phase 1/9: Pre-flight checks" in text and f"WAA container {name} (" in text, text
    finally:
        Path(log_file).unlink(missing_ok=True)

    # An exited container (Windows shut down, the VM rebooted without the restart policy) is
    # replaced; Windows' disk and the results are outside it and stay.
    rebuilt = _container_id(name)
    stopped = subprocess.run(["docker", "stop", "-t", "2", name], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    fifth = waa_cli("--ram-size", "4G", "--skip-smoke-test", hostvars=hostvars)
    assert fifth.rc == 0, fifth.output
    assert "replaced the existing container (status exited)" in fifth.stdout, fifth.output
    assert _container_id(name) not in ("", rebuilt)
    assert _exec(name, "cat", "/client/results/kept/result.txt") == 0


# Actions that never leave the controller.
_LOCAL = {"set_fact", "assert", "fail", "include_tasks", "include_role", "set_stats", "run_result", "validate_argument_spec", "debug"}


def _remote_tasks(run_dir: Path) -> list[str]:
    """The modules a run executed on the VM, in order, from ansible-runner's job events."""
    names = []
    for path in sorted((run_dir / "runner").rglob("job_events/*.json"), key=lambda p: int(p.name.split("-")[0])):
        event = json.loads(path.read_text())
        if event.get("event") in ("runner_on_ok", "runner_on_failed"):
            action = (event.get("event_data") or {}).get("task_action", "").rsplit(".", 1)[-1]
            if action not in _LOCAL:
                names.append(action)
    return names


def _exec(name: str, *cmd: str) -> int:
    return subprocess.run(["docker", "exec", name, *cmd], capture_output=True, timeout=60).returncode


def test_json_document_matches_schema(waa_cli):
    name = "waa-json"
    hostvars = dict(unique_ports(), waa_container_name=name, virtual_machine_size="Standard_D8s_v3", **FAST)
    run = waa_cli("--json", "--skip-smoke-test", hostvars=hostvars)
    assert run.rc == 0, run.output
    doc = json.loads(run.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["exit_code"] == 0 and doc["container"]["name"] == name
    # The default --timeout on a golden disk, nothing added. The CLI sets the deadline when it starts, the playbook
    # its clock a moment later (seconds on a loaded machine): the time left is at most the timeout.
    assert 1800 - 30 <= doc["timeout_seconds"] <= 1800, doc["timeout_seconds"]
    names = [p["name"] for p in doc["phases"]]
    assert names[:3] == ["pre_flight_checks", "docker_daemon", "image_pull"]
    smoke = next(p for p in doc["phases"] if p["name"] == "smoke_test")
    assert smoke["status"] == "skipped"
    # The spec's per-phase details: the pre-flight checks, and the image's size and source.
    preflight = next(p for p in doc["phases"] if p["role"] == "preflight")
    assert preflight["checks"]["ssh"] is True and preflight["checks"]["docker"] is True, preflight
    assert preflight["checks"]["nested_virt"] is True and preflight["checks"]["disk_space"] > 10**9, preflight
    pull = next(p for p in doc["phases"] if p["role"] == "image")
    assert pull["source"] == "127.0.0.1:5001" and (pull["image_size_bytes"] or 0) > 100 * 2**20, pull
    # The VM's size from the inventory (as the azure_rm inventory gives it): its list price.
    assert doc["log_file"] and doc["skipped"] is False
    costs = doc["costs"]
    assert costs["vm_size"] == "Standard_D8s_v3" and costs["hourly_rate_usd"] == 0.384, costs
    assert costs["estimated_cost_usd"] == round(costs["vm_runtime_seconds"] / 3600 * 0.384, 4), costs

    # --hourly-rate wins over the list price, and the human summary says what the run cost.
    human = waa_cli("--skip-smoke-test", "--hourly-rate", "1.5", hostvars=hostvars)
    assert human.rc == 0, human.output
    assert "\x1b" not in human.stdout and "\r" not in human.stdout  # no terminal: plain lines, nothing redrawn
    assert human.doc["costs"]["hourly_rate_usd"] == 1.5 and "--hourly-rate" in human.doc["costs"]["rate_source"]
    assert re.search(r"Estimated cost: \u2248 \$\d+\.\d\d \(\d+ s of Standard_D8s_v3 at \$1\.500/h", human.stdout), \
        human.output


def _port_holder():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


@pytest.mark.parametrize("case", [
    "kvm_unusable", "ssh_unreachable", "docker_unstartable", "image_absent", "port_taken",
    "container_without_kvm", "never_boots", "server_500", "empty_accessibility", "overall_timeout",
    "broken_python",
])
def test_exit_codes(case, waa_cli, tmp_path):
    name = f"waa-x-{case.replace('_', '-')}"
    docker_rm(name)  # a container an interrupted earlier run left must not decide this run
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    args: list[str] = []
    holder = None
    init_script = None
    if case == "kvm_unusable":
        hv["waa_kvm_device"] = "/dev/null"
        code, phase, words = 1, "preflight", ["/dev/null", "Dv5"]
    elif case == "ssh_unreachable":
        hv["ansible_port"] = _free_port()
        code, phase, words = 1, "preflight", ["Cannot connect to VM via SSH"]
    elif case == "docker_unstartable":
        # A real Docker daemon that fails to start: its daemon.json is broken. It has a service of
        # its own (an init script, as Debian's docker.io without systemd) and a socket of its own.
        daemon = tmp_path / "dockerd"
        daemon.mkdir()
        (daemon / "daemon.json").write_text('{"debug": tru\n')
        service = f"waa-test-broken-dockerd-{os.getpid()}"
        init_script = Path("/etc/init.d") / service
        init_script.write_text(
            "#!/bin/sh\n# A Docker daemon with a broken daemon.json (openadapt.waa tests)\ncase \"$1\" in\n"
            f"  start) exec dockerd --config-file {daemon}/daemon.json --host unix://{daemon}/docker.sock "
            f"--data-root {daemon}/data --exec-root {daemon}/exec --pidfile {daemon}/docker.pid ;;\n"
            "  status) exit 3 ;;\n  *) exit 0 ;;\nesac\n")
        init_script.chmod(0o755)
        hv.update(waa_docker_host=f"unix://{daemon}/docker.sock", waa_docker_service=service,
                  waa_docker_direct_start=False)
        code, phase, words = 2, "docker", ["Docker daemon failed to start", "unable to configure the Docker daemon",
                                           "daemon.json", "systemctl status docker"]
    elif case == "image_absent":
        missing = f"windowsarena/nosuchimage-{os.urandom(3).hex()}"
        hv.update(waa_image=f"127.0.0.1:5001/{missing}:latest", waa_pull_attempts=2)
        # Both registries are asked (the hub, then the ACR fallback) and both are named.
        code, phase, words = 3, "image", [f"127.0.0.1:5001/{missing}:latest", f"127.0.0.1:5002/{missing}:latest",
                                          "failed after 2 attempt(s)", "Check the image name and tag"]
    elif case == "port_taken":
        holder = _port_holder()
        hv["waa_server_port"] = holder.getsockname()[1]
        code, phase, words = 4, "container", ["address already in use", f"docker logs {name}"]
    elif case == "container_without_kvm":
        hv["waa_kvm_device"] = "/dev/null"
        args.append("--no-verify-nested-virt")
        code, phase, words = 5, "windows_boot", ["KVM", "--device /dev/kvm"]
    elif case == "never_boots":
        hv.update(waa_container_env={"WAA_SIM_FAULT": "never_boot"}, waa_boot_timeout=8)
        code, phase, words = 5, "windows_boot", ["Timed out after 8 s waiting for windows_boot", "Booting", "VNC"]
    elif case == "server_500":
        hv.update(waa_container_env={"WAA_SIM_FAULT": "server_500"}, waa_server_timeout=8)
        code, phase, words = 6, "waa_server", ["Timed out after 8 s waiting for waa_server",
                                               "answers /probe with HTTP 500"]
    elif case == "empty_accessibility":
        hv.update(waa_container_env={"WAA_SIM_FAULT": "empty_at"}, waa_accessibility_timeout=5)
        code, phase, words = 7, "accessibility", ["accessibility"]
    elif case == "overall_timeout":
        hv.update(waa_container_env={"WAA_SIM_BOOT_SECONDS": "120"})
        args += ["--timeout", "25"]
        code, phase, words = 8, "windows_boot", ["Timeout after 25s (--timeout)", "Reached phase: windows_boot",
                                                 "Increase --timeout"]
    else:  # broken_python: every module run fails in a way no phase can diagnose
        hv["ansible_python_interpreter"] = "/bin/false"
        code, phase, words = 9, "preflight", ["Unexpected error", "Please report this issue"]
    try:
        run = waa_cli(*args, hostvars=hv)
    finally:
        if holder:
            holder.close()
        if init_script:
            init_script.unlink()
    assert run.rc == code, run.output
    doc = run.doc
    assert doc["exit_code"] == code
    assert doc["phase"] == phase, (doc["phase"], doc["message"])
    text = doc["message"] + " " + doc.get("fix", "")
    for word in words:
        assert word.lower() in text.lower(), (word, doc["message"], doc.get("fix"))
    assert f"FAILED (exit {code}" in run.stdout and f"in phase {phase}" in run.stdout, run.output
    # The VM's log tells the failed run from its first round trip: the start, each phase, the failure.
    if case not in ("ssh_unreachable", "broken_python"):  # else no round trip succeeded: nothing to write
        this_run = Path(doc["log_file"]).read_text().rsplit(" started (run ", 1)[-1]  # this worker's runs take turns
        assert "Phase 1/9: Pre-flight checks" in this_run, this_run[-2000:]
        assert f"FAILED (exit {code}) in phase {phase}: " in this_run, this_run[-2000:]
        if phase != "preflight":
            assert f"The run's log on the VM: ssh -p 2222 azureuser@127.0.0.1 'tail -f {doc['log_file']}'" in run.stdout
    if case == "container_without_kvm":
        boot = next(p for p in doc["phases"] if p["role"] == "windows_boot")
        assert boot["duration_seconds"] < 20, "dockur's KVM error must fail the boot phase at once"
    if case == "overall_timeout":
        assert run.duration < 25 + 40


def test_bad_arguments_exit_1_with_a_clear_message(waa_cli):
    for args, word in [
        (["--image", "win; rm -rf /"], "--image"),
        (["--container-name", "$(reboot)"], "--container-name"),
        (["--host", "`id`"], "--host"),
        (["--log-file", "../etc/passwd"], "--log-file"),
        (["--azure-cr", "https://x.azurecr.io/path"], "--azure-cr"),
        (["--timeout", "abc"], "--timeout"),
        (["--no-such-option"], "unrecognized"),
    ]:
        run = waa_cli(*args)
        assert run.rc == 1, (args, run.output)
        assert word in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr + run.stdout


def test_plain_ansible_playbook_records_the_result(standin, tmp_path):
    """Without the CLI (as AWX runs it): the playbook works and records the result. As with the
    azure_rm inventory, it runs on the waa_vms group only (not on other VMs of the inventory), and
    a stopped VM of that group is left out with a result that says how to start it."""
    name = "waa-plain"
    inv = write_inventory(standin, tmp_path / "inv.yml", dict(unique_ports(), waa_container_name=name,
                                                               waa_skip_smoke_test=True, **FAST))
    data = yaml.safe_load(inv.read_text())
    closed = {"ansible_host": "127.0.0.1", "ansible_port": _free_port(), "ansible_user": "azureuser"}
    data["all"]["children"]["waa_vms"]["hosts"]["stopped-vm"] = dict(
        closed, waa_azure_power_state="deallocated", waa_azure_vm_name="waa-vm-2")
    data["all"]["children"]["unrelated"] = {"hosts": {"other-vm": dict(closed)}}
    inv.write_text(yaml.safe_dump(data))
    env = dict(standin.ansible_env(), WAA_RUN_DIR=str(tmp_path / "run"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    try:
        proc = subprocess.run([str(Path(__import__("sys").executable).parent / "ansible-playbook"),
                               "playbooks/vm_setup.yml", "-i", str(inv)], cwd=str(REPO), env=env,
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: os.umask(0o022))  # a shell's usual umask: files would be 0644
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "local-vm" in proc.stdout
        # The run files are this user's only, as under the CLI.
        for path in [tmp_path / "run"] + list((tmp_path / "run").rglob("*")):
            assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
        doc = json.loads((tmp_path / "run" / "results" / "local-vm.json").read_text())
        assert doc["exit_code"] == 0 and doc["phase"] == "validate"
        left_out = json.loads((tmp_path / "run" / "results" / "stopped-vm.json").read_text())
        assert left_out["exit_code"] == 0 and left_out["skipped"] is True and left_out["success"] is False
        assert "the Azure VM waa-vm-2 is deallocated" in left_out["message"] and "waa up" in left_out["fix"]
        assert "other-vm" not in proc.stdout and not (tmp_path / "run" / "results" / "other-vm.json").exists()
        # The live lines the CLI shows, in plain ansible-playbook's output, without the retry noise.
        assert "[local-vm] \u2192 vnc ready" in proc.stdout, proc.stdout[-4000:]
        assert "[local-vm] \u2192 WAA server answering at http://127.0.0.1:" in proc.stdout, proc.stdout[-4000:]
        assert "FAILED - RETRYING" not in proc.stdout, proc.stdout[-4000:]
    finally:
        docker_rm(name)


def test_failed_smoke_test_warns_and_with_strict_smoke_exits_7(waa_cli):
    """The simulated display capture comes back as one pixel: the smoke test fails at its
    screenshot step. By default that is a warning (the server works); --strict-smoke makes it exit 7."""
    name = "waa-smoke-fail"
    hv = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_FAULT": "tiny_screenshot"}, **FAST)
    soft = waa_cli(hostvars=hv)
    assert soft.rc == 0, soft.output
    warning = next((w for w in soft.doc["warnings"] if w.startswith("Smoke test failed but the server is running")), "")
    assert "the screenshot has only" in warning and "--strict-smoke" in warning, soft.doc["warnings"]
    assert "Warning: Smoke test failed" in soft.stdout, soft.output
    smoke = next(p for p in soft.doc["phases"] if p["role"] == "smoke")
    assert smoke["status"] == "warning", smoke  # not "success": the phase ended, not cleanly

    strict = waa_cli("--strict-smoke", hostvars=hv)
    assert strict.rc == 7, strict.output
    assert strict.doc["phase"] == "smoke", strict.doc
    assert strict.doc["message"].startswith("Smoke test failed:") and "the screenshot has only" in strict.doc["message"]
    assert "FAILED (exit 7" in strict.stdout and "in phase smoke" in strict.stdout, strict.output


@pytest.mark.parametrize("case", ["disk", "memory", "cores"])
def test_too_small_a_vm_exits_1_in_preflight_naming_the_fix(case, waa_cli, tmp_path):
    """Each resource provoked for real: Docker's data root on a 16 MB filesystem of its own, a
    RAM_SIZE above the VM's memory, CPU_CORES above its cores. Nothing is created."""
    name = f"waa-small-{case}"
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    args: list[str] = []
    mounted = None
    if case == "disk":
        mounted = tmp_path / "small-disk"
        mounted.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mounted)], check=True, timeout=30)
        hv["waa_docker_data_root"] = str(mounted)
        words = ["Only 0.0 GB free at", str(mounted), "need 50 GB", "docker system prune -a"]
    elif case == "memory":
        gb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30) + 8
        args += ["--ram-size", f"{gb}G"]
        words = [f"RAM_SIZE {gb}G is more than the VM's", "Set waa_ram_size lower"]
    else:
        cores = os.cpu_count() + 2
        args += ["--cpu-cores", str(cores)]
        words = [f"CPU_CORES {cores} is more than the VM's {os.cpu_count()} cores", "bigger VM size"]
    try:
        run = waa_cli(*args, hostvars=hv)
    finally:
        if mounted:
            subprocess.run(["umount", str(mounted)], check=False, timeout=30)
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "preflight", run.doc
    for word in words:
        assert word in run.doc["message"], (word, run.doc["message"])
    assert _container_id(name) == "", "nothing may be created on a VM too small for Windows"


@pytest.mark.parametrize("case", ["empty", "unfinished"])
def test_no_golden_disk_on_an_image_that_cannot_install_exits_1_in_preflight(case, waa_cli, tmp_path):
    """WAA's image does not install Windows by itself: with no prepared disk in the storage folder
    (empty, or a data.img whose preparation never finished: no windows.boot), the run stops in its first
    round trip naming `waa prepare-image`, instead of waiting out the boot. Nothing is created."""
    name = f"waa-nogolden-{case}"
    storage = tmp_path / "storage"
    storage.mkdir()
    if case == "unfinished":
        with open(storage / "data.img", "wb") as disk:
            disk.truncate(1 << 30)
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage), **FAST)
    run = waa_cli("--json", hostvars=hv, golden=False)
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "preflight", run.doc
    if case == "empty":
        assert f"No golden Windows disk (data.img) in {storage}" in run.doc["message"], run.doc
        assert "waa prepare-image --iso" in run.doc["fix"] and "waa_image_installs_windows" in run.doc["fix"], run.doc
    else:
        assert f"{storage}/data.img exists but its preparation never finished" in run.doc["message"], run.doc
        assert "waa prepare-image --iso" in run.doc["fix"] and "--force" in run.doc["fix"], run.doc
    assert _container_id(name) == "", "nothing may be created without a Windows to boot"
    assert sorted(p.name for p in storage.iterdir()) == (["data.img"] if case == "unfinished" else [])
