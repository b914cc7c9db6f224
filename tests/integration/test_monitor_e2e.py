"""`waa vm-setup --monitor` and `waa run --monitor` for real: the viewer is up before the run,
and a headless browser watches the phases, the pull bar, the boot, the smoke screenshot, then
three benchmark tasks with their screenshots and scores; the results end up on the controller."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import WAA, docker_rm, unique_ports, write_inventory

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WAIT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_when_lingering(proc, timeout: float = 120) -> str:
    """Read the CLI's output until the run is over and the viewer lingers, then stop it; all output."""
    lines: list[str] = []
    done = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if "Live viewer still at" in line:
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    done.wait(timeout)
    proc.terminate()
    proc.wait(timeout=60)
    reader.join(timeout=10)
    return "".join(lines)


def _wait_http(url: str, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the viewer never answered at {url}")


def tid(scope, testid: str):
    return scope.locator('[data-testid="%s"]' % testid)


def test_setup_then_benchmark_live_in_a_browser(standin, hub_fault, fresh_image, tmp_path):
    name = "waa-monitor"
    docker_rm(name)
    published = fresh_image(6)
    hub_fault("none", image=published, rate_bps=400_000)  # a pull slow enough (~15 s) to watch the bar move
    inv = write_inventory(standin, tmp_path / "inv.yml", dict(
        unique_ports(), waa_container_name=name, waa_image=published.hub_image, waa_stop_timeout=1,
        waa_container_env={"WAA_SIM_BOOT_SECONDS": "4", "WAA_SIM_SERVER_DELAY": "3"}))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        try:
            setup = subprocess.Popen(WAA + ["vm-setup", "-i", str(inv), "--run-dir", str(tmp_path / "setup"),
                                            "--monitor", "--monitor-port", str(port), "--monitor-keep", "30"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            _wait_http(url, setup)
            page.goto(url)
            host = tid(page, "host-local-vm")
            expect(tid(host, "phase-image")).to_have_attribute("data-status", "running", timeout=WAIT_MS)
            bar = tid(host, "pull-bar")
            page.wait_for_function("el => parseFloat(el.dataset.pct) > 0 && parseFloat(el.dataset.pct) < 100",
                                   arg=bar.element_handle(), timeout=WAIT_MS)
            # The endpoint OpenAdapt's viewer polls says what the setup is doing, not "idle".
            live = json.loads(urllib.request.urlopen(url + "api/benchmark-live", timeout=10).read())
            assert live["status"] == "setup" and live["phase"] == "image_pull", live
            assert live["detail"].startswith("Pulling ") and "layers" in live["detail"], live
            for phase in ("container", "windows_boot", "waa_server", "accessibility", "smoke", "persist", "validate"):
                expect(tid(host, f"phase-{phase}")).to_have_attribute("data-status", "ok", timeout=WAIT_MS)
            shot = tid(host, "screenshot").first  # the <img> itself
            expect(shot).to_be_visible(timeout=WAIT_MS)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shot.element_handle(),
                                   timeout=WAIT_MS)
            expect(tid(host, "result")).to_have_attribute("data-exit-code", "0", timeout=WAIT_MS)
            out = _stop_when_lingering(setup)
            assert "SUCCESS" in out and setup.returncode == 0, out  # SIGTERM while lingering keeps the run's code

            run_dir = tmp_path / "bench"
            bench = subprocess.Popen(WAA + ["run", "-i", str(inv), "--num-tasks", "3", "--run-dir", str(run_dir),
                                            "--monitor", "--monitor-port", str(port), "--monitor-keep", "20"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            _wait_http(url, bench)
            page.goto(url)
            summary = tid(page, "bench-summary")
            page.wait_for_function("el => el && parseInt(el.dataset.completed || '0') >= 3",
                                   arg=summary.element_handle(timeout=WAIT_MS), timeout=WAIT_MS)
            tasks = page.locator('[data-testid^="task-"][data-status]')
            assert tasks.count() >= 3
            for index in range(3):
                expect(tid(tasks.nth(index), "task-score")).not_to_be_empty()
            step_shot = tid(page, "step-screenshot").first  # in a collapsed task: loaded, not shown
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=step_shot.element_handle(timeout=WAIT_MS),
                                   timeout=WAIT_MS)
            # The tasks are done before the playbook is: stop the viewer only once it lingers after the run.
            expect(tid(tid(page, "host-local-vm"), "result")).to_have_attribute("data-exit-code", "0", timeout=WAIT_MS)
            # A benchmark run lists the phases it went through, not setup phases left "pending" for ever.
            card = tid(page, "host-local-vm")
            expect(tid(card, "phase-validate")).to_be_visible()
            for phase in ("preflight", "image", "container", "windows_boot", "smoke"):
                expect(tid(card, f"phase-{phase}")).to_be_hidden()
            out = _stop_when_lingering(bench)
            assert "SUCCESS" in out and bench.returncode == 0, out
        finally:
            browser.close()
            for proc in ("setup", "bench"):
                handle = locals().get(proc)
                if handle is not None and handle.poll() is None:
                    handle.kill()
            docker_rm(name)
    # The results are on the controller: one result.txt per task, and the screenshots.
    results = list((run_dir / "results" / "local-vm").rglob("result.txt"))
    assert len(results) >= 3, results
    assert list((run_dir / "screenshots").rglob("*.png"))
    live = json.loads((run_dir / "benchmark_live.json").read_text())
    assert live["status"] == "complete" and live["tasks_completed"] >= 3
