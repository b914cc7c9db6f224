"""Benchmark 5: docker_pull_progress against a raw `docker pull`, and stall detection latency.

The image is the stand-in's padded image (`local_vm.py push-padded 1100`: the simulator plus
1.1 GB of random data in 8 layers, 1.2 GB compressed), pulled through a fault proxy of our own
(the stand-in's fault_proxy.py on 127.0.0.1:18500, in front of the stand-in hub registry
127.0.0.1:5011), so that faults we set never reach the tests others run against :5001.

- Throughput: alternating runs of (a) the module over SSH to the stand-in through an ad-hoc
  `ansible` command (Ansible start-up included, as in the reference measurement of
  community.docker.docker_image_pull) and (b) `docker pull` of the same reference; the image is
  removed before every pull and the proxy's byte counter checks that each pull really
  downloaded the image.
- Stall: proxy fault `stall` on blobs after 1 MiB; the module with stall_timeout S and one
  attempt. Stall start = the last stalled blob request (proxy log, ms); abandonment = the
  module's final progress record (`updated`, epoch, written when the attempt is given up).
  Latency past the window = abandonment - stall start - S.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from common import (PORTS, PY, REPO, WORK, docker, local_vm, log, pct, standin_hostvars, summary, write_inventory)

PAD_MB = 1100
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Proxy:
    """Our own instance of tests/standin/fault_proxy.py."""

    def __init__(self, port: int = PORTS["proxy"]):
        self.port = port
        self.dir = WORK / "proxy"
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self) -> "Proxy":
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "fault.json").write_text(json.dumps({"mode": "none"}))
        logf = open(self.dir / "proxy.log", "ab")
        self.proc = subprocess.Popen([PY, str(REPO / "tests" / "standin" / "fault_proxy.py"), "--listen",
                                      f"127.0.0.1:{self.port}", "--upstream", f"127.0.0.1:{local_vm.HUB_BACKEND_PORT}",
                                      "--fault-file", str(self.dir / "fault.json")],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with NO_PROXY.open(self.url + "/__health__", timeout=2) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.2)
        raise RuntimeError("our fault proxy did not start; see " + str(self.dir / "proxy.log"))

    def call(self, method: str, path: str, doc: dict | None = None) -> dict:
        data = json.dumps(doc).encode() if doc is not None else (b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with NO_PROXY.open(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def fault(self, **doc) -> dict:
        return self.call("POST", "/__fault__", doc)

    def stats(self) -> dict:
        return self.call("GET", "/__stats__")

    def bytes_out(self) -> int:
        return sum(m.get("bytes_out", 0) for m in self.stats().get("modes", {}).values())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.fault(mode="none")
                self.call("POST", "/__release__")
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# The image push_padded() published (a repository of its own, windowsarena/fresh-<token>), through our proxy.
PUBLISHED: dict = {}


def image_ref(proxy: Proxy) -> str:
    return f"127.0.0.1:{proxy.port}/{PUBLISHED['repository']}:{PUBLISHED['tag']}"


def remove_image(ref: str) -> bool:
    """Remove the image; True when no image with its ID is left (so the next pull downloads it)."""
    iid = docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
    docker("rmi", ref, timeout=300)
    if iid and docker("image", "inspect", iid).returncode == 0:
        return False
    return True


def inventory() -> Path:
    hv = standin_hostvars()
    return write_inventory(WORK / "inv" / "pull.yml", {"local-vm": hv})


def ansible_env() -> dict:
    """The CLI's Ansible settings (collections, pipelining, ControlPersist) without the events callback."""
    from openadapt_waa.collection import locate

    cfg = WORK / "ansible-adhoc.cfg"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[defaults]\ngathering = explicit\nhost_key_checking = True\nretry_files_enabled = False\n"
                   "stdout_callback = json\nbin_ansible_callbacks = True\n"
                   "[ssh_connection]\npipelining = True\n"
                   "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=accept-new\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH=str(locate().collections_path),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               PATH=str(Path(PY).parent) + os.pathsep + os.environ.get("PATH", ""))
    return env


def run_module(inv: Path, args: dict, timeout: float = 900) -> dict:
    """The module over SSH to the stand-in (ad-hoc ansible); wall time and the module's result."""
    # The stand-in VM logs in as azureuser, as Azure's VMs do: Docker's socket needs sudo (become).
    argv = [str(Path(PY).parent / "ansible"), "local-vm", "-i", str(inv), "--become", "-m",
            "openadapt.waa.docker_pull_progress", "-a", json.dumps(args)]
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ansible_env(), cwd=str(WORK),
                        stdin=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    res = {}
    with contextlib.suppress(ValueError, KeyError, IndexError, StopIteration):
        doc = json.loads(cp.stdout[cp.stdout.index("{"):])
        res = next(iter(doc["plays"][0]["tasks"][0]["hosts"].values()))
    return {"wall": round(wall, 3), "rc": cp.returncode, "result": res,
            "error": None if cp.returncode == 0 else (cp.stdout[-1200:] + cp.stderr[-1200:])}


def raw_pull(ref: str) -> dict:
    t0 = time.monotonic()
    cp = docker("pull", "-q", ref, timeout=900)
    return {"wall": round(time.monotonic() - t0, 3), "rc": cp.returncode,
            "error": None if cp.returncode == 0 else cp.stderr[-800:]}


def throughput(proxy: Proxy, inv: Path, pairs: int) -> dict:
    ref = image_ref(proxy)
    runs = []
    for i in range(pairs):
        order = ["module", "raw"] if i % 2 == 0 else ["raw", "module"]
        for what in order:
            clean = remove_image(ref)
            b0 = proxy.bytes_out()
            if what == "module":
                r = run_module(inv, {"image": ref, "stall_timeout": 300, "attempts": 1,
                                     "progress_file": str(WORK / "vm" / "pull" / "progress.json")})
                r["module_duration"] = r["result"].get("duration")
                r["changed"] = r["result"].get("changed")
            else:
                r = raw_pull(ref)
            r.update(what=what, bytes=proxy.bytes_out() - b0, clean_before=clean)
            r.pop("result", None)
            runs.append(r)
            log(f"  pull {what}: {r['wall']:.1f}s ({r['bytes'] / 1e9:.2f} GB through the proxy"
                + (f", module's own {r.get('module_duration')}s" if what == "module" else "") + f") rc {r['rc']}")
    remove_image(ref)
    good = [r for r in runs if r["rc"] == 0 and r["bytes"] > PAD_MB * 1e6 * 0.9]
    mod = [r["wall"] for r in good if r["what"] == "module"]
    raw = [r["wall"] for r in good if r["what"] == "raw"]
    own = [r.get("module_duration") for r in good if r["what"] == "module"]
    pairs_ratio = []
    for i in range(0, len(runs) - 1, 2):
        a, b = runs[i], runs[i + 1]
        if a in good and b in good:
            m, rw = (a, b) if a["what"] == "module" else (b, a)
            pairs_ratio.append(round(m["wall"] / rw["wall"], 3))
    return {"runs": runs, "module_wall": summary(mod), "raw_wall": summary(raw), "module_own": summary(own),
            "ratio": (pct(mod, 50) / pct(raw, 50)) if mod and raw else None,
            "ratio_module_own": (pct(own, 50) / pct(raw, 50)) if own and raw else None,
            "pair_ratios": pairs_ratio, "valid_runs": len(good), "all_runs": len(runs)}


def stall(proxy: Proxy, inv: Path, repeats: int, stall_timeout: int = 3) -> dict:
    ref = image_ref(proxy)
    progress = WORK / "vm" / "pull" / "stall.json"
    out = []
    try:
        for i in range(repeats):
            remove_image(ref)
            progress.unlink(missing_ok=True)
            proxy.call("POST", "/__stats__/reset")
            proxy.fault(mode="stall", stall_after_bytes=1 << 20, stall_seconds=120, targets="blobs")
            r = run_module(inv, {"image": ref, "stall_timeout": stall_timeout, "attempts": 1, "timeout": 120,
                                 "progress_file": str(progress)}, timeout=300)
            proxy.fault(mode="none")
            # Stalled responses are recorded when they end: release them first, then read the log.
            proxy.call("POST", "/__release__")
            time.sleep(1.0)
            stats = proxy.stats()
            stalled = [e for e in stats.get("recent", []) if e.get("method") == "GET" and "/blobs/" in e.get("path", "")
                       and e.get("mode") == "stall" and e.get("bytes", 0) >= (1 << 20) and e.get("released")]
            blobs = [e for e in stats.get("recent", []) if "/blobs/" in e.get("path", "") and e.get("mode") == "stall"]
            rec = {"rc": r["rc"], "wall": r["wall"], "stalled_requests": len(stalled), "stall_timeout": stall_timeout,
                   "blob_requests": [{k: e.get(k) for k in ("ts", "bytes", "released", "error")} for e in blobs]}
            try:
                final = json.loads(progress.read_text())
            except (OSError, ValueError):
                final = {}
            res = r["result"]
            attempts = res.get("attempts") or []
            rec["outcome"] = attempts[0].get("outcome") if attempts else None
            rec["attempt_duration"] = attempts[0].get("duration") if attempts else None
            if stalled and final.get("updated"):
                start = max(e["ts"] for e in stalled)
                rec["latency_past_window"] = round(final["updated"] - start - stall_timeout, 3)
                rec["stall_to_abandon"] = round(final["updated"] - start, 3)
            if final.get("updated") and rec["attempt_duration"] is not None:
                # Upper bound: the stall cannot start before the attempt did.
                rec["attempt_start"] = round(final["updated"] - rec["attempt_duration"], 3)
            out.append(rec)
            log(f"  stall {i + 1}/{repeats}: outcome {rec['outcome']} after {rec['attempt_duration']}s, "
                f"{rec['stalled_requests']} stalled blob requests, past the {stall_timeout}s window by "
                f"{rec.get('latency_past_window')}s")
    finally:
        proxy.fault(mode="none")
        with contextlib.suppress(Exception):
            proxy.call("POST", "/__release__")
        remove_image(ref)
    return {"runs": out, "latency_past_window": summary([r.get("latency_past_window") for r in out]),
            "stall_timeout": stall_timeout}


def bench(quick: bool = False, part: str = "both") -> dict:
    pad = local_vm.push_padded(PAD_MB)
    PUBLISHED.update(repository=pad.repository, tag=pad.tag)
    proxy = Proxy().start()
    inv = inventory()
    out = {"image_bytes": getattr(pad, "compressed_bytes", None), "layers": getattr(pad, "layers", None)}
    try:
        if part in ("both", "throughput"):
            out["throughput"] = throughput(proxy, inv, 1 if quick else 5)
        if part in ("both", "stall"):
            out["stall"] = stall(proxy, inv, 1 if quick else 3)
    finally:
        proxy.stop()
        local_vm.unpublish(pad)
    return out
