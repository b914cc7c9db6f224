"""The VM lease: takeover rules, and that concurrent takeovers of one stale lease have one winner.
Real files and real flock; several processes race for real."""

import json
import multiprocessing
import os
import time

from ansible_collections.openadapt.waa.plugins.module_utils import _lease


def _write(path, record):
    with open(path, "w") as handle:
        handle.write(record if isinstance(record, str) else json.dumps(record))


def test_free_lease_is_taken_and_released_only_by_its_owner(tmp_path):
    path = str(tmp_path / "lock")
    assert _lease.try_acquire(path, "a", 60) == (True, None, None)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    taken, holder, reason = _lease.try_acquire(path, "b", 60)
    assert not taken and holder["owner"] == "a" and reason is None
    assert not _lease.release(path, "b"), "another run's lease is never removed"
    assert _lease.release(path, "a") and not os.path.exists(path)


def test_expired_dead_owner_and_broken_leases_are_taken_over(tmp_path):
    path = str(tmp_path / "lock")
    _write(path, {"owner": "old", "since": 1, "expires": time.time() - 1})
    taken, holder, reason = _lease.try_acquire(path, "new", 60)
    assert taken and holder["owner"] == "old" and "expired" in reason

    _write(path, {"owner": "killed", "since": time.time(), "expires": time.time() + 86400})
    assert not _lease.try_acquire(path, "new2", 60)[0], "a live lease is respected"
    taken, _holder, reason = _lease.try_acquire(path, "new2", 60, dead_owners=["killed"])
    assert taken and "gone" in reason

    _write(path, "")  # empty: a kill between create and write
    assert not _lease.try_acquire(path, "new3", 60)[0], "a lease being written gets its grace"
    old = time.time() - _lease.BROKEN_GRACE - 1
    os.utime(path, (old, old))
    taken, _holder, reason = _lease.try_acquire(path, "new3", 60)
    assert taken and "broken" in reason
    assert json.load(open(path))["owner"] == "new3"


def _race(path, owner, start, queue):
    while time.time() < start:
        time.sleep(0.001)
    taken, _holder, _reason = _lease.try_acquire(path, owner, 60)
    queue.put((owner, taken))


def test_concurrent_takeover_of_an_expired_lease_has_one_winner(tmp_path):
    path = str(tmp_path / "lock")
    for _round in range(5):
        _write(path, {"owner": "old", "since": 1, "expires": time.time() - 1})
        queue = multiprocessing.Queue()
        start = time.time() + 0.3
        procs = [multiprocessing.Process(target=_race, args=(path, "r%d" % i, start, queue)) for i in range(6)]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=20) for _ in procs]
        for proc in procs:
            proc.join(timeout=20)
        winners = [owner for owner, taken in results if taken]
        assert len(winners) == 1, results
        assert json.load(open(path))["owner"] == winners[0]
