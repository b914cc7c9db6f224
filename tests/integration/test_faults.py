"""The error matrix, provoked for real on the stand-in: recovery, exit codes, no lost state."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import local_vm
import pytest
import yaml

from conftest import REPO, WAA, WORKER, docker_rm, files_holding, freeze_waa_server, unique_ports, vm_state_dir, write_inventory
from conftest import wait_for as _wait_for

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1,
        "waa_skip_smoke_test": True}


def _rmi(*refs: str) -> None:
    for ref in refs:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, timeout=120)


def _events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _background(standin, tmp_path: Path, name: str, hostvars: dict, *args: str, env: dict | None = None):
    inv = write_inventory(standin, tmp_path / f"inv-{name}.yml", hostvars)
    run_dir = tmp_path / f"run-{name}"
    proc = subprocess.Popen(WAA + ["vm-setup", "-i", str(inv), "--run-dir", str(run_dir), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})), start_new_session=True)
    return proc, run_dir


def test_killed_run_does_not_block_the_vm_its_lease_is_taken_over(standin, tmp_path, waa_cli):
    """SIGKILL (no handler runs, nothing is released): the next run on this controller sees the
    owner's process gone and takes the lease over at once, instead of waiting for it to expire."""
    name = "waa-f-killed"
    docker_rm(name)
    # The same command again after the kill: the container it left (still booting) is kept.
    hv = slow = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_BOOT_SECONDS": "20"},
                     **FAST)
    proc, run_dir = _background(standin, tmp_path, name, slow)
    lock = vm_state_dir(standin) / "lock"
    try:
        _wait_for(lambda: any(e["type"] == "phase_start" and e.get("phase") == "windows_boot" for e in _events(run_dir)),
                  120, "phase windows_boot")
        os.killpg(proc.pid, signal.SIGKILL)  # waa, ansible-playbook and ssh: a closed laptop
        proc.communicate(timeout=30)
        held = json.loads(lock.read_text())
        assert held["expires"] - time.time() > 600, "the killed run's lease would block the VM for long"
        start = time.monotonic()
        again = waa_cli(hostvars=hv)
        assert again.rc == 0, again.output
        assert time.monotonic() - start < 120
        took = [w for w in again.doc["warnings"] if w.startswith("Took over the VM lease")]
        assert took and held["owner"] in took[0] and "gone" in took[0], again.doc["warnings"]
        assert not any(w.startswith("Waited") for w in again.doc["warnings"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        docker_rm(name)


def test_broken_lease_file_is_taken_over_after_its_grace(standin, waa_cli):
    """An empty lease (a full disk, or a kill between create and write) used to make the lock spin
    forever; now it is taken over after a few seconds, and the run says so."""
    lock = vm_state_dir(standin) / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    run = waa_cli(command="server-start", hostvars={"waa_container_name": "waa-f-no-such-container"}, timeout=120)
    assert run.rc == 4 and "waa vm-setup" in run.doc["message"], run.output  # past the lock: it did not hang
    assert any("lease file was broken" in w for w in run.doc.get("warnings", [])), run.doc
    assert not lock.exists(), "the run gave the lease back"


def test_expired_lease_of_a_live_run_elsewhere_is_taken_over_and_a_valid_one_is_waited_for(standin, waa_cli):
    """A lease from another controller (whose process this one cannot see) is honoured until it
    expires: the run waits, bounded by its own deadline; once expired it is taken over at once."""
    lock = vm_state_dir(standin) / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    hv = {"waa_container_name": "waa-f-no-such-container"}
    owner = "other-controller-run-%s" % os.urandom(3).hex()
    lock.write_text(json.dumps({"owner": owner, "since": time.time() - 100, "expires": time.time() + 600,
                                "pid": 1, "controller": "elsewhere:1"}))
    try:
        start = time.monotonic()
        blocked = waa_cli("--timeout", "8", command="server-start", hostvars=hv, timeout=120)
        assert blocked.rc == 8, blocked.output  # its deadline passed while it waited
        assert time.monotonic() - start < 60
        assert json.loads(lock.read_text())["owner"] == owner, "a valid lease is never taken"
        lock.write_text(json.dumps({"owner": owner, "since": time.time() - 100, "expires": time.time() - 1,
                                    "pid": 1, "controller": "elsewhere:1"}))
        run = waa_cli(command="server-start", hostvars=hv, timeout=120)
        assert run.rc == 4 and "waa vm-setup" in run.doc["message"], run.output  # past the lock at once
        took = [w for w in run.doc.get("warnings", []) if w.startswith("Took over the VM lease")]
        assert took and f"the lease of run {owner} expired" in took[0], run.doc
        assert not lock.exists(), "the run gave the lease back"
    finally:
        lock.unlink(missing_ok=True)


def _all_text_under(*roots: Path) -> str:
    chunks = []
    for root in roots:
        if root.is_file():
            chunks.append(root.read_bytes().decode("utf-8", "replace"))
            continue
        # The other test process's runs create and remove their own ~/.ansible/tmp entries meanwhile:
        # what vanishes during the walk held no file of this run.
        for top, _dirs, files in os.walk(root):
            for name in files:
                path = Path(top) / name
                try:
                    if path.is_file() and not path.is_symlink() and path.stat().st_size < 50_000_000:
                        chunks.append(path.read_bytes().decode("utf-8", "replace"))
                except FileNotFoundError:
                    continue
    return "\n".join(chunks)


def _secret_places(run: "CliRun | None", run_dir: Path, tmpdir: Path, standin) -> str:
    """Every file a secret could land in: the run directory (ansible-runner's artifacts, env and
    command files, events, logs), the controller's and the VM's ~/.ansible (the VM is this
    machine), the run's TMPDIR, the VM's state directory and setup log, and what was printed."""
    text = _all_text_under(run_dir, tmpdir, Path(os.path.expanduser("~/.ansible")), Path("/home/azureuser/.ansible"),
                           Path("/home/azureuser/.ansible_async"),
                           Path(os.path.expanduser("~/.ansible_async")), vm_state_dir(standin),
                           Path(f"/tmp/waa_setup-{WORKER}.log" if WORKER else "/tmp/waa_setup.log"))
    return text + ("\n" + run.stdout + "\n" + run.stderr if run else "")


def _secret_env(tmp_path: Path, standin) -> tuple[dict, list[str]]:
    api_key = "sk-test-" + os.urandom(12).hex()
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = {"WAA_REGISTRY_USERNAME": standin.acr_username, "WAA_REGISTRY_PASSWORD": standin.acr_password,
           "OPENAI_API_KEY": api_key, "TMPDIR": str(tmpdir)}
    return env, [standin.acr_password, api_key]


def test_rate_limit_falls_back_to_acr_and_the_password_appears_nowhere(waa_cli, standin, hub_fault, fresh_image,
                                                                       tmp_path):
    published = fresh_image(4)
    name = "waa-f-429"
    hub_fault("429", image=published)
    env, secrets = _secret_env(tmp_path, standin)
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    run = waa_cli("--image", published.hub_image, "--azure-cr", standin.acr, "--verbose", hostvars=hv, env=env)
    assert run.rc == 0, run.output
    pull = run.doc["image"]
    assert pull["source"] == standin.acr and pull["rate_limited"] is True and pull["fell_back"] is True, pull
    assert run.doc["image"]["reference"] == published.acr_image
    assert f"Fell back from {published.hub_image}: rate limited" in run.stdout, run.output  # the fallback is said
    # The benchmark client gets the API key (in its exec environment, not in a file).
    bench = waa_cli("--task", "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS",
                    "--timeout", "240", hostvars=hv, env=env, command="run", timeout=300)
    assert bench.rc == 0, bench.output
    # Success: neither the password nor the key is in any output, log, event, artifact or file.
    haystack = _secret_places(run, run.run_dir, Path(env["TMPDIR"]), standin) + _secret_places(
        bench, bench.run_dir, Path(env["TMPDIR"]), standin)
    assert (bench.run_dir / "runner" / "artifacts").exists(), "ansible-runner's artifacts are searched"
    for secret in secrets:
        at = haystack.find(secret)
        assert at < 0, "secret found: ..." + haystack[max(0, at - 300):at + 50]
    assert standin.acr_username not in standin.acr_password  # the user name, which is not secret, may appear
    _rmi(published.acr_image)
    docker_rm(name)


def test_no_secret_reaches_a_file_after_a_failure_or_an_interrupt(waa_cli, standin, tmp_path):
    env, secrets = _secret_env(tmp_path, standin)
    # A failure (exit 3: the image does not exist in the registry).
    failed = waa_cli("--image", "127.0.0.1:5001/openadapt/no-such-image:1", "--azure-cr", standin.acr,
                     hostvars=dict(unique_ports(), waa_container_name="waa-f-secret-fail", **FAST), env=env)
    assert failed.rc == 3, failed.output
    # An interrupt during the boot: the release run (a second ansible-runner run) comes after it.
    name = "waa-f-secret-int"
    docker_rm(name)
    slow = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_BOOT_SECONDS": "30"}, **FAST)
    proc, run_dir = _background(standin, tmp_path, name, slow, env=env)
    try:
        _wait_for(lambda: any(e["type"] == "phase_start" and e.get("phase") == "windows_boot" for e in _events(run_dir)),
                  120, "phase windows_boot")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        docker_rm(name)
    assert proc.returncode == 130 and "lease released" in out, out + err
    assert list((run_dir / "release" / "artifacts").glob("*/command")), "the release run's artifacts are searched"
    haystack = _secret_places(failed, failed.run_dir, Path(env["TMPDIR"]), standin) + _secret_places(
        None, run_dir, Path(env["TMPDIR"]), standin) + out + err
    for secret in secrets:
        assert secret not in haystack
    assert not list(Path(env["TMPDIR"]).glob("waa-secret-*")), "the private secret files are removed"


def test_stalled_pull_is_detected_retried_and_completes(standin, standin_ctl, hub_fault, fresh_image, tmp_path):
    published = fresh_image(8)
    name = "waa-f-stall"
    window = 3
    hub_fault("stall", image=published, stall_after_bytes=2 * 1024 * 1024, targets="blobs")
    standin_ctl.hub_stats(reset=True)
    hv = dict(unique_ports(), waa_container_name=name, waa_pull_stall_timeout=window, **FAST)
    proc, run_dir = _background(standin, tmp_path, name, hv, "--image", published.hub_image)
    try:
        # The first attempt stalls; once it has, the "network" recovers.
        _wait_for(lambda: standin_ctl.hub_stats().get("active_stalls", 0) > 0, 90, "a stalled blob request")
        time.sleep(window + 2.5)
        hub_fault("none", release=True)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        docker_rm(name)
    assert proc.returncode == 0, out + err
    doc = json.loads((run_dir / "results" / "local-vm.json").read_text())
    pull = doc["image"]
    assert pull["stalled"] >= 1, pull
    assert len(pull["attempts"]) >= 2 and "stall" in pull["attempts"][0]["outcome"], pull["attempts"]
    progress = [e for e in _events(run_dir) if e["type"] == "pull_progress"]
    assert progress, "pull progress was reported while it ran"
    _rmi(published.hub_image)


def _vm_files_holding(secret: str, *exclude: Path) -> list[str]:
    """Files on the VM (this machine) that hold ``secret``: every writable place a module, Ansible
    or the tool could leave one (home directories, temporary directories, /etc, /var but Docker's
    image store, the stand-in's state), the given controller-side paths excluded."""
    roots = ["/home", "/root", "/tmp", "/var/tmp", "/etc", "/var/lib/openadapt-waa", "/var/log", local_vm.STATE]
    # The stand-in keeps the registry's credentials for the tests (acr-credentials.json): not the VM's.
    # Package managers' caches and toolchains (pip, npm, pyenv, rustup, virtualenvs: gigabytes here)
    # are written by installs, never by a run; the stand-in's registries and Azurite are the cloud's
    # storage, not the VM's.
    caches = ("docker", ".cache", ".npm", ".pyenv", ".venv", "node_modules", ".rustup", ".cargo", ".m2",
              "registry-hub", "registry-acr", "azurite")
    return files_holding([secret], roots, skip_dirs=(*caches, *(p.name for p in exclude)),
                         skip_names=("acr-credentials.json",))


def test_registry_password_is_on_no_disk_while_the_pull_is_stalled_nor_after_ctrl_c(standin, hub_fault, fresh_image,
                                                                                    tmp_path):
    """The pull runs in the background (async), whose module arguments Ansible leaves in a file on
    the VM for as long as it runs. The password now travels in a private file that the module
    removes at its start: it is on no disk while the pull stalls, nor after a Ctrl-C during it."""
    published = fresh_image(8)
    name = "waa-f-pull-secret"
    hub_fault("stall", image=published, stall_after_bytes=2 * 1024 * 1024, targets="blobs")
    tmpdir = tmp_path / "controller-tmp"  # the CLI's own private secret files (0600) live here
    tmpdir.mkdir()
    env = {"WAA_REGISTRY_USERNAME": standin.acr_username, "WAA_REGISTRY_PASSWORD": standin.acr_password,
           "TMPDIR": str(tmpdir)}
    hv = dict(unique_ports(), waa_container_name=name, waa_pull_stall_timeout=600, **FAST)
    proc, run_dir = _background(standin, tmp_path, name, hv, "--image", published.hub_image, "--azure-cr", standin.acr,
                                env=env)
    try:
        _wait_for(lambda: local_vm.hub_stats().get("active_stalls", 0) > 0, 90, "a stalled blob request")
        time.sleep(2)
        during = _vm_files_holding(standin.acr_password, tmpdir)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        docker_rm(name)
        _rmi(published.hub_image)
    assert not during, f"the password is on disk while the pull stalls: {during}"
    assert proc.returncode == 130 and "Interrupted by SIGINT during phase local-vm: image" in out + err, out + err
    after = _vm_files_holding(standin.acr_password, tmpdir)
    assert not after, f"the password is on disk after the interrupt: {after}"
    assert not list(tmpdir.glob("waa-secret-*"))


def test_two_runs_at_once_are_serialized_and_the_second_says_it_waited(standin, tmp_path):
    name = "waa-f-lock"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    first, dir1 = _background(standin, tmp_path, "a", hv)
    time.sleep(1.0)
    second, dir2 = _background(standin, tmp_path, "b", hv)
    try:
        out1, err1 = first.communicate(timeout=400)
        out2, err2 = second.communicate(timeout=400)
    finally:
        docker_rm(name)
    assert first.returncode == 0, out1 + err1
    assert second.returncode == 0, out2 + err2
    docs = [json.loads((d / "results" / "local-vm.json").read_text()) for d in (dir1, dir2)]
    waited = [w for doc in docs for w in doc["warnings"] if w.startswith("Waited")]
    assert len(waited) == 1, [doc["warnings"] for doc in docs]
    assert "Waited" in out1 + out2


# An interrupt in pre-flight (waiting for the lease): test_hostile_input.py's waiting-run test.
@pytest.mark.parametrize("signum,phase", [(signal.SIGINT, "windows_boot"), (signal.SIGTERM, "container"),
                                          (signal.SIGINT, "image")])
def test_interrupted_run_leaves_no_half_state_and_the_next_run_succeeds(standin, tmp_path, waa_cli, fresh_image, hub_fault,
                                                                       signum, phase):
    name = f"waa-f-int-{phase.replace('_', '-')}"
    docker_rm(name)
    # The same command runs again after the interrupt: it converges from whatever was left.
    hv = slow = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_BOOT_SECONDS": "15"},
                     **FAST)
    if phase == "image":  # a pull of 10 MB at 1 MB/s: interrupted while its bytes come in
        published = fresh_image(10)
        hub_fault("none", image=published, rate_bps=1_000_000)
        hv["waa_image"] = published.hub_image
    proc, run_dir = _background(standin, tmp_path, name, slow)
    try:
        _wait_for(lambda: any(e["type"] == "phase_start" and e.get("phase") == phase for e in _events(run_dir)),
                  120, f"phase {phase}")
        if phase == "image":
            _wait_for(lambda: any(e["type"] == "pull_progress" and (e.get("bytes_done") or 0) > 0
                                  for e in _events(run_dir)), 60, "pull progress")
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 128 + signum, out + err  # the shell's convention: 130 for Ctrl-C
        order = ["preflight", "docker", "image", "container", "windows_boot", "waa_server"]
        said = re.search(rf"Interrupted by {signal.Signals(signum).name} during phase local-vm: (\w+)\.", out + err)
        assert said and said.group(1) in order[order.index(phase):], out + err  # the phase the run was in
        assert "lease released" in out + err, out + err
        lock = vm_state_dir(standin) / "lock"
        assert not lock.exists(), "the interrupted run gave the VM back"
        for path in (vm_state_dir(standin)).rglob("*.json"):
            json.loads(path.read_text())  # every file there is whole
        if phase == "image":
            hub_fault("none")  # the network is fast again
        again = waa_cli(hostvars=hv)
        assert again.rc == 0, again.output
    finally:
        if proc.poll() is None:
            proc.kill()
        docker_rm(name)


def test_container_without_net_admin_fails_fast_with_the_fix(waa_cli, standin, tmp_path):
    """No NET_ADMIN: dockur's bridge error; port 5000 would never answer. Fail at once, name the fix."""
    name = "waa-f-netadmin"
    docker_rm(name)
    ports = unique_ports()
    subprocess.run(["docker", "run", "-d", "--name", name, "--device", "/dev/kvm",
                    "-p", f"127.0.0.1:{ports['waa_server_port']}:5000", "-p", f"127.0.0.1:{ports['waa_vnc_port']}:8006",
                    "--label", "openadapt.waa.managed=true", "127.0.0.1:5001/windowsarena/winarena:latest",
                    "/entry.sh --prepare-image false --start-client false"], check=True, capture_output=True, timeout=60)
    try:
        start = time.monotonic()
        run = waa_cli(hostvars=dict(ports, waa_container_name=name, **FAST), command="server-start")
        assert run.rc == 5, run.output
        assert "NET_ADMIN" in run.doc["message"] + run.doc["fix"]
        assert time.monotonic() - start < 45, "must not wait for the boot timeout"
    finally:
        docker_rm(name)


def test_crash_loop_is_diagnosed_with_the_last_log_lines(waa_cli):
    name = "waa-f-crashloop"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_restart_policy="always", **FAST)
    # dockur gives up (RAM_SIZE above the memory there is) and, with EXIT_ON_ERROR, the container
    # exits with its code: Docker restarts it again and again.
    hv["waa_container_env"] = {"RAM_SIZE": "999G", "WAA_SIM_EXIT_ON_ERROR": "1"}
    start = time.monotonic()
    run = waa_cli(hostvars=hv)
    # dockur's RAM_SIZE signature decides the class (a failed boot, 5) however the poll catches the
    # container: running with the ERROR line, exited, or restarting. At once, with the cause from
    # the last log lines.
    assert run.rc == 5, run.output
    text = run.doc["message"] + " " + run.doc["fix"]
    assert "RAM_SIZE" in text, text  # the diagnosis comes from the container's last log lines
    assert time.monotonic() - start < 90


def test_server_that_stops_answering_fails_the_phase_it_breaks(waa_cli):
    name = "waa-f-stops"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    # /probe answers once (phase 5 passes), then never again: phase 6 checks the server first and
    # finds it gone; that is a server failure (6), in the phase where it broke.
    hv["waa_container_env"] = {"WAA_SIM_FAULT": "stop_answering_after=1req"}
    hv["waa_accessibility_timeout"] = 20
    run = waa_cli(hostvars=hv)
    assert run.rc == 6, run.output
    assert run.doc["phase"] == "accessibility", run.doc
    assert "waa_server" in run.doc["message"] and "does not answer" in run.doc["message"], run.doc
    server = next(p for p in run.doc["phases"] if p["role"] == "waa_server")
    assert server["status"] == "success", server


def test_publishing_beyond_loopback_warns(waa_cli):
    name = "waa-f-publish"
    docker_rm(name)
    ports = unique_ports()
    run = waa_cli("--publish-address", "127.0.0.2", hostvars=dict(ports, waa_container_name=name, **FAST))
    assert run.rc == 0, run.output
    assert any("without authentication" in w for w in run.doc["warnings"]), run.doc["warnings"]
    assert "without authentication" in run.stdout
    # The printed tunnel reaches the ports where they listen on the VM, not its loopback.
    port = ports["waa_server_port"]
    assert f"-L {port}:127.0.0.2:{port}" in run.doc["tunnel_command"], run.doc["tunnel_command"]


def test_changed_host_key_is_refused(waa_cli, standin, tmp_path):
    """Host key checking stays on: a known_hosts entry with another key stops the run (exit 1)."""
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    known = tmp_path / "known_hosts"
    known.write_text("[127.0.0.1]:%s %s" % (standin.ssh_port, (other.with_suffix(".pub")).read_text().split(" ", 2)[0] +
                                           " " + other.with_suffix(".pub").read_text().split(" ", 2)[1]) + "\n")
    inv_args = (f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes "
                f"-o ControlMaster=no")
    run = waa_cli(hostvars=dict(unique_ports(), waa_container_name="waa-f-hostkey", ansible_ssh_common_args=inv_args))
    assert run.rc == 1, run.output
    assert "Cannot connect to VM via SSH" in run.doc["message"]
    assert "host key" in (run.doc["fix"] + run.stdout).lower()


def test_injection_strings_are_rejected_before_anything_runs(waa_cli):
    # Relative and absolute forms: an absolute path passes the "starts with /" check and must still
    # be refused for what else it holds.
    bad = ["; rm -rf /", "$(touch /tmp/pwned)", "`touch /tmp/pwned`", "a\nb", "../../etc", "/var/../../etc",
           "/tmp/$(touch /tmp/pwned)\n", "/x/{{ lookup('pipe', 'touch /tmp/pwned') }}"]
    for value in bad:
        for option in ("--image", "--container-name", "--host", "--log-file", "--azure-cr", "--storage-path"):
            run = waa_cli(option, value)
            assert run.rc == 1, (option, value, run.output)
            assert option in run.stderr and "Traceback" not in run.stderr, (option, value, run.stderr)
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("command,args,option", [
    ("vm-setup", ["--storage-path", "/"], "--storage-path"),
    ("vm-setup", ["--storage-path", "/tmp"], "--storage-path"),
    ("vm-setup", ["--storage-path", "/home/azureuser"], "--storage-path"),
    ("vm-setup", ["--ram-size", "8GGG"], "--ram-size"),
    ("vm-setup", ["--ram-size", "0"], "--ram-size"),
    ("run", ["--task", "notepad/../../etc/passwd"], "--task"),
    ("run", ["--task", "x/$(touch /tmp/pwned)"], "--task"),
    ("run", ["--model", "gpt-4o;touch${IFS}/tmp/pwned"], "--model"),  # no space: refused for what it is
    ("run", ["--domain", "--clean-results"], "--domain"),
    ("run", ["--result-dir", "/", "--clean-results"], "--result-dir"),
    ("run", ["--result-dir", "/storage", "--clean-results"], "--result-dir"),
])
def test_more_bad_option_values_are_refused_with_the_fix(waa_cli, command, args, option):
    run = waa_cli(*args, command=command, timeout=60)
    assert run.rc == 1, run.output
    assert option in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not run.results, "nothing ran"
    assert not Path("/tmp/pwned").exists()


def test_login_user_without_root_or_sudo_exits_1_naming_the_fix(waa_cli, standin):
    """A real VM logs in as a non-root user; without passwordless sudo nothing can be set up: exit 1
    in pre-flight, saying so, instead of a module failure (exit 9)."""
    run = waa_cli(hostvars={"ansible_user": "waa-nosudo"}, timeout=120)
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "preflight", run.doc
    assert "The SSH user waa-nosudo is not root and cannot use sudo without a password" in run.doc["message"], run.doc
    assert "passwordless sudo" in run.doc["message"]


# Two values through a real run (the check's place in the play); every variable's check is in
# tests/unit/plugins/filter/test_inputs.py.
@pytest.mark.parametrize("variable,value,words", [
    ("waa_storage_path", "/tmp", "system or home directory"),
    ("waa_image", "$(touch /tmp/pwned)", "image"),
])
def test_inventory_and_survey_values_are_validated_by_the_roles(waa_cli, variable, value, words):
    """The same checks for values that come from an inventory or an AWX survey: exit 1 in
    pre-flight, naming the variable, before the VM is touched (no lease, no container)."""
    mode_before = os.stat("/tmp").st_mode
    run = waa_cli(hostvars={variable: value}, timeout=120)
    assert run.rc == 1, run.output
    doc = run.doc
    assert doc["phase"] == "preflight", doc
    assert variable in doc["message"] and words in doc["message"].lower() + doc["message"], doc["message"]
    assert "inventory, group_vars or survey" in doc["message"]
    assert os.stat("/tmp").st_mode == mode_before
    assert not Path("/tmp/pwned").exists()


def _descendants(pid: str) -> list[str]:
    found, todo = [], [pid]
    while todo:
        children = subprocess.run(["pgrep", "-P", todo.pop()], capture_output=True, text=True, timeout=10).stdout.split()
        found += children
        todo += children
    return found


@pytest.mark.serial
def test_silent_network_drop_is_detected_within_a_minute_and_names_the_phase(standin, tmp_path, waa_cli):
    """The VM stops answering without closing anything (a frozen link: every sshd session of the
    stand-in is SIGSTOPped). ServerAlive* notice it in ~15 s instead of TCP's ~2 h; the run exits 1
    naming the phase that lost the VM; once the link is back, the next run converges."""
    name = "waa-f-sshdrop"
    docker_rm(name)
    # The same command runs again once the link is back.
    hv = slow = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_BOOT_SECONDS": "40"},
                     **dict(FAST, waa_boot_timeout=120))
    proc, run_dir = _background(standin, tmp_path, name, slow)
    sshd = (Path(standin.state_dir) / "run" / "sshd.pid").read_text().strip()
    frozen: list[str] = []
    try:  # the container goes whatever fails (it would come back with the next dockerd)
        try:
            _wait_for(lambda: any(e["type"] == "phase_start" and e.get("phase") == "windows_boot"
                                  for e in _events(run_dir)), 120, "phase windows_boot")
            # The run's SSH session (a privileged monitor and its unprivileged child under sshd):
            # waited for, not assumed, as the wait's round trips open and reuse it.
            frozen = _wait_for(lambda: _descendants(sshd), 60, "an SSH session of the run under sshd")
            subprocess.run(["kill", "-STOP", *frozen], timeout=10)
            t0 = time.monotonic()
            out, err = proc.communicate(timeout=150)
            detected = time.monotonic() - t0
        finally:
            if frozen:
                subprocess.run(["kill", "-CONT", *frozen], capture_output=True, timeout=10)
                subprocess.run(["kill", "-KILL", *frozen], capture_output=True, timeout=10)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.returncode == 1, out + err
        assert detected < 60, f"the dead link took {detected:.0f}s to notice"
        doc = json.loads((run_dir / "results" / "local-vm.json").read_text())
        assert doc["phase"] == "windows_boot", doc
        assert "Lost the SSH connection to the VM during phase windows_boot" in doc["message"], doc
        assert "Lost the SSH connection" in out, out
        again = waa_cli(hostvars=hv)
        assert again.rc == 0, again.output
        assert again.doc["health_checks"]["waa_server_ready"] == "healthy"
    finally:
        docker_rm(name)


def _engine_answers() -> bool:
    return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                          timeout=30).returncode == 0


def _dockerd() -> str:
    return next(p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if Path(p).exists())


def test_stopped_docker_daemon_of_its_own_is_started_by_the_docker_phase(waa_cli):
    """A VM whose Docker daemon is stopped, on any machine: a second, healthy dockerd (its own
    socket, data root and init script, as Debian's docker.io without systemd) that is not running.
    `server-start` runs the docker phase, which starts it through the service manager and says
    so; the next phase then finds no container (exit 4) on that empty engine."""
    root = Path(f"/tmp/waa-d2-{os.getpid()}")  # short: containerd's socket lives under exec-root
    root.mkdir(mode=0o700)
    sock, pid_file = root / "docker.sock", root / "docker.pid"
    service = f"waa-test-dockerd-{os.getpid()}"
    # A bridge of its own: with --bridge none, dockerd deletes the default docker0, which the
    # machine's engine (and every other test's container) uses.
    bridge = f"waad2{os.getpid() % 10**8}"
    subprocess.run(["ip", "link", "add", "name", bridge, "type", "bridge"], check=True, timeout=30)
    subprocess.run(["ip", "addr", "add", "10.231.231.1/24", "dev", bridge], check=True, timeout=30)
    init_script = Path("/etc/init.d") / service
    init_script.write_text(
        "#!/bin/sh\n# A second, healthy Docker daemon (openadapt.waa tests)\ncase \"$1\" in\n"
        f"  start) start-stop-daemon --start --background --make-pidfile --pidfile {root}/ssd.pid "
        f"--output {root}/dockerd.log --exec {_dockerd()} -- "
        f"--host unix://{sock} --data-root {root}/data --exec-root {root}/exec --pidfile {pid_file} "
        f"--bridge {bridge} --iptables=false --ip6tables=false ;;\n"
        f"  status) [ -f {pid_file} ] && kill -0 \"$(cat {pid_file})\" 2>/dev/null ;;\n"
        "  *) exit 0 ;;\nesac\n")
    init_script.chmod(0o755)
    hv = dict(unique_ports(), waa_container_name="waa-f-own-dockerd", waa_docker_host=f"unix://{sock}",
              waa_docker_service=service, waa_docker_direct_start=False, **FAST)
    try:
        assert not sock.exists()  # stopped: nothing answers on its socket
        run = waa_cli(command="server-start", hostvars=hv)
        assert run.rc == 4, run.output
        assert run.doc["phase"] == "container", run.doc
        assert "waa-f-own-dockerd" in run.doc["message"] and "vm-setup" in run.doc["fix"], run.doc
        message = "Docker daemon was stopped, restarted successfully."
        assert message in run.doc["warnings"], run.doc["warnings"]
        assert "started and answering" in run.stdout, run.stdout
        answers = subprocess.run(["docker", "-H", f"unix://{sock}", "version", "--format", "{{.Server.Version}}"],
                                 capture_output=True, text=True, timeout=30)
        assert answers.returncode == 0, answers.stderr  # really started, by the docker phase
    finally:
        init_script.unlink()
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            _wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, "the second Docker daemon to exit")
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], timeout=120)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, timeout=30)
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, timeout=30).returncode == 0, \
        "the machine's docker0 must survive a second daemon"


@pytest.mark.serial
def test_stopped_docker_daemon_is_started_again_and_reported(waa_cli, standin, standin_ctl):
    """A ready host whose daemon went down (a reboot with Docker not enabled): the `docker` phase
    starts it through the service manager, says so, and the existing container is kept."""
    dockerd = standin_ctl.status()["dockerd"]
    if not dockerd["started_by_standin"]:
        pytest.skip("this machine's Docker engine was not started by `make local-vm`; stopping it would stop "
                    "the machine's other containers (a fresh machine, as in CI, runs this test)")
    name = "waa-f-dockerd"
    hv = dict(unique_ports(), waa_container_name=name, **FAST)
    first = waa_cli(hostvars=hv)
    assert first.rc == 0, first.output
    container_id = first.doc["container"]["id"]

    os.kill(dockerd["pid"], signal.SIGTERM)
    _wait_for(lambda: not _engine_answers(), 90, "the Docker daemon to stop")
    # A stopped daemon, not one still shutting down (it stops answering before it has exited, and
    # while its pid file stands a new dockerd refuses to start).
    _wait_for(lambda: not Path(f"/proc/{dockerd['pid']}").exists(), 90, "the Docker daemon to exit")
    try:
        run = waa_cli(hostvars=hv)
        assert run.rc == 0, run.output
        message = "Docker daemon was stopped, restarted successfully."
        assert message in run.doc["warnings"], run.doc["warnings"]
        assert message in run.stdout and "started and answering" in run.stdout, run.stdout
        assert _engine_answers()
        assert run.doc["container"]["id"] == container_id  # the container survived: not recreated
        assert set(run.doc["health_checks"].values()) == {"healthy"}, run.doc["health_checks"]
    finally:
        # Hand the engine back to the stand-in: stop the daemon the role started, let `up` start its own.
        pid_file = Path("/var/run/docker.pid")
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            _wait_for(lambda: not Path(f"/proc/{pid}").exists(), 90, "the role's Docker daemon to exit")
        standin_ctl.up()


def test_a_ready_host_that_changed_is_found_on_the_re_run(waa_cli, standin):
    """A ready host converges in one survey, so each change behind its back must still be seen: the
    image tag now names another image (the running container is kept, exit 4, --rebuild named), the
    container removed by hand (created again), the server stopped answering (exit 6 in its phase)."""
    name, tag = f"waa-f-changed{WORKER}", f"waa-retag-test{WORKER}:latest"
    docker_rm(name)
    assert subprocess.run(["docker", "tag", standin.hub_image, tag], capture_output=True, timeout=60).returncode == 0
    hv = dict(unique_ports(), waa_container_name=name, waa_image=tag, **FAST)
    try:
        first = waa_cli(hostvars=hv)
        assert first.rc == 0, first.output
        ready = waa_cli(hostvars=hv)
        assert ready.rc == 0 and ready.stdout.count("(found at the start of this run)") == 5, ready.output

        # The tag now names another image (same content, one more label: another image id).
        build = subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=f"FROM {tag}\nLABEL waa.test=retag\n",
                               capture_output=True, text=True, timeout=120)
        assert build.returncode == 0, build.stderr
        before = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True,
                                timeout=30).stdout.strip()
        moved = waa_cli(hostvars=hv)
        assert moved.rc == 4, moved.output
        assert moved.doc["phase"] == "container", moved.doc
        assert "running with another configuration" in moved.doc["message"] and "image" in moved.doc["message"], moved.doc
        assert "--rebuild" in moved.doc["fix"], moved.doc
        assert "found at the start of this run" not in moved.stdout.split("Phase 3/9")[1], moved.output
        after = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True,
                               timeout=30).stdout.strip()
        assert after == before, "the running container was recreated"

        # Removed by hand: the re-run creates it again (from the image the tag names now).
        docker_rm(name)
        again = waa_cli(hostvars=hv)
        assert again.rc == 0, again.output
        assert re.search(rf"✓ Container {name}: created \(ID: [0-9a-f]{{12}}\)", again.stdout), again.output

        # The server stops answering on the ready host: found by the survey, and its phase fails.
        freeze_waa_server(name)
        hv_short = dict(hv, waa_server_timeout=8)
        stopped = waa_cli(hostvars=hv_short)
        assert stopped.rc == 6, stopped.output
        assert stopped.doc["phase"] == "waa_server", stopped.doc
        assert "(found at the start of this run)" not in stopped.stdout.split("Phase 5/9")[1], stopped.output
    finally:
        docker_rm(name)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


def test_first_start_without_a_windows_disk_installs_windows_and_sizes_the_waits(waa_cli, tmp_path):
    """dockur on an empty storage directory downloads and installs Windows before it boots, and Windows
    setup goes on after the boot: the run says it is on that path, shows the install's steps, and waits
    up to waa_install_timeout instead of the normal boot and server timeouts (both far below the install)."""
    name = "waa-f-install"
    docker_rm(name)
    storage = tmp_path / "empty-storage"
    storage.mkdir()
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage), waa_image_installs_windows=True,
              **FAST)
    hv.update(waa_boot_timeout=4, waa_server_timeout=4, waa_install_timeout=120,
              waa_container_env={"WAA_SIM_INSTALL_SECONDS": "14", "WAA_SIM_BOOT_SECONDS": "2", "WAA_SIM_SERVER_DELAY": "1"})
    try:
        run = waa_cli(hostvars=hv)
        assert run.rc == 0, run.output
        # The install step's line (the stage's own line may not come first: a loaded machine's poll can see the
        # stage and its first step at once); the stage itself is in the events below.
        assert re.search(r"→ installing Windows: (Downloading|Extracting|Adding|Building) ", run.stdout), run.output
        assert f"Boot path: first start without a prepared Windows disk in {storage}" in run.stdout, run.output
        assert "waa_install_timeout" in run.stdout
        phases = {p["role"]: p for p in run.doc["phases"]}
        # Both waits outlasted their normal timeouts (4 s) on this path.
        assert phases["windows_boot"]["duration_seconds"] + phases["waa_server"]["duration_seconds"] > 8, phases
        events = [json.loads(line) for line in (run.run_dir / "events.jsonl").read_text().splitlines()]
        assert "installing_windows" in [e.get("stage") for e in events if e["type"] == "boot"]
        # The default --timeout (1800 s) was sized for the install path: waa_install_timeout more.
        # The CLI sets the deadline when it starts, the playbook its clock a moment later (seconds on a loaded
        # machine).
        assert 1800 + 120 - 30 <= run.doc["timeout_seconds"] <= 1800 + 120, run.doc["timeout_seconds"]
        assert (storage / "data.img").exists()

        # The disk is there now: the next start of the container boots at once, on the normal path.
        docker_rm(name)
        again = waa_cli(hostvars=dict(hv, waa_boot_timeout=30, waa_server_timeout=30))
        assert again.rc == 0, again.output
        assert "installing" not in again.stdout and "Boot path" not in again.stdout, again.output
    finally:
        docker_rm(name)


@pytest.mark.parametrize("fault", ["qemu_init_fail_once", "qemu_init_fail"])
def test_qemu_that_fails_to_initialise_gets_one_restart_before_exit_5(fault, waa_cli, tmp_path):
    """The spec's error matrix: QEMU failing to initialise is worth one restart of the container. Once
    is enough for a passing cause (a warning says what happened); a cause that stays fails with exit 5
    in the boot phase, saying that the restart was made."""
    name = f"waa-f-{fault.replace('_', '-')}"
    docker_rm(name)
    storage = tmp_path / "storage"
    storage.mkdir()
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage), **FAST)
    hv.update(waa_boot_timeout=40, waa_container_env={"WAA_SIM_FAULT": fault})
    try:
        run = waa_cli(hostvars=hv)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
        starts = (logs.stdout + logs.stderr).count("Starting WinArena...")
        assert starts == 2, (starts, logs.stdout[-2000:])  # one restart, never more
        if fault == "qemu_init_fail_once":
            assert run.rc == 0, run.output
            assert any("QEMU failed to initialise" in w and "restarted once" in w for w in run.doc["warnings"]), run.doc
        else:
            assert run.rc == 5, run.output
            assert run.doc["phase"] == "windows_boot", run.doc
            assert "QEMU failed to initialise" in run.doc["message"], run.doc
            assert "restarted once already" in run.doc["message"], run.doc
            assert "/dev/kvm" in run.doc["fix"], run.doc
            boot = next(p for p in run.doc["phases"] if p["role"] == "windows_boot")
            assert boot["duration_seconds"] < 30, "a fatal signature after the restart must fail at once"
    finally:
        docker_rm(name)


def test_a_dockur_error_it_recovers_from_is_a_warning_not_exit_5(waa_cli):
    """Newer dockur prints `❯ ERROR: Microsoft blocked ...` and then tries another mirror: only the
    known fatal signatures end the boot wait. Before, any `❯ ERROR:` line was exit 5 at once."""
    name = "waa-f-recoverable"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_FAULT": "recoverable_error"}, **FAST)
    run = waa_cli(hostvars=hv, timeout=300)
    assert run.rc == 0, run.output
    said = [w for w in run.doc["warnings"] if w.startswith("dockur reported (and went on): ")]
    assert said and "Microsoft blocked the automated download" in said[0], run.doc["warnings"]
    assert "Microsoft blocked" in run.stdout, run.output


def test_login_user_from_the_ssh_configuration_becomes_root(standin, tmp_path):
    """No ansible_user anywhere: the login user comes from the ssh configuration (`User azureuser`
    in the file the inventory's ssh arguments name with -F). `become` follows the user ssh really
    logs in as, so the run gets past the VM's first round trip (exit 4: no such container). Before,
    `become` was decided from ansible_user alone: no sudo, and a PermissionError on the VM's state
    directory (exit 9)."""
    state = tmp_path / "vm-state"  # root's, as /var/lib/openadapt-waa is on a real VM
    state.mkdir(mode=0o700)
    tmp_path.chmod(0o755)
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n    User azureuser\n")
    inventory = write_inventory(standin, tmp_path / "inv.yml", {"waa_container_name": "waa-f-no-such-container",
                                                                 "waa_state_dir": str(state)})
    data = yaml.safe_load(inventory.read_text())
    for host in data["all"]["children"]["waa_vms"]["hosts"].values():
        host.pop("ansible_user", None)
        host["ansible_ssh_common_args"] = f"-F {config} " + host["ansible_ssh_common_args"]
    inventory.write_text(yaml.safe_dump(data))
    run_dir = tmp_path / "run"
    proc = subprocess.run(WAA + ["server-start", "-i", str(inventory), "--run-dir", str(run_dir), "--timeout", "120"],
                          capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json.loads((run_dir / "results" / "local-vm.json").read_text())
    assert "waa vm-setup" in doc["message"], doc
