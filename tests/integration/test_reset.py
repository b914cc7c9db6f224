"""The golden disk stays pristine: Windows runs on a qcow2 overlay over it, a benchmark changes only
the overlay, and `waa reset` returns Windows to the golden state (a fresh overlay) in O(1)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ansible_collections.openadapt.waa.plugins.module_utils import _golden, _overlay
from conftest import docker_rm, unique_ports, vm_state_dir
from golden import make_golden

# A 1 s stop: the simulator, like the real image, ignores SIGTERM (a real Windows shuts down in its own time).
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}
NOTEPAD = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
PAINT = "microsoft_paint/409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"


def _started_at(name: str) -> str:
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def _mounts(name: str) -> str:
    out = subprocess.run(["docker", "inspect", "-f", "{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}} {{end}}", name],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def test_a_benchmark_changes_only_the_overlay_and_reset_returns_to_the_golden_disk(waa_cli, standin, tmp_path):
    name = "waa-reset"
    docker_rm(name)
    storage = tmp_path / "golden"
    disk = make_golden(storage)
    golden = _golden.fingerprint(str(disk))
    overlay_dir = vm_state_dir(standin) / "overlay" / name
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage), **FAST)
    hv["waa_benchmark_env"] = {"WAA_SIM_STEP_SECONDS": "0"}
    try:
        setup = waa_cli("--skip-smoke-test", hostvars=hv)
        assert setup.rc == 0, setup.output
        # The container's /storage is the overlay; the golden folder is mounted read-only at its own path.
        assert f"{overlay_dir}:/storage:true" in _mounts(name) and f"{storage}:{storage}:false" in _mounts(name)
        overlay = _overlay.state(str(storage), str(overlay_dir))
        assert overlay["matches"] and overlay["backing"] == str(disk), overlay

        run = waa_cli("--task", NOTEPAD, hostvars=hv, command="run")
        assert run.rc == 0, run.output
        # A benchmark run is no setup: its phases by their titles, and next steps about its result.
        assert "Phase 9/9" not in run.stdout and "[run] Final validation" in run.stdout, run.output
        assert "Finish what has no result" in run.stdout and "Run the benchmark:" not in run.stdout, run.output
        changed = _overlay.state(str(storage), str(overlay_dir))["bytes"]
        assert changed > overlay["bytes"], "the boot and the task wrote into the overlay"
        assert _golden.fingerprint(str(disk)) == golden, "the benchmark must not change the golden disk"

        reset = waa_cli("--json", hostvars=hv, command="reset")
        assert reset.rc == 0, reset.output
        assert not any(e.get("number") for e in reset.events() if e["type"] == "phase_start"), "no Phase N/9"
        assert reset.doc["message"].startswith("Windows reset to the golden disk ("), reset.doc
        assert [p["role"] for p in reset.doc["phases"]][:3] == ["preflight", "docker", "reset"], reset.doc["phases"]
        assert all(layer["healthy"] for layer in reset.doc["health_layers"]), reset.doc
        after = _overlay.state(str(storage), str(overlay_dir))
        assert after["matches"] and after["bytes"] < changed, (after, changed)
        assert _golden.fingerprint(str(disk)) == golden

        # --reset-between-tasks: each task on Windows fresh from the golden disk; a task with a result already
        # (notepad, from the run above) is skipped, not reset for.
        started = _started_at(name)
        isolated = waa_cli("--task", NOTEPAD, "--task", PAINT, "--reset-between-tasks", hostvars=hv, command="run")
        assert isolated.rc == 0, isolated.output
        starts = [e for e in isolated.events() if e["type"] == "task_start"]
        assert [(e["domain"], e["index"], e["total"]) for e in starts] == [("microsoft_paint", 1, 1)], starts
        assert starts[0]["reset_seconds"] and starts[0]["reset_seconds"] > 0, starts
        assert _started_at(name) != started, "the container was started again on a fresh overlay"
        ends = [e for e in isolated.events() if e["type"] == "task_end"]
        assert [(e["domain"], e["status"]) for e in ends] == [("microsoft_paint", "finished")], ends
        assert "1 already done earlier (kept)" in isolated.stdout, isolated.output
        assert _golden.fingerprint(str(disk)) == golden
    finally:
        docker_rm(name)


def test_reset_without_a_container_or_a_golden_disk_says_what_to_do(waa_cli, tmp_path):
    """No golden disk: pre-flight exit 1 naming prepare-image (the reset has nothing to return to)."""
    storage = tmp_path / "empty"
    storage.mkdir()
    hv = dict(unique_ports(), waa_container_name="waa-reset-none", waa_storage_path=str(storage), **FAST)
    run = waa_cli("--json", hostvars=hv, golden=False, command="reset")
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "preflight" and "waa prepare-image" in run.doc["fix"], run.doc
    assert not Path(storage / "data.img").exists()
