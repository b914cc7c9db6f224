"""Shared pytest fixtures: the stand-in Azure VM (tests/standin/local_vm.py).

- `standin` (session): runs `local_vm.up()` once and returns its `StandIn` dataclass (ssh key,
  known_hosts, inventory, registries, acr credentials, image names ...). If `up` fails, every
  test that uses it errors with the reason: nothing is skipped.
- `standin_ctl` (session): the local_vm module itself (hub_stats, push_padded, release_stalls,
  set_hub_fault, status, up, down).
- `fresh_image` (function): `fresh_image(mb)` publishes an image with a layer of MB random data
  that no engine or registry has seen (to hub and acr) and removes it after the test, so that a
  pull test really downloads, whatever an earlier test or run left.
- `hub_fault` (function): `hub_fault("429")`, `hub_fault("stall", stall_after_bytes=..., ...)`
  switches the "Docker Hub" fault proxy (`image=` a `fresh_image`: only that image's repository
  gets the fault); after the test it is reset to "none" and stalled responses are released.
"""
from __future__ import annotations

import fcntl
import os
import resource
import sys
import time
from pathlib import Path

import pytest

_STANDIN_DIR = Path(__file__).resolve().parent / "standin"
if str(_STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(_STANDIN_DIR))

import local_vm  # noqa: E402  (tests/standin/local_vm.py, standard library only)


def pytest_configure(config):
    config.addinivalue_line("markers", "standin: uses the stand-in VM (sshd 127.0.0.1:2222, dockerd, registries)")


# The longest files first, so that with `-n 3 --dist loadfile` (make test) no process is left
# with a long file at the end while the others idle. Ordered by each file's total in `--durations=0`
# (make test, 2026-12-07): faults ~800 s, vm_setup ~430, hostile_input ~370, soak ~240, standin_fleet
# ~220, benchmark, commands, azure_up, molecule ~140-200 each, then the rest.
LONG_FIRST = ["test_faults.py", "test_vm_setup.py", "test_hostile_input.py", "test_soak.py", "test_standin_fleet.py",
              "test_benchmark.py", "test_commands.py", "test_ecosystem_molecule.py", "test_azure_up.py", "test_golden.py",
              "test_monitor_e2e.py", "test_reset.py", "test_engine_versions.py", "test_ecosystem_runner.py",
              "test_ecosystem_lint.py", "test_ecosystem_sanity.py", "test_golden_blob.py", "test_ecosystem_install.py"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """WAA_TEST_CPU_LOG=FILE: one line per test with the CPU seconds of the processes it ran and
    waited for (the CLI, ansible-playbook, ssh; fixtures included), to see where the suite's time goes on 2 cores."""
    path = os.environ.get("WAA_TEST_CPU_LOG")
    if not path:
        return (yield)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    try:
        return (yield)
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        with open(path, "a") as handle:
            handle.write("%.1f %.1f %s\n" % (cpu, time.monotonic() - start, item.nodeid))


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).name, len(LONG_FIRST)))  # stable: order kept within


@pytest.fixture(scope="session")
def standin() -> local_vm.StandIn:
    return local_vm.up()


@pytest.fixture(scope="session")
def standin_ctl(standin):
    return local_vm


@pytest.fixture
def fresh_image(standin):
    published = []

    def publish(pad_mb: float = 2) -> local_vm.PublishedImage:
        image = local_vm.push_padded(pad_mb)
        published.append(image)
        return image

    try:
        yield publish
    finally:
        for image in published:
            local_vm.unpublish(image)


@pytest.fixture
def hub_fault(standin):
    """Callable that sets the hub fault: hub_fault(mode, stall_after_bytes=, stall_seconds=,
    rate_bps=, targets=). Reset to mode none (stalls released) after the test."""

    def set_fault(mode: str, image: local_vm.PublishedImage | None = None, **kw) -> dict:
        # Scoped to the test's own image, so that pulls of other tests running at the same time
        # go through untouched.
        if image is not None:
            kw["repository"] = image.repository
        return local_vm.set_hub_fault(mode, **kw)

    # One fault at a time: the tests that set one (in any test process) take turns.
    with open(local_vm.STATE / "hub-fault.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield set_fault
        finally:
            local_vm.set_hub_fault("none", release=True)
            fcntl.flock(lock, fcntl.LOCK_UN)
