"""The pull's failure advice (module_utils/_pull.py); its stream is read by _pull_tracker (test_pull_tracker.py)
and the whole module runs against real registries in tests/integration/test_modules_pull.py."""

from ansible_collections.openadapt.waa.plugins.module_utils._pull import failure_fix


def test_failure_fix_names_the_fix():
    assert "docker system prune" in failure_fix({"error"}, ["write /var/lib/docker/x: no space left on device"], False, "/data/docker")
    assert "/data/docker" in failure_fix({"error"}, ["no space left on device"], False, "/data/docker")
    assert "--azure-cr" in failure_fix({"rate_limited"}, ["toomanyrequests"], False, None)
    assert "network" in failure_fix({"stalled"}, ["no download progress for 300 s"], True, None)
    assert "timeout" in failure_fix({"timeout"}, [""], False, None)
    assert "image name" in failure_fix({"error"}, ["manifest unknown"], False, None)
    assert "network" in failure_fix({"error"}, ["dial tcp: connection refused"], False, None)
