"""Issue 22's holes, provoked for real: input is data and never a template, secrets never reach a
file (controller or VM), run files stay private, untrusted text never drives the terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import WAA, docker_rm, files_holding, unique_ports, vm_state_dir, write_inventory
from conftest import wait_for as _wait_for

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1,
        "waa_skip_smoke_test": True}

# Every string option of every command, with the command that takes it.
STRING_OPTIONS = [
    ("vm-setup", o) for o in ("--host", "--inventory", "--limit", "--ssh-user", "--ssh-key", "--container-name",
                              "--vm-size", "--run-dir", "--image", "--azure-cr", "--log-file", "--publish-address",
                              "--ram-size", "--storage-path", "--results-path")
] + [("run", o) for o in ("--task-list", "--task", "--domain", "--model", "--agent", "--result-dir")] + [
    ("up", "--log-file"), ("probe", "--run-dir"), ("server-start", "--container-name"), ("monitor", "--run-dir")]


def _payload(marker: Path) -> str:
    return "/x{{ lookup('pipe', 'touch %s') }}" % marker


def test_every_string_option_refuses_a_template_payload_and_runs_nothing(standin, tmp_path):
    """`{{ lookup('pipe', ...) }}` in any option is refused (exit 1, naming the option) and the
    command it carries never runs. Before, ansible-core rendered the inline JSON extra vars:
    `--log-file` of vm-setup and `--result-dir` of run created their marker files."""
    inventory = write_inventory(standin, tmp_path / "inv.yml", {"waa_container_name": "waa-s-never"})

    def attempt(case):
        index, (command, option) = case
        marker = tmp_path / f"marker-{index}"
        argv = WAA + [command, option, _payload(marker)]
        if command != "monitor":
            argv += ["--timeout", "60"] + ([] if option in ("--inventory", "--host") else ["-i", str(inventory)])
            argv += [] if option == "--run-dir" else ["--run-dir", str(tmp_path / f"run-{index}")]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                              cwd=str(tmp_path))
        return command, option, marker, proc

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, enumerate(STRING_OPTIONS)))
    for command, option, marker, proc in outcomes:
        assert proc.returncode == 1, (command, option, proc.stdout[-2000:], proc.stderr[-2000:])
        assert option in proc.stderr and "template marker {{" in proc.stderr, (command, option, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert not marker.exists(), f"{command} {option}: the payload ran"
    assert not list(tmp_path.glob("run-*/results/*.json")), "no run reached a host"


def test_extra_vars_are_data_even_when_they_bypass_the_cli(standin, tmp_path):
    """Defence in depth: variables that reach ansible-runner without the CLI's checks (a caller of
    run_playbook, a value read from elsewhere) are passed as !unsafe data. The payload reaches
    the roles' own input check literally and is refused there; nothing is rendered."""
    from openadapt_waa.runner import run_playbook

    marker = tmp_path / "marker"
    inventory = write_inventory(standin, tmp_path / "inv.yml", {"waa_container_name": "waa-s-never"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_playbook("server_start.yml", inventory=str(inventory), run_dir=run_dir, hard_timeout=120,
                          extravars={"waa_log_file": _payload(marker), "waa_run_deadline": time.time() + 60,
                                     "waa_timeout": 60, "waa_run_id": "unsafe-" + os.urandom(4).hex(),
                                     "waa_run_dir": str(run_dir)})
    assert not marker.exists(), "an extra var was rendered as a template"
    doc = next(iter(result.hosts.values()))
    assert result.exit_code == 1 and doc["phase"] == "preflight", doc
    assert "waa_log_file" in doc["message"] and "template marker" in doc["message"], doc["message"]
    extravars = (run_dir / "runner" / "env" / "extravars").read_text()
    assert "!unsafe" in extravars and "lookup('pipe'" in extravars


CANARIES = ("AZURE_SECRET", "AZURE_CLIENT_SECRET", "AZURE_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "GITHUB_TOKEN", "HF_TOKEN", "ANTHROPIC_API_KEY", "WAA_REGISTRY_PASSWORD", "OPENAI_API_KEY")


def test_the_controllers_environment_stays_out_of_run_files(standin, tmp_path):
    """ansible-runner writes the child's whole environment into artifacts/*/command: the child gets
    an allow-listed environment, and the secrets it needs travel in private files. Canary values
    in ten such variables appear nowhere under the run directory, ~/.ansible or TMPDIR."""
    canaries = {name: f"canary-{name.lower()}-{os.urandom(8).hex()}" for name in CANARIES}
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    inventory = write_inventory(standin, tmp_path / "inv.yml", {"waa_container_name": "waa-s-no-such-container"})
    run_dir = tmp_path / "run"
    proc = subprocess.run(WAA + ["server-start", "-i", str(inventory), "--run-dir", str(run_dir), "--timeout", "120"],
                          capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, TMPDIR=str(tmpdir), **canaries))
    # The run reached the VM (exit 4: no such container), so the playbook ran with this environment.
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    command = json.loads(next((run_dir / "runner" / "artifacts").glob("*/command")).read_text())
    assert "PATH" in command["env"] and "ANSIBLE_SSH_ARGS" in command["env"], "what Ansible needs is kept"
    assert "OPENAI_API_KEY_FILE" in command["env"] and "AZURE_SECRET_FILE" in command["env"], "secrets as files"
    holding = files_holding(list(canaries.values()), [run_dir, tmpdir, Path(os.path.expanduser("~/.ansible")),
                                                      Path("/home/azureuser/.ansible"), vm_state_dir(standin)])
    assert not holding, f"canaries found in {holding}"
    assert not list(tmpdir.glob("waa-secret-*")), "the private secret files are removed"


# SIGHUP: the signal ansible-runner's own handler never covered (SIGTERM takes the same handler).
@pytest.mark.parametrize("second", [signal.SIGHUP])
def test_a_signal_during_the_release_still_removes_the_secret_files(standin, tmp_path, second):
    """SIGINT ends the playbook and starts the release run; a SIGHUP while the release ran killed
    the CLI with its default action and left $TMPDIR/waa-secret-* (SIGTERM was caught only by
    ansible-runner's own handler, which it never gives back). The release here is held (the test
    holds the VM lease's guard lock, which the release must take), so the signal surely lands in it."""
    import fcntl

    name = "waa-s-release-signal"
    docker_rm(name)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    hostvars = dict(unique_ports(), waa_container_name=name, waa_container_env={"WAA_SIM_BOOT_SECONDS": "60"}, **FAST)
    inventory = write_inventory(standin, tmp_path / "inv.yml", hostvars)
    run_dir = tmp_path / "run"
    env = dict(os.environ, TMPDIR=str(tmpdir), OPENAI_API_KEY="sk-" + os.urandom(8).hex(),
               WAA_REGISTRY_USERNAME=standin.acr_username, WAA_REGISTRY_PASSWORD=standin.acr_password)
    proc = subprocess.Popen(WAA + ["vm-setup", "-i", str(inventory), "--run-dir", str(run_dir)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    guard = open(str(vm_state_dir(standin) / "lock") + ".guard", "a+")
    try:
        _wait_for(lambda: proc.poll() is not None or '"phase": "windows_boot"' in _read(run_dir / "events.jsonl"),
                  180, "phase windows_boot")
        assert proc.poll() is None, proc.communicate()
        assert list(tmpdir.glob("waa-secret-*")), "the run holds its secrets in private files"
        fcntl.flock(guard, fcntl.LOCK_EX)  # the release will wait for it
        proc.send_signal(signal.SIGINT)
        _wait_for(lambda: list((run_dir / "release" / "artifacts").glob("*/command")), 60, "the release run")
        proc.send_signal(second)
        out, err = proc.communicate(timeout=60)
    finally:
        fcntl.flock(guard, fcntl.LOCK_UN)
        guard.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        docker_rm(name)
    assert proc.returncode == 130, out + err  # the first signal's code
    assert "Interrupted by SIGINT" in out + err, out + err
    assert not list(tmpdir.glob("waa-secret-*")), "the private secret files are removed"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""

