"""Issue 22's holes, provoked for real: input is data and never a template, secrets never reach a
file (controller or VM), run files stay private, untrusted text never drives the terminal."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, WAA, WORKER, docker_rm, unique_ports, vm_state_dir, write_inventory

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 5,
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
                          extravars={"waa_log_file": _payload(marker), "waa_deadline": time.time() + 60,
                                     "waa_timeout": 60, "waa_run_id": "unsafe-" + os.urandom(4).hex(),
                                     "waa_run_dir": str(run_dir)})
    assert not marker.exists(), "an extra var was rendered as a template"
    doc = next(iter(result.hosts.values()))
    assert result.exit_code == 1 and doc["phase"] == "preflight", doc
    assert "waa_log_file" in doc["message"] and "template marker" in doc["message"], doc["message"]
    extravars = (run_dir / "runner" / "env" / "extravars").read_text()
    assert "!unsafe" in extravars and "lookup('pipe'" in extravars
