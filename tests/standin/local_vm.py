#!/usr/bin/env python3
"""The stand-in Azure VM: this machine, reached by Ansible exactly as it would reach a VM.

    python tests/standin/local_vm.py up              # idempotent; repairs a half-dead stand-in
    python tests/standin/local_vm.py down [--keep-docker]
    python tests/standin/local_vm.py status [--json]
    python tests/standin/local_vm.py fault none|429|stall [--stall-after-bytes N] [--stall-seconds S]
                                      [--rate-bps N] [--targets all|manifests|blobs] [--release]
    python tests/standin/local_vm.py push-padded MB  # publish a fresh windowsarena/fresh-<random>:pad<MB>

What `up` provides (contract: docs/architecture.md, "Stand-in VM"):
- sshd on 127.0.0.1:2222 (root, key .standin/ssh/id_ed25519, known_hosts .standin/ssh/known_hosts)
- dockerd (started only if no engine answers on /var/run/docker.sock)
- "hub": Distribution on 127.0.0.1:5011 behind the fault proxy on 127.0.0.1:5001
- "acr": Distribution with htpasswd basic auth on 127.0.0.1:5002 (.standin/acr-credentials.json)
- windowsarena/winarena:latest in both registries, built from tests/sim (waa-sim:latest kept locally)
- .standin/inventory.yml: group waa_vms, host local-vm

Standard library only; importable from pytest (up(), down(), status(), set_hub_fault(),
push_padded(), hub_stats(), release_stalls()).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import fcntl
import fnmatch
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden import make_golden  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STATE = Path(os.environ.get("WAA_STANDIN_DIR") or (REPO / ".standin")).resolve()
SIM_DIR = Path(os.environ.get("WAA_STANDIN_SIM_DIR") or (REPO / "tests" / "sim")).resolve()

LOOPBACK = "127.0.0.1"
SSH_PORT = 2222
HUB_PORT = 5001
HUB_BACKEND_PORT = 5011
ACR_PORT = 5002
HOST_NAME = "local-vm"
GROUP = "waa_vms"
IMAGE_REPO = "windowsarena/winarena"
BASE_IMAGE = "waa-base:bookworm"
SIM_IMAGE = "waa-sim:latest"
ACR_USER = "waa-acr"
LABEL = "openadapt.waa.standin"
DOCKER_SOCK = "/var/run/docker.sock"
# Bump when the way images are published changes, so cached registry content is rebuilt.
PUBLISH_VERSION = "2"
# Random data in :latest, so that a first pull (make demo) shows minutes-long Docker Hub pulls in
# miniature: every layer downloaded with byte progress for a few seconds.
LATEST_PAD_MB = int(os.environ.get("WAA_STANDIN_LATEST_PAD_MB") or 64)
SIM_ENV = {"WAA_SIM_BOOT_SECONDS": "2", "WAA_SIM_SERVER_DELAY": "3"}

# Binaries `up` needs -> Debian package that provides them.
REQUIRED_BINARIES = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
    "htpasswd": "apache2-utils",
    "sudo": "sudo",
    # The collection installs it on a VM that lacks it (the overlay over the golden disk); here it is
    # there from the start, as on the VM image most users have after their first setup.
    "qemu-img": "qemu-utils",
    # Azurite (tests/standin/azurite.py) runs on the machine's Node.js and installs with npm.
    "node": "nodejs",
    "npm": "npm",
}
# A real Azure VM logs in as azureuser, who is not root and has passwordless sudo: the stand-in
# does the same. NOSUDO_USER has neither, for the test of that failure.
LOGIN_USER = "azureuser"
NOSUDO_USER = "waa-nosudo"
SUDOERS = Path("/etc/sudoers.d/openadapt-waa-standin")

SSH_DIR = STATE / "ssh"
RUN_DIR = STATE / "run"
LOG_DIR = STATE / "logs"
CLIENT_KEY = SSH_DIR / "id_ed25519"
HOST_KEY = SSH_DIR / "ssh_host_ed25519_key"
AUTHORIZED_KEYS = SSH_DIR / "authorized_keys"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
SSHD_CONFIG = SSH_DIR / "sshd_config"
SSHD_PID = RUN_DIR / "sshd.pid"
DOCKERD_PID = RUN_DIR / "dockerd.pid"
HUB_DIR = STATE / "registry-hub"
ACR_DIR = STATE / "registry-acr"
PROXY_PID = RUN_DIR / "fault-proxy.pid"
FAULT_FILE = STATE / "hub-fault.json"
ACR_CREDENTIALS = STATE / "acr-credentials.json"
DOCKER_CONFIG = STATE / "docker-config"
INVENTORY = STATE / "inventory.yml"
STORAGE = STATE / "storage"
STATE_FILE = STATE / "state.json"
LOCK_FILE = STATE / ".lock"
BUILD_DIR = STATE / "build"
FAULT_PROXY = HERE / "fault_proxy.py"
BASE_IMAGE_SH = HERE / "base_image.sh"
# Short, per-checkout ControlPath (unix socket paths are limited to ~104 bytes).
CONTROL_PATH = f"/tmp/waa-standin-{hashlib.sha256(str(STATE).encode()).hexdigest()[:8]}-%C"

ENGINE_WAIT_S = 90
DAEMON_WAIT_S = 20
LOCK_WAIT_S = 1800


class StandInError(RuntimeError):
    """`up` could not bring the stand-in up; the message says what and where to look."""


@dataclasses.dataclass(frozen=True)
class StandIn:
    """Everything a test or the CLI needs to reach the stand-in VM."""

    repo: Path
    state_dir: Path
    inventory: Path
    host: str                   # inventory hostname
    group: str                  # inventory group
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_key: Path
    known_hosts: Path
    ssh_control_path: str
    hub: str                    # registry host:port Docker clients use (the fault proxy)
    hub_url: str                # http://127.0.0.1:5001 (control endpoints /__fault__ ...)
    hub_backend: str            # the real registry behind the proxy
    acr: str
    acr_username: str
    acr_password: str
    acr_credentials_file: Path
    docker_config: Path         # DOCKER_CONFIG dir already logged in to acr
    hub_image: str
    acr_image: str
    image_digest: str           # manifest digest of :latest (same in hub and acr)
    sim_image: str              # local image built from tests/sim (kept for docker run tests)
    base_image: str
    storage_path: Path
    fault_file: Path
    container_label: str        # label containers with this so `down` removes them
    ansible_config: Path
    sim_env: dict

    def ssh_argv(self, *command: str, key: Path | str | None = None, known_hosts: Path | str | None = None) -> list[str]:
        """ssh command line to run COMMAND on the stand-in (strict host key checking).

        Like ssh itself, the words of COMMAND are joined by spaces and run by the remote shell."""
        return [
            "ssh", "-F", "/dev/null",
            "-i", str(key or self.ssh_key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
            "-p", str(self.ssh_port), f"{self.ssh_user}@{self.ssh_host}", *command,
        ]

    def ansible_env(self, base: dict | None = None) -> dict:
        """Environment for ansible / ansible-playbook against the stand-in inventory."""
        env = dict(os.environ if base is None else base)
        env.update({
            "ANSIBLE_CONFIG": str(self.ansible_config),
            "ANSIBLE_INVENTORY": str(self.inventory),
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        })
        venv_bin = Path(sys.executable).parent
        if (venv_bin / "ansible-playbook").exists():
            env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def image(self, tag: str = "latest", registry: str = "hub") -> str:
        return f"{self.hub if registry == 'hub' else self.acr}/{IMAGE_REPO}:{tag}"


@dataclasses.dataclass(frozen=True)
class PublishedImage:
    tag: str
    hub_image: str
    acr_image: str
    digest: str
    compressed_bytes: int       # sum of layer + config blob sizes (what a cold pull downloads)
    layers: int
    repository: str = IMAGE_REPO


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def say(msg: str) -> None:
    print(f"[local-vm] {msg}", flush=True)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(name, path=path)


def _run(argv, *, timeout: float = 600, check: bool = True, env: dict | None = None, log: Path | None = None,
         input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command; on failure raise StandInError with its output (or log tail)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as fh:
            fh.write(f"\n$ {' '.join(map(str, argv))}\n".encode())
            fh.flush()
            cp = subprocess.run(list(map(str, argv)), stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                                env=full_env, input=input.encode() if input is not None else None)
        cp.stdout = b""
    else:
        cp = subprocess.run(list(map(str, argv)), capture_output=True, timeout=timeout, env=full_env,
                            input=input.encode() if input is not None else None)
    if check and cp.returncode != 0:
        detail = _tail(log) if log is not None else (cp.stdout + cp.stderr).decode(errors="replace")[-3000:]
        raise StandInError(f"command failed (rc {cp.returncode}): {' '.join(map(str, argv))}\n{detail}")
    return cp


def _docker(*args, **kw) -> subprocess.CompletedProcess:
    # the "VM"'s engine is the local one, whatever DOCKER_HOST/DOCKER_CONTEXT say
    env = {"DOCKER_CONFIG": str(DOCKER_CONFIG), "DOCKER_BUILDKIT": "0", "DOCKER_HOST": f"unix://{DOCKER_SOCK}"}
    env.update(kw.pop("env", {}) or {})
    return _run(["docker", *args], env=env, **kw)


def _write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == content:
            os.chmod(path, mode)
            return False
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def _load_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _save_state(state: dict) -> None:
    _write_if_changed(STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _locked():
    """Serialise up/down between processes (pytest sessions, make, a colleague's shell)."""
    STATE.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_S
    announced = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StandInError(f"another local_vm.py holds {LOCK_FILE} for more than {LOCK_WAIT_S}s")
                if not announced:
                    say("waiting for another local_vm.py run to finish ...")
                    announced = True
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---- processes -------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    # state is the first field after the ")" that closes the command name
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _our_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in PIDFILE if that process is alive and its cmdline contains MARKER.

    A pidfile that fails the check is stale (reboot, crash, pid reuse) and is removed: the
    process it names is never signalled."""
    pid = _read_pid(pidfile)
    if pid and _pid_alive(pid) and marker in _cmdline(pid):
        return pid
    if pidfile.exists():
        pidfile.unlink(missing_ok=True)
    return None


def _stop_pid(pid: int, timeout: float = 10) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.1)


_DAEMONIZE = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "p = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,\n"
    "                     start_new_session=True, close_fds=True)\n"
    "open(sys.argv[2], 'w').write(f'{p.pid}\\n')\n"
)


def _spawn(argv: list[str], pidfile: Path, log: Path) -> int:
    """Start ARGV detached (double fork: no zombie, survives the caller); return its pid."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        fh.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
    subprocess.run([sys.executable, "-c", _DAEMONIZE, str(log), str(pidfile), *argv], check=True, timeout=30)
    pid = _read_pid(pidfile)
    if not pid:
        raise StandInError(f"could not start {argv[0]} (no pid written)")
    return pid


def _port_open(port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=timeout):
        return True
    return False


def _port_owner(port: int) -> tuple[int | None, str]:
    """(pid, cmdline) of whoever listens on 127.0.0.1:PORT (best effort)."""
    inodes = set()
    want = f"{socket.htonl(0x7F000001):08X}:{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in list(fh)[1:]:
                parts = line.split()
                local, st, inode = parts[1], parts[3], parts[9]
                if st == "0A" and (local == want or local.endswith(f":{port:04X}")):
                    inodes.add(inode)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return int(pid), _cmdline(int(pid))
    return None, ""


def _free_port(port: int, marker: str) -> None:
    """Make sure nothing listens on PORT. A listener whose cmdline carries MARKER is ours (its
    pidfile was lost or overwritten) and is stopped; anything else is an error."""
    if not _port_open(port):
        return
    pid, cmd = _port_owner(port)
    if pid and marker in cmd:
        say(f"  port {port}: stopping our own orphaned process {pid}")
        _stop_pid(pid)
        _wait(f"port {port} to close", lambda: not _port_open(port), 10)
        return
    who = f"pid {pid}: {cmd}" if pid else "an unknown process"
    raise StandInError(f"port {port} is taken by {who}; stop it (or run `local_vm.py down` where it came from)")


def _wait(what: str, predicate, timeout: float, interval: float = 0.2, log: Path | None = None, pid: int | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if pid is not None and not _pid_alive(pid):
            raise StandInError(f"{what}: process {pid} exited" + (f"; log {log}:\n{_tail(log)}" if log else ""))
        time.sleep(interval)
    raise StandInError(f"{what}: not ready after {timeout}s" + (f"; log {log}:\n{_tail(log)}" if log else ""))


# ---- HTTP (loopback only, never through an environment proxy) -----------------------------------
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
          auth: tuple[str, str] | None = None, timeout: float = 5):
    """(status, headers, body) or (None, {}, error text) when nothing answers."""
    assert url.startswith(f"http://{LOOPBACK}:"), url
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return None, {}, str(exc).encode()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._unix_path)
        self.sock = sock


def _engine(method: str, path: str, timeout: float = 10):
    """Docker Engine API call over the unix socket: (status, parsed JSON or bytes)."""
    conn = _UnixHTTPConnection(DOCKER_SOCK, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        data = resp.read()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data
    finally:
        conn.close()


def _engine_ok() -> bool:
    try:
        status, data = _engine("GET", "/_ping", timeout=3)
        return status == 200
    except OSError:
        return False


def _image_id(name: str) -> str | None:
    try:
        status, data = _engine("GET", f"/images/{name}/json")
    except OSError:
        return None
    return data.get("Id") if status == 200 and isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# 1. packages and dockerd
# ---------------------------------------------------------------------------------------------
def ensure_packages() -> None:
    missing = sorted({pkg for binary, pkg in REQUIRED_BINARIES.items() if not _which(binary)})
    if not missing:
        say("packages ... ok (all present)")
        return
    if os.geteuid() != 0:
        raise StandInError(f"missing packages {missing} and not root: install them first")
    say(f"packages: installing {' '.join(missing)} ...")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    # Keep the packages' maintainer scripts from starting system services (a system sshd on
    # 0.0.0.0:22, a docker service): the stand-in starts its own daemons.
    policy = Path("/usr/sbin/policy-rc.d")
    created_policy = False
    if not policy.exists():
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        created_policy = True
    try:
        log = LOG_DIR / "apt.log"
        _run(["apt-get", "update"], env=env, timeout=600, log=log)
        _run(["apt-get", "install", "-y", *missing], env=env, timeout=1200, log=log)
    finally:
        if created_policy:
            policy.unlink(missing_ok=True)
    still = sorted({b for b in REQUIRED_BINARIES if not _which(b)})
    if still:
        raise StandInError(f"still missing after apt-get install: {still}")
    say(f"packages: installed {' '.join(missing)} ... ok")


def ensure_dockerd(state: dict) -> None:
    dockerd_bin = _which("dockerd") or "dockerd"
    ours = _our_pid(DOCKERD_PID, "dockerd")
    if _engine_ok():
        if ours:
            state["dockerd_started_by_standin"] = True
            say(f"dockerd ... ok (running, started by local-vm, pid {ours})")
        else:
            state["dockerd_started_by_standin"] = False
            say("dockerd ... ok (already running, not managed by local-vm)")
        return
    if ours:  # our dockerd is alive but does not answer: give it a moment, then restart it
        try:
            _wait("dockerd", _engine_ok, 15, pid=ours)
            state["dockerd_started_by_standin"] = True
            say(f"dockerd ... ok (pid {ours})")
            return
        except StandInError:
            say("dockerd (ours) does not answer: restarting it")
            _stop_pid(ours, timeout=30)
    sys_pid = _read_pid(Path("/var/run/docker.pid"))
    if sys_pid and _pid_alive(sys_pid) and "dockerd" in _cmdline(sys_pid):
        # someone else's dockerd is alive but not answering yet (still starting): wait for it
        say(f"dockerd: pid {sys_pid} (not ours) is running but does not answer yet; waiting ...")
        try:
            _wait("dockerd (not started by local-vm)", _engine_ok, ENGINE_WAIT_S, interval=0.5, pid=sys_pid)
            state["dockerd_started_by_standin"] = False
            say("dockerd ... ok (already running, not managed by local-vm)")
            return
        except StandInError:
            if _pid_alive(sys_pid):
                raise
            say(f"dockerd: pid {sys_pid} exited (it was shutting down): starting our own")
    # A stale /var/run/docker.pid (reboot) makes dockerd refuse to start.
    if sys_pid:
        Path("/var/run/docker.pid").unlink(missing_ok=True)
    log = LOG_DIR / "dockerd.log"
    pid = _spawn([dockerd_bin], DOCKERD_PID, log)
    state["dockerd_started_by_standin"] = True
    _save_state(state)
    _wait("dockerd", _engine_ok, ENGINE_WAIT_S, interval=0.5, log=log, pid=pid)
    say(f"dockerd ... ok (started, pid {pid}, log {log})")


# ---------------------------------------------------------------------------------------------
# 2. sshd
# ---------------------------------------------------------------------------------------------
def _keygen(path: Path, comment: str) -> None:
    if path.exists() and not path.with_name(path.name + ".pub").exists():
        pub = _run(["ssh-keygen", "-y", "-f", path]).stdout.decode()
        path.with_name(path.name + ".pub").write_text(pub)
    if not path.exists():
        path.with_name(path.name + ".pub").unlink(missing_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
    os.chmod(path, 0o600)


def _ssh_ok(timeout: float = 15) -> bool:
    argv = ["ssh", "-F", "/dev/null", "-i", str(CLIENT_KEY), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-o", "ControlMaster=no",
            "-o", "ControlPath=none", "-p", str(SSH_PORT), f"root@{LOOPBACK}", "true"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure_users() -> None:
    """The login users of the stand-in VM: azureuser with passwordless sudo, and one without."""
    made = []
    for user in (LOGIN_USER, NOSUDO_USER):
        if subprocess.run(["id", "-u", user], capture_output=True, timeout=10).returncode != 0:
            # Password '*': no password login, but not a locked account (sshd refuses those).
            _run(["useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", user], timeout=60)
            made.append(user)
    rule = f"# generated by tests/standin/local_vm.py: the stand-in VM's login user, as on Azure\n" \
           f"{LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n"
    if not SUDOERS.exists() or SUDOERS.read_text() != rule:
        tmp = SUDOERS.with_name(".openadapt-waa-standin.tmp")
        tmp.write_text(rule)
        tmp.chmod(0o440)
        _run(["visudo", "-cf", str(tmp)], timeout=30)
        tmp.replace(SUDOERS)
        made.append("sudoers")
    say(f"login users {LOGIN_USER} (sudo), {NOSUDO_USER} ... ok" + (f" (made {', '.join(made)})" if made else ""))


def ensure_sshd() -> None:
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    _keygen(HOST_KEY, "waa-standin-host")
    _keygen(CLIENT_KEY, "waa-standin-client")
    host_pub = HOST_KEY.with_name(HOST_KEY.name + ".pub").read_text().split()
    _write_if_changed(KNOWN_HOSTS, f"[{LOOPBACK}]:{SSH_PORT} {host_pub[0]} {host_pub[1]}\n")
    # sshd reads the key file as the user logging in (azureuser too): readable, never writable.
    _write_if_changed(AUTHORIZED_KEYS, CLIENT_KEY.with_name(CLIENT_KEY.name + ".pub").read_text(), 0o644)
    AUTHORIZED_KEYS.chmod(0o644)
    sftp = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server") if Path(p).exists()),
                "internal-sftp")
    config = "\n".join([
        "# generated by tests/standin/local_vm.py: the stand-in VM's sshd (not the system's)",
        f"Port {SSH_PORT}",
        f"ListenAddress {LOOPBACK}",
        f"HostKey {HOST_KEY}",
        f"PidFile {SSHD_PID}",
        f"AuthorizedKeysFile {AUTHORIZED_KEYS}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        "AcceptEnv LANG LC_*",
        f"Subsystem sftp {sftp}",
        "",
    ])
    changed = _write_if_changed(SSHD_CONFIG, config)
    log = LOG_DIR / "sshd.log"
    pid = _our_pid(SSHD_PID, str(SSHD_CONFIG))
    if pid and not changed and _ssh_ok():
        say(f"sshd on {LOOPBACK}:{SSH_PORT} ... ok (running, pid {pid})")
        return
    if pid:
        _stop_pid(pid)
    _free_port(SSH_PORT, str(SSHD_CONFIG))
    # Sessions of a listener that died (SIGKILL, a crash) live on under init and keep serving the
    # clients' ControlMaster connections: end them, so every session is the new listener's child.
    for orphan in _orphaned_sshd_sessions():
        _stop_pid(orphan, timeout=5)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    sshd = _which("sshd") or "/usr/sbin/sshd"
    _run([sshd, "-t", "-f", SSHD_CONFIG])
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    _run([sshd, "-f", SSHD_CONFIG, "-E", log], timeout=30)  # daemonises, writes PidFile
    pid = _wait("sshd pidfile", lambda: _read_pid(SSHD_PID), 10, log=log)
    _wait(f"sshd on {LOOPBACK}:{SSH_PORT}", _ssh_ok, 20, interval=0.3, log=log, pid=pid)
    say(f"sshd on {LOOPBACK}:{SSH_PORT} ... ok (started, pid {pid})")


def _orphaned_sshd_sessions() -> list[int]:
    """sshd per-connection processes ("sshd: USER [priv]") whose listener is gone (parent init)."""
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{p}/stat").read_text()
            cmd = _cmdline(int(p))
            if (int(stat.rsplit(")", 1)[1].split()[1]) == 1 and cmd.startswith("sshd: ") and "[listener]" not in cmd
                    and str(SSHD_CONFIG) not in cmd and "/usr/sbin/sshd" not in cmd):
                found.append(int(p))
    return found


def _stop_sshd() -> str:
    # close a ControlMaster the inventory's connections may have left behind
    with contextlib.suppress(Exception):
        subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={CONTROL_PATH}", "-O", "exit",
                        "-p", str(SSH_PORT), f"root@{LOOPBACK}"], capture_output=True, timeout=10)
    pid = _our_pid(SSHD_PID, str(SSHD_CONFIG))
    if not pid and _port_open(SSH_PORT):
        owner, cmd = _port_owner(SSH_PORT)
        if owner and str(SSHD_CONFIG) in cmd:
            pid = owner
    if not pid:
        return "not running"
    # per-connection children ("sshd: root@notty") outlive the listener: stop them too
    children = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{p}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and _cmdline(int(p)).startswith("sshd"):
                children.append(int(p))
    _stop_pid(pid)
    for child in children:
        _stop_pid(child, timeout=5)
    SSHD_PID.unlink(missing_ok=True)
    return f"stopped pid {pid}" + (f" and {len(children)} session(s)" if children else "")


# ---------------------------------------------------------------------------------------------
# 3. registries and the fault proxy
# ---------------------------------------------------------------------------------------------
def _acr_credentials() -> dict:
    try:
        creds = json.loads(ACR_CREDENTIALS.read_text())
        if creds.get("username") and creds.get("password"):
            if creds.get("registry") != f"{LOOPBACK}:{ACR_PORT}":
                creds["registry"] = f"{LOOPBACK}:{ACR_PORT}"
                _write_if_changed(ACR_CREDENTIALS, json.dumps(creds, indent=2) + "\n", 0o600)
            os.chmod(ACR_CREDENTIALS, 0o600)
            return creds
    except (OSError, ValueError):
        pass
    creds = {"username": ACR_USER, "password": secrets.token_urlsafe(24), "registry": f"{LOOPBACK}:{ACR_PORT}"}
    _write_if_changed(ACR_CREDENTIALS, json.dumps(creds, indent=2) + "\n", 0o600)
    return creds


def _registry_config(directory: Path, port: int, htpasswd: Path | None) -> str:
    secret_file = directory / "http-secret"
    if not secret_file.exists():
        _write_if_changed(secret_file, secrets.token_hex(16) + "\n", 0o600)
    lines = [
        "# generated by tests/standin/local_vm.py",
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {directory / 'data'}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        f"  addr: {LOOPBACK}:{port}",
        f"  secret: {secret_file.read_text().strip()}",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
    ]
    if htpasswd:
        lines += ["auth:", "  htpasswd:", "    realm: waa-standin-acr", f"    path: {htpasswd}"]
    return "\n".join(lines) + "\n"


def _ensure_registry(name: str, directory: Path, port: int, htpasswd: Path | None, expect_status: int,
                     force_restart: bool = False) -> None:
    (directory / "data").mkdir(parents=True, exist_ok=True)
    config = directory / "config.yml"
    changed = _write_if_changed(config, _registry_config(directory, port, htpasswd))
    pidfile = RUN_DIR / f"registry-{name}.pid"
    log = LOG_DIR / f"registry-{name}.log"
    url = f"http://{LOOPBACK}:{port}/v2/"
    pid = _our_pid(pidfile, str(config))
    if pid and not changed and not force_restart and _http("GET", url)[0] == expect_status:
        say(f"registry {name} on {LOOPBACK}:{port} ... ok (running, pid {pid})")
        return
    if pid:
        _stop_pid(pid)
    _free_port(port, str(config))
    pid = _spawn([_which("docker-registry") or "docker-registry", "serve", str(config)], pidfile, log)
    _wait(f"registry {name}", lambda: _http("GET", url)[0] == expect_status, DAEMON_WAIT_S, log=log, pid=pid)
    say(f"registry {name} on {LOOPBACK}:{port} ... ok (started, pid {pid})")


def ensure_registries(creds: dict) -> None:
    HUB_DIR.mkdir(parents=True, exist_ok=True)
    ACR_DIR.mkdir(parents=True, exist_ok=True)
    _ensure_registry("hub", HUB_DIR, HUB_BACKEND_PORT, None, 200)
    htpasswd = ACR_DIR / "htpasswd"
    fresh = False
    if not htpasswd.exists() or subprocess.run(
            ["htpasswd", "-vb", str(htpasswd), creds["username"], creds["password"]],
            capture_output=True, timeout=30).returncode != 0:
        out = _run(["htpasswd", "-Bbn", creds["username"], creds["password"]]).stdout.decode()
        _write_if_changed(htpasswd, out.strip() + "\n", 0o600)
        fresh = True
    _ensure_registry("acr", ACR_DIR, ACR_PORT, htpasswd, 401, force_restart=fresh)
    # the credentials really work
    status = _http("GET", f"http://{LOOPBACK}:{ACR_PORT}/v2/", auth=(creds["username"], creds["password"]))[0]
    if status != 200:
        raise StandInError(f"acr registry refuses the generated credentials (HTTP {status})")


def _source_hash(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def ensure_proxy(state: dict) -> None:
    log = LOG_DIR / "fault-proxy.log"
    marker = str(FAULT_PROXY)
    src = _source_hash(FAULT_PROXY)
    pid = _our_pid(PROXY_PID, marker)
    health = f"http://{LOOPBACK}:{HUB_PORT}/__health__"
    if pid and state.get("proxy_source") == src and _http("GET", health)[0] == 200:
        say(f"hub fault proxy on {LOOPBACK}:{HUB_PORT} -> {HUB_BACKEND_PORT} ... ok (running, pid {pid})")
    else:
        if pid:
            _stop_pid(pid)
        _free_port(HUB_PORT, marker)
        pid = _spawn([sys.executable, str(FAULT_PROXY), "--listen", f"{LOOPBACK}:{HUB_PORT}",
                      "--upstream", f"{LOOPBACK}:{HUB_BACKEND_PORT}", "--fault-file", str(FAULT_FILE)],
                     PROXY_PID, log)
        _wait("fault proxy", lambda: _http("GET", health)[0] == 200, DAEMON_WAIT_S, log=log, pid=pid)
        state["proxy_source"] = src
        say(f"hub fault proxy on {LOOPBACK}:{HUB_PORT} -> {HUB_BACKEND_PORT} ... ok (started, pid {pid})")
    # `up` leaves a healthy hub: no fault left over from an interrupted test
    set_hub_fault("none", release=True)
    status, _, body = _http("GET", f"http://{LOOPBACK}:{HUB_PORT}/v2/")
    if status != 200:
        raise StandInError(f"hub through the proxy: GET /v2/ gave {status}: {body[:200]!r}")


# ---------------------------------------------------------------------------------------------
# 4. images
# ---------------------------------------------------------------------------------------------
def _dockerignored(directory: Path):
    """A predicate for paths the build context leaves out (simple .dockerignore patterns; a
    file with `!` exceptions is not interpreted: everything is hashed then, to be safe)."""
    try:
        patterns = [l.strip().rstrip("/") for l in (directory / ".dockerignore").read_text().splitlines()
                    if l.strip() and not l.lstrip().startswith("#")]
    except OSError:
        patterns = []
    if any(p.startswith("!") for p in patterns):
        patterns = []
    patterns = [p.lstrip("/") for p in patterns]

    def ignored(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        # like Docker: a pattern matches the path from the context root, or a parent directory
        return any(fnmatch.fnmatchcase(pre, pat) for pat in patterns for pre in prefixes)

    return ignored


def _dir_hash(directory: Path) -> str:
    """Hash of the build context (names, exec bits, contents), without .dockerignore'd files."""
    h = hashlib.sha256()
    ignored = _dockerignored(directory)
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if "__pycache__" in path.parts or rel.endswith((".pyc", ".pyo")) or path.is_dir() or ignored(rel):
            continue
        h.update(rel.encode() + b"\0")
        h.update(oct(path.stat().st_mode & 0o111).encode() + b"\0")
        h.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
        h.update(b"\0")
    return h.hexdigest()


def ensure_base_image() -> str:
    image_id = _image_id(BASE_IMAGE)
    if image_id:
        say(f"base image {BASE_IMAGE} ... ok (present)")
        return image_id
    say(f"base image {BASE_IMAGE}: building with debootstrap (~1 min) ...")
    _run(["bash", str(BASE_IMAGE_SH), BASE_IMAGE], timeout=1800, log=LOG_DIR / "base-image.log")
    image_id = _image_id(BASE_IMAGE)
    if not image_id:
        raise StandInError(f"{BASE_IMAGE_SH} finished but {BASE_IMAGE} is missing")
    say(f"base image {BASE_IMAGE} ... ok (built)")
    return image_id


def _acr_login(creds: dict) -> None:
    DOCKER_CONFIG.mkdir(parents=True, exist_ok=True)
    cfg = DOCKER_CONFIG / "config.json"
    want = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(cfg.read_text()).get("auths", {}).get(f"{LOOPBACK}:{ACR_PORT}", {}).get("auth") == want:
            return
    _docker("login", "--username", creds["username"], "--password-stdin", f"{LOOPBACK}:{ACR_PORT}",
            input=creds["password"], timeout=60)


_MANIFEST_ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
])


def _manifest(port: int, tag: str, creds: dict | None = None, method: str = "HEAD", repo: str = IMAGE_REPO):
    """(digest, manifest JSON or None) of REPO:TAG on the registry at PORT, or (None, None)."""
    status, headers, body = _http(method, f"http://{LOOPBACK}:{port}/v2/{repo}/manifests/{tag}",
                                  headers={"Accept": _MANIFEST_ACCEPT},
                                  auth=(creds["username"], creds["password"]) if creds else None)
    if status != 200:
        return None, None
    digest = {k.lower(): v for k, v in headers.items()}.get("docker-content-digest")
    doc = json.loads(body) if method == "GET" and body else None
    return digest, doc


def _published(tag: str, rec: dict | None, creds: dict) -> bool:
    if not rec:
        return False
    return (_manifest(HUB_BACKEND_PORT, tag)[0] == rec.get("digest")
            and _manifest(ACR_PORT, tag, creds)[0] == rec.get("digest"))


def _config_lines(image: str) -> list[str]:
    """Dockerfile lines that give an image built FROM scratch the configuration of IMAGE."""
    cfg = json.loads(_docker("inspect", "-f", "{{json .Config}}", image, timeout=60).stdout)
    lines = [f"ENV {json.dumps(k)}={json.dumps(v)}" for k, _, v in (e.partition("=") for e in cfg.get("Env") or [])]
    if cfg.get("ExposedPorts"):
        lines.append("EXPOSE " + " ".join(sorted(cfg["ExposedPorts"])))
    if cfg.get("WorkingDir"):
        lines.append(f"WORKDIR {cfg['WorkingDir']}")
    if cfg.get("Entrypoint"):
        lines.append(f"ENTRYPOINT {json.dumps(cfg['Entrypoint'])}")
    if cfg.get("Cmd"):
        lines.append(f"CMD {json.dumps(cfg['Cmd'])}")
    return lines


def _push_both(ctx: Path, dockerfile: str, tag: str, creds: dict, log: Path,
               repo: str = IMAGE_REPO) -> tuple[str, str, str]:
    """Build CTX's DOCKERFILE as REPO:TAG, push it to hub and acr and drop the local copy, so
    that a pull really downloads it. Returns (hub ref, acr ref, digest)."""
    hub_ref = f"{LOOPBACK}:{HUB_BACKEND_PORT}/{repo}:{tag}"
    acr_ref = f"{LOOPBACK}:{ACR_PORT}/{repo}:{tag}"
    ctx.mkdir(parents=True, exist_ok=True)
    _write_if_changed(ctx / "Dockerfile", dockerfile)
    _docker("build", "-t", hub_ref, "-t", acr_ref, str(ctx), timeout=1800, log=log)
    _acr_login(creds)
    _docker("push", hub_ref, timeout=1800, log=log)
    _docker("push", acr_ref, timeout=1800, log=log)
    hub_digest = _manifest(HUB_BACKEND_PORT, tag, repo=repo)[0]
    acr_digest = _manifest(ACR_PORT, tag, creds, repo=repo)[0]
    if not hub_digest or hub_digest != acr_digest:
        raise StandInError(f"pushed {repo}:{tag} but digests differ or are missing: hub {hub_digest}, acr {acr_digest}")
    rm = _docker("rmi", hub_ref, acr_ref, check=False, timeout=120)
    if rm.returncode != 0:
        say(f"  note: could not remove {hub_ref}: {rm.stderr.decode(errors='replace').strip()[:300]}")
    return hub_ref, acr_ref, hub_digest


def _published_image(tag: str, rec: dict, repo: str = IMAGE_REPO) -> PublishedImage:
    return PublishedImage(tag=tag, hub_image=f"{LOOPBACK}:{HUB_PORT}/{repo}:{tag}",
                          acr_image=f"{LOOPBACK}:{ACR_PORT}/{repo}:{tag}", digest=rec["digest"],
                          compressed_bytes=int(rec.get("compressed_bytes", 0)), layers=int(rec.get("layers", 0)),
                          repository=repo)


def _record(tag: str, digest: str, repo: str = IMAGE_REPO) -> dict:
    _, doc = _manifest(HUB_BACKEND_PORT, tag, method="GET", repo=repo)
    layers = doc.get("layers", []) if doc else []
    return {"digest": digest, "layers": len(layers),
            "compressed_bytes": sum(int(l.get("size", 0)) for l in layers) + int((doc or {}).get("config", {}).get("size", 0))}


def _publish(tag: str, pad_mb: int, creds: dict, state: dict, base_id: str) -> PublishedImage:
    """Build the simulator and publish it as IMAGE_REPO:TAG to hub and acr, if not cached.

    The registry image shares no layer with any local image: the simulator's files are copied
    into one layer of their own (FROM scratch), then PAD_MB of random data: after `up`, a pull
    downloads every layer, as a first pull on a new VM does."""
    if not (SIM_DIR / "Dockerfile").exists():
        raise StandInError(f"{SIM_DIR}/Dockerfile is missing: the simulator image cannot be built "
                           "(set WAA_STANDIN_SIM_DIR to another simulator directory to override)")
    key = hashlib.sha256(f"{PUBLISH_VERSION}\0{_dir_hash(SIM_DIR)}\0{base_id}\0{pad_mb}".encode()).hexdigest()[:20]
    images = state.setdefault("images", {})
    rec = images.get(tag)
    cached = rec and rec.get("key") == key and _published(tag, rec, creds)
    if cached and _image_id(SIM_IMAGE) != rec.get("sim_id"):
        cached = False  # waa-sim:latest was removed or rebuilt: keep local and registries in step
    if cached:
        say(f"image {IMAGE_REPO}:{tag} in hub and acr ... ok (cached, {rec['digest'][:19]})")
        return _refresh_stale_tags(_published_image(tag, rec), creds)
    t0 = time.monotonic()
    log = LOG_DIR / f"build-{tag}.log"
    say(f"image {IMAGE_REPO}:{tag}: building {SIM_DIR.relative_to(REPO) if SIM_DIR.is_relative_to(REPO) else SIM_DIR}"
        f" and pushing it with {pad_mb} MB of padding (log {log}) ...")
    _docker("build", "-t", SIM_IMAGE, "--build-arg", f"BASE={BASE_IMAGE}",
            "--label", f"{LABEL}.source={key}", str(SIM_DIR), timeout=1800, log=log)
    ctx = BUILD_DIR / tag
    ctx.mkdir(parents=True, exist_ok=True)
    _write_if_changed(ctx / "standin-image.json", json.dumps({"tag": tag, "key": key, "pad_mb": pad_mb}) + "\n")
    dockerfile = "\n".join([
        "FROM scratch", f"COPY --from={SIM_IMAGE} / /", *_config_lines(SIM_IMAGE),
        *([f"RUN head -c {pad_mb * 1048576} /dev/urandom > /opt/waa-standin-pad.bin"] if pad_mb else []),
        "COPY standin-image.json /etc/waa-standin-image.json",
        f'LABEL {LABEL}.tag="{tag}" {LABEL}.key="{key}"', ""])
    _hub, _acr, digest = _push_both(ctx, dockerfile, tag, creds, log)
    rec = dict(_record(tag, digest), key=key, pad_mb=pad_mb, sim_id=_image_id(SIM_IMAGE), published_at=time.time())
    images[tag] = rec
    _save_state(state)
    say(f"image {IMAGE_REPO}:{tag} in hub and acr ... ok (pushed {rec['compressed_bytes'] / 1e6:.1f} MB "
        f"in {time.monotonic() - t0:.0f}s, {digest[:19]})")
    return _refresh_stale_tags(_published_image(tag, rec), creds)


def _refresh_stale_tags(image: PublishedImage, creds: dict) -> PublishedImage:
    """A local tag of the published names that an earlier stand-in left (other registry data, other random
    padding) names another image than the registries serve now: the first test that pulls would move the
    tag under the containers other tests created from it. Pull such a tag again now; an absent one stays
    absent (the first setup downloads it, as on a new VM)."""
    for ref in (image.hub_image, image.acr_image):
        found = _docker("image", "inspect", "-f", "{{json .RepoDigests}}", ref, check=False, timeout=60)
        if found.returncode != 0:
            continue
        digests = json.loads(found.stdout or b"[]") or []
        if any(str(d).endswith("@" + image.digest) for d in digests):
            continue
        say(f"  local {ref} names an older image than the registries serve: pulling it again")
        if ref == image.acr_image:
            _acr_login(creds)
        _docker("pull", ref, timeout=1800)
    return image


def push_padded(pad_mb: float) -> PublishedImage:
    """Publish a fresh image to hub and acr: the simulator plus a layer of PAD_MB of random data
    that no engine or registry has seen, in a repository of its own (windowsarena/fresh-<random>,
    so that a hub fault can be scoped to it). A pull always downloads it, whatever an earlier test
    or run left. Remove it with unpublish()."""
    if float(pad_mb) <= 0:
        raise ValueError("pad_mb must be > 0")
    pad_bytes = int(float(pad_mb) * 1048576)
    token = secrets.token_hex(4)
    repo, tag = f"windowsarena/fresh-{token}", f"pad{pad_mb:g}".replace(".", "_")
    creds = _acr_credentials()
    if not _image_id(SIM_IMAGE):
        raise StandInError(f"{SIM_IMAGE} is missing: run `local_vm.py up` first")
    ctx = BUILD_DIR / "fresh" / token
    dockerfile = (f"FROM {SIM_IMAGE}\nRUN head -c {pad_bytes} /dev/urandom > /opt/waa-standin-pad-{token}.bin\n"
                  f'LABEL {LABEL}.tag="{token}"\n')
    try:
        _hub, _acr, digest = _push_both(ctx, dockerfile, tag, creds, LOG_DIR / "build-fresh.log", repo=repo)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return _published_image(tag, _record(tag, digest, repo), repo)


def unpublish(image: PublishedImage) -> None:
    """Remove a push_padded() image: its local tags and its manifests in hub and acr."""
    creds = _acr_credentials()
    _docker("rmi", "-f", image.hub_image, image.acr_image, check=False, timeout=120)
    for port, auth in ((HUB_BACKEND_PORT, None), (ACR_PORT, (creds["username"], creds["password"]))):
        _http("DELETE", f"http://{LOOPBACK}:{port}/v2/{image.repository}/manifests/{image.digest}", auth=auth)


# ---------------------------------------------------------------------------------------------
# 5. inventory
# ---------------------------------------------------------------------------------------------
def _q(value) -> str:
    return json.dumps(value)


def write_inventory() -> bool:
    common = " ".join([
        f"-o UserKnownHostsFile={KNOWN_HOSTS}",
        "-o StrictHostKeyChecking=accept-new",
        "-o IdentitiesOnly=yes",
        "-o ControlMaster=auto",
        "-o ControlPersist=60s",
        f"-o ControlPath={CONTROL_PATH}",
    ])
    env_lines = "".join(f"            {k}: {_q(v)}\n" for k, v in SIM_ENV.items())
    text = (
        "# generated by tests/standin/local_vm.py up: the stand-in Azure VM (this machine over ssh)\n"
        "all:\n"
        "  children:\n"
        f"    {GROUP}:\n"
        "      hosts:\n"
        f"        {HOST_NAME}:\n"
        f"          ansible_host: {LOOPBACK}\n"
        f"          ansible_port: {SSH_PORT}\n"
        f"          ansible_user: {LOGIN_USER}\n"
        "          ansible_connection: ssh\n"
        f"          ansible_ssh_private_key_file: {_q(str(CLIENT_KEY))}\n"
        f"          ansible_ssh_common_args: {_q(common)}\n"
        "          ansible_ssh_pipelining: true\n"
        "          ansible_python_interpreter: /usr/bin/python3\n"
        f"          waa_storage_path: {_q(str(STORAGE))}\n"
        f"          waa_state_dir: {_q(str(STATE / 'vm-state'))}\n"
        + "".join(f"          {key}: {json.dumps(value)}\n" for key, value in vm_vars().items() if key != "waa_container_env")
        + "          waa_container_env:\n"
        f"{env_lines}"
    )
    return _write_if_changed(INVENTORY, text)


def vm_vars() -> dict:
    """What every stand-in VM's inventory entry says beyond its connection, storage and state (the fleet's too)."""
    return {
        # Not an Azure VM, and nothing leaves loopback: Azure's metadata service is not asked.
        "waa_imds_url": "",
        "waa_image": f"{LOOPBACK}:{HUB_PORT}/{IMAGE_REPO}:latest",
        "waa_azure_cr": f"{LOOPBACK}:{ACR_PORT}",
        # The simulator, like the real image, ignores SIGTERM: keep its stop wait short here (2 s, not 120).
        "waa_stop_timeout": 2,
        "waa_container_env": dict(SIM_ENV),
    }


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def _standin(creds: dict, digest: str) -> StandIn:
    return StandIn(
        repo=REPO, state_dir=STATE, inventory=INVENTORY, host=HOST_NAME, group=GROUP,
        ssh_host=LOOPBACK, ssh_port=SSH_PORT, ssh_user=LOGIN_USER, ssh_key=CLIENT_KEY, known_hosts=KNOWN_HOSTS,
        ssh_control_path=CONTROL_PATH,
        hub=f"{LOOPBACK}:{HUB_PORT}", hub_url=f"http://{LOOPBACK}:{HUB_PORT}",
        hub_backend=f"{LOOPBACK}:{HUB_BACKEND_PORT}", acr=f"{LOOPBACK}:{ACR_PORT}",
        acr_username=creds["username"], acr_password=creds["password"], acr_credentials_file=ACR_CREDENTIALS,
        docker_config=DOCKER_CONFIG,
        hub_image=f"{LOOPBACK}:{HUB_PORT}/{IMAGE_REPO}:latest", acr_image=f"{LOOPBACK}:{ACR_PORT}/{IMAGE_REPO}:latest",
        image_digest=digest, sim_image=SIM_IMAGE, base_image=BASE_IMAGE, storage_path=STORAGE,
        fault_file=FAULT_FILE, container_label=LABEL, ansible_config=REPO / "ansible.cfg", sim_env=dict(SIM_ENV),
    )


def up(images: bool = True) -> StandIn:
    """Bring the stand-in VM up (idempotent, repairs stale state). Raises StandInError."""
    t0 = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    for d in (RUN_DIR, LOG_DIR, STORAGE, DOCKER_CONFIG):
        d.mkdir(parents=True, exist_ok=True)
    # The stand-in VM has had its golden disk prepared (as by `waa prepare-image`).
    make_golden(STORAGE)
    with _locked():
        state = _load_state()
        ensure_packages()
        ensure_users()
        ensure_dockerd(state)
        _save_state(state)
        ensure_sshd()
        creds = _acr_credentials()
        ensure_registries(creds)
        ensure_proxy(state)
        _save_state(state)
        import azurite  # the blob storage (a module of its own: it uses this one's helpers)

        azurite.ensure()
        changed = write_inventory()
        say(f"inventory {INVENTORY.relative_to(REPO) if INVENTORY.is_relative_to(REPO) else INVENTORY} ... ok"
            f"{' (written)' if changed else ''}")
        digest = ""
        if images:
            base_id = ensure_base_image()
            _acr_login(creds)
            digest = _publish("latest", LATEST_PAD_MB, creds, state, base_id).digest
        _save_state(state)
    say(f"up ... ok ({time.monotonic() - t0:.1f}s)")
    return _standin(creds, digest)


def down(keep_docker: bool = False) -> None:
    """Stop what `up` started (pidfile + cmdline checked) and remove containers labelled LABEL."""
    t0 = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    with _locked():
        state = _load_state()
        if _engine_ok():
            status, containers = _engine("GET", "/containers/json?all=1&filters="
                                         + urllib.request.quote(json.dumps({"label": [LABEL]})))
            ids = [c["Id"] for c in containers] if status == 200 else []
            for cid in ids:
                _engine("DELETE", f"/containers/{cid}?force=1&v=1", timeout=60)
            say(f"containers labelled {LABEL} ... removed {len(ids)}")
        import azurite
        import fleet_vms

        fleet_vms.down()  # the fleet's VMs need the stand-in: they go first
        say(f"azurite ... {azurite.stop()}")
        say(f"hub fault proxy ... {_stop(PROXY_PID, str(FAULT_PROXY), HUB_PORT)}")
        say(f"registry acr ... {_stop(RUN_DIR / 'registry-acr.pid', str(ACR_DIR / 'config.yml'), ACR_PORT)}")
        say(f"registry hub ... {_stop(RUN_DIR / 'registry-hub.pid', str(HUB_DIR / 'config.yml'), HUB_BACKEND_PORT)}")
        say(f"sshd ... {_stop_sshd()}")
        pid = _our_pid(DOCKERD_PID, "dockerd")
        if pid and state.get("dockerd_started_by_standin") and not keep_docker:
            _stop_pid(pid, timeout=60)
            state["dockerd_started_by_standin"] = False
            say(f"dockerd ... stopped pid {pid}")
        elif pid:
            say(f"dockerd ... left running (pid {pid}{', --keep-docker' if keep_docker else ''})")
        else:
            say("dockerd ... left alone (not started by local-vm)")
        _save_state(state)
    say(f"down ... ok ({time.monotonic() - t0:.1f}s)")


def _stop(pidfile: Path, marker: str, port: int) -> str:
    done = []
    pid = _our_pid(pidfile, marker)
    if pid:
        _stop_pid(pid)
        done.append(pid)
    pidfile.unlink(missing_ok=True)
    if _port_open(port):  # an orphan of ours whose pidfile was lost
        owner, cmd = _port_owner(port)
        if owner and marker in cmd:
            _stop_pid(owner)
            done.append(owner)
    return f"stopped pid {', '.join(map(str, done))}" if done else "not running"


def status() -> dict:
    """What runs, as a dict (the CLI prints it)."""
    state = _load_state()
    creds = None
    with contextlib.suppress(OSError, ValueError):
        creds = json.loads(ACR_CREDENTIALS.read_text())
    dockerd_pid = _our_pid(DOCKERD_PID, "dockerd")
    out = {
        "state_dir": str(STATE),
        "dockerd": {"answers": _engine_ok(), "pid": dockerd_pid,
                    "started_by_standin": bool(dockerd_pid and state.get("dockerd_started_by_standin"))},
        "sshd": {"pid": _our_pid(SSHD_PID, str(SSHD_CONFIG)), "port": SSH_PORT,
                 "ssh_ok": CLIENT_KEY.exists() and _port_open(SSH_PORT) and _ssh_ok(timeout=10)},
        "registry_hub": {"pid": _our_pid(RUN_DIR / "registry-hub.pid", str(HUB_DIR / "config.yml")),
                         "port": HUB_BACKEND_PORT,
                         "http": _http("GET", f"http://{LOOPBACK}:{HUB_BACKEND_PORT}/v2/")[0]},
        "fault_proxy": {"pid": _our_pid(PROXY_PID, str(FAULT_PROXY)), "port": HUB_PORT,
                        "http": _http("GET", f"http://{LOOPBACK}:{HUB_PORT}/v2/")[0]},
        "registry_acr": {"pid": _our_pid(RUN_DIR / "registry-acr.pid", str(ACR_DIR / "config.yml")),
                         "port": ACR_PORT, "http_anonymous": _http("GET", f"http://{LOOPBACK}:{ACR_PORT}/v2/")[0],
                         "http_login": _http("GET", f"http://{LOOPBACK}:{ACR_PORT}/v2/",
                                             auth=(creds["username"], creds["password"]))[0] if creds else None},
        "images": {tag: {"digest": rec.get("digest"),
                         "in_hub": _manifest(HUB_BACKEND_PORT, tag)[0] == rec.get("digest"),
                         "in_acr": bool(creds) and _manifest(ACR_PORT, tag, creds)[0] == rec.get("digest"),
                         "compressed_bytes": rec.get("compressed_bytes")}
                   for tag, rec in sorted(state.get("images", {}).items())},
        "inventory": str(INVENTORY) if INVENTORY.exists() else None,
    }
    if out["fault_proxy"]["pid"]:
        s, _, body = _http("GET", f"http://{LOOPBACK}:{HUB_PORT}/__fault__")
        out["fault_proxy"]["fault"] = json.loads(body) if s == 200 else None
    out["ready"] = bool(out["dockerd"]["answers"] and out["sshd"]["ssh_ok"] and out["registry_hub"]["http"] == 200
                        and out["fault_proxy"]["http"] == 200 and out["registry_acr"]["http_login"] == 200)
    return out


def set_hub_fault(mode: str, stall_after_bytes: int | None = None, stall_seconds: float | None = None,
                  rate_bps: int | None = None, targets: str | None = None, release: bool = False,
                  repository: str | None = None) -> dict:
    """Switch the hub proxy's fault. Writes .standin/hub-fault.json (via the proxy when it runs).

    repository: only that repository's requests get the fault (a push_padded() image's).
    release=True also ends currently stalled responses (their connections are closed)."""
    doc = {"mode": str(mode)}
    for k, v in (("stall_after_bytes", stall_after_bytes), ("stall_seconds", stall_seconds), ("rate_bps", rate_bps),
                 ("targets", targets), ("repository", repository)):
        if v is not None:
            doc[k] = v
    if doc["mode"] not in ("none", "429", "stall"):
        raise ValueError(f"unknown fault mode {mode!r}")
    status, _, body = _http("POST", f"http://{LOOPBACK}:{HUB_PORT}/__fault__", json.dumps(doc).encode(),
                            {"Content-Type": "application/json"})
    if status == 200:
        result = json.loads(body)
    elif status is None:  # proxy not running: the file is what it will read
        _write_if_changed(FAULT_FILE, json.dumps(doc) + "\n")
        result = doc
    else:
        raise StandInError(f"fault proxy refused {doc}: HTTP {status} {body[:300]!r}")
    if release:
        release_stalls()
    return result


def release_stalls() -> int:
    """Close every response the hub proxy currently holds in a stall. Returns how many."""
    status, _, body = _http("POST", f"http://{LOOPBACK}:{HUB_PORT}/__release__", b"{}")
    return json.loads(body).get("released", 0) if status == 200 else 0


def hub_stats(reset: bool = False) -> dict:
    """The hub proxy's counters ({"fault", "active_stalls", "modes": {mode: {...}}, "recent": [...]})."""
    status, _, body = _http("GET", f"http://{LOOPBACK}:{HUB_PORT}/__stats__")
    if status != 200:
        raise StandInError(f"fault proxy stats: HTTP {status}")
    if reset:
        _http("POST", f"http://{LOOPBACK}:{HUB_PORT}/__stats__/reset", b"{}")
    return json.loads(body)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="local_vm.py", description="The stand-in Azure VM (see module doc).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="bring the stand-in up (idempotent)")
    p_up.add_argument("--no-images", action="store_true", help="skip building/pushing the simulator image")
    p_down = sub.add_parser("down", help="stop what up started")
    p_down.add_argument("--keep-docker", action="store_true", help="leave a dockerd started by up running")
    p_status = sub.add_parser("status", help="show what runs")
    p_status.add_argument("--json", action="store_true")
    p_fault = sub.add_parser("fault", help="set the hub proxy fault")
    p_fault.add_argument("mode", choices=["none", "429", "stall"])
    p_fault.add_argument("--stall-after-bytes", type=int)
    p_fault.add_argument("--stall-seconds", type=float)
    p_fault.add_argument("--rate-bps", type=int)
    p_fault.add_argument("--targets", choices=["all", "manifests", "blobs"])
    p_fault.add_argument("--release", action="store_true", help="also end responses stalled right now")
    p_fault.add_argument("--repository", help="only this repository's requests get the fault")
    p_fleet = sub.add_parser("fleet", help="the stand-in's fleet: N more VMs in network namespaces (fleet_vms.py)")
    p_fleet.add_argument("action", choices=["up", "down"])
    p_fleet.add_argument("--count", type=int, default=4, help="how many VMs (default 4)")
    p_pad = sub.add_parser("push-padded", help="publish a fresh windowsarena/fresh-<random>:pad<MB>")
    p_pad.add_argument("pad_mb", type=float)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "up":
            up(images=not args.no_images)
        elif args.cmd == "down":
            down(keep_docker=args.keep_docker)
        elif args.cmd == "status":
            st = status()
            if args.json:
                print(json.dumps(st, indent=2))
            else:
                for name in ("dockerd", "sshd", "registry_hub", "fault_proxy", "registry_acr"):
                    print(f"{name:13} {json.dumps(st[name])}")
                for tag, rec in st["images"].items():
                    print(f"image {tag:7} {json.dumps(rec)}")
                print(f"inventory     {st['inventory']}")
                print(f"ready         {st['ready']}")
            return 0 if st["ready"] else 1
        elif args.cmd == "fault":
            print(json.dumps(set_hub_fault(args.mode, args.stall_after_bytes, args.stall_seconds, args.rate_bps,
                                           targets=args.targets, release=args.release,
                                           repository=args.repository)))
        elif args.cmd == "fleet":
            import fleet_vms

            fleet_vms.up(args.count) if args.action == "up" else fleet_vms.down()
        elif args.cmd == "push-padded":
            print(json.dumps(dataclasses.asdict(push_padded(args.pad_mb))))
    except StandInError as exc:
        say(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
