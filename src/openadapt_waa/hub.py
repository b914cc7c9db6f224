"""The merged state of the runs the live viewer follows.

Each run directory's ``events.jsonl`` (appended to by the callback plugin) is tailed; its events
are folded into one state with the collection's own reducer (``apply_event``) and numbered with
the viewer's own sequence, so that a browser that reconnects gets the events it missed. The web
app on top of it is ``openadapt_waa.viewer``.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from openadapt_waa.tailer import Tailer

from ansible_collections.openadapt.waa.plugins.plugin_utils._human_lines import human_lines
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_state import BOOT_STAGES, PHASES, apply_event, benchmark_live, new_state

EVENTS_FILE = "events.jsonl"
SCREENSHOTS_DIR = "screenshots"


# -- the merged state of the followed runs ------------------------------------------------------
@dataclass
class Run:
    name: str
    path: Path
    tailer: Tailer
    discovered: bool = False  # found by watching the root after the viewer started
    events: int = 0
    status: str = "waiting"  # waiting, running, or run_end's status
    playbook: str | None = None
    exit_code: int | None = None

    def info(self) -> dict:
        return {"name": self.name, "path": str(self.path), "exists": self.path.is_dir(), "events": self.events,
                "status": self.status, "playbook": self.playbook, "exit_code": self.exit_code}


@dataclass
class Record:
    """One message for the browsers: an event (``kind="event"``) or "resend the snapshot"."""

    id: int
    kind: str
    data: str = ""


def _dumps(obj) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"))


def _is_url(value: str) -> bool:
    return value.startswith(("/", "http://", "https://", "data:"))


def screenshot_url(run: str, path: str | None) -> str | None:
    """The viewer URL of a screenshot recorded as a path relative to the run dir."""
    if not path or not isinstance(path, str) or _is_url(path):
        return path
    rel = path.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    if rel.startswith(SCREENSHOTS_DIR + "/"):
        rel = rel[len(SCREENSHOTS_DIR) + 1:]
    return "/screenshots/%s/%s" % (quote(run, safe=""), quote(rel))


def _host_view(host: dict) -> dict:
    """A host's state for one event message: everything but the (growing) completed task list."""
    view = dict(host)
    bench = host.get("benchmark") or {}
    if "completed" in bench:
        view["benchmark"] = {k: v for k, v in bench.items() if k != "completed"}
    return copy.deepcopy(view)


class Hub:
    """The followed run dirs, their merged state and the recent events. Thread-safe, no I/O loop.

    ``poll()`` reads what the runs appended, folds it with ``apply_event`` and returns the
    records to push. With ``watch_root``, the newest ``latest`` run dirs under it are followed,
    plus every run dir created there later; a later run of a playbook already in the view (say
    a second ``vm_setup``) starts a fresh view instead of merging onto the old one.
    """

    def __init__(self, run_dirs: Iterable[Path | str] = (), watch_root: Path | str | None = None, latest: int = 1,
                 history: int = 20000, log_lines: int = 300, scan_interval: float = 1.0):
        self.lock = threading.RLock()
        self.state = new_state()
        self.runs: list[Run] = []
        self.history: deque[Record] = deque(maxlen=history)
        self.log: deque[dict] = deque(maxlen=log_lines)
        self.last_id = 0
        self.reset_id = 0  # events before this id belong to an earlier view
        self.bad_events = 0
        self.more_pending = False
        self.view_playbooks: set[str] = set()
        self.watch_root = Path(watch_root).expanduser() if watch_root else None
        self.scan_interval = scan_interval
        self._seen_dirs: set[str] = set()
        self._last_scan = 0.0
        for path in run_dirs:
            self.add_run_dir(path)
        if self.watch_root:
            existing = self._list_root()
            self._seen_dirs.update(str(p) for p in existing)
            newest = sorted(existing, key=self._mtime)[-latest:] if latest > 0 else []
            for path in newest:
                self.add_run_dir(path)

    # run dirs
    def add_run_dir(self, path: Path | str, discovered: bool = False) -> str:
        """Follow one more run dir (it may not exist yet). Returns its name in URLs."""
        path = Path(path).expanduser().absolute()
        with self.lock:
            for run in self.runs:
                if run.path == path:
                    return run.name
            names = {run.name for run in self.runs}
            name, n = path.name or "run", 2
            while name in names:
                name, n = "%s-%d" % (path.name or "run", n), n + 1
            self.runs.append(Run(name, path, Tailer(path / EVENTS_FILE), discovered=discovered))
            self._seen_dirs.add(str(path.resolve()))
            return name

    def _list_root(self) -> list[Path]:
        try:
            entries = list(os.scandir(self.watch_root))
        except OSError:
            return []
        paths = []
        for entry in entries:
            if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
                continue  # `latest` is a symlink to a run dir
            paths.append(Path(entry.path).resolve())
        return paths

    @staticmethod
    def _mtime(path: Path) -> float:
        try:
            return max(os.stat(path).st_mtime, os.stat(path / EVENTS_FILE).st_mtime)
        except OSError:
            try:
                return os.stat(path).st_mtime
            except OSError:
                return 0.0

    def _scan(self) -> None:
        if not self.watch_root or time.monotonic() - self._last_scan < self.scan_interval:
            return
        self._last_scan = time.monotonic()
        for path in sorted(self._list_root(), key=self._mtime):
            if str(path) not in self._seen_dirs:
                self._seen_dirs.add(str(path))
                self.add_run_dir(path, discovered=True)

    # events
    def poll(self) -> list[Record]:
        """Read new events from every followed run; fold them; return the records to push."""
        with self.lock:
            self._scan()
            records: list[Record] = []
            pending = False
            for run in list(self.runs):
                if run not in self.runs:  # dropped by a reset during this poll
                    continue
                for event in run.tailer.read():
                    records.extend(self._ingest(run, event))
                pending = pending or run.tailer.pending
            self.more_pending = pending
            return records

    def _ingest(self, run: Run, event: dict) -> list[Record]:
        kind = event.get("type")
        if not isinstance(kind, str):
            self.bad_events += 1
            return []
        out = []
        if kind == "run_start":
            playbook = event.get("playbook") or ""
            others_done = all(r.status != "running" for r in self.runs if r is not run)
            if run.discovered and playbook in self.view_playbooks and others_done:
                out.append(self._reset(run))
            self.view_playbooks.add(playbook)
            run.playbook, run.status = event.get("playbook"), "running"
        try:
            apply_event(self.state, event)
        except Exception:  # a malformed event must not stop the viewer
            self.bad_events += 1
            return out
        run.events += 1
        if kind == "run_end":
            run.status, run.exit_code = event.get("status") or "complete", event.get("exit_code")
        self._link_screenshots(run, event)
        self.last_id += 1
        multi = len(self.state["hosts"]) > 1
        try:
            lines = human_lines(event, prefix=(run.playbook or "waa").replace("_", "-"), multi_host=multi)
        except Exception:
            lines = []
        for line in lines:
            self.log.append({"id": self.last_id, "ts": event.get("ts"), "host": event.get("host"), "text": line})
        if event.get("host"):
            affected = [event["host"]]
        elif kind == "run_start":
            affected = list(event.get("hosts") or [])
        elif kind == "run_end":
            affected = list(event.get("hosts") or {})
        else:
            affected = []
        hosts = {name: _host_view(self.state["hosts"][name]) for name in affected if name in self.state["hosts"]}
        payload = {"id": self.last_id, "run": run.name, "event": event, "lines": lines, "hosts": hosts,
                   "run_state": self._run_state(), "run_info": run.info()}
        record = Record(self.last_id, "event", _dumps(payload))
        self.history.append(record)
        out.append(record)
        return out

    def _reset(self, run: Run) -> Record:
        """Start a fresh view with ``run`` only (a new run of a playbook already shown)."""
        self.state = new_state()
        self.runs = [run]
        self.history.clear()
        self.log.clear()
        self.view_playbooks = set()
        self.last_id += 1
        self.reset_id = self.last_id
        return Record(self.last_id, "reset")

    def _link_screenshots(self, run: Run, event: dict) -> None:
        """Point the folded screenshot entries at this viewer's /screenshots/<run>/ URLs."""
        host = self.state["hosts"].get(event.get("host") or "")
        if not host:
            return
        kind = event.get("type")
        if kind == "screenshot" and host["screenshots"]:
            host["screenshots"][-1]["url"] = screenshot_url(run.name, event.get("path"))
            host["screenshots"][-1]["run"] = run.name
        elif kind == "task_step":
            steps = (host["benchmark"].get("current_task") or {}).get("steps") or []
            if steps and steps[-1].get("screenshot_url"):
                steps[-1]["screenshot_url"] = screenshot_url(run.name, steps[-1]["screenshot_url"])

    def _run_state(self) -> dict:
        return {k: self.state.get(k) for k in ("status", "exit_code", "started", "updated", "playbook", "setup")}

    # reads
    def records_after(self, since: int) -> list[Record] | None:
        """The event records after ``since``, or None when they are no longer all held."""
        with self.lock:
            if since > self.last_id or since < self.reset_id:
                return None
            if since == self.last_id:
                return []
            if not self.history or self.history[0].id > since + 1:
                return None
            return [r for r in self.history if r.id > since]

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "id": self.last_id,
                "state": copy.deepcopy(self.state),
                "runs": [run.info() for run in self.runs],
                "phases": [list(p) for p in PHASES],
                "boot_stages": list(BOOT_STAGES),
                "log": list(self.log),
                "viewer": {"watch_root": str(self.watch_root) if self.watch_root else None,
                           "bad_events": self.bad_events},
            }

    def benchmark_live(self, since: float | None = None) -> dict:
        with self.lock:
            return copy.deepcopy(benchmark_live(self.state, since))

    def screenshot_file(self, run_name: str, rel: str) -> Path | None:
        """The file under ``<run dir>/screenshots/`` that ``rel`` names, never outside it."""
        with self.lock:
            run = next((r for r in self.runs if r.name == run_name), None)
        if run is None or not rel or "\0" in rel:
            return None
        base = (run.path / SCREENSHOTS_DIR).resolve()
        try:
            target = (base / rel).resolve()
        except (OSError, RuntimeError):
            return None
        if target == base or not target.is_relative_to(base) or not target.is_file():
            return None
        return target
