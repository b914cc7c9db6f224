"""molecule, offline: scenario `default` (delegated driver, the stand-in VM: converge vm_setup,
idempotence, testinfra verify) and scenario `fresh-host` (a Docker-in-Docker VM without
--privileged and without Docker: the docker role installs docker.io with apt, the image comes
from the stand-in registry through an SSH reverse tunnel). Both run at once (they share no
state: own containers, ports, ephemeral directories); each must end with every step successful.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STEPS = {
    "default": ["destroy", "syntax", "prepare", "converge", "idempotence", "verify", "destroy"],
    "fresh-host": ["destroy", "syntax", "create", "prepare", "converge", "verify", "destroy"],
}
TIMEOUT = 900


@pytest.fixture(scope="module")
def molecule_runs(standin, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("molecule")
    common = {"WAA_ECO_IMAGE": standin.hub_image, "WAA_ECO_REGISTRY": standin.hub}
    envs = {
        "default": eco.env(
            MOLECULE_EPHEMERAL_DIRECTORY=root / "default", WAA_ECO_CONTAINER=eco.name("molecule"),
            WAA_ECO_SERVER_PORT=eco.PORT_BASE + 10, WAA_ECO_VNC_PORT=eco.PORT_BASE + 11,
            WAA_ECO_RDP_PORT=eco.PORT_BASE + 12, WAA_ECO_VM_DIR=root / "default-vm", **common),
        "fresh-host": eco.env(
            MOLECULE_EPHEMERAL_DIRECTORY=root / "fresh-host", WAA_ECO_FRESH_HOST_NAME=eco.name("fresh-host"),
            WAA_ECO_FRESH_HOST_PORT=eco.PORT_BASE + 22, **common),
    }
    procs, logs, started = {}, {}, time.monotonic()
    for scenario, env in envs.items():
        logs[scenario] = root / f"{scenario}.log"
        with open(logs[scenario], "w") as out:
            procs[scenario] = subprocess.Popen(
                [eco.VENV_BIN / "molecule", "test", "-s", scenario], cwd=eco.REPO, env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    results = {}
    try:
        for scenario, proc in procs.items():
            remaining = max(1.0, TIMEOUT - (time.monotonic() - started))
            rc = proc.wait(timeout=remaining)
            results[scenario] = (rc, ANSI.sub("", logs[scenario].read_text()), time.monotonic() - started)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        eco.docker_rm(eco.name("molecule"), eco.name("fresh-host"))
    return results


@pytest.mark.parametrize("scenario", list(STEPS))
def test_scenario(molecule_runs, scenario):
    rc, log, elapsed = molecule_runs[scenario]
    details = log[log.rfind("DETAILS"):] if "DETAILS" in log else log[-6000:]
    assert rc == 0, f"molecule test -s {scenario}: rc {rc} after {elapsed:.0f}s\n{log[-12000:]}"
    for step in STEPS[scenario]:
        assert re.search(rf"{re.escape(scenario)} (➜|>) {step}: Executed: Successful", details), (step, details)
    assert "failed=0" in details.split("SCENARIO RECAP")[-1], details
    # Offline: nothing was fetched from Galaxy.
    assert "galaxy.ansible.com" not in log
