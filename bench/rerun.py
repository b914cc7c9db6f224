"""Benchmark 3: re-run on a ready host, against no-op playbooks of as many tasks; and its profile.

One container is set up once (`waa-bench7-rerun`); then, alternating, K times:
  a) `waa vm-setup` again (nothing to do: every phase finds its work done),
  b) the "as many tasks" baseline: N `ansible.builtin.ping` tasks, N = the tasks the re-run
     executed (ansible-runner's runner_on_ok/runner_on_failed events), run through ansible-runner
     with the CLI's own environment and the same inventory (same SSH settings),
  c) the "same mix" baseline: as many remote tasks (ping) and controller-only tasks (set_fact)
     as the re-run executed.
All three are timed as whole processes (start-up included). The "VM" is the stand-in reached through
an sshd of ours on 127.0.0.1:18024 (the stand-in's SSH settings: ControlPersist, pipelining), so that
the CPU seconds of everything run on the VM side (our sshd's process tree) can be counted beside the
controller's (our waited-for children): CPU time is much less disturbed by other jobs than wall time.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import yaml

from common import (PORTS, PY, REPO, WORK, docker_rm, event_time, load_average, log, new_run_dir, pct, run_waa,
                    runner_events, standin_host, summary, write_inventory)
from hosts import SshHost

# Actions that run on the controller only (no SSH round trip).
LOCAL_ACTIONS = {"set_fact", "assert", "validate_argument_spec", "include_role", "include_tasks", "import_role",
                 "import_tasks", "set_stats", "run_result", "fail", "debug", "meta", "add_host", "group_by"}
NAME = "waa-bench7-rerun"


def short(action: str) -> str:
    return (action or "").rsplit(".", 1)[-1]


def task_rows(private_dir: Path) -> list[dict]:
    """One row per task execution: name, action, role, status, duration, start/end (epoch), retries."""
    rows = []
    starts = {}
    retries = defaultdict(int)
    for ev in runner_events(private_dir):
        kind = ev.get("event")
        data = ev.get("event_data") or {}
        if kind == "playbook_on_task_start":
            starts[data.get("task_uuid")] = event_time(ev)
        elif kind == "runner_retry":
            retries[data.get("task_uuid")] += 1
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"):
            action = short(data.get("task_action"))
            rows.append({
                "name": data.get("task"), "action": action, "role": data.get("role") or "",
                "status": kind.replace("runner_on_", ""), "duration": float(data.get("duration") or 0.0),
                "start": starts.get(data.get("task_uuid")), "end": event_time(ev),
                "local": action in LOCAL_ACTIONS, "retries": retries.get(data.get("task_uuid"), 0),
            })
    return rows


def playbook_span(private_dir: Path) -> tuple[float | None, float | None]:
    start = end = None
    for ev in runner_events(private_dir):
        if ev.get("event") == "playbook_on_start":
            start = event_time(ev)
        elif ev.get("event") == "playbook_on_stats":
            end = event_time(ev)
    return start, end


def count_tasks(rows: list[dict]) -> dict:
    executed = [r for r in rows if r["status"] in ("ok", "failed")]
    return {"executed": len(executed), "remote": sum(1 for r in executed if not r["local"]),
            "local": sum(1 for r in executed if r["local"]), "skipped": sum(1 for r in rows if r["status"] == "skipped"),
            "retries": sum(r["retries"] for r in rows)}


def noop_playbook(path: Path, remote: int, local: int) -> Path:
    tasks = [{"name": f"remote {i}", "ansible.builtin.ping": None} for i in range(remote)]
    tasks += [{"name": f"local {i}", "ansible.builtin.set_fact": {"bench_noop": i}} for i in range(local)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump([{"name": "no-op", "hosts": "all", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False))
    return path


class Cpu:
    """CPU seconds of the controller (our waited-for children) and of the "VM" (our sshd's tree)."""

    def __init__(self, host=None):
        self.host = host

    def __enter__(self):
        self.ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.vm0 = self.host.tree_cpu() if self.host else None
        return self

    def __exit__(self, *exc):
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        vm1 = self.host.tree_cpu() if self.host else None
        self.controller = round((ru1.ru_utime - self.ru0.ru_utime) + (ru1.ru_stime - self.ru0.ru_stime), 2)
        self.vm = round(vm1 - self.vm0, 2) if vm1 is not None and self.vm0 is not None else None
        return False

    def fields(self) -> dict:
        return {"cpu_controller": self.controller, "cpu_vm": self.vm,
                "cpu": round(self.controller + (self.vm or 0.0), 2)}


def run_noop(playbook: Path, inventory: Path, tag: str, collections: str | None = None,
             extravars: dict | None = None) -> dict:
    run_dir = new_run_dir(tag)
    argv = [PY, str(REPO / "bench" / "noop.py"), str(playbook), str(inventory), str(run_dir)]
    if collections:
        argv += ["--collections", collections]
    if extravars:
        argv += ["--extravars", json.dumps(extravars)]
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, cwd=str(WORK))
    wall = time.monotonic() - t0
    return {"wall": round(wall, 3), "rc": cp.returncode, "run_dir": str(run_dir),
            "error": None if cp.returncode == 0 else (cp.stdout + cp.stderr)[-1500:]}


def ensure_ready(inventory: Path) -> None:
    docker_rm(NAME)
    first = run_waa(inventory, new_run_dir("rerun-setup"))
    if not first.ok:
        raise RuntimeError("setting up the re-run container failed:\n" + first.tail())


def inventory(host: SshHost | None = None) -> Path:
    hv = standin_host("rerun", NAME, PORTS["rerun"])
    if host:
        for k in [k for k in hv if k.startswith("ansible_")]:
            del hv[k]
        hv.update(host.ansible_vars())
    return write_inventory(WORK / "inv" / "rerun.yml", {"local-vm": hv})


def bench(quick: bool = False) -> dict:
    k = 2 if quick else 5
    # The stand-in VM through an sshd of ours (same SSH settings as the stand-in's inventory), so the
    # CPU of everything that runs on the "VM" side can be counted (others' sessions on :2222 cannot mix in).
    host = SshHost("rerun", "127.0.0.1", PORTS["sshd_sessions"] + 2).start()
    inv = inventory(host)
    reruns, base_ping, base_mix, base_ping1, profiles = [], [], [], [], []
    pb_ping1 = noop_playbook(WORK / "playbooks" / "noop_ping1.yml", 1, 0)
    counts = None
    pb_ping = pb_mix = None
    try:
        ensure_ready(inv)
        for i in range(k):
            order = ["rerun", "ping1", "ping", "mix"] if i % 2 == 0 else ["mix", "ping", "ping1", "rerun"]
            for what in order:
                load = load_average()
                if what == "rerun":
                    with Cpu(host) as cpu:
                        run = run_waa(inv, new_run_dir(f"rerun-{i}"))
                    if not run.ok:
                        raise RuntimeError("re-run failed:\n" + run.tail())
                    rows = task_rows(run.run_dir / "runner")
                    c = count_tasks(rows)
                    start, end = playbook_span(run.run_dir / "runner")
                    rec = {"wall": round(run.wall, 3), "load": load, "counts": c,
                           "changed": next(iter(run.results.values())).get("changed_tasks"),
                           "startup": round(start - run.started, 3) if start else None,
                           "playbook": round(end - start, 3) if start and end else None,
                           "shutdown": round(run.started + run.wall - end, 3) if end else None, **cpu.fields()}
                    reruns.append(rec)
                    profiles.append({"rows": rows, "start": start, "end": end, "launched": run.started,
                                     "wall": run.wall})
                    if counts is None:
                        counts = c
                        pb_ping = noop_playbook(WORK / "playbooks" / "noop_ping.yml", c["executed"], 0)
                        pb_mix = noop_playbook(WORK / "playbooks" / "noop_mix.yml", c["remote"], c["local"])
                    log(f"  re-run {i + 1}/{k}: {run.wall:.1f}s cpu {cpu.controller}+{cpu.vm}s ({c['executed']} tasks "
                        f"executed: {c['remote']} remote, {c['local']} local; {c['skipped']} skipped) load {load}")
                elif what == "ping1":
                    with Cpu(host) as cpu:
                        r = run_noop(pb_ping1, inv, f"noop-ping1-{i}")
                    r.update(cpu.fields(), load=load)
                    base_ping1.append(r)
                    log(f"  one ping: {r['wall']:.1f}s cpu {cpu.controller}+{cpu.vm}s rc {r['rc']}")
                elif what == "ping":
                    with Cpu(host) as cpu:
                        r = run_noop(pb_ping, inv, f"noop-ping-{i}")
                    r.update(cpu.fields(), load=load)
                    base_ping.append(r)
                    log(f"  no-op {counts['executed']} x ping: {r['wall']:.1f}s cpu {cpu.controller}+{cpu.vm}s rc {r['rc']}")
                elif what == "mix":
                    with Cpu(host) as cpu:
                        r = run_noop(pb_mix, inv, f"noop-mix-{i}")
                    r.update(cpu.fields(), load=load)
                    base_mix.append(r)
                    log(f"  no-op {counts['remote']} x ping + {counts['local']} x set_fact: {r['wall']:.1f}s "
                        f"cpu {cpu.controller}+{cpu.vm}s rc {r['rc']}")
    finally:
        docker_rm(NAME)
        host.stop()
    try:
        host.start()
        ensure_ready(inv)
        cprof = controller_profile(inv)
        log(f"  controller profile: {cprof}")
    except Exception as exc:  # the profile is an extra; the benchmark stands without it
        cprof = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        docker_rm(NAME)
        host.stop()
    walls = [r["wall"] for r in reruns]
    ping_walls = [r["wall"] for r in base_ping if r["rc"] == 0]
    mix_walls = [r["wall"] for r in base_mix if r["rc"] == 0]
    # Ratios of medians, and of each alternating pair.
    ratio_ping = pct(walls, 50) / pct(ping_walls, 50) if ping_walls else None
    ratio_mix = pct(walls, 50) / pct(mix_walls, 50) if mix_walls else None
    ping1_walls = [r["wall"] for r in base_ping1 if r["rc"] == 0]
    return {
        "k": k, "counts": counts, "reruns": reruns, "noop_ping": base_ping, "noop_mix": base_mix,
        "wall": summary(walls), "noop_ping_wall": summary(ping_walls), "noop_mix_wall": summary(mix_walls),
        "ratio_ping": ratio_ping, "ratio_mix": ratio_mix,
        # The issue-12 baseline: `ansible-playbook` of one ping task on the same host, same run, same way.
        "noop_ping1": base_ping1, "noop_ping1_wall": summary(ping1_walls),
        "ratio_ping1": pct(walls, 50) / pct(ping1_walls, 50) if ping1_walls else None,
        "pair_ratios_ping1": [round(a / b, 3) for a, b in zip(walls, ping1_walls)],
        "cpu_controller": summary([r["cpu_controller"] for r in reruns]),
        "remote_round_trips": summary([r["counts"]["remote"] for r in reruns]),
        "pair_ratios_ping": [round(a / b, 3) for a, b in zip(walls, ping_walls)],
        "pair_ratios_mix": [round(a / b, 3) for a, b in zip(walls, mix_walls)],
        "cpu": summary([r["cpu"] for r in reruns]), "noop_mix_cpu": summary([r["cpu"] for r in base_mix if r["rc"] == 0]),
        "noop_ping_cpu": summary([r["cpu"] for r in base_ping if r["rc"] == 0]),
        "cpu_ratio_mix": (pct([r["cpu"] for r in reruns], 50) / pct([r["cpu"] for r in base_mix if r["rc"] == 0], 50))
        if base_mix else None,
        "startup": summary([r["startup"] for r in reruns]),
        "playbook": summary([r["playbook"] for r in reruns]),
        "profile": profile(profiles),
        "controller_profile": cprof,
    }


def controller_profile(inventory: Path) -> dict:
    """One re-run with ansible-playbook's main process under cProfile (the forked workers are not in it)."""
    import os

    from openadapt_waa.runner import _environment

    run_dir = new_run_dir("rerun-cprofile")
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / "main.prof"
    env = dict(os.environ, **_environment(run_dir))
    extra = {"waa_run_deadline": time.time() + 1800, "waa_timeout": 1800, "waa_run_dir": str(run_dir)}
    argv = [PY, "-m", "cProfile", "-o", str(out), str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory),
            str(REPO / "playbooks" / "vm_setup.yml"), "-e", json.dumps(extra)]
    t0 = time.monotonic()
    cp = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=str(WORK), timeout=900, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    return dict(profile_numbers(out), rc=cp.returncode, wall=round(wall, 3), prof=str(out))


def profile_numbers(path: Path) -> dict:
    """Key figures of a cProfile dump of ansible-playbook's main process."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}

    def cum(file_suffix: str, func: str) -> float:
        return round(sum(v[3] for k, v in stats.items() if k[0].endswith(file_suffix) and k[2] == func), 3)

    def tot(func: str) -> float:
        return round(sum(v[2] for k, v in stats.items() if k[2] == func), 3)

    def calls(file_suffix: str, func: str) -> int:
        return sum(v[1] for k, v in stats.items() if k[0].endswith(file_suffix) and k[2] == func)

    def from_caller(file_suffix: str, func: str, caller_suffix: str) -> tuple[int, float]:
        n = t = 0
        for k, v in stats.items():
            if k[0].endswith(file_suffix) and k[2] == func:
                for ck, cv in v[4].items():
                    if ck[0].endswith(caller_suffix):
                        n += cv[1]
                        t += cv[3]
        return n, round(t, 3)

    total = max(v[3] for v in stats.values())
    sleep = tot("<built-in method time.sleep>")
    dyn_n, dyn_t = from_caller("ansible/playbook/role_include.py", "get_block_list", "strategy/linear.py")
    return {
        "main_total": round(total, 3), "main_waiting": sleep, "main_busy": round(total - sleep, 3),
        "playbook_load": cum("ansible/playbook/__init__.py", "load"),
        "role_includes": dyn_t, "role_include_calls": dyn_n,
        "role_loads": calls("ansible/playbook/role/__init__.py", "load"),
        "yaml_files": calls("ansible/parsing/dataloader.py", "load_from_file"),
        "yaml_load": cum("ansible/parsing/dataloader.py", "load_from_file"),
        "deepcopy": cum("copy.py", "deepcopy"),
        "forks": sum(v[1] for k, v in stats.items() if "posix.fork" in k[2]),
        "fork_time": round(sum(v[2] for k, v in stats.items() if "posix.fork" in k[2]), 3),
        "imports": cum("", "_find_and_load"),
    }


def profile(profiles: list[dict]) -> dict:
    """Where a re-run's time goes, as medians over the runs."""
    if not profiles:
        return {}
    per_task = defaultdict(list)
    per_action = defaultdict(list)
    per_role = defaultdict(list)
    buckets = defaultdict(list)
    for p in profiles:
        rows = p["rows"]
        by_action = defaultdict(float)
        by_role = defaultdict(float)
        remote = local = skipped = gaps = 0.0
        prev_end = p["start"]
        for r in rows:
            key = f"{r['role'] or '-'} | {r['name']} [{r['action']}]"
            per_task[key].append(r["duration"])
            by_action[r["action"]] += r["duration"]
            by_role[r["role"] or "(play)"] += r["end"] - (r["start"] or r["end"])
            if r["status"] == "skipped":
                skipped += r["duration"]
            elif r["local"]:
                local += r["duration"]
            else:
                remote += r["duration"]
            if prev_end and r["start"]:
                gaps += max(0.0, r["start"] - prev_end)
            prev_end = r["end"]
        for a, v in by_action.items():
            per_action[a].append(v)
        for a, v in by_role.items():
            per_role[a].append(v)
        buckets["remote task time"].append(remote)
        buckets["controller-only task time"].append(local)
        buckets["skipped task time"].append(skipped)
        buckets["between tasks (scheduling, includes, callbacks)"].append(gaps)
        if p["start"]:
            buckets["start-up (launch to first playbook event)"].append(p["start"] - p["launched"])
        if p["end"]:
            buckets["shut-down (stats to exit)"].append(p["launched"] + p["wall"] - p["end"])
        buckets["wall"].append(p["wall"])
        n_remote = sum(1 for r in rows if r["status"] in ("ok", "failed") and not r["local"])
        buckets["remote tasks"].append(n_remote)
        buckets["validate_argument_spec tasks"].append(sum(1 for r in rows if r["action"] == "validate_argument_spec"))
        buckets["include_role tasks"].append(sum(1 for r in rows if r["action"] in ("include_role", "include_tasks")))

    def med(v):
        return round(pct(v, 50), 3)

    tasks = sorted(((k, med(v), len(v)) for k, v in per_task.items()), key=lambda t: -t[1])
    return {
        "runs": len(profiles),
        "buckets": {k: med(v) for k, v in buckets.items()},
        "by_action": dict(sorted(((k, med(v)) for k, v in per_action.items()), key=lambda t: -t[1])),
        "by_role": dict(sorted(((k, med(v)) for k, v in per_role.items()), key=lambda t: -t[1])),
        "top_tasks": [{"task": k, "median_s": m, "n": n} for k, m, n in tasks[:25]],
    }
