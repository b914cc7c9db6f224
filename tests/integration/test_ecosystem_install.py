"""`pip install .` in a fresh venv is all a user needs: the CLI runs, and sets up the stand-in VM.

The dependencies are honest: what the CLI imports and the Ansible it drives are installed;
what only the tests use (docker, requests) is not, and `waa` still works without them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import REPO, docker_rm, unique_ports, write_inventory


def _run(argv: list, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    # No inherited Ansible settings, and not the repo's venv: only what the fresh venv has.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{argv[0].parent}{os.pathsep}/usr/bin:/bin"
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_pip_install_dot_in_a_fresh_venv_runs_help_and_vm_setup(standin, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_ = venv / "bin"
    # --no-compile: what is installed is the question here, not compiling ansible's ~40k files (CPU-seconds a
    # 2-core run lacks); Python compiles what the CLI imports when it runs.
    pip = _run([bin_ / "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", REPO], tmp_path, 600)
    assert pip.returncode == 0, pip.stderr[-4000:]
    probe = _run([bin_ / "python", "-c",
                  "import importlib.util as u, json; print(json.dumps({m: bool(u.find_spec(m)) for m in "
                  "('docker', 'requests', 'ansible_runner', 'ansible_collections.community.docker')}))"],
                 tmp_path, 60)
    found = json.loads(probe.stdout)
    assert found == {"docker": False, "requests": False, "ansible_runner": True,
                     "ansible_collections.community.docker": True}, found

    # The CLI imports the collection as a package: nothing is added to sys.path on the way.
    imported = _run([bin_ / "python", "-c",
                     "import sys; before = list(sys.path); import openadapt_waa.cli, openadapt_waa.runner, "
                     "openadapt_waa.viewer, openadapt_waa.output; from openadapt_waa.collection import locate; "
                     "print(sys.path == before, locate().root)"], tmp_path, 60)
    assert imported.returncode == 0 and imported.stdout.startswith("True "), imported.stdout + imported.stderr
    assert "site-packages/ansible_collections/openadapt/waa" in imported.stdout, imported.stdout

    helped = _run([bin_ / "waa", "--help"], tmp_path, 60)
    assert helped.returncode == 0, helped.stderr
    for command in ("vm-setup", "server-start", "up", "probe", "run"):
        assert command in helped.stdout, helped.stdout

    name = "waa-i-fresh-venv"
    docker_rm(name)
    hostvars = dict(unique_ports(), waa_container_name=name, waa_skip_smoke_test=True)
    inventory = write_inventory(standin, tmp_path / "inventory.yml", hostvars)
    try:
        # From a directory outside the repo: the installed package finds its own collection.
        setup = _run([bin_ / "waa", "vm-setup", "-i", inventory, "--run-dir", tmp_path / "run", "--json"],
                     tmp_path, 600)
        assert setup.returncode == 0, setup.stdout[-4000:] + setup.stderr[-4000:]
        doc = json.loads(setup.stdout)
        result = doc["results"][0] if "results" in doc else doc
        assert set(result["health_checks"].values()) == {"healthy"}, result["health_checks"]
        # The collection the run used came with the package, as the package ansible_collections.openadapt.waa.
        installed = next((venv / "lib").glob("python*/site-packages/ansible_collections/openadapt/waa"))
        assert (installed / "galaxy.yml").is_file() and (installed / "playbooks" / "vm_setup.yml").is_file()
        assert not list((venv / "lib").glob("python*/site-packages/openadapt_waa/collection"))
    finally:
        docker_rm(name)


def test_azure_extra_is_what_the_bundled_azure_collection_asks_for():
    """`pip install '.[azure]'` gives azure.azcollection the SDK its modules import (the
    azure_rm inventory, `waa up`'s VM start): the same pins as the collection's requirements."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["azure"]
    import ansible_collections.azure.azcollection as azcollection

    wanted = [line.strip() for line in (Path(azcollection.__path__[0]) / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert sorted(extra) == sorted(wanted)
