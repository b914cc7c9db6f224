"""Which runs of this controller are alive: the VM lease's liveness, seen from the controller.

A run that is killed (SIGKILL, a closed laptop, an OOM kill) cannot give its VM lease back. The
VM cannot tell whether the controller process behind a lease still exists; the controller can.
Each run records itself here (pid and the process's start time, so a reused pid is not taken for
the same process); the next run passes the ids of the recorded runs whose process is gone, and
the VM's lock takes their leases over at once instead of waiting for them to expire.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path

# Records of ended runs are kept this long (longer than any lease lasts: a benchmark's default
# timeout is a day), so that a lease a run could not give back (the VM was unreachable at its end)
# is still known to be dead; then they are pruned.
KEEP_DEAD_SECONDS = 2 * 86400


def state_home() -> Path:
    """The controller's state directory (``$WAA_STATE_HOME`` or ``~/.local/state/openadapt-waa``)."""
    return Path(os.environ.get("WAA_STATE_HOME") or os.path.expanduser("~/.local/state/openadapt-waa"))


def _owners_dir() -> Path:
    path = state_home() / "owners"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _start_ticks(pid: int) -> str | None:
    """The running process's start time in clock ticks since boot (field 22 of /proc/PID/stat);
    None when there is no such process or it is a zombie (killed, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else None


def new_run_id(run_dir: Path) -> str:
    """A run id unique across controllers and reruns into the same run directory."""
    return f"{run_dir.name}-{secrets.token_hex(4)}"


def register(run_id: str) -> dict:
    """Record this process as the owner of ``run_id``; returns what the lease records of it."""
    me = {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(),
          "start": _start_ticks(os.getpid()), "since": time.time()}
    path = _owners_dir() / f"{run_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(me, handle)
    return {"host": me["host"], "pid": me["pid"]}


def unregister(run_id: str) -> None:
    """Mark the run ended: its lease, if the VM still holds it, may be taken over at once."""
    path = _owners_dir() / f"{run_id}.json"
    try:
        record = json.loads(path.read_text())
        record["ended"] = time.time()
        path.write_text(json.dumps(record))
    except (OSError, ValueError):
        pass


def alive(record: dict) -> bool:
    """True while the recorded process runs on this host (a process of another host: assumed alive)."""
    if record.get("host") != socket.gethostname():
        return True
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    return _start_ticks(pid) is not None and _start_ticks(pid) == record.get("start")


def dead_owners(now: float | None = None) -> list[str]:
    """Ids of recorded runs whose process is gone; prunes records older than KEEP_DEAD_SECONDS."""
    now = time.time() if now is None else now
    dead = []
    for path in sorted(_owners_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if not record.get("ended") and alive(record):
            continue
        if now - float(record.get("since", 0)) > KEEP_DEAD_SECONDS:
            path.unlink(missing_ok=True)
            continue
        if isinstance(record.get("run_id"), str):
            dead.append(record["run_id"])
    return dead
