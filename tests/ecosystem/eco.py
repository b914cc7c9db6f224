"""Helpers for the ecosystem tests (tests/integration/test_ecosystem_*.py).

Everything these tests create on the stand-in VM is named `waa-eco-<what>-<slot>` and
published on loopback ports 17000-17799: each pytest process takes one slot of 40 ports (from
its xdist worker number or its PID, or $WAA_ECO_SLOT), so that parallel workers and two test
runs on one machine do not collide.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "standin"))
from golden import make_golden  # noqa: E402
VENV_BIN = Path(sys.executable).parent
# A pytest-xdist worker (gw0, gw1 ...) takes slot 10 + its number; a plain run one from its PID.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
SLOT = int(os.environ.get("WAA_ECO_SLOT") or (10 + int(_WORKER[2:]) if _WORKER[2:].isdigit() else os.getpid() % 10))
PORT_BASE = 17000 + 40 * SLOT

# Short waits and a short ACPI stop: the simulator, like the real image, ignores SIGTERM.
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 5}


def name(what: str) -> str:
    return f"waa-eco-{what}-{SLOT}"


def ports(offset: int) -> dict:
    """Host ports of one container: offset 0..37 inside this process's slot."""
    base = PORT_BASE + offset
    return {"waa_server_port": base, "waa_vnc_port": base + 1, "waa_rdp_port": base + 2}


def env(**extra: str) -> dict:
    """The environment for Ansible tools: the venv first on PATH, no inherited Ansible config."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_", "ARA_"))}
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '/usr/bin:/bin')}"
    e["ANSIBLE_NOCOLOR"] = "1"
    e["ANSIBLE_FORCE_COLOR"] = "0"
    e["PY_COLORS"] = "0"
    e["NO_COLOR"] = "1"
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run(argv: list, *, timeout: float, cwd: Path | str | None = None, env_: dict | None = None,
        check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env_ or env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(describe(proc))
    return proc


def describe(proc: subprocess.CompletedProcess, tail: int = 12000) -> str:
    return (f"$ {' '.join(map(str, proc.args))}\n--- rc {proc.returncode}\n--- stdout\n{proc.stdout[-tail:]}"
            f"\n--- stderr\n{proc.stderr[-tail:]}")


def standin_host(standin) -> dict:
    """The stand-in host's inventory variables (connection, interpreter, image, simulator knobs)."""
    data = yaml.safe_load(Path(standin.inventory).read_text())
    return dict(data["all"]["children"]["waa_vms"]["hosts"][standin.host])


def inventory(path: Path, standin, hostvars: dict, *, with_key: bool = True) -> Path:
    """An inventory with the stand-in host and HOSTVARS on top. Without the key, connection
    settings are left as a machine credential in AWX would leave them (key from ssh-agent)."""
    host = standin_host(standin)
    if not with_key:
        host.pop("ansible_ssh_private_key_file", None)
        host["ansible_ssh_common_args"] = (
            f"-o UserKnownHostsFile={standin.known_hosts} -o StrictHostKeyChecking=accept-new"
        )
    host.update(hostvars)
    data = {"all": {"children": {"waa_vms": {"hosts": {standin.host: host}}}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def vm_dir(tmp: Path) -> dict:
    """State, storage (with the stand-in's golden disk) and log of a test's own run, so nothing is
    shared with other tests."""
    make_golden(tmp / "vm" / "storage")
    return {"waa_state_dir": str(tmp / "vm" / "state"), "waa_storage_path": str(tmp / "vm" / "storage"),
            "waa_log_file": str(tmp / "vm" / "waa_setup.log")}


def build_collection(dest: Path) -> Path:
    """`ansible-galaxy collection build` of the repository into DEST; the tarball's path."""
    dest.mkdir(parents=True, exist_ok=True)
    run([VENV_BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", dest, REPO],
        timeout=120, cwd=dest, check=True)
    (tarball,) = dest.glob("openadapt-waa-*.tar.gz")
    return tarball


def install_collection(tarball: Path, collections: Path) -> Path:
    """Install the tarball into an empty collections path, offline (dependencies come from the
    ansible package). Returns the installed collection root."""
    run([VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "--force", "-p", collections, tarball],
        timeout=120, cwd=collections.parent, check=True)
    return collections / "ansible_collections" / "openadapt" / "waa"


def tar_members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tf:
        return tf.getnames()


def docker_rm(*names: str) -> None:
    for n in names:
        if n.startswith("waa-eco-"):  # only ever our own
            subprocess.run(["docker", "rm", "-f", "-v", n], capture_output=True, timeout=120, check=False)
