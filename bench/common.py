"""Shared helpers of the benchmarks: the stand-in, inventories, running `waa`, events, stats.

Everything a benchmark creates is ours alone: containers are named `waa-bench7-*`, host ports
come from 18000-18999, files live under WORK (a temporary directory), and only 127.0.0.1 or the
network namespaces that bench/hosts.py creates are ever contacted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
WAA = [PY, "-m", "openadapt_waa.cli"]
PREFIX = "waa-bench7"
WORK = Path(os.environ.get("WAA_BENCH_WORK") or tempfile.gettempdir()) / "waa-bench7"

# Port plan (all inside 18000-18999, each benchmark its own block).
PORTS = {
    "readiness": 18000,  # 18000-18199, 10 a run
    "rerun": 18200,
    "fleet": 18300,      # 18300-18399
    "sessions": 18400,
    "sshd_sessions": 18022,
    "proxy": 18500,
    "viewer": 18600,
    "experiment": 18700,
    "golden": 18800,
}
# Short waits and a short ACPI stop (the simulator ignores SIGTERM like the real image).
FAST = {"waa_boot_timeout": 120, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 5}

sys.path.insert(0, str(REPO / "tests" / "standin"))
sys.path.insert(0, str(REPO / "src"))
import local_vm  # noqa: E402  (the stand-in VM, standard library only)
from golden import make_golden  # noqa: E402


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


# -- statistics ----------------------------------------------------------------------------------
def pct(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a list; None when empty."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    rank = max(1, int(-(-q * len(vals) // 100)))  # ceil(q/100 * n)
    return vals[min(rank, len(vals)) - 1]


def summary(values) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "min": min(vals), "p50": pct(vals, 50), "p95": pct(vals, 95), "max": max(vals),
            "mean": sum(vals) / len(vals)}


# -- the stand-in ---------------------------------------------------------------------------------
def standin_up():
    return local_vm.up()


def standin_hostvars() -> dict:
    data = yaml.safe_load(local_vm.INVENTORY.read_text())
    return dict(data["all"]["children"]["waa_vms"]["hosts"][local_vm.HOST_NAME])


def own_dirs(tag: str) -> dict:
    """Host variables that keep a run's files on the "VM" apart from every other run."""
    base = WORK / "vm" / tag
    for sub in ("state", "storage"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    make_golden(base / "storage")
    return {"waa_state_dir": str(base / "state"), "waa_storage_path": str(base / "storage"),
            "waa_log_file": str(base / "waa_setup.log")}


def host_ports(base: int) -> dict:
    return {"waa_server_port": base, "waa_vnc_port": base + 1, "waa_rdp_port": base + 2}


def write_inventory(path: Path, hosts: dict[str, dict]) -> Path:
    """An inventory with group waa_vms and the given hosts (name -> variables)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"children": {"waa_vms": {"hosts": hosts}}}}, sort_keys=True))
    return path


def standin_host(tag: str, name: str, port_base: int, env: dict | None = None, **extra) -> dict:
    """Variables of the stand-in host for one of our containers."""
    hv = standin_hostvars()
    hv.update(FAST)
    hv.update(host_ports(port_base))
    hv.update(own_dirs(tag))
    hv["waa_container_name"] = name
    if env:
        hv["waa_container_env"] = dict(hv.get("waa_container_env") or {}, **{k: str(v) for k, v in env.items()})
    hv.update(extra)
    return hv


# -- docker ---------------------------------------------------------------------------------------
def docker(*args, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def docker_rm(*names: str) -> None:
    for name in names:
        assert name.startswith(PREFIX), name
    if names:
        docker("rm", "-f", "-v", *names, timeout=180)


def our_containers() -> list[str]:
    out = docker("ps", "-a", "--filter", f"name=^{PREFIX}-", "--format", "{{.Names}}").stdout
    return [n for n in out.split() if n.startswith(PREFIX + "-")]


def remove_our_containers() -> None:
    names = our_containers()
    if names:
        docker_rm(*names)


def sim_instant(container: str, name: str) -> float | None:
    """An epoch the simulator wrote to /var/log/waa-sim/<name> (None when absent)."""
    cp = docker("exec", container, "cat", f"/var/log/waa-sim/{name}", timeout=30)
    try:
        return float(cp.stdout.strip())
    except ValueError:
        return None


def container_started_at(container: str) -> float | None:
    cp = docker("inspect", "-f", "{{.State.StartedAt}}", container, timeout=30)
    return parse_rfc3339(cp.stdout.strip())


def parse_rfc3339(text: str) -> float | None:
    """Docker's nanosecond RFC 3339 time as epoch seconds."""
    if not text or text.startswith("0001"):
        return None
    text = text.strip().replace("Z", "+00:00")
    head, _, tz = text.partition("+")
    if "." in head:
        base, frac = head.split(".", 1)
        head = base + "." + frac[:6]
    try:
        return dt.datetime.fromisoformat(head + "+" + (tz or "00:00")).timestamp()
    except ValueError:
        return None


def log_line_time(container: str, needle: str) -> float | None:
    """When the container printed the first line containing needle (docker logs -t)."""
    cp = docker("logs", "-t", container, timeout=60)
    for line in (cp.stdout + "\n" + cp.stderr).splitlines():
        if needle in line:
            return parse_rfc3339(line.split(" ", 1)[0])
    return None


# -- running waa ----------------------------------------------------------------------------------
@dataclass
class Run:
    rc: int
    wall: float
    run_dir: Path
    stdout: str
    stderr: str
    started: float  # epoch at launch
    results: dict = field(default_factory=dict)

    def events(self) -> list[dict]:
        path = self.run_dir / "events.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def event(self, kind: str, **match) -> dict | None:
        for ev in self.events():
            if ev.get("type") == kind and all(ev.get(k) == v for k, v in match.items()):
                return ev
        return None

    def runner_events(self) -> list[dict]:
        return runner_events(self.run_dir / "runner")

    @property
    def ok(self) -> bool:
        return self.rc == 0 and bool(self.results) and all(d.get("exit_code") == 0 for d in self.results.values())

    def tail(self, n: int = 3000) -> str:
        return f"rc {self.rc}\n{self.stdout[-n:]}\n{self.stderr[-n:]}"


def runner_events(private_dir: Path) -> list[dict]:
    events = []
    for path in private_dir.glob("artifacts/*/job_events/*.json"):
        with contextlib.suppress(ValueError, OSError):
            events.append(json.loads(path.read_text()))
    events.sort(key=lambda e: e.get("counter", 0))
    return events


def event_time(ev: dict) -> float:
    return dt.datetime.fromisoformat(ev["created"]).replace(tzinfo=dt.timezone.utc).timestamp()


def run_waa(inventory: Path, run_dir: Path, *args: str, timeout: float = 900, env: dict | None = None,
            command: str = "vm-setup") -> Run:
    """`waa COMMAND -i inventory --run-dir run_dir ARGS` (vm-setup by default), no stdin, like CI; wall time included."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    cmd = WAA + [command, "-i", str(inventory), "--run-dir", str(run_dir), *args]
    started = time.time()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=str(WORK), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
    wall = time.monotonic() - t0
    results = {}
    for path in sorted((run_dir / "results").glob("*.json")) if (run_dir / "results").exists() else []:
        with contextlib.suppress(ValueError):
            doc = json.loads(path.read_text())
            results[doc.get("host", path.stem)] = doc
    return Run(proc.returncode, wall, run_dir, proc.stdout, proc.stderr, started, results)


def new_run_dir(kind: str) -> Path:
    path = WORK / "runs" / f"{kind}-{time.strftime('%H%M%S')}-{time.monotonic_ns() % 10**6:06d}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def machine_load() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0:3].__str__()
    return "?"


def load_average() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return None
