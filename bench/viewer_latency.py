"""Benchmark 7: live viewer latency, from an event appended to events.jsonl to the page having it.

As tests/integration/test_viewer_browser.py does: the viewer (openadapt_waa.viewer.Viewer, its
default poll interval) follows a run directory on 127.0.0.1:18600; headless /usr/bin/chromium
(Playwright, no `playwright install`) opens the page; events are appended the way the callback
plugin writes them (one JSON line, flush), and the page records when it rendered each one
(window.__waaRendered["<run>:<seq>"], epoch ms). Two patterns: a steady run (one event every
50 ms, with pull progress and boot lines) and bursts (20 events at once, like a phase ending).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from common import PORTS, WORK, log, pct, summary

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


class Writer:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.seq = 0
        self.written: dict[str, float] = {}
        run_dir.mkdir(parents=True, exist_ok=True)

    def emit(self, kind: str, host: str | None = "vm1", **fields) -> None:
        self.seq += 1
        event = {"seq": self.seq, "ts": time.time(), "type": kind, "host": host, **fields}
        with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")
            handle.flush()
        self.written[f"{self.run_dir.name}:{self.seq}"] = event["ts"]


def scenario(w: Writer, steady: int, bursts: int) -> None:
    w.emit("run_start", None, playbook="vm_setup", hosts=["vm1"])
    time.sleep(0.3)
    w.emit("phase_start", phase="image", number=2, title="Image pull")
    total = 15_000_000_000
    for i in range(steady):
        w.emit("pull_progress", phase="image", bytes_done=total * (i + 1) // steady, bytes_total=total,
               layers_done=i * 9 // steady, layers_total=9, rate_bps=150_000_000, eta_s=float(steady - i),
               source="docker.io", attempt=1, attempts_max=3, state="pulling", image="windowsarena/winarena:latest")
        time.sleep(0.05)
    for b in range(bursts):
        for j in range(20):
            w.emit("boot", phase="windows_boot", stage=None, log_tail=[f"burst {b} line {k}" for k in range(j + 1)])
        time.sleep(0.5)
    w.emit("run_end", None, status="successful", exit_code=0, hosts={"vm1": 0})


def bench(quick: bool = False) -> dict:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return {"skipped": "no /usr/bin/chromium (make browser)"}
    from playwright.sync_api import sync_playwright

    from openadapt_waa.viewer import Viewer

    run_dir = WORK / "viewer" / time.strftime("%Y%m%dT%H%M%SZ-vm-setup")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    viewer = Viewer([run_dir], port=PORTS["viewer"])
    url = viewer.start()
    steady, bursts = (60, 3) if quick else (200, 10)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector('[data-testid="conn"][data-mode="live"]', timeout=10000)
                w = Writer(run_dir)
                scenario(w, steady, bursts)
                deadline = time.monotonic() + 10
                rendered = {}
                while time.monotonic() < deadline:
                    rendered = page.evaluate("() => window.__waaRendered")
                    if all(k in rendered for k in w.written):
                        break
                    time.sleep(0.2)
            finally:
                browser.close()
    finally:
        viewer.stop()
    lat = {k: (rendered[k] / 1000.0 - ts) for k, ts in w.written.items() if k in rendered}
    missing = [k for k in w.written if k not in rendered]
    steady_keys = [f"{run_dir.name}:{s}" for s in range(3, 3 + steady)]
    burst_keys = [k for k in w.written if k not in steady_keys]
    out = {"events": len(w.written), "missing": len(missing), "latency": summary(list(lat.values())),
           "steady": summary([lat[k] for k in steady_keys if k in lat]),
           "burst": summary([lat[k] for k in burst_keys if k in lat]),
           "poll_interval": 0.1}
    log(f"  viewer: {out['events']} events, p50 {pct(list(lat.values()), 50) * 1000:.0f} ms, "
        f"p95 {pct(list(lat.values()), 95) * 1000:.0f} ms, missing {len(missing)}")
    return out
