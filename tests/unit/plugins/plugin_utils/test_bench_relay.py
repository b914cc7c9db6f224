"""The benchmark relay on the controller: shipped files stay under the host's results directory,
and events go out in order, a step only once its screenshot arrived (or the run is over)."""

from __future__ import annotations

import base64

from ansible_collections.openadapt.waa.plugins.plugin_utils._bench_relay import BenchmarkRelay, safe_name, write_piece


def _piece(path, data=b"x", **extra):
    return dict(dict(path=path, data=base64.b64encode(data).decode(), complete=True), **extra)


def test_a_piece_is_written_under_the_results_directory_and_nowhere_else(tmp_path):
    base = tmp_path / "results" / "vm"
    assert write_piece(str(base), _piece("task/result.txt", b"1.0")) == "complete"
    assert (base / "task" / "result.txt").read_bytes() == b"1.0"
    for hostile in ("../escape.txt", "/etc/passwd", "a/../../b", "a//b", "a\0b", ""):
        assert write_piece(str(base), _piece(hostile)) is None, hostile
    assert not (tmp_path / "results" / "escape.txt").exists()
    (base / "link").symlink_to(tmp_path)
    assert write_piece(str(base), _piece("link/x.txt")) is None
    assert not (tmp_path / "x.txt").exists()


def test_a_piece_after_a_lost_one_is_a_gap(tmp_path):
    base = str(tmp_path)
    assert write_piece(base, _piece("log.txt", b"abc", complete=False)) == "partial"
    assert write_piece(base, _piece("log.txt", b"def", offset=3)) == "complete"
    assert (tmp_path / "log.txt").read_bytes() == b"abcdef"
    assert write_piece(base, _piece("log.txt", b"zzz", offset=10)) == "gap"


def test_a_step_waits_for_its_screenshot_then_events_go_out_in_order(tmp_path):
    sent = []
    relay = BenchmarkRelay(str(tmp_path), "vm", lambda kind, **fields: sent.append((kind, fields)))
    start = {"seq": 1, "type": "task_start", "task_id": "../t1", "domain": "notepad", "instruction": "do"}
    step = {"seq": 2, "type": "task_step", "task_id": "../t1", "step_idx": 0, "screenshot": "t1/step_0.png"}
    progress = {"kind": "benchmark", "ship_since": 1, "state": "running", "events": [start, step]}
    relay.feed({}, progress)
    assert [kind for kind, _ in sent] == ["task_start"]
    relay.feed({"shipped": [_piece("t1/step_0.png", b"\x89PNG")]}, progress)
    assert [kind for kind, _ in sent] == ["task_start", "task_step"]
    shot = sent[1][1]["screenshot"]
    assert shot == "screenshots/vm/%s/step_0.png" % safe_name("../t1") and ".." not in shot.split("/")
    assert (tmp_path / shot).read_bytes() == b"\x89PNG"


def test_a_selection_from_the_vm_is_taken_whole_or_not_at_all():
    from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import MAX_SELECTION
    from ansible_collections.openadapt.waa.plugins.plugin_utils._bench_relay import task_selection

    good = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
    assert task_selection([good, good.replace("notepad", "chrome")]) == [good, good.replace("notepad", "chrome")]
    for hostile in ([good, "../etc/x"], [good, 7], [good, "notepad/a/b"], "notepad/x", None, [good] * (MAX_SELECTION + 1)):
        assert task_selection(hostile) is None, hostile
    assert task_selection([]) == []
