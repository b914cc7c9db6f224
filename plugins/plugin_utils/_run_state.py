# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run's events add up to: the state the viewer shows and the CLI reads (phases, checks, pull, boot,
server, screenshots, benchmark tasks per host), folded one event at a time. Pure Python."""

from __future__ import annotations

import copy
import time

from ansible_collections.openadapt.waa.plugins.module_utils._phases import (
    BENCHMARK,
    BOOT_STAGE_ORDER,
    PHASE_NUMBER,
    PHASE_TITLE,
    PHASES as SETUP_PHASES,
    SPEC_PHASE_NAME,
)
from ansible_collections.openadapt.waa.plugins.plugin_utils._human_lines import progress_line

# The viewer's phase list: the nine setup phases (the benchmark run follows them, it is not one).
PHASES = [(role, number, title) for role, number, title, _code in SETUP_PHASES]
BENCHMARK_PHASE = BENCHMARK[0]
BOOT_STAGES = list(BOOT_STAGE_ORDER)


def new_state() -> dict:
    return {"status": "initializing", "started": None, "updated": None, "playbook": None, "setup": True,
            "hosts": {}, "exit_code": None, "benchmark": {"status": "idle"}}


def _host(state: dict, name: str) -> dict:
    hosts = state["hosts"]
    if name not in hosts:
        hosts[name] = {
            "phase": None, "phases": {}, "checks": [], "warnings": [], "pull": None,
            "boot": {"stage": None, "stages": {}, "log_tail": []}, "server": None,
            "screenshots": [], "result": None, "benchmark": {"status": "idle"},
        }
    return hosts[name]


def apply_event(state: dict, event: dict) -> dict:
    """Fold one event into the state snapshot (in place; also returned)."""
    kind = event.get("type")
    state["updated"] = event.get("ts")
    if kind == "run_start":
        state.update(status="running", started=event.get("ts"), playbook=event.get("playbook"),
                     setup=event.get("setup") is not False)
        for name in event.get("hosts") or []:
            _host(state, name)
        return state
    if kind == "run_end":
        state["status"] = "complete"
        state["exit_code"] = event.get("exit_code")
        return state
    name = event.get("host")
    if not name:
        return state
    host = _host(state, name)
    if kind == "phase_start":
        host["phase"] = event["phase"]
        host["phases"][event["phase"]] = {
            "number": event.get("number"), "title": event.get("title"), "status": "running",
            "started": event.get("ts"), "duration": None, "message": "", "fix": "",
        }
    elif kind == "phase_end":
        phase = host["phases"].setdefault(event["phase"], {"number": event.get("number"), "title": PHASE_TITLE.get(event["phase"])})
        phase.update(status=event.get("status"), duration=event.get("duration"),
                     message=event.get("message", ""), fix=event.get("fix", ""))
    elif kind == "check":
        host["checks"].append({k: event.get(k) for k in ("phase", "name", "ok", "message", "duration")})
        del host["checks"][:-50]
        record = host["phases"].get(event.get("phase") or "")
        if record is not None and event.get("ok") and event.get("message"):
            # What the phase's human line said last: the document's message for a phase that passed, on the
            # full path and on a ready host's alike (where the survey's findings are the phase's checks).
            record["detail"] = event["message"]
    elif kind == "warning":
        host["warnings"].append(event.get("message"))
    elif kind == "pull_progress":
        host["pull"] = {k: v for k, v in event.items() if k not in ("seq", "type", "host")}
    elif kind == "transfer_progress":  # the ISO, the golden disk: shown where the pull is
        host["transfer"] = {k: v for k, v in event.items() if k not in ("seq", "type", "host")}
    elif kind == "boot":
        stage = event.get("stage")
        if stage:
            host["boot"]["stage"] = stage
            host["boot"]["stages"].setdefault(stage, event.get("ts"))
        if event.get("log_tail"):
            host["boot"]["log_tail"] = list(event["log_tail"])[-20:]
    elif kind == "server_ready":
        host["server"] = {"url": event.get("url"), "ready_at": event.get("ts"), "elapsed": event.get("elapsed")}
    elif kind == "screenshot":
        host["screenshots"].append({"path": event.get("path"), "phase": event.get("phase"), "ts": event.get("ts")})
    elif kind == "host_result":
        host["result"] = event.get("result")
    elif kind in ("task_start", "task_step", "task_end", "benchmark"):
        _apply_benchmark(state, host, event)
    return state


def _apply_benchmark(state: dict, host: dict, event: dict) -> None:
    bench = host["benchmark"]
    kind = event["type"]
    if kind == "benchmark":
        bench.update({k: v for k, v in event.items() if k not in ("seq", "type", "host", "ts")})
    elif kind == "task_start":
        bench["status"] = "running"
        bench["current_task"] = {
            "task_id": event.get("task_id"), "instruction": event.get("instruction"),
            "domain": event.get("domain"), "steps": [], "result": None,
        }
    elif kind == "task_step":
        task = bench.setdefault("current_task", {"task_id": event.get("task_id"), "steps": [], "result": None})
        task["steps"].append({"step_idx": event.get("step_idx"), "action": event.get("action"),
                              "reasoning": event.get("reasoning"), "screenshot_url": event.get("screenshot")})
    elif kind == "task_end":
        task = bench.setdefault("current_task", {"task_id": event.get("task_id"), "steps": []})
        task["result"] = {"success": event.get("success"), "score": event.get("score"),
                          "num_steps": len(task.get("steps") or []), "total_time_seconds": event.get("duration")}
        bench["tasks_completed"] = bench.get("tasks_completed", 0) + 1
        bench.setdefault("completed", []).append(copy.deepcopy(task))
    state["benchmark"] = benchmark_live(state)


def benchmark_live(state: dict, since: float | None = None) -> dict:
    """The snapshot in the shape OpenAdapt's viewer polls as /api/benchmark-live: the benchmark
    while one runs, ``status: setup`` with the phase and its detail while the setup phases run,
    else ``idle``. With SINCE (epoch seconds, or milliseconds as JavaScript's Date.now() gives)
    and nothing newer, only ``status``, ``changed: false`` and ``updated_at``."""
    updated = state.get("updated")
    if since is not None:
        since = since / 1000.0 if since > 1e11 else since
    running = [h["benchmark"] for h in state["hosts"].values() if h["benchmark"].get("status") != "idle"]
    setting_up = [(name, h) for name, h in state["hosts"].items()
                  if state.get("status") == "running" and h.get("phase") and h.get("phase") != BENCHMARK_PHASE]
    if running:
        bench = running[0]
        doc = {"status": bench.get("status", "running"), "total_tasks": bench.get("total_tasks"),
               "tasks_completed": bench.get("tasks_completed", 0), "current_task": bench.get("current_task")}
        for key in ("success_count", "average_score", "completed"):
            if key in bench:
                doc[key] = bench[key]
    elif setting_up:
        name, host = setting_up[0]
        phase = host["phase"]
        doc = {"status": "setup", "host": name, "phase": SPEC_PHASE_NAME.get(phase, phase),
               "phase_number": PHASE_NUMBER.get(phase), "phase_title": PHASE_TITLE.get(phase, phase),
               "detail": setup_detail(host)}
    else:
        doc = {"status": "idle"}
    if updated is not None:
        doc["updated_at"] = updated
        doc["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(updated))
    if since is not None:
        doc["changed"] = updated is not None and updated > since
        if not doc["changed"]:
            return {k: doc[k] for k in ("status", "changed", "updated_at") if k in doc}
    return doc


def setup_detail(host: dict) -> str:
    """One line on what the host's current setup phase is doing."""
    phase = host.get("phase")
    if phase == "image" and host.get("pull"):
        return "Pulling %s" % progress_line(host["pull"], width=0)
    if phase == "windows_boot" and host["boot"].get("stage"):
        tail = host["boot"].get("log_tail") or []
        return host["boot"]["stage"].replace("_", " ") + (": %s" % tail[-1] if tail else "")
    checks = [c for c in host.get("checks") or [] if c.get("phase") == phase]
    if checks:
        return "%s: %s" % (checks[-1].get("name"), checks[-1].get("message") or ("ok" if checks[-1].get("ok") else "failed"))
    return PHASE_TITLE.get(phase, phase or "")
