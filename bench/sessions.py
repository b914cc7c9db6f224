"""Benchmark 6: SSH sessions per minute of waiting, during a setup whose boot takes ~60 s.

The "VM" is this machine through an sshd of ours on 127.0.0.1:18022 with LogLevel VERBOSE, which
logs one "Starting session: command|subsystem ..." line per SSH session (an exec, an sftp
transfer); a thread timestamps the lines as they appear. The container has
WAA_SIM_BOOT_SECONDS=60. The waiting window is phase_start(windows_boot) .. phase_end(waa_server)
from events.jsonl; sessions in it / its length in minutes is the metric. As a cross-check, the
remote task executions (module runs, retries included) in the window come from ansible-runner's
events. In the full run, a second setup with waa_progress_interval=10 (an inventory variable)
shows what the interval buys.
"""

from __future__ import annotations

from collections import Counter

from common import PORTS, WORK, docker_rm, log, new_run_dir, run_waa, standin_host, write_inventory
from hosts import SessionLog, SshHost
from rerun import LOCAL_ACTIONS, short
from common import event_time

BOOT_S = 60
SERVER_DELAY_S = 3


def one_run(host: SshHost, tag: str, extra: dict) -> dict:
    name = f"waa-bench7-sessions-{tag}"
    docker_rm(name)
    hv = standin_host(f"sessions-{tag}", name, PORTS["sessions"] + (10 if tag != "default" else 0),
                      env={"WAA_SIM_BOOT_SECONDS": BOOT_S, "WAA_SIM_SERVER_DELAY": SERVER_DELAY_S}, **extra)
    for k in [k for k in hv if k.startswith("ansible_")]:
        del hv[k]
    hv.update(host.ansible_vars())
    inv = write_inventory(WORK / "inv" / f"sessions-{tag}.yml", {"local-vm": hv})
    follower = SessionLog(host.logfile)
    follower.start()
    try:
        run = run_waa(inv, new_run_dir(f"sessions-{tag}"))
    finally:
        follower.stop()
        docker_rm(name)
    rec = {"tag": tag, "vars": extra, "rc": run.rc, "wall": round(run.wall, 2)}
    if not run.ok:
        rec["error"] = run.tail(1500)
        return rec
    start = run.event("phase_start", phase="windows_boot")["ts"]
    end = run.event("phase_end", phase="waa_server")["ts"]
    minutes = (end - start) / 60.0
    sessions, connections = follower.count(start, end)
    kinds = Counter(k for t, k in follower.sessions if start <= t <= end)
    # Cross-check: remote module executions in the window (each retry of an until loop is one).
    execs = 0
    for ev in run.runner_events():
        kind = ev.get("event")
        data = ev.get("event_data") or {}
        if kind in ("runner_on_ok", "runner_on_failed", "runner_retry") and short(data.get("task_action")) not in LOCAL_ACTIONS:
            if start <= event_time(ev) <= end + 0.5:
                execs += 1
    per_phase = {}
    for phase in ("windows_boot", "waa_server"):
        s = run.event("phase_start", phase=phase)["ts"]
        e = run.event("phase_end", phase=phase)["ts"]
        per_phase[phase] = {"seconds": round(e - s, 2), "sessions": follower.count(s, e)[0]}
    rec.update({
        "window_s": round(end - start, 2), "sessions": sessions, "connections": connections,
        "session_kinds": dict(kinds), "per_minute": round(sessions / minutes, 2), "module_runs": execs,
        "module_runs_per_minute": round(execs / minutes, 2), "per_phase": per_phase,
        "whole_run_sessions": len(follower.sessions), "whole_run_connections": len(follower.connections),
    })
    return rec


def bench(quick: bool = False) -> dict:
    host = SshHost("sessions", "127.0.0.1", PORTS["sshd_sessions"]).start()
    runs = []
    try:
        variants = [("default", {})] if quick else [("default", {}), ("interval10", {"waa_progress_interval": 10})]
        for tag, extra in variants:
            rec = one_run(host, tag, extra)
            runs.append(rec)
            log(f"  sessions [{tag}]: {rec.get('sessions')} sessions ({rec.get('session_kinds')}) in "
                f"{rec.get('window_s')}s of waiting = {rec.get('per_minute')}/min; module runs {rec.get('module_runs')} "
                f"rc {rec['rc']}")
    finally:
        host.stop()
    default = next((r for r in runs if r["tag"] == "default"), {})
    return {"runs": runs, "per_minute": default.get("per_minute"), "boot_seconds": BOOT_S}
