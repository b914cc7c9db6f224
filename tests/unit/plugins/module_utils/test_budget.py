"""--max-cost on a host: the budget in seconds (the filter), and when the client stops handing out tasks."""
from __future__ import annotations

from ansible_collections.openadapt.waa.plugins.filter.fleet import benchmark_budget
from ansible_collections.openadapt.waa.plugins.module_utils._bench import Run
from ansible_collections.openadapt.waa.plugins.module_utils._bench_client import _stop_for_budget


def _run(budget_in):
    run = Run({"container_name": "winarena", "budget": {"seconds": budget_in}, "model": "m", "trial_id": "0", "num_workers": 1,
               "progress_file": None, "events_window": 500, "results_dest": "/nonexistent", "result_dir": "/client/results",
               "copy_interval": 2.0, "log_file": None}, engine=None)
    run.start_mono = 1000.0
    run.budget_at = 1000.0 + budget_in if budget_in is not None else None
    return run


def _ended(run, *durations):
    for i, seconds in enumerate(durations):
        run.tasks.append({"task_id": str(i), "status": "finished", "duration": seconds})


def test_the_share_lasts_its_dollars_at_the_rate_less_what_the_run_spent():
    # $10 over 4 hosts at $0.384/h (Standard_D8s_v3's list price): 2.5 / 0.384 h, less 300 s of setup.
    assert benchmark_budget(10, 4, ["", "Standard_D8s_v3"], "", 300)["seconds"] == round(2.5 / 0.384 * 3600 - 300, 1)
    assert benchmark_budget(1, 1, [], "3600", 0) == {"seconds": 1.0, "problem": ""}  # a rate given wins: $1 a second
    unknown = benchmark_budget(1, 1, ["", ""], "", 0)
    assert unknown["seconds"] is None and "--hourly-rate USD or --vm-size SIZE" in unknown["problem"]
    assert "Standard_Z9 has no list price" in benchmark_budget(1, 1, ["Standard_Z9"], "", 0)["problem"]


def test_the_next_task_is_not_handed_out_when_it_would_end_past_the_budget():
    run = _run(100)
    assert not run.next_task_past_budget(1050)  # no task yet: the time left is what counts
    assert run.next_task_past_budget(1100.5)
    _ended(run, 30, 50)  # a mean of 40 s
    assert not run.next_task_past_budget(1059) and run.next_task_past_budget(1061)
    assert not _run(None).next_task_past_budget(10 ** 9)  # no --max-cost


def test_stopping_marks_the_run_once_and_only_while_tasks_are_left():
    run = _run(100)
    _ended(run, 40)
    run.parser.left = {"notepad": 3}  # the client's "Left tasks": 3 in all
    assert not _stop_for_budget(run, 1010)
    assert _stop_for_budget(run, 1061) and run.budget_stopped
    assert not _stop_for_budget(run, 1070)  # once
    done = _run(100)
    _ended(done, 40, 40)
    done.parser.left = {"notepad": 2}
    assert not _stop_for_budget(done, 1090) and not done.budget_stopped  # the last task ended: nothing to stop


def test_the_task_begun_as_the_client_stopped_is_not_run_not_an_error():
    run = _run(0)
    run.budget_stopped = True
    run.on_parsed({"type": "task_start", "domain": "notepad", "task_id": "x", "instruction": ""})
    run.on_parsed({"type": "task_end", "domain": "notepad", "task_id": "x", "status": "incomplete", "error": None})
    assert run.tasks[0]["status"] == "not_run" and "--max-cost" in run.tasks[0]["error"]
    summary = run.summary()
    assert summary["tasks_completed"] == 0 and summary["error_count"] == 0 and summary["budget_stopped"]
