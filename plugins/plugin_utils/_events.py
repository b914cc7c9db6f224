# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run events: the state they add up to, the per-host result document, and the human lines.

One place for what a run looks like, used by the callback plugin (which writes events), the CLI
(which prints them) and the live viewer (which shows them). Pure Python, no Ansible imports, so
the controller-side code can use it without a running playbook.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import time

from ansible_collections.openadapt.waa.plugins.module_utils._phases import (  # noqa: F401 (EXIT_MEANING: the CLI's)
    BENCHMARK,
    BOOT_STAGE_ORDER,

    EXIT_MEANING,
    PHASE_NUMBER,
    PHASE_TITLE,
    PHASES as SETUP_PHASES,
    UNNUMBERED_PHASES,
)
from ansible_collections.openadapt.waa.plugins.module_utils._health import strip_ansi
from ansible_collections.openadapt.waa.plugins.module_utils._progress import replace_atomically
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import estimate

# The viewer's phase list: the nine setup phases (the benchmark run follows them, it is not one).
PHASES = [(role, number, title) for role, number, title, _code in SETUP_PHASES]
BENCHMARK_PHASE = BENCHMARK[0]
# The spec's JSON names the phases and health checks differently from the roles and layers.
SPEC_PHASE_NAME = {
    "preflight": "pre_flight_checks", "docker": "docker_daemon", "image": "image_pull",
    "container": "container_creation", "windows_boot": "windows_boot", "waa_server": "waa_server_init",
    "accessibility": "accessibility_tree", "smoke": "smoke_test", "persist": "persist_results",
    "validate": "final_validation", "golden": "golden_image_preparation", "reset": "reset_to_golden",
    "deallocate": "deallocate_vm",
}
SPEC_HEALTH_NAME = {
    "docker_daemon": "docker_daemon", "container": "container_status", "windows_boot": "windows_vm_boot",
    "waa_server": "waa_server_ready", "accessibility": "accessibility_tree",
}

BOOT_STAGES = list(BOOT_STAGE_ORDER)


def runs_home() -> str:
    """Where run directories go by default: ``$WAA_STATE_HOME/runs`` or ``~/.local/state/openadapt-waa/runs``
    (the CLI, the viewer and the callback under plain ansible-playbook alike)."""
    return os.path.join(os.environ.get("WAA_STATE_HOME") or os.path.expanduser("~/.local/state/openadapt-waa"), "runs")


def atomic_write(path: str, text, mode: int = 0o600) -> None:
    """Write a whole file (text, or bytes) or nothing (module_utils/_progress.replace_atomically), creating
    its directory. Private by default (run files hold logs and screenshots). No fsync: the run's files
    are rewritten at every event and read while the run lasts."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    replace_atomically(path, lambda handle: handle.write(data), mode, fsync=False)


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


def format_bytes(num: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(num) < 1000 or unit == "TB":
            return ("%.0f%s" if unit == "B" else "%.1f%s") % (num, unit)
        num /= 1000.0
    return "%.1fTB" % num


def format_duration(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = float(seconds)
    if seconds < 60:
        return "%.1fs" % seconds
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return "%dm %02ds" % (minutes, secs)
    hours, minutes = divmod(minutes, 60)
    return "%dh %02dm" % (hours, minutes)


def progress_line(pull: dict, width: int = 24) -> str:
    """`[#####.....] 1.2GB / 5.3GB (23%) 3 of 9 layers, 45.0MB/s, ETA 1m 30s` (no bar with width 0)"""
    total = pull.get("bytes_total") or 0
    done = pull.get("bytes_done") or 0
    frac = (float(done) / total) if total else 0.0
    filled = int(round(frac * width))
    parts = ["[%s%s]" % ("#" * filled, "." * (width - filled))] if width else []
    parts.append("%s / %s (%d%%)" % (format_bytes(done), format_bytes(total), int(frac * 100)))
    if pull.get("layers_total"):
        parts.append("%s of %s layers" % (pull.get("layers_done", 0), pull["layers_total"]))
    if pull.get("rate_bps"):
        parts.append("%s/s" % format_bytes(pull["rate_bps"]))
    if pull.get("eta_s") is not None and total and done < total:
        parts.append("ETA %s" % format_duration(pull["eta_s"]))
    if (pull.get("attempt") or 1) > 1:
        parts.append("attempt %s/%s" % (pull["attempt"], pull.get("attempts_max", "?")))
    return " ".join(parts)


def human_lines(event: dict, prefix: str = "vm-setup", multi_host: bool = False) -> list:
    """The terminal and setup.log lines for one event (the spec's human output format), with every
    escape sequence and control character but newline and tab removed: events carry untrusted
    text (log tails, model actions, task instructions)."""
    return [strip_ansi(line) for line in _human_lines(event, prefix, multi_host)]


def _human_lines(event: dict, prefix: str, multi_host: bool) -> list:
    kind = event.get("type")
    tag = ("[%s] " % event["host"]) if multi_host and event.get("host") else ""
    if kind == "run_start":
        hosts = ", ".join(event.get("hosts") or [])
        return ["[%s] Starting %s on %s" % (prefix, event.get("playbook") or "run", hosts or "no hosts")]
    if kind == "phase_start":
        if event.get("phase") == "docker":
            return []  # part of phase 1 in the spec's numbering
        if event.get("phase") in UNNUMBERED_PHASES or event.get("number") is None:
            return ["[%s] %s%s" % (prefix, tag, PHASE_TITLE.get(event.get("phase"), event.get("title") or ""))]
        return ["[%s] %sPhase %s/9: %s" % (prefix, tag, event.get("number"), event.get("title"))]
    if kind == "check":
        mark = "\u2713" if event.get("ok") else "\u2717"
        text = event.get("name") or ""
        if event.get("message") and event.get("message") != text:
            text = "%s: %s" % (text, event["message"]) if event.get("ok") else "%s\n      %s" % (text, event["message"])
        duration = event.get("duration")
        suffix = " (%s)" % format_duration(duration) if duration and duration >= 1 else ""
        return ["  %s%s %s%s" % (tag, mark, text, suffix)]
    if kind == "warning":
        return ["  %s! %s" % (tag, event.get("message"))]
    if kind == "pull_progress":
        if event.get("state") == "done":
            return []
        source = event.get("source") or ""
        return ["  %s\u2192 %s%s" % (tag, progress_line(event), (" from " + source) if source else "")]
    if kind == "transfer_progress":
        if event.get("state") == "retrying":
            return ["  %s\u2192 %s: %s (retrying)" % (tag, event.get("what") or "transfer", event.get("error"))]
        return ["  %s\u2192 %s: %s from %s" % (tag, event.get("what") or "transfer", progress_line(event),
                                               event.get("source") or "?")]
    if kind == "boot":
        lines = []
        if event.get("stage"):
            lines.append("  %s\u2192 %s" % (tag, event["stage"].replace("_", " ")))
        install = event.get("install") or {}
        if install.get("step"):
            percent = install.get("download_percent")
            lines.append("  %s\u2192 installing Windows: %s%s" % (
                tag, install["step"], " %d%%" % percent if percent is not None and "Downloading" in install["step"] else ""))
        return lines
    if kind == "server_ready":
        return ["  %s\u2192 WAA server answering at %s" % (tag, event.get("url"))]
    if kind == "phase_end" and event.get("status") == "failed":
        lines = ["  %s\u2717 %s failed after %s" % (tag, PHASE_TITLE.get(event.get("phase"), event.get("phase")),
                                                    format_duration(event.get("duration")))]
        return lines
    if kind == "phase_end" and event.get("status") == "skipped":
        return ["  %s- skipped" % tag]
    if kind == "task_start":
        return ["  %s\u2192 Task %s/%s [%s] %s" % (tag, event.get("index", "?"), event.get("total", "?"),
                                                   event.get("domain"), event.get("task_id"))]
    if kind == "task_step":
        action = (event.get("action") or "").splitlines()[0:1]
        return ["  %s    step %s: %s" % (tag, event.get("step_idx"), action[0] if action else "")]
    if kind == "task_end":
        mark = "\u2713" if event.get("success") else "\u2717"
        if event.get("status") == "error":
            return ["  %s%s %s error: %s" % (tag, mark, event.get("task_id"), " ".join(str(event.get("error") or "").split())[:300])]
        if event.get("status") == "incomplete":
            return ["  %s%s %s ended without a result" % (tag, mark, event.get("task_id"))]
        return ["  %s%s %s score %s" % (tag, mark, event.get("task_id"), event.get("score"))]
    if kind == "benchmark":
        return _benchmark_lines(event, tag)
    return []


def _benchmark_lines(event: dict, tag: str) -> list:
    """The benchmark's announcement (stage start) and its summary (stage end); nothing in between."""
    total = event.get("total_tasks")
    if event.get("stage") == "start":
        done = event.get("already_done")
        extra = " (%s already done, kept)" % done if done else ""
        share, sample = event.get("share"), event.get("sample")
        if share:
            extra += "; share %s/%s of %s: %s" % (share["index"] + 1, share["count"], share.get("of"), ", ".join(
                "%s %s" % (d, n) for d, n in sorted((share.get("domains") or {}).items())) or "nothing")
        if sample:
            extra += "; %s task(s) sampled across the domains (seed %s)" % (sample["tasks"], sample.get("seed"))
        return ["  %s\u2192 Benchmark: %s task(s) to run%s" % (tag, "?" if total is None else total, extra)]
    if event.get("stage") == "end":
        average = event.get("average_score")
        score = "n/a" if average is None else "%.2f" % float(average)
        errors = " %s error(s)," % event["error_count"] if event.get("error_count") else ""
        return ["  %s%s Benchmark %s: %s of %s succeeded,%s average score %s%s" % (
            tag, "\u2713" if event.get("status") == "complete" else "\u2717", event.get("status"),
            event.get("success_count", 0), "?" if total is None else total, errors, score,
            ("; results in %s" % event["results_dir"]) if event.get("results_dir") else "")]
    return []


def tunnel_command(host_doc: dict) -> str:
    """The SSH command that forwards the VM's loopback-only WAA, VNC and RDP ports."""
    conn = host_doc.get("connection") or {}
    address = conn.get("address") or host_doc.get("host")
    user = conn.get("user")
    target = "%s@%s" % (user, address) if user else address
    ports = host_doc.get("ports") or {"server": 5000, "vnc": 8006, "rdp": 3389}
    parts = ["ssh", "-N"]
    if conn.get("port") and str(conn["port"]) != "22":
        parts += ["-p", str(conn["port"])]
    if conn.get("key"):
        parts += ["-i", conn["key"]]
    bind = ports.get("address") or "127.0.0.1"  # where the ports listen on the VM
    for local in (ports["server"], ports["vnc"], ports["rdp"]):
        parts += ["-L", "%s:%s:%s" % (local, bind, local)]
    parts.append(target)
    return " ".join(shlex.quote(str(part)) for part in parts)  # a copy-paste command: quoted for a shell


def result_document(host: str, artifact: dict, host_state: dict, connection: dict, ports: dict) -> dict:
    """The spec's per-host JSON document, from the set_stats artifact and the tracked phases."""
    artifact = artifact or {}
    code = int(artifact.get("exit_code", 9))
    phases = []
    # In the order the phases ran (a reset runs before the container phase); the benchmark has its own part.
    for name, record in (host_state.get("phases") or {}).items():
        if name not in SPEC_PHASE_NAME or not record:
            continue
        entry = {
            "name": SPEC_PHASE_NAME[name], "role": name, "number": record.get("number"),
            "status": {"ok": "success"}.get(record.get("status"), record.get("status")),
            "duration_seconds": record.get("duration"), "message": record.get("message") or record.get("detail", ""),
        }
        if name == "preflight" and isinstance(artifact.get("checks"), dict):
            checks = dict(artifact["checks"])
            if checks.get("disk_space") not in (None, ""):
                checks["disk_space"] = int(float(checks["disk_space"]))  # free bytes at Docker's data root
            entry["checks"] = checks
        if name == "image":
            pull = artifact.get("image_pull") or {}
            size = pull.get("image_size_bytes") or pull.get("bytes_total")
            entry.update(image_size_bytes=int(size) if size not in (None, "") else None,
                         source=artifact.get("image_source") or None)
        phases.append(entry)
    layers = artifact.get("health_layers") or []
    health = {spec: "unknown" for spec in SPEC_HEALTH_NAME.values()}
    for layer in layers:
        key = SPEC_HEALTH_NAME.get(layer.get("layer"))
        if key:
            health[key] = "healthy" if layer.get("healthy") else "unhealthy"
    container_id = artifact.get("container_id") or ""
    doc = {
        # A host left out (a stopped Azure VM) exits 0 without being ready.
        "success": code == 0 and not artifact.get("skipped"),
        "skipped": bool(artifact.get("skipped")),
        "exit_code": code,
        "exit_meaning": EXIT_MEANING.get(code, "Unknown error"),
        "host": host,
        "duration_seconds": artifact.get("duration_seconds"),
        "timeout_seconds": artifact.get("timeout_seconds"),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "phase": artifact.get("phase"),
        "phase_number": artifact.get("phase_number"),
        "message": artifact.get("message", ""),
        "fix": artifact.get("fix", ""),
        "container": {
            "name": artifact.get("container_name"),
            "id": container_id[:12],
            "image": artifact.get("image"),
            "status": "running" if health["container_status"] == "healthy" else ("unknown" if not container_id else "not ready"),
            "health": "healthy" if code == 0 else "unhealthy",
        },
        "image": dict(artifact.get("image_pull") or {}, reference=artifact.get("image"), source=artifact.get("image_source")),
        "phases": phases,
        "health_checks": health,
        "health_layers": layers,
        "warnings": list(artifact.get("warnings") or []),
        # The setup log on the VM (phase 8 writes it; "View logs" tails it).
        "log_file": artifact.get("log_file") or "",
        "server_url": "http://127.0.0.1:%s" % ports.get("server", 5000),
        "vnc_url": "http://127.0.0.1:%s" % ports.get("vnc", 8006),
        "connection": connection,
        "ports": ports,
    }
    doc["tunnel_command"] = tunnel_command(doc)
    if artifact.get("golden"):
        doc["golden"] = dict(artifact["golden"])  # waa prepare-image: the golden disk's manifest
    # The VM's time for this run at its size's price (None when neither is known).
    doc["costs"] = estimate(artifact.get("vm_size"), artifact.get("duration_seconds"), artifact.get("hourly_rate"))
    return doc


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
