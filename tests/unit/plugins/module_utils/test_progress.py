import json
import os
import stat

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._progress import (
    ProgressFileError, ProgressWriter, atomic_write_bytes, is_terminal, read_progress, write_progress)


def test_atomic_write_and_read(tmp_path):
    path = str(tmp_path / "p.json")
    write_progress(path, {"kind": "pull", "state": "running"})
    assert read_progress(path) == {"kind": "pull", "state": "running"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    atomic_write_bytes(path, b"{}", mode=0o600)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"], "no temporary files left behind"
    for bad_mode in (0o777, 0o666, 0o4755):
        with pytest.raises(ValueError):
            atomic_write_bytes(path, b"x", mode=bad_mode)


def test_refuses_symlinks_missing_dirs_and_non_files(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with pytest.raises(ProgressFileError):
        write_progress(str(link), {"x": 1})
    assert target.read_text() == "keep"
    # A missing parent directory is created private (persist_files relies on that).
    write_progress(str(tmp_path / "nodir" / "p.json"), {})
    assert stat.S_IMODE(os.stat(str(tmp_path / "nodir")).st_mode) == 0o700
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ProgressFileError):
        write_progress(str(blocker / "p.json"), {})
    with pytest.raises(ProgressFileError):
        write_progress(str(tmp_path), {})
    with pytest.raises(ProgressFileError):
        write_progress("relative.json", {})


def test_read_tolerates_missing_partial_and_non_objects(tmp_path):
    path = tmp_path / "p.json"
    assert read_progress(str(path)) is None
    path.write_text('{"kind": "pu')
    assert read_progress(str(path)) is None
    path.write_text("[1, 2]")
    assert read_progress(str(path)) is None
    assert is_terminal({"state": "done"}) and is_terminal({"state": "failed"})
    assert not is_terminal({"state": "running"}) and not is_terminal(None)


def test_writer_throttles_counts_and_scrubs(tmp_path):
    now = [0.0]
    path = str(tmp_path / "p.json")
    writer = ProgressWriter(path, "pull", min_interval=0.5, scrub=lambda s: s.replace("hunter2", "***"),
                            clock=lambda: now[0])
    assert writer.update({"message": "a hunter2"})
    assert not writer.update({"message": "b"})  # within 0.5 s
    now[0] = 0.6
    assert writer.update({"message": "c"})
    record = read_progress(path)
    assert record["seq"] == 2 and record["message"] == "c" and record["kind"] == "pull" and record["state"] == "running"
    assert writer.final({"message": "end hunter2", "result": {"ok": True}}, failed=False)
    record = read_progress(path)
    assert record["state"] == "done" and record["seq"] == 3 and "hunter2" not in json.dumps(record)
    writer.final({}, failed=True)
    assert read_progress(path)["state"] == "failed"
    assert ProgressWriter(None, "pull").update({"x": 1}) is False
