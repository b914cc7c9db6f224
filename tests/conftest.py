"""Shared pytest fixtures: the stand-in Azure VM (tests/standin/local_vm.py).

- `standin` (session): runs `local_vm.up()` once and returns its `StandIn` dataclass (ssh key,
  known_hosts, inventory, registries, acr credentials, image names ...). If `up` fails, every
  test that uses it errors with the reason: nothing is skipped.
- `standin_ctl` (session): the local_vm module itself (hub_stats, push_padded, release_stalls,
  set_hub_fault, status, up, down).
- `hub_fault` (function): `hub_fault("429")`, `hub_fault("stall", stall_after_bytes=..., ...)`
  switches the "Docker Hub" fault proxy; after the test it is reset to "none" and stalled
  responses are released.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

_STANDIN_DIR = Path(__file__).resolve().parent / "standin"
if str(_STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(_STANDIN_DIR))

import local_vm  # noqa: E402  (tests/standin/local_vm.py, standard library only)


def pytest_configure(config):
    config.addinivalue_line("markers", "standin: uses the stand-in VM (sshd 127.0.0.1:2222, dockerd, registries)")


@pytest.fixture(scope="session")
def standin() -> local_vm.StandIn:
    return local_vm.up()


@pytest.fixture(scope="session")
def standin_ctl(standin):
    return local_vm


@pytest.fixture
def hub_fault(standin):
    """Callable that sets the hub fault: hub_fault(mode, stall_after_bytes=, stall_seconds=,
    rate_bps=, targets=). Reset to mode none (stalls released) after the test."""

    def set_fault(mode: str, **kw) -> dict:
        return local_vm.set_hub_fault(mode, **kw)

    try:
        yield set_fault
    finally:
        local_vm.set_hub_fault("none", release=True)
