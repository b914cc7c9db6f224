"""The per-host result document (plugin_utils/_result_document.py) from the state a run's events add up to
(plugin_utils/_run_state.py)."""

from __future__ import annotations

from ansible_collections.openadapt.waa.plugins.plugin_utils._result_document import result_document
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_state import apply_event, new_state


def _state(*events: dict) -> dict:
    state = new_state()
    for event in events:
        apply_event(state, dict(event, host="vm-1"))
    return state


def test_a_phase_that_passed_carries_what_its_last_check_said_and_a_failed_one_its_failure():
    state = _state(
        {"type": "phase_start", "phase": "image", "number": 2},
        {"type": "check", "phase": "image", "name": "Image pull", "ok": True, "message": "img is already present"},
        {"type": "phase_end", "phase": "image", "status": "ok", "message": ""},
        {"type": "phase_start", "phase": "container", "number": 3},
        {"type": "check", "phase": "container", "name": "Container c", "ok": True, "message": "created"},
        {"type": "check", "phase": "container", "name": "Ports", "ok": False, "message": "taken"},
        {"type": "phase_end", "phase": "container", "status": "failed", "message": "Container creation failed: taken"})
    doc = result_document("vm-1", {"exit_code": 4}, state["hosts"]["vm-1"], {}, {})
    assert [(p["role"], p["status"], p["message"]) for p in doc["phases"]] == [
        ("image", "success", "img is already present"), ("container", "failed", "Container creation failed: taken")]
