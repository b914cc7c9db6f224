"""One benchmark result from many: the merged summary of run directories (a fleet's hosts, AWX slices,
earlier runs).

The scores are the result files on the controller (``<run>/results/<host>/.../<domain>/<task id>/result.txt``,
WAA's own layout), read by the same rule as the benchmark module (``_waa_log.parse_result``); the
task times and the failures without a result come from the runs' ``task_end`` events; the cost from
the hosts' result documents. A task with results in several places is reported and counted once
(its newest result).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.openadapt.waa.plugins.module_utils._validate import valid_task_ref
from ansible_collections.openadapt.waa.plugins.plugin_utils._events import atomic_write
from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import parse_result

SUMMARY_FILE = "summary.json"
SLOWEST = 5
# result.txt holds one value; anything larger is not one.
RESULT_MAX_BYTES = 100


@dataclass
class TaskResult:
    """One result.txt: a task's score on a host of a run."""
    domain: str
    task_id: str
    host: str
    run: str
    score: float
    success: bool
    mtime: float


def _is_name(text: str) -> bool:
    return bool(text) and text not in (".", "..") and "/" not in text and "\0" not in text


def read_results(run_dir: Path) -> list[TaskResult]:
    """The readable result.txt files of ``run_dir`` (links and unparsable values are left out)."""
    found = []
    root = run_dir / "results"
    if not root.is_dir():
        return found
    for host_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and _is_name(p.name)):
        for path in sorted(host_dir.rglob("result.txt")):
            domain, task_id = path.parent.parent.name, path.parent.name
            if path.is_symlink() or not path.is_file() or not valid_task_ref(domain, task_id):
                continue
            try:
                with open(path, "rb") as handle:
                    text = handle.read(RESULT_MAX_BYTES + 1)
            except OSError:
                continue
            score, success = parse_result(text.decode("utf-8", "replace")) if len(text) <= RESULT_MAX_BYTES else (None, None)
            if score is not None:
                found.append(TaskResult(domain, task_id, host_dir.name, str(run_dir), score, bool(success),
                                        path.stat().st_mtime))
    return found


def read_events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    events = []
    if not path.is_file():
        return events
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def _host_docs(run_dir: Path) -> dict[str, dict]:
    docs = {}
    for path in sorted((run_dir / "results").glob("*.json")) if (run_dir / "results").is_dir() else []:
        if path.name == SUMMARY_FILE:
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("host"), str):
            docs[doc["host"]] = doc
    return docs


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def merge(run_dirs: list[Path]) -> dict:
    """The merged summary of ``run_dirs``: per domain, overall, per host, the slowest tasks, the
    duplicates and the fleet's cost."""
    results = [r for run_dir in run_dirs for r in read_results(Path(run_dir))]
    by_task: dict[tuple, list[TaskResult]] = {}
    for result in results:
        by_task.setdefault((result.domain, result.task_id), []).append(result)
    kept = {key: max(found, key=lambda r: r.mtime) for key, found in by_task.items()}
    duplicates = [{"task": "%s/%s" % key, "results": [{"run": r.run, "host": r.host, "score": r.score} for r in found]}
                  for key, found in sorted(by_task.items()) if len(found) > 1]

    hosts: dict[str, dict] = {}
    durations = []
    failed_tasks = set()
    cost = 0.0
    costed = False
    for run_dir in map(Path, run_dirs):
        for event in read_events(run_dir):
            if event.get("type") != "task_end" or not isinstance(event.get("host"), str):
                continue
            host = hosts.setdefault(event["host"], {"tasks": 0, "seconds": 0.0, "failures": {}})
            seconds = _number(event.get("duration")) or 0.0
            host["seconds"] = round(host["seconds"] + seconds, 1)
            key = (str(event.get("domain")), str(event.get("task_id")))
            if event.get("status") != "finished":
                status = str(event.get("status") or "unknown")[:32]
                host["failures"][status] = host["failures"].get(status, 0) + 1
                failed_tasks.add(key)
            durations.append({"task": "%s/%s" % key, "host": event["host"], "seconds": seconds})
        for name, doc in _host_docs(run_dir).items():
            host = hosts.setdefault(name, {"tasks": 0, "seconds": 0.0, "failures": {}})
            code = doc.get("exit_code")
            if isinstance(code, int) and code != 0:
                label = "exit %d" % code
                host["failures"][label] = host["failures"].get(label, 0) + 1
            estimate = _number((doc.get("costs") or {}).get("estimated_cost_usd"))
            if estimate is not None:
                cost, costed = cost + estimate, True
    for result in kept.values():
        hosts.setdefault(result.host, {"tasks": 0, "seconds": 0.0, "failures": {}})["tasks"] += 1

    domains: dict[str, dict] = {}
    for (domain, _task), result in sorted(kept.items()):
        entry = domains.setdefault(domain, {"tasks": 0, "successes": 0, "score_sum": 0.0})
        entry["tasks"] += 1
        entry["successes"] += int(result.success)
        entry["score_sum"] += result.score
    for entry in domains.values():
        entry["average_score"] = round(entry.pop("score_sum") / entry["tasks"], 4)
    total = len(kept)
    successes = sum(int(r.success) for r in kept.values())
    return {
        "run_dirs": [str(d) for d in run_dirs],
        "tasks": total,
        "successes": successes,
        "success_rate": round(successes / total, 4) if total else None,
        "average_score": round(sum(r.score for r in kept.values()) / total, 4) if total else None,
        "without_result": sorted("%s/%s" % key for key in failed_tasks if key not in kept),
        "domains": domains,
        "hosts": dict(sorted(hosts.items())),
        "slowest": sorted(durations, key=lambda d: -d["seconds"])[:SLOWEST],
        "duplicates": duplicates,
        "cost_usd": round(cost, 4) if costed else None,
    }


def write(run_dir: Path, summary: dict) -> Path:
    """``<run_dir>/results/summary.json`` (private, as every run file)."""
    path = Path(run_dir) / "results" / SUMMARY_FILE
    atomic_write(str(path), json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


def _pct(value) -> str:
    return "n/a" if value is None else "%.1f%%" % (100 * value)


def _score(value) -> str:
    return "n/a" if value is None else "%.2f" % value


def lines(summary: dict) -> list[str]:
    """The summary as a human table."""
    out = ["Benchmark summary: %d task(s) with a result, %d succeeded (%s), average score %s" % (
        summary["tasks"], summary["successes"], _pct(summary["success_rate"]), _score(summary["average_score"]))]
    if summary["domains"]:
        width = max(len(d) for d in summary["domains"])
        out.append("  %-*s  tasks  successes  average" % (width, "domain"))
        for domain, entry in summary["domains"].items():
            out.append("  %-*s  %5d  %9d  %7s" % (width, domain, entry["tasks"], entry["successes"],
                                                  _score(entry["average_score"])))
    for name, host in summary["hosts"].items():
        failures = ", ".join("%s %d" % item for item in sorted(host["failures"].items())) or "none"
        out.append("  host %s: %d task(s), %.0f s of tasks, failures: %s" % (name, host["tasks"], host["seconds"],
                                                                           failures))
    if summary["slowest"]:
        out.append("  slowest: " + ", ".join("%s (%.0f s on %s)" % (d["task"], d["seconds"], d["host"])
                                             for d in summary["slowest"][:3]))
    if summary["without_result"]:
        out.append("  without a result: %d task(s) (run again to finish them): %s" % (
            len(summary["without_result"]), ", ".join(summary["without_result"][:5])))
    for dup in summary["duplicates"]:
        out.append("  %s has %d results (counted once, the newest): %s" % (
            dup["task"], len(dup["results"]), "; ".join("%s on %s: %s" % (r["run"], r["host"], r["score"])
                                                         for r in dup["results"])))
    if summary["cost_usd"] is not None:
        out.append("  estimated cost of the fleet: $%.2f" % summary["cost_usd"])
    return out
