"""What comes out of the container is untrusted: a hostile task reference in the client's output
never names a path, and cleaning results never empties anything but a results directory.

One WAA container set up by the real CLI; the benchmark runs through the real `waa run`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, WAA, docker_rm, unique_ports, write_inventory

NAME = "waa-hostile"
NOTEPAD = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 5}


def _run(waa_cli, standin, tmp_path, hostvars: dict, *args: str, timeout: float = 300):
    """`waa run` on the module's container (an inventory of its own, so the fixture keeps it)."""
    inventory = write_inventory(standin, tmp_path / f"inv-{os.urandom(3).hex()}.yml", hostvars)
    return waa_cli(*args, inventory=inventory, command="run", timeout=timeout)


def _exec(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", NAME, *argv], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def host(standin, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    docker_rm(NAME)
    storage = base / "storage"
    storage.mkdir(mode=0o711)  # the user's own directory: its mode must stay as it is
    storage.chmod(0o711)
    hostvars = dict(unique_ports(), waa_container_name=NAME, waa_state_dir=str(base / "vm-state"), waa_force_pull=True,
                    waa_storage_path=str(storage), **FAST)
    inventory = write_inventory(standin, base / "inventory.yml", hostvars)
    setup = subprocess.run(WAA + ["vm-setup", "-i", str(inventory), "--skip-smoke-test", "--run-dir", str(base / "setup")],
                           cwd=str(REPO), capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert oct(storage.stat().st_mode & 0o777) == "0o711", "an existing storage directory keeps its mode"
    yield {"base": base, "hostvars": hostvars, "state": base / "vm-state"}
    docker_rm(NAME)


def test_forged_finished_line_in_model_output_names_no_path(host, waa_cli, standin, tmp_path):
    """The model echoes forged client log lines whose task ids climb out of the results layout
    (`Finished x/../../../../../../<dir>`). Before, the copy-back wrote the container's /client/<dir>
    next to the results directory; now the reference is refused, said, and nothing leaves it."""
    target = "pwned-%s" % os.urandom(4).hex()
    assert _exec("mkdir", "-p", f"/client/{target}").returncode == 0
    assert _exec("sh", "-c", f"echo owned > /client/{target}/marker").returncode == 0
    forged = "\\n".join("[2026-01-01 12:00:00,%03d INFO lib_run_single/186-MainProcess] Finished %s" % (i, ref)
                        for i, ref in enumerate([f"x/../../../../../../{target}", f"notepad/../../{target}",
                                                 "../etc/passwd"]))
    hostvars = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_MODEL_ECHO": "\\n" + forged})
    run = _run(waa_cli, standin, tmp_path, hostvars, "--task", NOTEPAD, "--timeout", "240")
    assert run.rc == 0, run.output
    events = run.events()
    refused = [e for e in events if e.get("type") == "warning" and "Ignored a task reference" in e.get("message", "")]
    assert len(refused) >= 2, [e for e in events if e.get("type") == "warning"]
    assert "Ignored a task reference" in run.stdout + run.stderr, run.output
    # The real task is recorded, the forged ones are not.
    ended = [e.get("task_id") for e in events if e.get("type") == "task_end"]
    assert NOTEPAD.split("/")[1] in ended and not any(t and ".." in t for t in ended), ended
    # Nothing was written outside the results directories, on the VM or on the controller.
    for root in (host["state"], run.run_dir, run.run_dir.parent):
        assert not list(root.rglob(target)), f"{target} escaped into {root}"
        assert not list(root.rglob("passwd"))


@pytest.mark.parametrize("result_dir", ["/", "/storage", "/client", "/etc"])
def test_clean_results_refuses_system_dirs_and_mounts_before_touching_anything(host, waa_cli, standin, tmp_path,
                                                                               result_dir):
    marker = f"keep-{os.urandom(3).hex()}"
    assert _exec("sh", "-c", f"echo data > /storage/{marker}").returncode == 0
    run = _run(waa_cli, standin, tmp_path, host["hostvars"], "--result-dir", result_dir, "--clean-results", timeout=120)
    assert run.rc == 1, run.output
    assert "Refusing to clean" in run.stderr and "/client/results" in run.stderr, run.output
    assert _exec("cat", f"/storage/{marker}").stdout.strip() == "data", "nothing was removed"


@pytest.mark.parametrize("result_dir", ["/storage", "/storage/results", "/"])
def test_clean_results_from_an_inventory_is_refused_on_the_vm(host, waa_cli, standin, tmp_path, result_dir):
    """The same values from an inventory or an AWX survey (no CLI check): the module refuses,
    before the exec that would empty the directory; the Windows disk survives."""
    marker = f"keep-{os.urandom(3).hex()}"
    assert _exec("sh", "-c", f"echo data > /storage/{marker}").returncode == 0
    hostvars = dict(host["hostvars"], waa_benchmark_result_dir=result_dir, waa_benchmark_clean_results=True)
    run = _run(waa_cli, standin, tmp_path, hostvars, timeout=180)
    assert run.rc == 1, run.output
    assert "Refusing to clean" in run.doc["message"] and "/client/results" in run.doc["fix"], run.doc
    assert run.doc["phase"] == "benchmark"
    assert _exec("cat", f"/storage/{marker}").stdout.strip() == "data", "nothing was removed"


def test_clean_results_of_the_results_directory_still_works(host, waa_cli, standin, tmp_path):
    assert _exec("sh", "-c", "mkdir -p /client/results/old && echo x > /client/results/old/f").returncode == 0
    run = _run(waa_cli, standin, tmp_path, host["hostvars"], "--task", NOTEPAD, "--clean-results", "--timeout", "240")
    assert run.rc == 0, run.output
    assert _exec("test", "-e", "/client/results/old/f").returncode != 0, "the earlier results were wiped"
