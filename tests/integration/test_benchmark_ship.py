"""progress_watch's file shipping (the Shipper): new and grown result files in bounded answers,
a cursor next to the progress file, event trimming, and the final sync against what the
controller holds. Plain files in a temporary directory: no VM needed."""
from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

_COLLECTIONS = str(Path(__file__).resolve().parents[2] / ".collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.openadapt.waa.plugins.module_utils._watch import Shipper  # noqa: E402


def apply(pieces, dest):
    """What the callback does with the pieces: write them at their offsets."""
    for piece in pieces:
        path = dest / piece["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        data = base64.b64decode(piece["data"])
        mode = "r+b" if piece["offset"] and path.exists() else "wb"
        with open(path, mode) as handle:
            handle.seek(piece["offset"])
            handle.write(data)
            handle.truncate()


def round_trip(root, cursor, dest, **kw):
    shipper = Shipper(str(root), str(cursor), kw.pop("max_bytes", 1 << 20), **kw)
    pieces = shipper.ship()
    shipper.save()
    apply(pieces, dest)
    return shipper, pieces


def tree(dest):
    return {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}


def test_new_grown_and_unchanged_files(tmp_path):
    root, dest, cursor = tmp_path / "vm", tmp_path / "ctl", tmp_path / "p.json.ship.json"
    task = root / "pyautogui/a11y_tree/m/0/notepad/t1"
    task.mkdir(parents=True)
    (task / "traj.jsonl").write_text('{"step_num": 0}\n')
    (task / "screenshot-step_reset_1.png").write_bytes(b"\x89PNG" + os.urandom(1000))
    (task / "accessibility_tree-step_reset_1.txt").write_text("<desktop/>")
    (task / ".hidden.tmp").write_text("x")
    _, pieces = round_trip(root, cursor, dest, exclude=["accessibility_tree-*", ".*"])
    assert sorted(p["path"] for p in pieces) == ["pyautogui/a11y_tree/m/0/notepad/t1/screenshot-step_reset_1.png",
                                                  "pyautogui/a11y_tree/m/0/notepad/t1/traj.jsonl"]
    assert oct(cursor.stat().st_mode & 0o777) == "0o600"
    # Nothing new: nothing sent.
    _, pieces = round_trip(root, cursor, dest, exclude=["accessibility_tree-*", ".*"])
    assert pieces == []
    # traj.jsonl grows: only its new bytes travel; result.txt is new.
    with open(task / "traj.jsonl", "a") as handle:
        handle.write('{"step_num": 1}\n')
    (task / "result.txt").write_text("True\n")
    _, pieces = round_trip(root, cursor, dest, exclude=["accessibility_tree-*", ".*"])
    by_path = {p["path"].rsplit("/", 1)[-1]: p for p in pieces}
    assert by_path["traj.jsonl"]["offset"] == len('{"step_num": 0}\n')
    assert base64.b64decode(by_path["traj.jsonl"]["data"]) == b'{"step_num": 1}\n'
    assert by_path["result.txt"]["complete"] and by_path["result.txt"]["offset"] == 0
    got = tree(dest)
    assert got["pyautogui/a11y_tree/m/0/notepad/t1/traj.jsonl"] == (task / "traj.jsonl").read_bytes()
    assert "pyautogui/a11y_tree/m/0/notepad/t1/accessibility_tree-step_reset_1.txt" not in got


def test_answers_are_bounded_and_big_files_come_in_pieces(tmp_path):
    root, dest, cursor = tmp_path / "vm", tmp_path / "ctl", tmp_path / "c.json"
    root.mkdir()
    big = os.urandom(300 * 1024)
    (root / "big.png").write_bytes(big)
    (root / "small.txt").write_text("1\n")
    os.utime(root / "small.txt", (time.time() + 5, time.time() + 5))  # newer: sent after big.png
    answers = []
    for _ in range(10):
        shipper, pieces = round_trip(root, cursor, dest, max_bytes=128 * 1024)
        answers.append((shipper.sent_bytes, shipper.pending, [p["path"] for p in pieces]))
        if not shipper.pending:
            break
    assert all(sent <= 128 * 1024 for sent, _, _ in answers)
    assert [a[2] for a in answers][:3] == [["big.png"], ["big.png"], ["big.png", "small.txt"]]
    assert not answers[-1][1]
    assert tree(dest) == {"big.png": big, "small.txt": b"1\n"}


def test_since_symlinks_and_a_new_run(tmp_path):
    root, dest, cursor = tmp_path / "vm", tmp_path / "ctl", tmp_path / "c.json"
    root.mkdir()
    old = root / "old-result.txt"
    old.write_text("1\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    secret = tmp_path / "secret"
    secret.write_text("no")
    (root / "link.txt").symlink_to(secret)
    (root / "linkdir").symlink_to(tmp_path)
    (root / "new.txt").write_text("0.0\n")
    _, pieces = round_trip(root, cursor, dest, since=time.time() - 60)
    assert [p["path"] for p in pieces] == ["new.txt"]


def test_final_sync_repairs_what_the_controller_lacks(tmp_path):
    root, dest, cursor = tmp_path / "vm", tmp_path / "ctl", tmp_path / "c.json"
    root.mkdir()
    (root / "a.log").write_text("line 1\n")
    (root / "b.txt").write_text("1.0\n")
    round_trip(root, cursor, dest)
    # The next answer is lost on the way: the cursor moved, the controller did not get it.
    with open(root / "a.log", "a") as handle:
        handle.write("line 2\n")
    (root / "c.png").write_bytes(b"png")
    lost = Shipper(str(root), str(cursor), 1 << 20)
    assert {p["path"] for p in lost.ship()} == {"a.log", "c.png"}
    lost.save()
    assert round_trip(root, cursor, dest)[1] == []  # the cursor believes all was sent
    have = {str(p.relative_to(dest)): p.stat().st_size for p in dest.rglob("*") if p.is_file()}
    _, pieces = round_trip(root, cursor, dest, have=have)
    assert {p["path"]: p["offset"] for p in pieces} == {"a.log": len("line 1\n"), "c.png": 0}
    assert tree(dest) == {"a.log": b"line 1\nline 2\n", "b.txt": b"1.0\n", "c.png": b"png"}
    have = {str(p.relative_to(dest)): p.stat().st_size for p in dest.rglob("*") if p.is_file()}
    assert round_trip(root, cursor, dest, have=have)[1] == []


def test_events_are_sent_once_unless_unsettled(tmp_path):
    cursor = tmp_path / "c.json"
    root = tmp_path / "vm"
    root.mkdir()

    def trip(record, have=None):
        shipper = Shipper(str(root), str(cursor), 1 << 20, have=have)
        out = shipper.trim_events(record)
        shipper.save()
        return [e["seq"] for e in out["events"]]

    events = [{"seq": 1, "type": "task_start"}, {"seq": 2, "type": "task_step", "settled": False},
              {"seq": 3, "type": "task_step", "settled": True}]
    record = {"ship_since": 100.0, "events": events}
    assert trip(record) == [1, 2, 3]
    assert trip(record) == [2, 3]  # seq 2 may still get its screenshot
    events[1]["settled"] = True
    assert trip(record) == [2, 3]
    assert trip(record) == []
    assert trip(record, have={}) == [1, 2, 3]  # the final sync returns the whole window
    # A new run (another ship_since) starts counting again.
    assert trip({"ship_since": 200.0, "events": [{"seq": 1, "type": "benchmark"}]}) == [1]


def test_final_sync_retries_with_the_same_have_continue(tmp_path):
    # An until loop re-runs the task with the same arguments: the same `have` on every retry.
    root, dest, cursor = tmp_path / "vm", tmp_path / "ctl", tmp_path / "c.json"
    root.mkdir()
    files = {"a.png": os.urandom(150 * 1024), "b.png": os.urandom(150 * 1024), "c.txt": b"1\n"}
    for name, data in files.items():
        (root / name).write_bytes(data)
    have = {}
    rounds = 0
    while True:
        rounds += 1
        shipper, pieces = round_trip(root, cursor, dest, have=have, max_bytes=100 * 1024)
        if not shipper.pending or rounds > 10:
            break
    assert rounds == 4 and tree(dest) == files
    assert round_trip(root, cursor, dest, have=have)[1] == []
