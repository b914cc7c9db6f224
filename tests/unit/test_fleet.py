"""The fleet's pure logic: which tasks a failed host leaves, who runs them in the second pass, the circuit
breaker's state, the chain of resumed runs."""
from __future__ import annotations

import json

from openadapt_waa import fleet
from openadapt_waa.fleet import Breaker, Reading, deal, missing, orphaned, second_pass

from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import share_of

SELECTION = ["notepad/n%d" % i for i in range(4)] + ["chrome/c%d" % i for i in range(3)] + ["paint/p0"]


def _share(index: int, count: int) -> list[str]:
    return ["%s/%s" % pair for pair in share_of([tuple(r.split("/")) for r in SELECTION], index, count)]


def test_a_failed_host_that_reported_its_share_leaves_its_unfinished_tasks():
    reading = Reading(selection=SELECTION, shares={"a": (0, 2), "b": (1, 2)}, done=set(_share(0, 2)) | {_share(1, 2)[0]})
    orphans, unattributed = orphaned(reading, ["b"])
    assert orphans == _share(1, 2)[1:] and unattributed == 0


def test_a_host_that_failed_before_reporting_holds_the_one_unreported_share():
    reading = Reading(selection=SELECTION, shares={"a": (0, 3), "c": (2, 3)}, done=set(_share(0, 3)))
    orphans, unattributed = orphaned(reading, ["b"])
    assert orphans == _share(1, 3) and unattributed == 0
    # Two unreported shares, one silent failed host: one share belongs to a host outside the run.
    reading = Reading(selection=SELECTION, shares={"a": (0, 3)}, done=set(_share(0, 3)))
    orphans, unattributed = orphaned(reading, ["b"])
    assert orphans == [] and unattributed == 1


def test_without_a_split_every_unfinished_task_is_orphaned():
    reading = Reading(selection=SELECTION, done=set(SELECTION[:5]))
    assert orphaned(reading, ["a"]) == (SELECTION[5:], 0)
    assert missing(reading) == SELECTION[5:]
    assert orphaned(Reading(), ["a"]) == ([], 0)  # nothing reported, nothing known


def test_deal_balances_and_never_gives_a_task_back_to_where_it_raised():
    plan = deal(["t/1", "t/2", "t/3", "t/4", "t/5"], ["b", "a"], {"t/1": "a", "t/2": "a"})
    assert plan == {"a": ["t/3", "t/4", "t/5"], "b": ["t/1", "t/2"]}
    assert deal(["t/1"], ["a"], {"t/1": "a"}) == {}  # no other host: left without a result
    assert deal([], ["a"], {}) == {}


def test_second_pass_gives_a_dead_hosts_share_and_raised_tasks_to_healthy_hosts():
    raised = _share(0, 3)[0]
    reading = Reading(selection=SELECTION, shares={"a": (0, 3), "c": (2, 3)},
                      done=(set(_share(0, 3)) - {raised}) | set(_share(2, 3)), raised={raised: "a"})
    docs = {"a": {"exit_code": 0}, "b": {"exit_code": 1}, "c": {"exit_code": 0}}
    plan = second_pass(reading, docs)
    assert plan.failed_hosts == ["b"] and plan.unattributed == 0
    assert sorted(r for refs in plan.tasks.values() for r in refs) == sorted(_share(1, 3) + [raised])
    assert raised in plan.tasks["c"] and plan.total == len(_share(1, 3)) + 1
    # A stopped run (signal) is no host failure; a host with exit 10 (client crashed) is.
    assert second_pass(reading, {"a": {"exit_code": 130}}).failed_hosts == []
    assert second_pass(reading, {"a": {"exit_code": 10}, "c": {"exit_code": 0}}).failed_hosts == ["a"]
    # Nobody healthy: nothing to deal.
    assert second_pass(reading, {"a": {"exit_code": 4}, "b": {"exit_code": 1}}).tasks == {}


def test_breaker_opens_after_k_failures_in_a_row_and_a_success_closes_it(tmp_path):
    path = tmp_path / "breaker.json"
    breaker = Breaker("/inv.yml", 2, path)
    breaker.record("vm-1", True, "unreachable")
    breaker.save()
    assert Breaker("/inv.yml", 2, path).open_hosts() == []
    again = Breaker("/inv.yml", 2, path)
    again.record("vm-1", True, "unreachable")
    again.record("bad name!", True)
    again.save()
    assert Breaker("/inv.yml", 2, path).open_hosts() == ["vm-1"]  # a name no pattern can hold is never probed
    assert Breaker("/other.yml", 2, path).open_hosts() == []  # per inventory
    assert Breaker("/inv.yml", 3, path).open_hosts() == []  # K read at use
    closed = Breaker("/inv.yml", 2, path)
    closed.record("vm-1", False)
    closed.forget("bad name!")
    closed.save()
    assert json.loads(path.read_text()) == {}
    path.write_text("not json")
    assert Breaker("/inv.yml", 2, path).open_hosts() == []  # a damaged file: every circuit closed


def test_a_resumed_run_reads_the_runs_it_resumes_first(tmp_path):
    first, second, third = (tmp_path / n for n in ("1", "2", "3"))
    for d in (first, second, third):
        d.mkdir()
    (first / fleet.SECOND_PASS_DIR).mkdir()
    (second / fleet.RESUMES_FILE).write_text(json.dumps({"resumes": [str(first)]}))
    (third / fleet.RESUMES_FILE).write_text(json.dumps({"resumes": [str(second), str(tmp_path / "gone"), 7]}))
    assert fleet.run_dirs_of(third) == [first, first / fleet.SECOND_PASS_DIR, second, third]
    (third / fleet.RESUMES_FILE).write_text("{")
    assert fleet.run_dirs_of(third) == [third]


def test_read_takes_selection_shares_results_and_raised_tasks_from_run_dirs(tmp_path):
    n0 = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
    root = tmp_path / "results" / "a" / "pyautogui" / "notepad" / n0
    root.mkdir(parents=True)
    (root / "result.txt").write_text("0.0\n")
    events = [
        {"type": "benchmark", "host": "a", "selection": SELECTION[:2], "share": {"index": 0, "count": 2}},
        {"type": "benchmark", "host": "b", "selection": SELECTION[1:3], "share": {"index": 1, "count": 2}},
        {"type": "task_end", "host": "a", "domain": "notepad", "task_id": "n1", "status": "error"},
        {"type": "task_end", "host": "a", "domain": "notepad", "task_id": n0, "status": "finished"},
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\nnot json\n")
    reading = fleet.read([tmp_path])
    assert reading.selection == SELECTION[:3] and reading.shares == {"a": (0, 2), "b": (1, 2)}
    assert reading.done == {"notepad/" + n0} and reading.raised == {"notepad/n1": "a"}


def test_a_host_stopped_at_its_share_of_max_cost_is_no_failure_and_allows_no_second_pass(tmp_path):
    events = [{"type": "benchmark", "host": "a", "selection": SELECTION, "share": {"index": 0, "count": 2},
               "budget_stopped": True}]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    reading = fleet.read([tmp_path])
    assert reading.budget_stopped == {"a"}
    plan = second_pass(reading, {"a": {"exit_code": 10}, "b": {"exit_code": 1}})
    assert plan.tasks == {} and plan.failed_hosts == []
