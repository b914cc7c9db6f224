import json
import os
import time

from ansible_collections.openadapt.waa.plugins.module_utils._watch import JOB_ID_RE, Watch, read_job, watch


def write(path, data, mtime=None):
    path.write_text(json.dumps(data))
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))


def test_terminal_record_ends_the_watch(tmp_path):
    p = tmp_path / "p.json"
    write(p, {"state": "running"})
    t0 = time.monotonic()
    state = watch(str(p), 0.5)
    assert not state.ended and 0.4 < time.monotonic() - t0 < 1.5
    write(p, {"state": "done", "result": {"x": 1}})
    state = watch(str(p), 5)
    assert state.ended and state.outcome() == ({"x": 1}, False)


def test_stale_terminal_record_is_ignored_while_the_job_runs(tmp_path):
    p, job = tmp_path / "p.json", tmp_path / "j1.1"
    now = time.time()
    write(p, {"state": "done", "updated": now - 100, "result": {"stale": True}})
    write(job, {"started": True, "finished": False, "ansible_job_id": "j1.1"}, mtime=now - 5)
    assert not Watch(str(p), str(job)).check()
    write(p, {"state": "failed", "updated": now, "result": {"msg": "boom", "waa_exit_code": 3}})
    w = Watch(str(p), str(job))
    assert w.check() and w.outcome() == ({"msg": "boom", "waa_exit_code": 3}, True)


def test_finished_job_without_record_ends_the_watch(tmp_path):
    p, job = tmp_path / "p.json", tmp_path / "j2.2"
    write(job, {"failed": True, "msg": "bad parameter", "waa_exit_code": 3})
    w = Watch(str(p), str(job))
    assert w.check()
    result, failed = w.outcome()
    assert failed and result["msg"] == "bad parameter"
    assert read_job(str(tmp_path / "none")) == (False, None, None)


def test_job_id_pattern():
    assert JOB_ID_RE.match("j885002302479.21368") and JOB_ID_RE.match("123.45")
    for bad in ("../../etc/passwd", "j1.2/../x", "j1.2\n", ""):
        assert not JOB_ID_RE.match(bad)


def test_a_failed_jobs_structured_warnings_come_back_as_text(tmp_path):
    """ansible-core 2.19 keeps a module's warnings in the async job file as dicts; the watch that
    relays the failed work's result gives them as text (a dict there made Ansible fail the task)."""
    import pytest

    from ansible_collections.openadapt.waa.plugins.module_utils._finish import Finished
    from ansible_collections.openadapt.waa.plugins.module_utils._watch import progress_watch

    job = tmp_path / "j3.3"
    write(job, {"failed": True, "msg": "pull failed", "waa_exit_code": 3,
                "warnings": [{"msg": "Module did not set no_log for x", "source": "module"}],
                "deprecations": [{"msg": "old", "version": "2.21"}]})
    p = dict(path=str(tmp_path / "p.json"), wait=0, job_id="j3.3", async_dir=str(tmp_path), fail_on_failed=True,
             ship_dir=None, ship_cursor=None, ship_max_bytes=4096, ship_since=None, ship_exclude=[], ship_have=None)
    with pytest.raises(Finished) as done:
        progress_watch(p)
    assert done.value.failed and done.value.result["msg"] == "pull failed" and done.value.result["waa_exit_code"] == 3
    assert done.value.result["warnings"] == ["Module did not set no_log for x"]
    assert "deprecations" not in done.value.result
