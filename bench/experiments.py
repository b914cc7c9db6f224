"""Measured effect of candidate product changes, on patched copies of the collection.

Nothing in the repository is edited: the collection (galaxy.yml, meta, plugins, roles,
playbooks) is copied twice into WORK/collections/<variant>/ansible_collections/openadapt/waa,
once as it is ("current") and once with the candidate changes applied ("lean"), and both are
run the same way (bench/noop.py: ansible-runner with the CLI's environment, so start-up costs
match) against the stand-in VM through an sshd of ours (127.0.0.1:18023, LogLevel VERBOSE, so
SSH sessions are counted too). Per round and variant: a cold setup of a new container, then a
re-run on it; variants alternate order each round.

The "lean" changes: none at present. The candidates measured before (synchronous waits, a
check-mode pull question, no separate ping) are in the product now; their figures are in
bench/results/before/. To try a new candidate, add a product_state() key and its patch in
patch_lean(); bench() skips itself while every key is true.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from pathlib import Path

from common import (PORTS, PY, REPO, WORK, docker_rm, load_average, log, new_run_dir, pct, sim_instant, standin_host,
                    summary, write_inventory)
from hosts import SessionLog, SshHost
from rerun import count_tasks, task_rows

COPY = ["galaxy.yml", "meta", "plugins", "roles", "playbooks"]
LONG_BOOT_S = 60

def product_state(root: Path = REPO) -> dict:
    """Which of the candidate changes the product already has (so the report says so)."""
    def read(rel):
        p = root / rel
        return p.read_text() if p.exists() else ""

    wait, image, pre = (read("roles/common/tasks/wait.yml"), read("roles/image/tasks/main.yml"),
                        read("roles/preflight/tasks/main.yml"))
    return {
        "sync_first_wait": "waa_wait_now" in wait or ("async:" not in wait and "waa_probe" in wait),
        "sync_long_poll_wait": "async:" not in wait and "until:" in wait and "waa_probe" in wait,
        "pull_check": "check_mode: true" in image,
        "no_fact_gathering": "ansible.builtin.setup" not in pre,
        "ping_fold": "ansible.builtin.ping" not in pre or "ansible.builtin.ping:\n  when:" in pre,
    }


def make_copy(variant: str, directory: str | None = None) -> tuple[Path, list[str]]:
    root = WORK / "collections" / (directory or variant)
    if root.exists():
        shutil.rmtree(root)
    dest = root / "ansible_collections" / "openadapt" / "waa"
    dest.mkdir(parents=True)
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    applied = patch_lean(dest) if variant == "lean" else []
    return root, applied


def patch_lean(dest: Path) -> list[str]:
    """Apply the candidate changes the product does not have yet; returns their names."""
    state = product_state(dest)
    missing = [name for name, present in state.items() if not present]
    if missing:
        raise RuntimeError(f"no patch for candidate(s) {missing}: add one here")
    return []


def floor_playbook(path: Path, hv: dict) -> Path:
    """What a ready-host fast path would still do, as real module calls (no phases, no waits).

    lock, KVM check, resources, one all-layer probe, container state, smoke test + fetch, persist,
    unlock; the final validation reuses the all-layer probe. Not the product: a floor for it."""
    import yaml

    state = hv["waa_state_dir"]
    probe = {"container_name": hv["waa_container_name"], "server_url": f"http://127.0.0.1:{hv['waa_server_port']}",
             "vnc_url": f"http://127.0.0.1:{hv['waa_vnc_port']}"}
    tasks = [
        {"name": "lock", "openadapt.waa.vm_lock": {"path": f"{state}/floor-lock", "owner": "bench-floor", "lease": 600,
                                                    "wait_timeout": 60}, "changed_when": False},
        {"name": "kvm", "openadapt.waa.kvm_check": {"device": "/dev/kvm"}},
        {"name": "resources", "ansible.builtin.command": {"argv": [
            "/usr/bin/python3", "-c", "import json, os; s = os.statvfs('/'); print(json.dumps([s.f_bavail, os.cpu_count()]))"]},
         "changed_when": False},
        {"name": "all layers", "openadapt.waa.waa_probe": dict(probe)},
        {"name": "container", "community.docker.docker_container_info": {"name": hv["waa_container_name"]}},
        {"name": "smoke", "openadapt.waa.waa_probe": dict(probe, layers=["waa_server"], smoke=True,
                                                          screenshot_dest=f"{state}/floor-smoke.png")},
        {"name": "fetch", "ansible.builtin.fetch": {"src": f"{state}/floor-smoke.png",
                                                    "dest": str(WORK / "runs" / "floor-smoke.png"), "flat": True},
         "changed_when": False},
        {"name": "persist", "openadapt.waa.persist_files": {"files": [{"path": f"{state}/floor.json", "content": "{}\n"}]}},
        {"name": "unlock", "openadapt.waa.vm_lock": {"path": f"{state}/floor-lock", "owner": "bench-floor",
                                                      "state": "release"}, "changed_when": False},
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump([{"name": "fast-path floor", "hosts": "all", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False))
    return path


def run_floor(inventory: Path, hv: dict, follower: SessionLog, host: SshHost) -> dict:
    pb = floor_playbook(WORK / "playbooks" / "fast_path_floor.yml", hv)
    run_dir = new_run_dir("exp-floor")
    argv = [PY, str(REPO / "bench" / "noop.py"), str(pb), str(inventory), str(run_dir)]
    s0 = len(follower.sessions)
    vm0 = host.tree_cpu()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, cwd=str(WORK))
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    vm1 = host.tree_cpu()
    rows = task_rows(run_dir / "runner")
    return {"wall": round(wall, 3), "rc": cp.returncode, "counts": count_tasks(rows), "sessions": len(follower.sessions) - s0,
            "cpu": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime) + ((vm1 or 0) - (vm0 or 0)), 2),
            "error": None if cp.returncode == 0 else (cp.stdout[-1500:] + cp.stderr[-800:])}


def run_variant(collections: Path, inventory: Path, tag: str, follower: SessionLog, host: SshHost | None = None) -> dict:
    run_dir = new_run_dir(tag)
    playbook = collections / "ansible_collections" / "openadapt" / "waa" / "playbooks" / "vm_setup.yml"
    argv = [PY, str(REPO / "bench" / "noop.py"), str(playbook), str(inventory), str(run_dir),
            "--collections", str(collections)]
    s0 = len(follower.sessions)
    vm0 = host.tree_cpu() if host else None
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, cwd=str(WORK))
    wall = time.monotonic() - t0
    time.sleep(0.2)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    vm1 = host.tree_cpu() if host else None
    cpu_controller = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cpu_vm = (vm1 - vm0) if vm0 is not None and vm1 is not None else None
    results = {}
    for path in (run_dir / "results").glob("*.json"):
        doc = json.loads(path.read_text())
        results[doc.get("host")] = doc
    ok = cp.returncode == 0 and results and all(d.get("exit_code") == 0 for d in results.values())
    rows = task_rows(run_dir / "runner")
    events = []
    if (run_dir / "events.jsonl").exists():
        events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines() if x.strip()]
    return {"wall": round(wall, 3), "ok": bool(ok), "rc": cp.returncode, "counts": count_tasks(rows), "results": results,
            "cpu_controller": round(cpu_controller, 2), "cpu_vm": round(cpu_vm, 2) if cpu_vm is not None else None,
            "sessions": len(follower.sessions) - s0, "events": events,
            "error": None if ok else (cp.stdout[-1500:] + cp.stderr[-1500:])}


def bench(quick: bool = False) -> dict:
    rounds = 1 if quick else 5
    state = product_state()
    if all(state.values()):
        log(f"  the product has every candidate change ({', '.join(state)}): nothing to compare")
        return {"nothing_to_compare": True, "product_state": state}
    host = SshHost("experiment", "127.0.0.1", PORTS["experiment"] + 23).start()
    follower = SessionLog(host.logfile)
    follower.start()
    made = {v: make_copy(v) for v in ("current", "lean")}
    copies = {v: made[v][0] for v in made}
    applied = made["lean"][1]
    log(f"  product has: {[k for k, v in state.items() if v]}; lean adds: {applied}")
    records = []
    long_boot = []
    fault_checks = []
    try:
        for rnd in range(rounds):
            order = ["current", "lean"] if rnd % 2 == 0 else ["lean", "current"]
            for variant in order:
                name = f"waa-bench7-exp-{variant}"
                docker_rm(name)
                hv = standin_host(f"exp-{variant}", name, PORTS["experiment"] + (0 if variant == "current" else 10))
                for k in [k for k in hv if k.startswith("ansible_")]:
                    del hv[k]
                hv.update(host.ansible_vars())
                inv = write_inventory(WORK / "inv" / f"exp-{variant}.yml", {"local-vm": hv})
                load = load_average()
                cold = run_variant(copies[variant], inv, f"exp-{variant}-cold", follower, host)
                ready = sim_instant(name, "server_ready")
                end = next((e for e in cold["events"] if e.get("type") == "phase_end" and e.get("phase") == "waa_server"), None)
                cold["lag"] = round(end["ts"] - ready, 3) if end and ready else None
                again = run_variant(copies[variant], inv, f"exp-{variant}-rerun", follower, host)
                floor = None
                if variant == "current" and again["ok"]:
                    floor = run_floor(inv, hv, follower, host)
                    log(f"  experiment [{rnd + 1}/{rounds}] fast-path floor: {floor['wall']:.1f}s rc {floor['rc']} "
                        f"({floor['counts']['remote']} remote tasks, {floor['sessions']} sessions, cpu {floor['cpu']}s)")
                docker_rm(name)
                for r in (cold, again):
                    r.pop("events", None)
                    r.pop("results", None)
                records.append({"round": rnd, "variant": variant, "load": load, "cold": cold, "rerun": again,
                                "floor": floor})
                log(f"  experiment [{rnd + 1}/{rounds}] {variant}: cold {cold['wall']:.1f}s ok {cold['ok']} "
                    f"cpu {cold['cpu_controller']}+{cold['cpu_vm']}s "
                    f"({cold['counts']['remote']} remote tasks, {cold['sessions']} SSH sessions, lag {cold['lag']}) | "
                    f"re-run {again['wall']:.1f}s ok {again['ok']} ({again['counts']['remote']} remote tasks, "
                    f"{again['sessions']} sessions) load {load}")
        # A longer boot: the wait spans several round trips (the until loop retries for real).
        long_boot = []
        for variant in ("current", "lean"):
            name = f"waa-bench7-exp-{variant}"
            docker_rm(name)
            hv = standin_host(f"exp-{variant}", name, PORTS["experiment"] + (0 if variant == "current" else 10),
                              env={"WAA_SIM_BOOT_SECONDS": LONG_BOOT_S, "WAA_SIM_SERVER_DELAY": 3})
            for k in [k for k in hv if k.startswith("ansible_")]:
                del hv[k]
            hv.update(host.ansible_vars())
            inv = write_inventory(WORK / "inv" / f"exp-{variant}-long.yml", {"local-vm": hv})
            t_mark = len(follower.sessions)
            res = run_variant(copies[variant], inv, f"exp-{variant}-long", follower, host)
            ready = sim_instant(name, "server_ready")
            docker_rm(name)
            ev = res.pop("events", [])
            res.pop("results", None)
            start = next((e["ts"] for e in ev if e.get("type") == "phase_start" and e.get("phase") == "windows_boot"), None)
            end = next((e["ts"] for e in ev if e.get("type") == "phase_end" and e.get("phase") == "waa_server"), None)
            rec = {"variant": variant, "ok": res["ok"], "wall": res["wall"], "error": res.get("error")}
            if start and end:
                n = sum(1 for t, _ in follower.sessions[t_mark:] if start <= t <= end)
                rec.update(window_s=round(end - start, 2), sessions=n, per_minute=round(n / ((end - start) / 60), 2),
                           lag=round(end - ready, 3) if ready else None)
            long_boot.append(rec)
            log(f"  experiment long boot ({LONG_BOOT_S}s) {variant}: ok {rec['ok']} wall {rec['wall']:.1f}s, "
                f"{rec.get('sessions')} sessions in {rec.get('window_s')}s of waiting = {rec.get('per_minute')}/min, "
                f"lag {rec.get('lag')}")
        # Failures keep their exit codes with the lean waits (the until loop's last round decides).
        fault_checks = []
        for tag, env, extra, expect in (("never_boot", {"WAA_SIM_FAULT": "never_boot"}, {"waa_boot_timeout": 12}, 5),
                                        ("server_500", {"WAA_SIM_FAULT": "server_500"}, {"waa_server_timeout": 12}, 6)):
            name = f"waa-bench7-exp-fault-{tag.replace('_', '')}"
            docker_rm(name)
            hv = standin_host(f"exp-fault-{tag}", name, PORTS["experiment"] + 40, env=env, **extra)
            for k in [k for k in hv if k.startswith("ansible_")]:
                del hv[k]
            hv.update(host.ansible_vars())
            inv = write_inventory(WORK / "inv" / f"exp-fault-{tag}.yml", {"local-vm": hv})
            res = run_variant(copies["lean"], inv, f"exp-fault-{tag}", follower, host)
            docker_rm(name)
            doc = next(iter((res.get("results") or {}).values()), {})
            fault_checks.append({"fault": tag, "expected": expect, "exit_code": doc.get("exit_code"),
                                 "phase": doc.get("phase"), "message": (doc.get("message") or "")[:300],
                                 "wall": res["wall"]})
            log(f"  experiment lean with {tag}: exit {doc.get('exit_code')} (expected {expect}): {(doc.get('message') or '')[:120]}")
    finally:
        follower.stop()
        host.stop()
    out = {"rounds": rounds, "records": records, "variants": {}, "long_boot": long_boot, "fault_checks": fault_checks,
           "product_state": state, "applied": applied,
           "long_boot_seconds": LONG_BOOT_S}
    for v in ("current", "lean"):
        recs = [r for r in records if r["variant"] == v]
        out["variants"][v] = {
            "all_ok": all(r["cold"]["ok"] and r["rerun"]["ok"] for r in recs),
            "cold": summary([r["cold"]["wall"] for r in recs]),
            "rerun": summary([r["rerun"]["wall"] for r in recs]),
            "lag": summary([r["cold"]["lag"] for r in recs]),
            "cold_remote_tasks": pct([r["cold"]["counts"]["remote"] for r in recs], 50),
            "rerun_remote_tasks": pct([r["rerun"]["counts"]["remote"] for r in recs], 50),
            "cold_sessions": pct([r["cold"]["sessions"] for r in recs], 50),
            "rerun_sessions": pct([r["rerun"]["sessions"] for r in recs], 50),
            "cold_cpu": summary([(r["cold"]["cpu_controller"] or 0) + (r["cold"]["cpu_vm"] or 0) for r in recs]),
            "rerun_cpu": summary([(r["rerun"]["cpu_controller"] or 0) + (r["rerun"]["cpu_vm"] or 0) for r in recs]),
            "cold_cpu_vm": summary([r["cold"]["cpu_vm"] for r in recs]),
            "rerun_cpu_vm": summary([r["rerun"]["cpu_vm"] for r in recs]),
        }
    floors = [r["floor"] for r in records if r.get("floor")]
    out["floor"] = {"wall": summary([f["wall"] for f in floors if f["rc"] == 0]),
                    "cpu": summary([f["cpu"] for f in floors if f["rc"] == 0]),
                    "remote_tasks": pct([f["counts"]["remote"] for f in floors], 50) if floors else None,
                    "sessions": pct([f["sessions"] for f in floors], 50) if floors else None,
                    "errors": [f["error"] for f in floors if f["rc"] != 0][:1]}
    cur, lean = out["variants"]["current"], out["variants"]["lean"]
    if cur["cold"].get("n") and lean["cold"].get("n"):
        out["cold_ratio"] = lean["cold"]["p50"] / cur["cold"]["p50"]
        out["rerun_ratio"] = lean["rerun"]["p50"] / cur["rerun"]["p50"]
        pairs = []
        for rnd in range(rounds):
            a = next((r for r in records if r["round"] == rnd and r["variant"] == "current"), None)
            b = next((r for r in records if r["round"] == rnd and r["variant"] == "lean"), None)
            if a and b:
                pairs.append({"cold": round(b["cold"]["wall"] / a["cold"]["wall"], 3),
                              "rerun": round(b["rerun"]["wall"] / a["rerun"]["wall"], 3)})
        out["pair_ratios"] = pairs
    return out
