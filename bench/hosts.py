"""Test hosts of bench/: the stand-in's netns hosts (tests/standin/netns_hosts.py) under bench's work directory,
and what bench measures of them (an sshd log's sessions).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path

import netns_hosts
from common import WORK, log

PREFIX = "wb7"
SUBNET = "10.213.7"


class SshHost(netns_hosts.SshHost):
    def __init__(self, name: str, address: str, port: int, netns: str | None = None):
        super().__init__(name, address, port, netns, work=WORK)


class NetnsHost(netns_hosts.NetnsHost):
    def __init__(self, index: int):
        super().__init__(index, work=WORK, prefix=PREFIX, subnet=SUBNET)


def teardown_all_netns() -> None:
    netns_hosts.teardown_all_netns(work=WORK, prefix=PREFIX, subnet=SUBNET)


class SessionLog(threading.Thread):
    """Follow an sshd log (VERBOSE) and timestamp each session and connection as it appears."""

    SESSION = re.compile(r"Starting session: (\S+)")
    CONNECTION = re.compile(r"Accepted publickey for")

    def __init__(self, path: Path, interval: float = 0.05):
        super().__init__(daemon=True)
        self.path = Path(path)
        self.interval = interval
        self.sessions: list[tuple[float, str]] = []  # (epoch, kind: command/subsystem)
        self.connections: list[float] = []
        self._halt = threading.Event()
        self._offset = self.path.stat().st_size if self.path.exists() else 0
        self._partial = ""

    def run(self) -> None:
        while not self._halt.is_set():
            self._read()
            self._halt.wait(self.interval)
        self._read()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
                self._offset = fh.tell()
            now = time.time()
            lines = (self._partial + chunk).split("\n")
            self._partial = lines.pop()
            for line in lines:
                m = self.SESSION.search(line)
                if m:
                    self.sessions.append((now, m.group(1)))
                elif self.CONNECTION.search(line):
                    self.connections.append(now)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def count(self, start: float, end: float) -> tuple[int, int]:
        """(sessions, connections) seen in [start, end] (epoch)."""
        return (sum(1 for t, _ in self.sessions if start <= t <= end),
                sum(1 for t in self.connections if start <= t <= end))


@contextlib.contextmanager
def quiet_log(msg: str):
    t0 = time.monotonic()
    yield
    log(f"{msg} ({time.monotonic() - t0:.1f}s)")
