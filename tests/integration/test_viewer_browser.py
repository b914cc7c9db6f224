"""The live viewer in headless Chromium (Playwright, the system's /usr/bin/chromium).

The viewer starts on run dirs that do not exist yet; the test then writes events the way the
callback plugin does (append one JSON line, flush) and checks what the page shows: phases
advancing, the pull bar moving, boot log lines, the smoke-test screenshot loading, benchmark
tasks with scores, the final results, and the same after a reload. It also measures the time
from writing an event to the page having it in the DOM, and checks the polling fallback.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import struct
import time
import zlib
from pathlib import Path

import pytest

from openadapt_waa.viewer import Viewer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WAIT_MS = 5000
GAP = 0.04  # seconds between events, like a busy run

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                reason="needs chromium (apt-get install -y chromium)")


def png(width: int, height: int, rgb=(30, 120, 200)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


class Writer:
    """Appends events to <run dir>/events.jsonl the way the callback plugin does."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.seq = 0
        self.written: dict[str, float] = {}  # "<run>:<seq>" -> write time (epoch s)

    def emit(self, kind: str, host: str | None = None, gap: float = GAP, **fields) -> dict:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "screenshots").mkdir(exist_ok=True)
        self.seq += 1
        event = {"seq": self.seq, "ts": time.time(), "type": kind, "host": host, **fields}
        with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")
            handle.flush()
        self.written["%s:%d" % (self.run_dir.name, self.seq)] = event["ts"]
        if gap:
            time.sleep(gap)
        return event

    def phase(self, host: str, role: str, number: int, title: str, status: str = "ok", duration: float = 1.5, **kw):
        self.emit("phase_start", host, phase=role, number=number, title=title)
        self.emit("check", host, phase=role, name="%s check" % title, ok=status != "failed", message="", duration=duration)
        self.emit("phase_end", host, phase=role, number=number, status=status, duration=duration, **kw)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def host(page, name: str):
    return page.locator('[data-testid="host-%s"]' % name)


def tid(scope, testid: str):
    return scope.locator('[data-testid="%s"]' % testid)


def assert_full_view(page, setup_name: str) -> None:
    """What the page shows once the whole scenario has been written (also after a reload)."""
    status = tid(page, "status")
    expect(status).to_have_attribute("data-state", "failed", timeout=WAIT_MS)
    expect(status).to_have_text("Failed: exit 3 (Image pull failed)")
    vm1, vm2 = host(page, "vm1"), host(page, "vm2")
    for role in ("preflight", "docker", "image", "container", "windows_boot", "waa_server", "accessibility", "smoke",
                 "persist", "validate"):
        expect(tid(vm1, "phase-" + role)).to_have_attribute("data-status", "ok", timeout=WAIT_MS)
    expect(tid(vm1, "phase-accessibility")).to_have_attribute("data-number", "6")
    expect(tid(vm1, "phase-image-duration")).to_have_text("12.0s")
    expect(tid(vm1, "pull-bar")).to_have_attribute("data-pct", "100")
    expect(tid(vm1, "pull-text")).to_contain_text("9 of 9 layers")
    expect(tid(vm1, "boot-stage-server_ready")).to_have_attribute("data-reached", "true")
    expect(tid(vm1, "boot-log")).to_contain_text("WAA server started on port 5000")
    expect(tid(vm1, "server")).to_contain_text("http://127.0.0.1:5000")
    expect(tid(vm1, "warnings")).to_contain_text("Only 30 GB free")
    shot = tid(vm1, "screenshot")
    expect(shot).to_have_count(1)
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=shot.element_handle(), timeout=WAIT_MS)
    assert shot.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [64, 48]
    for task_id, status_, score in (("notepad-1", "passed", "1.00"), ("calc-2", "failed", "0.00"), ("clock-3", "passed", "0.50")):
        task = tid(vm1, "task-" + task_id)
        expect(task).to_have_attribute("data-status", status_, timeout=WAIT_MS)
        expect(tid(task, "task-score")).to_contain_text("score " + score)
        expect(tid(task, "step")).to_have_count(2)
    expect(tid(vm1, "task-calc-2")).to_contain_text("Compute 6*7 in Calculator")
    expect(tid(vm1, "bench-summary")).to_have_attribute("data-completed", "3")
    expect(tid(vm1, "bench-summary")).to_have_attribute("data-success", "2")
    expect(tid(vm1, "bench-summary")).to_contain_text("average score 0.50")
    expect(tid(vm1, "bench-final")).to_be_visible()
    steps = tid(vm1, "step-screenshot")
    expect(steps).to_have_count(3)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=step-screenshot]')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=WAIT_MS)
    expect(tid(vm1, "result")).to_have_attribute("data-exit-code", "0")
    expect(tid(vm2, "phase-image")).to_have_attribute("data-status", "failed")
    expect(tid(vm2, "phase-image-message")).to_contain_text("Fix: Pass --azure-cr")
    expect(tid(vm2, "phase-container")).to_have_attribute("data-status", "pending")
    expect(tid(vm2, "result")).to_have_attribute("data-exit-code", "3")
    expect(tid(vm2, "result")).to_contain_text("Image pull failed")
    expect(tid(page, "log")).to_contain_text("Phase 2/9: Image pull")
    expect(tid(vm2, "other-checks")).to_contain_text("SSH connectivity")  # a check outside any phase
    expect(tid(vm1, "other-checks")).to_be_hidden()
    runs = page.evaluate("() => window.__waaModel.runs.map(r => r.name)")
    assert runs[0] == setup_name and len(runs) == 2


def test_live_run_in_the_browser(browser, tmp_path):
    started = time.monotonic()
    setup_dir = tmp_path / "20260101T000000Z-vm-setup"
    bench_dir = tmp_path / "20260101T010000Z-run"
    viewer = Viewer([setup_dir], poll_interval=0.05)
    url = viewer.start()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda resp: errors.append("%s %s" % (resp.status, resp.url)) if resp.status >= 400 else None)
    try:
        page.goto(url)
        status = tid(page, "status")
        expect(status).to_have_text("Initializing...")
        expect(tid(page, "conn")).to_have_attribute("data-mode", "live", timeout=WAIT_MS)
        expect(tid(page, "waiting")).to_contain_text("not created yet")

        w = Writer(setup_dir)
        w.emit("run_start", playbook="vm_setup", hosts=["vm1", "vm2"])
        expect(status).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        expect(tid(page, "waiting")).to_be_hidden()
        vm1, vm2 = host(page, "vm1"), host(page, "vm2")
        w.emit("phase_start", "vm1", phase="preflight", number=1, title="Pre-flight checks")
        w.emit("check", "vm2", phase=None, name="SSH connectivity", ok=True, message="", duration=0.1)
        w.emit("phase_start", "vm2", phase="preflight", number=1, title="Pre-flight checks")
        expect(tid(vm1, "phase-preflight")).to_have_attribute("data-status", "running", timeout=WAIT_MS)
        expect(tid(vm1, "phase-image")).to_have_attribute("data-status", "pending")
        w.emit("check", "vm1", phase="preflight", name="KVM available", ok=True, message="", duration=0.2)
        w.emit("warning", "vm1", phase="preflight", message="Only 30 GB free on /var/lib/docker")
        w.emit("phase_end", "vm1", phase="preflight", number=1, status="ok", duration=2.0)
        # the docker role is part of phase 1: still running until it ends
        w.emit("phase_start", "vm1", phase="docker", number=1, title="Docker daemon")
        expect(tid(vm1, "phase-preflight")).to_have_attribute("data-status", "running", timeout=WAIT_MS)
        expect(tid(vm1, "phase-docker")).to_have_attribute("data-status", "running")
        w.emit("phase_end", "vm1", phase="docker", number=1, status="ok", duration=1.0)
        expect(tid(vm1, "phase-preflight")).to_have_attribute("data-status", "ok", timeout=WAIT_MS)
        expect(tid(vm1, "phase-preflight-duration")).to_have_text("3.0s")
        expect(tid(vm1, "warnings")).to_contain_text("Only 30 GB free")
        for other in (w, ):
            other.emit("phase_end", "vm2", phase="preflight", number=1, status="ok", duration=2.0)
            other.emit("phase_start", "vm2", phase="docker", number=1, title="Docker daemon")
            other.emit("phase_end", "vm2", phase="docker", number=1, status="ok", duration=1.0)

        # image pull: the bar moves
        w.emit("phase_start", "vm1", phase="image", number=2, title="Image pull")
        w.emit("phase_start", "vm2", phase="image", number=2, title="Image pull")
        expect(tid(vm1, "phase-image")).to_have_attribute("data-status", "running", timeout=WAIT_MS)
        expect(tid(vm1, "phase-preflight")).to_have_attribute("data-status", "ok")
        total = 15_000_000_000
        seen = []
        for i in range(1, 11):
            state = "done" if i == 10 else "pulling"
            w.emit("pull_progress", "vm1", phase="image", bytes_done=total * i // 10, bytes_total=total, layers_done=i - 1,
                   layers_total=9, rate_bps=150_000_000, eta_s=(10 - i) * 10.0, source="docker.io", attempt=1,
                   attempts_max=3, state=state, image="windowsarena/winarena:latest")
            expected = 100 if i == 10 else i * 10
            bar = tid(vm1, "pull-bar")
            page.wait_for_function("([el, v]) => parseFloat(el.dataset.pct) >= v", arg=[bar.element_handle(), expected],
                                   timeout=WAIT_MS)
            seen.append(float(bar.get_attribute("data-pct")))
            if i == 5:
                expect(tid(vm1, "pull-text")).to_contain_text("7.5 GB / 15.0 GB (50%)")
                expect(tid(vm1, "pull-text")).to_contain_text("ETA 50.0s")
                expect(tid(vm1, "pull-text")).to_contain_text("150.0 MB/s")
        assert seen == sorted(seen) and seen[0] < 50 < seen[-1] == 100, seen
        w.emit("phase_end", "vm1", phase="image", number=2, status="ok", duration=12.0)
        w.emit("warning", "vm2", phase="image", message="Docker Hub rate limit (429)")
        w.emit("phase_end", "vm2", phase="image", number=2, status="failed", duration=4.0,
               message="Docker Hub rate limit reached pulling windowsarena/winarena:latest",
               fix="Pass --azure-cr myacr.azurecr.io or docker login")
        expect(tid(vm2, "phase-image")).to_have_attribute("data-status", "failed", timeout=WAIT_MS)
        expect(tid(vm1, "phase-image")).to_have_attribute("data-status", "ok")

        # container, boot with log lines, server
        w.phase("vm1", "container", 3, "Container creation", duration=3.0)
        w.emit("phase_start", "vm1", phase="windows_boot", number=4, title="Windows VM boot")
        expect(tid(vm1, "host-phase")).to_have_text("phase 4/9 \u00b7 Windows VM boot", timeout=WAIT_MS)
        logs: list[str] = []
        for stage, line in (("container_started", "Starting Windows..."), ("qemu_started", "QEMU 8.2 started"),
                            ("windows_started", "Windows started successfully"), ("vnc_ready", "VNC on :8006"),
                            ("server_ready", "WAA server started on port 5000")):
            logs.append(line)
            w.emit("boot", "vm1", phase="windows_boot", stage=stage, log_tail=list(logs))
            expect(tid(vm1, "boot-stage-" + stage)).to_have_attribute("data-reached", "true", timeout=WAIT_MS)
            expect(tid(vm1, "boot-log")).to_contain_text(line)
        expect(tid(vm1, "boot-stage")).to_have_text("server ready")
        w.emit("phase_end", "vm1", phase="windows_boot", number=4, status="ok", duration=95.0)
        w.emit("phase_start", "vm1", phase="waa_server", number=5, title="WAA server initialization")
        w.emit("server_ready", "vm1", url="http://127.0.0.1:5000", elapsed=4.2)
        expect(tid(vm1, "server")).to_contain_text("answering at http://127.0.0.1:5000", timeout=WAIT_MS)
        w.emit("phase_end", "vm1", phase="waa_server", number=5, status="ok", duration=4.2)
        w.phase("vm1", "accessibility", 6, "Accessibility tree verification")
        expect(tid(vm1, "phase-accessibility")).to_have_attribute("data-status", "ok", timeout=WAIT_MS)
        expect(tid(vm1, "phase-smoke")).to_have_attribute("data-status", "pending")

        # smoke test: a real PNG copied back, then its event
        w.emit("phase_start", "vm1", phase="smoke", number=7, title="End-to-end smoke test")
        (setup_dir / "screenshots" / "vm1-smoke.png").write_bytes(png(64, 48))
        w.emit("screenshot", "vm1", phase="smoke", path="screenshots/vm1-smoke.png")
        shot = tid(vm1, "screenshot")
        expect(shot).to_have_count(1, timeout=WAIT_MS)
        page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=shot.element_handle(), timeout=WAIT_MS)
        w.emit("phase_end", "vm1", phase="smoke", number=7, status="ok", duration=6.0)
        w.phase("vm1", "persist", 8, "Persist results", duration=0.3)
        w.phase("vm1", "validate", 9, "Final validation", duration=0.8)
        w.emit("host_result", "vm1", result={"exit_code": 0, "exit_meaning": "Success", "success": True, "message": "",
                                             "fix": "", "duration_seconds": 130.0,
                                             "tunnel_command": "ssh -N -L 5000:127.0.0.1:5000 azureuser@vm1"})
        w.emit("host_result", "vm2", result={"exit_code": 3, "exit_meaning": "Image pull failed", "success": False,
                                             "message": "Docker Hub rate limit reached",
                                             "fix": "Pass --azure-cr myacr.azurecr.io", "duration_seconds": 9.0})
        w.emit("run_end", status="failed", exit_code=3, hosts={"vm1": 0, "vm2": 3})
        expect(tid(vm1, "result")).to_have_attribute("data-exit-code", "0", timeout=WAIT_MS)
        expect(tid(vm2, "result")).to_contain_text("Fix: Pass --azure-cr")
        expect(status).to_have_attribute("data-state", "failed")

        # the benchmark: a second run dir, added when it starts, merges into the same view
        viewer.add_run_dir(bench_dir)
        b = Writer(bench_dir)
        b.emit("run_start", playbook="run", hosts=["vm1"])
        expect(status).to_have_attribute("data-state", "running", timeout=WAIT_MS)
        b.emit("phase_start", "vm1", phase="benchmark", number=10, title="Benchmark run")
        b.emit("benchmark", "vm1", status="running", total_tasks=3)
        expect(page.locator("body")).to_contain_text("Benchmark run", timeout=WAIT_MS)
        expect(page.locator("body")).not_to_contain_text("10/9")  # not one of the nine setup phases
        tasks = (("notepad-1", "notepad", "Open Notepad and type hello", True, 1.0),
                 ("calc-2", "windows_calc", "Compute 6*7 in Calculator", False, 0.0),
                 ("clock-3", "clock", "Set a timer for 5 minutes", True, 0.5))
        for index, (task_id, domain, instruction, success, score) in enumerate(tasks, 1):
            b.emit("task_start", "vm1", task_id=task_id, domain=domain, instruction=instruction, index=index, total=3)
            card = tid(vm1, "task-" + task_id)
            expect(card).to_have_attribute("data-status", "running", timeout=WAIT_MS)
            expect(tid(card, "task-instruction")).to_have_text(instruction)
            for step in (1, 2):
                shot_path = None
                if step == 1:
                    rel = "screenshots/%s/step_1.png" % task_id
                    (bench_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                    (bench_dir / rel).write_bytes(png(32, 24, (200, 60, 60)))
                    shot_path = rel
                b.emit("task_step", "vm1", task_id=task_id, step_idx=step,
                       action="pyautogui.click(%d, %d)" % (100 * step, 50) if step == 1 else "DONE",
                       reasoning="step %d" % step, screenshot=shot_path)
            expect(tid(card, "step")).to_have_count(2, timeout=WAIT_MS)
            b.emit("task_end", "vm1", task_id=task_id, success=success, score=score, duration=20.0 + index)
            expect(card).to_have_attribute("data-status", "passed" if success else "failed", timeout=WAIT_MS)
            expect(tid(card, "task-score")).to_contain_text("score %.2f" % score)
            expect(tid(vm1, "bench-summary")).to_have_attribute("data-completed", str(index))
        b.emit("benchmark", "vm1", status="complete", total_tasks=3, success_count=2, average_score=0.5)
        b.emit("run_end", status="failed", exit_code=3, hosts={"vm1": 0})
        assert_full_view(page, setup_dir.name)

        if os.environ.get("WAA_VIEWER_SCREENSHOT"):  # to look at the page: a path for a full-page PNG
            page.screenshot(path=os.environ["WAA_VIEWER_SCREENSHOT"], full_page=True)

        # event -> DOM latency: every event written so far
        rendered = page.evaluate("() => window.__waaRendered")
        written = {**w.written, **b.written}
        missing = [key for key in written if key not in rendered]
        assert not missing, missing
        latencies = sorted((rendered[key] / 1000.0 - ts) * 1000.0 for key, ts in written.items())
        p50 = statistics.median(latencies)
        p95 = latencies[int(round(0.95 * (len(latencies) - 1)))]
        print("\nevent-to-DOM latency over %d events: p50 %.0f ms, p95 %.0f ms, max %.0f ms"
              % (len(latencies), p50, p95, latencies[-1]))
        assert len(latencies) >= 50
        assert p95 < 2000, latencies

        # a reload shows everything so far (the snapshot on connect)
        page.reload()
        assert_full_view(page, setup_dir.name)
        expect(tid(page, "conn")).to_have_attribute("data-mode", "live", timeout=WAIT_MS)
        assert not errors, errors
    finally:
        page.close()
        viewer.stop()
    print("browser scenario took %.1f s" % (time.monotonic() - started))


def test_a_fleets_benchmark_shows_a_column_per_host_and_the_merged_score_live(browser, tmp_path):
    """`waa run` over three hosts: the fleet panel has a column per host (status, tasks, successes, average,
    the running task) and the merged score over every host's tasks, updated as each task ends."""
    run_dir = tmp_path / "20260101T020000Z-run"
    viewer = Viewer([run_dir], poll_interval=0.05)
    url = viewer.start()
    page = browser.new_page()
    try:
        page.goto(url)
        w = Writer(run_dir)
        w.emit("run_start", playbook="run_waa", hosts=["vm-1", "vm-2", "vm-3"], setup=False)
        fleet = tid(page, "fleet")
        for name in ("vm-1", "vm-2"):
            w.emit("benchmark", name, status="running", total_tasks=2)
        expect(fleet).to_be_visible(timeout=WAIT_MS)  # two hosts run the benchmark
        w.emit("benchmark", "vm-3", status="running", total_tasks=2)
        expect(tid(page, "fleet-host-vm-3")).to_have_text("vm-3", timeout=WAIT_MS)
        outcomes = {"vm-1": [("n1", True, 1.0), ("n2", True, 1.0)], "vm-2": [("c1", False, 0.0), ("c2", True, 0.5)],
                    "vm-3": [("k1", True, 1.0)]}
        for name, tasks in outcomes.items():
            for index, (task_id, success, score) in enumerate(tasks, 1):
                w.emit("task_start", name, task_id=task_id, domain="notepad", instruction="do it", index=index, total=2)
                expect(tid(page, "fleet-running-" + name)).to_have_text("notepad/" + task_id, timeout=WAIT_MS)
                w.emit("task_end", name, task_id=task_id, success=success, score=score, duration=5.0)
        summary = tid(page, "fleet-summary")
        expect(summary).to_have_attribute("data-completed", "5", timeout=WAIT_MS)
        expect(summary).to_have_attribute("data-success", "4")
        expect(summary).to_contain_text("Fleet of 3 hosts: tasks completed 5 / 6")
        expect(summary).to_contain_text("average score 0.70")  # (1 + 1 + 0 + 0.5 + 1) / 5
        expect(tid(page, "fleet-tasks-vm-2")).to_have_text("2 / 2")
        expect(tid(page, "fleet-succeeded-vm-2")).to_have_text("1")
        expect(tid(page, "fleet-average-vm-2")).to_have_text("0.25")
        expect(tid(page, "fleet-tasks-vm-3")).to_have_text("1 / 2")
        page.reload()  # the snapshot on connect shows the same
        expect(tid(page, "fleet-summary")).to_have_attribute("data-completed", "5", timeout=WAIT_MS)
    finally:
        page.close()
        viewer.stop()


def test_polling_fallback_when_sse_fails(browser, tmp_path):
    run = tmp_path / "run"
    viewer = Viewer([run], poll_interval=0.05)
    url = viewer.start()
    page = browser.new_page()
    try:
        page.route("**/api/events*", lambda route: route.abort())
        page.goto(url)
        expect(tid(page, "conn")).to_have_attribute("data-mode", "polling", timeout=WAIT_MS)
        expect(tid(page, "status")).to_have_text("Initializing...")
        w = Writer(run)
        w.emit("run_start", playbook="vm_setup", hosts=["vm1"], gap=0)
        w.emit("phase_start", "vm1", phase="image", number=2, title="Image pull", gap=0)
        w.emit("pull_progress", "vm1", phase="image", bytes_done=30, bytes_total=100, layers_done=1, layers_total=3, gap=0)
        bar = tid(host(page, "vm1"), "pull-bar")
        expect(bar).to_have_attribute("data-pct", "30", timeout=WAIT_MS)
        expect(tid(host(page, "vm1"), "phase-image")).to_have_attribute("data-status", "running")
        w.emit("pull_progress", "vm1", phase="image", bytes_done=70, bytes_total=100, layers_done=2, layers_total=3, gap=0)
        expect(bar).to_have_attribute("data-pct", "70", timeout=WAIT_MS)
        assert page.evaluate("() => window.__waaModel.id") == 4
    finally:
        page.close()
        viewer.stop()
