# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's benchmark on the controller: the result files a progress_watch round trip shipped,
written under ``<run dir>/results/<host>/``, and the benchmark's events relayed in order.

Everything here comes from the VM (file names, task ids, model output): a shipped path never
leaves the host's results directory, and a task id names a screenshot only once made safe.
Used by the waa_events callback; no Ansible imports.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from typing import Callable

from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import MAX_SELECTION
from ansible_collections.openadapt.waa.plugins.module_utils._validate import valid_task_ref
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import atomic_write

# The benchmark's own statuses that the viewer shows as "running".
BENCH_RUNNING = {"starting", "running", "finishing", "syncing"}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A string from the VM made fit to be one path component."""
    return SAFE_NAME.sub("_", str(text))[:120]


def write_piece(results_dir: str, piece: dict) -> str | None:
    """Write one shipped piece under ``results_dir``, never outside it. Returns the file's state:
    "complete", "partial", "gap" (a lost earlier piece: the final sync sends the file again), or
    None when the piece was refused or could not be written."""
    rel = str(piece.get("path") or "")
    parts = rel.split("/")
    if not rel or "\0" in rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    base = os.path.realpath(results_dir)
    target = os.path.join(base, *parts)
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
        if not os.path.realpath(parent).startswith(base + os.sep) and os.path.realpath(parent) != base:
            return None
        if os.path.islink(target):
            return None
        data = base64.b64decode(piece.get("data") or "")
        offset = int(piece.get("offset") or 0)
        if offset == 0:
            atomic_write(target, data)
        else:
            have = os.path.getsize(target) if os.path.isfile(target) else -1
            if have < offset:
                return "gap"
            with open(target, "r+b") as handle:
                handle.seek(offset)
                handle.write(data)
                handle.truncate()
        if piece.get("mtime"):
            os.utime(target, (float(piece["mtime"]), float(piece["mtime"])))
    except (OSError, ValueError, TypeError):
        return None
    return "complete" if piece.get("complete") else "partial"


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10 ** 6 else None


def fleet_share(share) -> dict | None:
    """The module's report of this host's share ({index, count, of, domains}), as plain checked values:
    it comes from the VM."""
    if not isinstance(share, dict) or _count(share.get("index")) is None or not _count(share.get("count")):
        return None
    domains = share.get("domains") if isinstance(share.get("domains"), dict) else {}
    return {"index": share["index"], "count": share["count"], "of": _count(share.get("of")),
            "domains": {safe_name(str(d))[:64]: n for d, n in list(domains.items())[:200] if _count(n) is not None}}


def task_sample(sample) -> dict | None:
    """The module's report of a --num-tasks sample ({seed, tasks}), checked."""
    if not isinstance(sample, dict) or _count(sample.get("tasks")) is None:
        return None
    seed = sample.get("seed")
    return {"seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None, "tasks": sample["tasks"]}


def task_selection(selection) -> list[str] | None:
    """The module's report of the tasks selected before the split ("domain/id" each), checked whole:
    one bad or missing entry and the report is dropped (a partial list would hide tasks)."""
    if not isinstance(selection, list) or len(selection) > MAX_SELECTION:
        return None
    refs = []
    for ref in selection:
        parts = ref.split("/") if isinstance(ref, str) else []
        if len(parts) != 2 or not valid_task_ref(*parts):
            return None
        refs.append(ref)
    return refs


class BenchmarkRelay:
    """Relays one host's benchmark: ``feed`` each progress_watch result, ``flush(force=True)`` at the end.

    Events come from the waa_benchmark module's progress record (only those not sent before; a step
    without its screenshot yet is sent again). They are emitted in order; a step waits until its
    screenshot has arrived, unless the run is over and nothing more is coming.
    """

    def __init__(self, run_dir: str, host: str, emit: Callable[..., None]):
        self.run_dir = run_dir
        self.host = host
        self.emit = emit  # emit(event type, **fields) for this host
        self.run = None
        self.pending: dict = {}
        self.emitted = 0
        self.files: dict = {}  # shipped path -> complete / partial / gap
        self.announced = False
        self.over = False
        self.ended = False

    def feed(self, res: dict, progress: dict) -> None:
        for piece in res.get("shipped") or []:
            state = write_piece(os.path.join(self.run_dir, "results", self.host), piece)
            if state:
                self.files[str(piece.get("path"))] = state
        if progress.get("kind") != "benchmark":
            return
        run = progress.get("ship_since")
        if run != self.run:
            self.run, self.pending, self.emitted, self.announced, self.ended = run, {}, 0, False, False
        for event in progress.get("events") or []:
            seq = int(event.get("seq") or 0)
            if seq > self.emitted:
                self.pending[seq] = event
        self.over = progress.get("state") in ("done", "failed") and not res.get("ship_pending")
        self.flush()

    def flush(self, force: bool = False) -> None:
        for seq in sorted(self.pending):
            event = self.pending[seq]
            shot = None
            if event.get("type") == "task_step":
                shot = self._step_screenshot(event)
                waiting = not event.get("settled", True) or (event.get("screenshot") and shot is None)
                if waiting and not (self.over or force):
                    break
            self._relay(event, shot)
            self.emitted = seq
            del self.pending[seq]

    def _results(self, rel) -> str | None:
        return "results/%s/%s" % (self.host, rel) if rel else None

    def _relay(self, event: dict, shot: str | None) -> None:
        kind = event.get("type")
        common = {"at": event.get("ts"), "task_id": event.get("task_id"), "domain": event.get("domain")}
        if kind == "task_start":
            # reset_seconds: --reset-between-tasks returned Windows to the golden disk before this task.
            self.emit("task_start", instruction=event.get("instruction"), index=event.get("index"),
                      total=event.get("total"), reset_seconds=event.get("reset_seconds"), **common)
        elif kind == "task_step":
            self.emit("task_step", step_idx=event.get("step_idx"), action=event.get("action"), screenshot=shot, **common)
        elif kind == "task_end":
            result_file = self._results(event.get("result_file"))
            if result_file and not os.path.isfile(os.path.join(self.run_dir, result_file)):
                result_file = None
            self.emit("task_end", index=event.get("index"), total=event.get("total"), status=event.get("status"),
                      score=event.get("score"), success=bool(event.get("success")), error=event.get("error"),
                      steps=event.get("steps"), duration=event.get("duration"), result_file=result_file,
                      results_dir=self._results(event.get("result_dir")), **common)
        elif kind == "warning":
            self.emit("warning", phase="benchmark", message=" ".join(str(event.get("message", "")).split()))
        elif kind == "benchmark":
            self._status(event)

    def _status(self, event: dict) -> None:
        status = event.get("status")
        final = status in ("complete", "failed")
        if final and self.ended:
            return
        stage = "end" if final else ("start" if not self.announced else "progress")
        self.announced = True
        self.ended = self.ended or final
        fields = {k: event.get(k) for k in ("total_tasks", "tasks_in_list", "already_done", "success_count",
                                            "error_count", "average_score")}
        fields.update(share=fleet_share(event.get("share")), sample=task_sample(event.get("sample")))
        if "selection" in event:
            fields["selection"] = task_selection(event["selection"])
        if event.get("budget_stopped") is True:
            fields["budget_stopped"] = True
        self.emit("benchmark", status="running" if status in BENCH_RUNNING else status, stage=stage,
                  results_dir="results/%s" % self.host, **fields)

    def _step_screenshot(self, event: dict) -> str | None:
        """The step's screenshot copied to screenshots/<host>/<task>/step_<n>.png (relative to the run
        dir), or None while it has not fully arrived."""
        rel = event.get("screenshot")
        if not rel or self.files.get(rel) != "complete":
            return None
        source = os.path.join(self.run_dir, "results", self.host, rel)
        target = os.path.join("screenshots", self.host, safe_name(event.get("task_id") or "task"),
                              "step_%d.png" % int(event.get("step_idx") or 0))
        try:
            os.makedirs(os.path.dirname(os.path.join(self.run_dir, target)), exist_ok=True)
            shutil.copyfile(source, os.path.join(self.run_dir, target))
        except OSError:
            return None
        return target
