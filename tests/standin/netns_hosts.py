"""Test hosts of our own: an sshd on 127.0.0.1 or in a network namespace (the stand-in's fleet, and bench/).

A namespace host is this machine seen through its own network stack: `ip netns add <prefix>-hN`, a
veth pair with the /30 <subnet>.(4N)/30 (host side .4N+1, namespace side .4N+2) and an sshd
listening on the namespace side. Files, processes and the Docker socket are shared with the
machine, so each host gets its own state/storage directories; a container's ports are
published on the host side of its veth (waa_publish_address), which the "VM" reaches through
the pair. Nothing else is contacted. sshd runs with LogLevel VERBOSE so that its log has one
"Starting session:" line per SSH session (exec, sftp...). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server") if Path(p).exists()),
            "internal-sftp")


def _run(*argv, check=True, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=check)


def client_key(work: Path) -> Path:
    d = work / "ssh"
    d.mkdir(parents=True, exist_ok=True)
    key = d / "id_ed25519"
    if not key.exists():
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "waa-test-hosts-client", "-f", key)
    (d / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    return key


class SshHost:
    """An sshd of ours. `netns=None`: on 127.0.0.1."""

    def __init__(self, name: str, address: str, port: int, netns: str | None = None, *, work: Path):
        self.name = name
        self.address = address
        self.port = port
        self.netns = netns
        self.work = work
        self.dir = work / "hosts" / name
        self.pidfile = self.dir / "sshd.pid"
        self.config = self.dir / "sshd_config"
        self.logfile = self.dir / "sshd.log"
        self.known_hosts = self.dir / "known_hosts"
        self.key = client_key(work)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "SshHost":
        self.dir.mkdir(parents=True, exist_ok=True)
        hostkey = self.dir / "host_key"
        if not hostkey.exists():
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"waa-test-{self.name}", "-f", hostkey)
        pub = hostkey.with_suffix(".pub").read_text().split()
        hostspec = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        self.known_hosts.write_text(f"{hostspec} {pub[0]} {pub[1]}\n")
        self.config.write_text("\n".join([
            "# a test host of openadapt.waa (tests/standin/netns_hosts.py)",
            f"Port {self.port}", f"ListenAddress {self.address}", f"HostKey {hostkey}", f"PidFile {self.pidfile}",
            f"AuthorizedKeysFile {self.key.parent / 'authorized_keys'}", "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "UseDNS no", "PrintMotd no", "MaxSessions 200", "MaxStartups 200:30:400",
            "LogLevel VERBOSE", f"Subsystem sftp {SFTP}", ""]))
        self.stop()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.logfile.write_text("")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        _run(*prefix, SSHD, "-f", self.config, "-E", self.logfile)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ssh("true", timeout=10).returncode == 0:
                return self
            time.sleep(0.3)
        raise RuntimeError(f"sshd {self.name} on {self.address}:{self.port} does not answer; log:\n"
                           + self.logfile.read_text()[-2000:])

    def _pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().split()[0])
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(self.config) in cmd:
                return pid
        return None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={self.control_path}", "-O", "exit",
                            "-p", str(self.port), f"root@{self.address}"], capture_output=True, timeout=10)
        pid = self._pid()
        if not pid:
            return
        children = []
        for p in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{p}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(p))
        for target in [pid] + children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)

    def tree_cpu(self) -> float | None:
        """CPU seconds used so far by this sshd and everything under it (sessions, module runs).

        Sum over the live tree of utime+stime+cutime+cstime: a process that ended and was waited
        for has moved its time into its parent's cutime/cstime, so nothing is counted twice."""
        root = self._pid()
        if not root:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        stats = {}
        for p in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                stats[int(p)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                total += stats[pid][1]
            todo.extend(children.get(pid, []))
        return total / tick

    # -- use ------------------------------------------------------------------------------------
    @property
    def control_path(self) -> str:
        (self.work / "cp").mkdir(parents=True, exist_ok=True)
        return str(self.work / "cp" / "%C")

    def ssh_options(self) -> list[str]:
        return ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "IdentitiesOnly=yes", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
                "-o", f"ControlPath={self.control_path}"]

    def ssh(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "ControlMaster=no", "-o", "ControlPath=none", "-p", str(self.port), f"root@{self.address}",
                *command]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 255, "", "timeout")

    def ansible_vars(self) -> dict:
        """Connection variables, the same shape as the stand-in's inventory entry."""
        return {
            "ansible_host": self.address, "ansible_port": self.port, "ansible_user": "root",
            "ansible_connection": "ssh", "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": " ".join(self.ssh_options()), "ansible_ssh_pipelining": True,
            "ansible_python_interpreter": "/usr/bin/python3",
        }


class NetnsHost(SshHost):
    """Host N: namespace <prefix>-hN, veth <prefix>hN (host side) <-> <prefix>nN (namespace side), the /30
    <subnet>.(4N)/30."""

    def __init__(self, index: int, *, work: Path, prefix: str, subnet: str):
        if not 0 <= index < 60:
            raise ValueError("index 0..59")
        self.index = index
        self.ns = f"{prefix}-h{index}"
        self.veth_host = f"{prefix}h{index}"
        self.veth_ns = f"{prefix}n{index}"
        self.host_side = f"{subnet}.{4 * index + 1}"
        super().__init__(f"netns-{index}", f"{subnet}.{4 * index + 2}", 22, netns=self.ns, work=work)

    def start(self) -> "NetnsHost":
        self.teardown_network()
        _run("ip", "netns", "add", self.ns)
        _run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        _run("ip", "link", "set", self.veth_ns, "netns", self.ns)
        _run("ip", "addr", "add", f"{self.host_side}/30", "dev", self.veth_host)
        _run("ip", "link", "set", self.veth_host, "up")
        _run("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.address}/30", "dev", self.veth_ns)
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", self.veth_ns, "up")
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
        super().start()
        return self

    def teardown_network(self) -> None:
        _run("ip", "link", "del", self.veth_host, check=False)
        if self.ns in _run("ip", "netns", "list", check=False).stdout.split():
            _run("ip", "netns", "del", self.ns, check=False)

    def stop(self) -> None:
        super().stop()

    def teardown(self) -> None:
        self.stop()
        self.teardown_network()


def teardown_all_netns(*, work: Path, prefix: str, subnet: str) -> None:
    """Remove every <prefix>-h* namespace and <prefix>h* link (ours only), killing our sshds in them. Without
    iproute2 there are none."""
    try:
        listing = _run("ip", "netns", "list", check=False).stdout
    except FileNotFoundError:
        return
    for line in listing.splitlines():
        name = line.split()[0] if line.strip() else ""
        m = re.fullmatch(re.escape(prefix) + r"-h(\d+)", name)
        if m:
            NetnsHost(int(m.group(1)), work=work, prefix=prefix, subnet=subnet).teardown()
