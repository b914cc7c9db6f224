# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's events as the lines a person reads (the CLI's output, the setup log, the viewer's log). Pure Python."""

from __future__ import annotations

from ansible_collections.openadapt.waa.plugins.module_utils._health import strip_ansi
from ansible_collections.openadapt.waa.plugins.module_utils._phases import PHASE_TITLE, UNNUMBERED_PHASES


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
