"""One benchmark result from many: the merged summary of run directories (a fleet's hosts, AWX slices,
earlier runs), or of the hosts' recorded results (set_stats ``waa_results``, an AWX workflow's artifacts).

From run directories, the scores are the result files on the controller
(``<run>/results/<host>/.../<domain>/<task id>/result.txt``, WAA's own layout), read by the same rule as
the benchmark module (``_waa_log.parse_result``); the task times and the failures without a result come
from the runs' ``task_end`` events; the cost from the hosts' result documents. From recorded results,
all of it comes from each host's ``benchmark`` part. A task with results in several places is reported
and counted once (its newest result).

Pure Python, no Ansible imports (the CLI, and the benchmark_summary filter of an AWX merge step).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.openadapt.waa.plugins.module_utils._validate import valid_task_ref
from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import parse_result
from ansible_collections.openadapt.waa.plugins.plugin_utils._artifact import STATUS_RE
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import estimate
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import atomic_write

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
    ends = [event for run_dir in run_dirs for event in read_events(Path(run_dir))
            if event.get("type") == "task_end" and isinstance(event.get("host"), str)]
    docs = [doc for run_dir in run_dirs for doc in _host_docs(Path(run_dir)).values()]
    return summarize(results, ends, docs, [str(d) for d in run_dirs])


def merge_recorded(waa_results) -> dict:
    """The merged summary of the hosts' recorded results: ``{host: result}`` (set_stats ``waa_results``, what AWX
    keeps of a job), or a list of such (a sliced job's slices, each host under its own artifact key). They come
    from the VMs: checked here."""
    recorded_by_host = {}
    for part in waa_results if isinstance(waa_results, list) else [waa_results]:
        recorded_by_host.update(part if isinstance(part, dict) else {})
    results, ends, docs = [], [], []
    for host, recorded in sorted(recorded_by_host.items(), key=lambda item: str(item[0])):
        if not isinstance(recorded, dict) or not isinstance(host, str) or not _is_name(host):
            continue
        docs.append({"host": host, "exit_code": recorded.get("exit_code"),
                     "costs": estimate(recorded.get("vm_size"), recorded.get("duration_seconds"),
                                       recorded.get("hourly_rate"))})
        tasks = (recorded.get("benchmark") or {}).get("tasks") if isinstance(recorded.get("benchmark"), dict) else None
        for order, task in enumerate(tasks if isinstance(tasks, list) else []):
            domain, _sep, task_id = str((task or {}).get("task") if isinstance(task, dict) else "").partition("/")
            if not valid_task_ref(domain, task_id):
                continue
            status = str(task.get("status") or "")
            status = status if STATUS_RE.match(status) else "unknown"
            ends.append({"host": host, "domain": domain, "task_id": task_id, "status": status,
                         "duration": _number(task.get("duration"))})
            score = _number(task.get("score"))
            if status == "finished" and score is not None and 0 <= score <= 1:
                results.append(TaskResult(domain, task_id, host, "recorded", score, task.get("success") is True, order))
    return summarize(results, ends, docs, [])


def summarize(results: list[TaskResult], ends: list[dict], docs: list[dict], run_dirs: list[str]) -> dict:
    """The summary of task results, task ends (``task_end`` events) and host result documents."""
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
    for event in ends:
        host = hosts.setdefault(event["host"], {"tasks": 0, "seconds": 0.0, "failures": {}})
        seconds = _number(event.get("duration")) or 0.0
        host["seconds"] = round(host["seconds"] + seconds, 1)
        key = (str(event.get("domain")), str(event.get("task_id")))
        if event.get("status") != "finished":
            status = str(event.get("status") or "unknown")[:32]
            host["failures"][status] = host["failures"].get(status, 0) + 1
            failed_tasks.add(key)
        durations.append({"task": "%s/%s" % key, "host": event["host"], "seconds": seconds})
    for doc in docs:
        host = hosts.setdefault(doc["host"], {"tasks": 0, "seconds": 0.0, "failures": {}})
        code = doc.get("exit_code")
        if isinstance(code, int) and code != 0:
            label = "exit %d" % code
            host["failures"][label] = host["failures"].get(label, 0) + 1
        estimate_usd = _number((doc.get("costs") or {}).get("estimated_cost_usd"))
        if estimate_usd is not None:
            cost, costed = cost + estimate_usd, True
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
        "run_dirs": list(run_dirs),
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
        out.append("  host %s: %d task(s), %.0f s of tasks, failures: %s" % (
            name, host["tasks"], host["seconds"], failures))
    if summary["slowest"]:
        out.append("  slowest: " + ", ".join("%s (%.0f s on %s)" % (d["task"], d["seconds"], d["host"])
                                             for d in summary["slowest"][:3]))
    if summary["without_result"]:
        out.append("  without a result: %d task(s) (run again to finish them): %s" % (
            len(summary["without_result"]), ", ".join(summary["without_result"][:5])))
    for dup in summary["duplicates"]:
        where = "; ".join("%s on %s: %s" % (r["run"], r["host"], r["score"]) for r in dup["results"])
        out.append("  %s has %d results (counted once, the newest): %s" % (dup["task"], len(dup["results"]), where))
    if summary["cost_usd"] is not None:
        out.append("  estimated cost of the fleet: $%.2f" % summary["cost_usd"])
    return out
