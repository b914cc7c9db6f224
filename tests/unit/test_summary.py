"""The merged benchmark summary (plugin_utils/_summary.py) over run directories laid out as `waa run` leaves them."""
import json
import os

from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary as summary

ROOT = "pyautogui/a11y_tree/gpt-4o-mini/0"
A = "409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"
B = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
C = "048f01dc-d108-598e-beaf-dfd031cefd78-WOS"
D = "010d2406-2406-5463-9960-10d4eb0bcd89-WOS"


def result(run, host, domain, task, text, mtime=None):
    path = run / "results" / host / ROOT / domain / task / "result.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def events(run, *items):
    with open(run / "events.jsonl", "a") as handle:
        for item in items:
            handle.write(json.dumps(dict({"type": "task_end"}, **item)) + "\n")


def host_doc(run, host, code=0, cost=None):
    doc = {"host": host, "exit_code": code, "costs": {"estimated_cost_usd": cost} if cost is not None else None}
    (run / "results" / (host + ".json")).write_text(json.dumps(doc))


def test_two_hosts_and_an_earlier_run_make_one_score_each_task_once(tmp_path):
    one, two = tmp_path / "run-1", tmp_path / "run-2"
    result(one, "vm-a", "paint", A, "1\n", mtime=1000)
    result(one, "vm-b", "notepad", B, "True\n")
    result(one, "vm-b", "settings", D, "0.0\n")
    events(one, {"host": "vm-a", "domain": "paint", "task_id": A, "status": "finished", "duration": 30.0},
           {"host": "vm-b", "domain": "notepad", "task_id": B, "status": "finished", "duration": 12.5},
           {"host": "vm-b", "domain": "chrome", "task_id": C, "status": "error", "duration": 99.0},
           {"host": "vm-b", "domain": "settings", "task_id": D, "status": "finished", "duration": 5.0})
    host_doc(one, "vm-a", cost=0.25)
    host_doc(one, "vm-b", code=10, cost=0.5)
    # A later run did paint again (scoring 0.5 this time): reported, counted once (the newest).
    result(two, "vm-c", "paint", A, "0.5\n", mtime=2000)
    host_doc(two, "vm-c", cost=0.125)

    merged = summary.merge([one, two])
    assert (merged["tasks"], merged["successes"], merged["success_rate"]) == (3, 1, 0.3333)
    assert merged["average_score"] == round((0.5 + 1.0 + 0.0) / 3, 4)
    assert merged["domains"]["paint"] == {"tasks": 1, "successes": 0, "average_score": 0.5}
    assert merged["duplicates"] == [{"task": "paint/" + A, "results": [
        {"run": str(one), "host": "vm-a", "score": 1.0}, {"run": str(two), "host": "vm-c", "score": 0.5}]}]
    assert merged["hosts"]["vm-b"] == {"tasks": 2, "seconds": 116.5, "failures": {"error": 1, "exit 10": 1}}
    assert merged["hosts"]["vm-a"]["tasks"] == 0 and merged["hosts"]["vm-c"]["tasks"] == 1  # vm-c's is the newest
    assert merged["without_result"] == ["chrome/" + C]
    assert merged["slowest"][0] == {"task": "chrome/" + C, "host": "vm-b", "seconds": 99.0}
    assert merged["cost_usd"] == 0.875
    text = "\n".join(summary.lines(merged))
    assert "3 task(s) with a result, 1 succeeded (33.3%), average score 0.50" in text
    assert "has 2 results (counted once, the newest)" in text and "estimated cost of the fleet: $0.88" in text


def test_what_is_no_result_is_not_counted(tmp_path):
    run = tmp_path / "run"
    result(run, "vm-a", "paint", A, "1.7\n")  # out of [0, 1]
    result(run, "vm-a", "notepad", B, "x" * 500)  # not one value
    result(run, "vm-a", "not a domain!", C, "1\n")  # not WAA's layout
    result(run, "..", "paint", D, "1\n")
    link = run / "results" / "vm-a" / ROOT / "clock" / D
    link.mkdir(parents=True)
    (link / "result.txt").symlink_to(run / "results" / "vm-a" / ROOT / "paint" / A / "result.txt")
    merged = summary.merge([run])
    assert merged["tasks"] == 0 and merged["average_score"] is None and merged["cost_usd"] is None
    assert summary.lines(merged)[0] == "Benchmark summary: 0 task(s) with a result, 0 succeeded (n/a), average score n/a"


def test_the_summary_file_is_private(tmp_path):
    path = summary.write(tmp_path, summary.merge([tmp_path]))
    assert path == tmp_path / "results" / "summary.json" and (path.stat().st_mode & 0o777) == 0o600
    assert json.loads(path.read_text())["tasks"] == 0
    assert summary.merge([tmp_path])["tasks"] == 0, "summary.json itself is no host document"


def test_recorded_results_merge_like_run_directories(tmp_path):
    """An AWX merge step's input: each host's recorded result (set_stats waa_results) with its benchmark part."""
    recorded = {
        "vm-a": {"exit_code": 0, "vm_size": "Standard_D8s_v3", "duration_seconds": 3600, "benchmark": {"tasks": [
            {"task": "notepad/" + B, "status": "finished", "score": 1.0, "success": True, "duration": 30},
            {"task": "chrome/" + C, "status": "error", "score": None, "success": False, "duration": 5}]}},
        "vm-b": {"exit_code": 10, "hourly_rate": "1.0", "duration_seconds": 1800, "benchmark": {"tasks": [
            {"task": "notepad/" + B, "status": "finished", "score": 0.0, "success": False, "duration": 40},
            {"task": "settings/" + D, "status": "finished", "score": 7, "success": True},  # no score is 7
            {"task": "../x/" + D, "status": "finished", "score": 1.0}]}},
        "bad/host": {"exit_code": 0}, "vm-c": "not a result"}
    merged = summary.merge_recorded(recorded)
    # notepad ran on both: reported, counted once; a score of 7 is no result; a bad name is left out.
    assert merged["tasks"] == 1 and [d["task"] for d in merged["duplicates"]] == ["notepad/" + B], merged
    assert set(merged["hosts"]) == {"vm-a", "vm-b"} and merged["domains"] == {
        "notepad": {"tasks": 1, "successes": merged["successes"], "average_score": merged["average_score"]}}
    assert merged["hosts"]["vm-b"]["failures"] == {"exit 10": 1} and merged["hosts"]["vm-a"]["failures"] == {"error": 1}
    assert merged["without_result"] == ["chrome/" + C]
    assert merged["cost_usd"] == round(0.384 + 0.5, 4)
    assert summary.merge_recorded(None)["tasks"] == 0 and summary.merge_recorded("x")["tasks"] == 0
