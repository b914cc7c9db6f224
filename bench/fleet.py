"""Benchmark 4: one `waa vm-setup` over 1, 4 and 8 hosts.

Each host is a network namespace of ours with its own sshd (bench/hosts.py). All share this
machine's dockerd; each gets its own container (waa-bench7-fleet-N), ports, state and storage
directories, and publishes its ports on the host side of its veth pair (waa_publish_address),
which is the address the probes on that "VM" use (waa_server_url follows it).
Runs alternate sizes (1, 4, 8, 8, 4, 1) and each starts from no container (cold setup, cached image).
CPU use of the whole machine over each run comes from /proc/stat.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from common import (FAST, PORTS, WORK, Run, docker, docker_rm, load_average, log, new_run_dir, own_dirs, pct, run_waa,
                    standin_hostvars, summary, write_inventory)
from rerun import run_noop
from hosts import NetnsHost, teardown_all_netns


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs."""
    fields = [float(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def host_vars(host: NetnsHost, index: int) -> dict:
    base = {k: v for k, v in standin_hostvars().items() if not k.startswith("ansible_")}
    base.update(FAST)
    base.update(host.ansible_vars())
    base.update(own_dirs(f"fleet-{index}"))
    port = PORTS["fleet"] + 10 * index
    base.update({"waa_container_name": f"waa-bench7-fleet-{index}", "waa_server_port": port,
                 "waa_vnc_port": port + 1, "waa_rdp_port": port + 2, "waa_publish_address": host.host_side})
    return base


def run_lean(inv, n: int, collections: Path):
    """The patched collection ("lean", bench/experiments.py) through bench/noop.py, read like a `waa` run."""
    playbook = collections / "ansible_collections" / "openadapt" / "waa" / "playbooks" / "vm_setup.yml"
    started = time.time()
    r = run_noop(playbook, inv, f"fleet-lean-{n}", collections=str(collections))
    run_dir = Path(r["run_dir"])
    results = {}
    for path in sorted((run_dir / "results").glob("*.json")) if (run_dir / "results").exists() else []:
        doc = json.loads(path.read_text())
        results[doc.get("host", path.stem)] = doc
    return Run(r["rc"], r["wall"], run_dir, "", r.get("error") or "", started, results)


def one_run(hosts: list[NetnsHost], n: int, variant: str = "current", collections: Path | None = None) -> dict:
    names = [f"waa-bench7-fleet-{i}" for i in range(n)]
    docker_rm(*names)
    inv = write_inventory(WORK / "inv" / f"fleet-{n}.yml", {f"vm{i}": host_vars(hosts[i], i) for i in range(n)})
    load = load_average()
    busy0, total0 = cpu_times()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if variant == "lean":
        run = run_lean(inv, n, collections)
    else:
        run = run_waa(inv, new_run_dir(f"fleet-{n}"), timeout=1800)
    busy1, total1 = cpu_times()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ids = {}
    for name in names:
        ids[name] = docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    codes = {h: d.get("exit_code") for h, d in run.results.items()}
    per_host = {h: d.get("duration_seconds") for h, d in run.results.items()}
    result_ids = {h: (d.get("container") or {}).get("id") for h, d in run.results.items()}
    correct = (len(codes) == n and all(c == 0 for c in codes.values()) and all(ids.values())
               and len(set(ids.values())) == n and len(set(result_ids.values())) == n)
    rec = {"n": n, "variant": variant, "wall": round(run.wall, 3), "rc": run.rc, "exit_codes": codes, "correct": correct,
           "per_host_duration": per_host, "distinct_containers": len(set(v for v in ids.values() if v)),
           "cpu_busy_fraction": round((busy1 - busy0) / max(1.0, total1 - total0), 3),
           "controller_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
           "load": load}
    if not correct:
        rec["error"] = run.tail(2500)
    sample = run.results.get("vm0") or {}
    rec["sample_result"] = {k: sample.get(k) for k in ("server_url", "tunnel_command", "warnings")}
    rec["sample_result"]["publish_address"] = hosts[0].host_side
    docker_rm(*names)
    return rec


def bench(quick: bool = False) -> dict:
    # (variant, hosts): current = `waa vm-setup`; lean = the patched copy of bench/experiments.py.
    from experiments import product_state

    order = [("current", 1), ("current", 8)] if quick else [
        ("current", 1), ("lean", 1), ("current", 4), ("current", 8), ("lean", 8),
        ("lean", 8), ("current", 8), ("current", 4), ("lean", 1), ("current", 1)]
    if all(product_state().values()):  # the product has every candidate change: nothing to compare
        order = [x for x in order if x[0] == "current"]
    size = max(n for _, n in order)
    hosts: list[NetnsHost] = []
    records = []
    collections = None
    if any(v == "lean" for v, _ in order):
        from experiments import make_copy
        collections, _applied = make_copy("lean", "lean-fleet")
    try:
        teardown_all_netns()
        for i in range(size):
            hosts.append(NetnsHost(i).start())
        log(f"  {len(hosts)} namespace hosts up ({hosts[0].address} .. {hosts[-1].address})")
        for variant, n in order:
            rec = one_run(hosts, n, variant, collections)
            records.append(rec)
            log(f"  fleet of {n} [{variant}]: wall {rec['wall']:.1f}s correct {rec['correct']} codes "
                f"{sorted(set(rec['exit_codes'].values()))} cpu busy {rec['cpu_busy_fraction']:.0%} controller cpu "
                f"{rec['controller_cpu_s']}s load {rec['load']}")
    finally:
        for h in hosts:
            h.teardown()
        docker_rm(*[f"waa-bench7-fleet-{i}" for i in range(size)])
    out = {"runs": records}
    for variant in ("current", "lean"):
        recs = [r for r in records if r.get("variant", "current") == variant]
        if not recs:
            continue
        sizes = sorted({r["n"] for r in recs})
        walls = {n: [r["wall"] for r in recs if r["n"] == n and r["correct"]] for n in sizes}
        med = {n: pct(w, 50) for n, w in walls.items()}
        block = {"wall": {str(n): summary(w) for n, w in walls.items()},
                 "all_correct": all(r["correct"] for r in recs),
                 "cpu_s_per_host": {str(n): round(pct([r["controller_cpu_s"] for r in recs if r["n"] == n], 50) / n, 2)
                                    for n in sizes},
                 "controller_cpu": {str(n): pct([r["controller_cpu_s"] for r in recs if r["n"] == n], 50) for n in sizes}}
        if med.get(1):
            block["ratios"] = {str(n): (med[n] / med[1] if med.get(n) else None) for n in sizes}
        if variant == "current":
            out.update(block)
        else:
            out["lean"] = block
    return out
