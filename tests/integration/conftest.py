"""Fixtures that drive the real `waa` CLI over real SSH against the stand-in VM.

`waa_cli(*args, hostvars={...})` writes an inventory for the stand-in host with the given
variables on top, runs `waa` in a subprocess (no standard input, like CI) and returns what it
printed, its exit code and the result document it left in the run directory.
"""

from __future__ import annotations

import itertools
import shutil
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import local_vm  # tests/standin (on sys.path through tests/conftest.py)
from golden import make_golden  # tests/standin
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WAA = [sys.executable, "-m", "openadapt_waa.cli"]
# pytest-xdist runs tests in several processes ("gw0", "gw1", ...): each gets ports and a VM state
# directory (the VM lease, persisted files) of its own, so that workers never wait for or touch
# each other's runs.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_INDEX = int(WORKER[2:]) if WORKER.startswith("gw") and WORKER[2:].isdigit() else 0
# 20000-20999 for gw0, 21000-21999 for gw1 ...: clear of the fixed ports some tests use (16100, 17400+).
_ports = itertools.count(20000 + 1000 * WORKER_INDEX, 10)


def vm_state_dir(standin=None) -> Path:
    """The VM state directory (waa_state_dir) the inventories of this test process use."""
    state = Path(standin.state_dir) if standin is not None else local_vm.STATE
    return state / (f"vm-state-{WORKER}" if WORKER else "vm-state")


def storage_dir(standin) -> Path:
    """The storage directory (Windows' disk) the inventories of this test process use."""
    return Path(standin.storage_path).with_name(f"storage-{WORKER}") if WORKER else Path(standin.storage_path)


@dataclass
class CliRun:
    rc: int
    stdout: str
    stderr: str
    run_dir: Path
    duration: float
    results: dict = field(default_factory=dict)  # host -> result document

    @property
    def doc(self) -> dict:
        assert len(self.results) == 1, f"expected one host result, got {list(self.results)}\n{self.output}"
        return next(iter(self.results.values()))

    @property
    def output(self) -> str:
        return f"--- rc {self.rc}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def events(self) -> list[dict]:
        path = self.run_dir / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_inventory(standin, path: Path, hostvars: dict | None = None, host: str | None = None,
                    golden: bool = True) -> Path:
    """The stand-in's inventory with extra host variables (and optionally another host name). With
    ``golden``, its storage folder holds a prepared golden disk (as after `waa prepare-image`) unless
    the image is one that installs Windows itself."""
    data = yaml.safe_load(Path(standin.inventory).read_text())
    hosts = data["all"]["children"]["waa_vms"]["hosts"]
    base = dict(hosts[standin.host])
    if WORKER:
        base.update(waa_state_dir=str(vm_state_dir(standin)), waa_storage_path=str(storage_dir(standin)),
                    waa_log_file=f"/tmp/waa_setup-{WORKER}.log", waa_benchmark_log_file=f"/tmp/waa_benchmark-{WORKER}.log")
    base.update(hostvars or {})
    if golden and not base.get("waa_image_installs_windows"):
        make_golden(Path(base["waa_storage_path"]))
    data["all"]["children"]["waa_vms"]["hosts"] = {host or standin.host: base}
    path.write_text(yaml.safe_dump(data))
    return path


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def unique_ports() -> dict:
    """Host ports for a test's own container, so tests never touch each other's (ports something
    else holds, such as a container a killed run left, are passed over)."""
    for _ in range(100):
        base = next(_ports)
        if all(_free(base + i) for i in range(3)):
            return {"waa_server_port": base, "waa_vnc_port": base + 1, "waa_rdp_port": base + 2}
    raise AssertionError("no three free loopback ports in 1000 tried")


def docker_rm(name: str) -> None:
    """Remove a test's container and what the VM keeps for it beyond the container (its results
    directory, its overlay over the golden disk, whose /storage also holds the simulator's marks):
    no test starts from what an earlier run left."""
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=180)
    if name and "/" not in name and name not in (".", ".."):
        for kept in ("client-results", "overlay"):
            shutil.rmtree(vm_state_dir() / kept / name, ignore_errors=True)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true (returned), bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def freeze_waa_server(container: str) -> None:
    """SIGSTOP the simulator's Windows guest in ``container``, which serves WAA: from now on the
    server accepts connections and never answers, while the container runs on (a hung server)."""
    # The script's own command line would match the name it looks for: split it.
    freeze = ("import os, signal\nfor pid in filter(str.isdigit, os.listdir('/proc')):\n"
              "    if int(pid) != os.getpid() and b'guest' + b'.py' in open('/proc/%s/cmdline' % pid, 'rb').read():\n"
              "        os.kill(int(pid), signal.SIGSTOP); print(pid)\n")
    frozen = subprocess.run(["docker", "exec", container, "python3", "-c", freeze], capture_output=True, text=True,
                            timeout=30)
    assert frozen.returncode == 0 and frozen.stdout.strip(), (frozen.stdout, frozen.stderr)


# Secrets travel in argument files, environments, logs and JSON: all far below this. The files above
# it are disk images (golden disks are 30 GB sparse files, one in every test storage folder), ISOs
# and image layers, which a scan would read in full: gigabytes of zeros per test, more with each
# run that left a basetemp behind.
SECRET_SCAN_MAX_BYTES = 64 * 1024 * 1024


def files_holding(needles: list[str], roots: list[Path | str], skip_dirs: tuple[str, ...] = (),
                  skip_names: tuple[str, ...] = ()) -> list[str]:
    """The regular files under ``roots`` (below SECRET_SCAN_MAX_BYTES) that hold any of ``needles``,
    directories named in ``skip_dirs`` and files named in ``skip_names`` left out (find and grep: no
    file is read into this process)."""
    existing = [str(root) for root in roots if os.path.exists(root)]
    if not existing or not needles:
        return []
    prune = [arg for name in skip_dirs for arg in ("-o", "-name", name)][1:]
    find = ["find", *existing, *(["-type", "d", "(", *prune, ")", "-prune", "-o"] if prune else []),
            "-type", "f", "-size", f"-{SECRET_SCAN_MAX_BYTES // 1024}k",
            *[arg for name in skip_names for arg in ("!", "-name", name)], "-print0"]
    files = subprocess.run(find, capture_output=True, timeout=300).stdout
    grep = ["xargs", "-0", "-r", "grep", "-lF", "--no-messages", *[arg for n in needles for arg in ("-e", n)]]
    return subprocess.run(grep, input=files, capture_output=True, timeout=300).stdout.decode().split()


@pytest.fixture
def waa_cli(standin, tmp_path):
    created = []

    def run(*args, hostvars: dict | None = None, inventory: Path | None = None, env: dict | None = None,
            timeout: float = 600, host: str | None = None, command: str = "vm-setup", golden: bool = True) -> CliRun:
        run_dir = Path(args[args.index("--run-dir") + 1]) if "--run-dir" in args else tmp_path / f"run-{len(created)}"
        inv = inventory or write_inventory(standin, tmp_path / f"inventory-{len(created)}.yml", hostvars, host, golden)
        name = (hostvars or {}).get("waa_container_name")
        if name and name not in created:
            created.append(name)
        created.append(None)
        cmd = WAA + [command] + list(args)
        if "-i" not in args and "--host" not in args and "--inventory" not in args:
            cmd += ["-i", str(inv)]
        if "--run-dir" not in args:
            cmd += ["--run-dir", str(run_dir)]
        start = time.monotonic()
        # A session of its own, so that a timeout stops ansible-playbook and ssh too, not only waa.
        proc = subprocess.Popen(cmd, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})), start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
            raise AssertionError(f"waa {command} did not end within {timeout}s\n--- stdout\n{out[-4000:]}\n--- stderr\n{err[-4000:]}")
        results = {}
        for path in sorted((run_dir / "results").glob("*.json")) if (run_dir / "results").exists() else []:
            doc = json.loads(path.read_text())
            if "host" in doc:  # a host's result document, not the benchmark's merged summary.json
                results[doc["host"]] = doc
        return CliRun(proc.returncode, out, err, run_dir, time.monotonic() - start, results)

    yield run
    for name in created:
        if name and name != "winarena":
            docker_rm(name)


@pytest.fixture(scope="module")
def client():
    """A Docker SDK client for the simulator tests (tests/sim/waasim_harness.py)."""
    sys.path.insert(0, str(REPO / "tests" / "sim"))
    import waasim_harness

    try:
        return waasim_harness.docker_client()
    except Exception as exc:  # no daemon, no socket, no SDK connection
        pytest.skip(f"docker is not available: {exc}")
