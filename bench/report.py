"""Build docs/benchmarks.md from bench/results/*.json (written by bench/run.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

TARGETS = {
    "lag": 1.0, "cold": 10.0, "rerun": 8.0, "rerun_ratio": 1.3, "fleet": 1.5, "pull": 1.05, "stall": 2.0,
    "sessions": 12.0, "viewer": 1.0,
}


def _load(results: Path) -> dict:
    out = {}
    for path in sorted(results.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except ValueError:
            continue
    return out


def s(x, digits=2, unit=" s") -> str:
    return "–" if x is None else f"{x:.{digits}f}{unit}"


def r(x, digits=2) -> str:
    return "–" if x is None else f"{x:.{digits}f}×"


def ms(x) -> str:
    return "–" if x is None else f"{x * 1000:.0f} ms"


def pct_of(values, q=50):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    return vals[min(len(vals), max(1, -(-q * len(vals) // 100))) - 1]


def met(value, target, lower_is_better=True) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if lower_is_better else value >= target
    return "**yes**" if ok else "**no**"


def g(d, *keys, default=None):
    for k in keys:
        if isinstance(d, list) and isinstance(k, int):
            if not -len(d) <= k < len(d):
                return default
            d = d[k]
            continue
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


class Report:
    def __init__(self, docs: dict):
        self.docs = docs
        self.lines: list[str] = []
        self.misses: list[str] = []

    def data(self, name):
        doc = self.docs.get(name)
        if not doc or not doc.get("meta", {}).get("ok") or doc["data"].get("nothing_to_compare"):
            return None
        return doc["data"]

    def when(self, name) -> str:
        m = g(self.docs, name, "meta") or {}
        if not m:
            return "not run"
        return (f"{m.get('started', '?')}, {'quick' if m.get('quick') else 'full'}, load {m.get('load_before')}→"
                f"{m.get('load_after')}, commit {m.get('commit')}")

    def add(self, *lines):
        self.lines.extend(lines)

    # -- the table --------------------------------------------------------------------------------
    def table(self):
        rd, rr, fl, pl, se, vw = (self.data(n) for n in ("readiness", "rerun", "fleet", "pull", "sessions", "viewer"))
        rows = []
        lag = g(rd, "watching", "lag", "p95")
        rows.append(("1", f"Readiness lag: simulator's server_ready → `phase_end` of waa_server, p95 over "
                          f"{g(rd, 'watching', 'lag', 'n', default='–')} fresh containers; server up 8 s after \"Windows "
                          f"started\" so the probe is normally watching, as with the real image (p50 {s(g(rd, 'watching', 'lag', 'p50'))})",
                     "≤ 1 s", s(lag), met(lag, TARGETS["lag"])))
        lag3 = g(rd, "lag", "p95")
        rows.append(("1'", f"… same, with the stand-in's default 3 s server delay: in {g(rd, 'ready_before_probe', default='–')} "
                           f"of {g(rd, 'lag', 'n', default='–')} runs the server was up before the probe had started "
                           f"(p50 {s(g(rd, 'lag', 'p50'))})", "≤ 1 s", s(lag3), met(lag3, TARGETS["lag"])))
        watching = [x.get("lag") for x in (g(rd, "runs") or []) if x.get("ok") and not x.get("ready_before_probe")]
        if watching:
            wp95 = pct_of(watching, 95)
            nb = sum(1 for x in (g(rd, "runs") or []) if x.get("ok") and x.get("ready_before_probe") and x.get("server_delay") == 8.0)
            rows.append(("1\"", f"… over every run (both delays) in which the probe was already watching when the server "
                                f"came up: n {len(watching)}, p50 {s(pct_of(watching, 50))} (in {nb} of the 8 s runs the "
                                "chain before the wait took longer than 8 s under load, so nothing was watching yet)",
                         "≤ 1 s", s(wp95), met(wp95, TARGETS["lag"])))
        rows.append(("1a", "… beside it: WAA's own 5 s probe loop (model: uniform phase)", "–",
                     f"mean 2.50 s, p95 4.75 s, worst 5.00 s; observed in the simulator's entry script: p50 "
                     f"{s(g(rd, 'waa_loop_lag', 'p50'))}, p95 {s(g(rd, 'waa_loop_lag', 'p95'))}", "–"))
        rows.append(("1b", "… beside it: the spec's 300 s uptime heuristic (container up 300 s ⇒ ready)", "–",
                     f"p50 {s(g(rd, 'uptime_heuristic_lag', 'p50'), 1)} late (server ready "
                     f"{s(g(rd, 'runs', 0, 'boot_seconds') if rd else None, 1)} after start); with a real boot over 300 s "
                     "it reports ready too early", "–"))
        cold = g(rd, "cold", "p50")
        rows.append(("2", f"Cold setup on a cached image: wall time − configured boot ({s(g(rd, 'boot_configured'), 0)}), "
                          f"median (wall p50 {s(g(rd, 'wall', 'p50'))})", "≤ 10 s", s(cold), met(cold, TARGETS["cold"])))
        rerun = g(rr, "wall", "p50")
        rows.append(("3a", f"Re-run on a ready host: wall time, median of {g(rr, 'wall', 'n', default='–')}",
                     "≤ 8 s", s(rerun), met(rerun, TARGETS["rerun"])))
        c = g(rr, "counts") or {}
        rows.append(("3b", f"Re-run ÷ no-op playbook with the same tasks: {c.get('remote', '–')} × ping + "
                           f"{c.get('local', '–')} × set_fact (medians, alternating runs)", "≤ 1.3×",
                     r(g(rr, "ratio_mix")) + (f" (CPU-s: {r(g(rr, 'cpu_ratio_mix'))})" if g(rr, "cpu_ratio_mix") else ""),
                     met(g(rr, "ratio_mix"), TARGETS["rerun_ratio"])))
        rows.append(("3c", f"Re-run ÷ {c.get('executed', '–')} × ping (every executed task as a remote no-op)",
                     "≤ 1.3×", r(g(rr, "ratio_ping")), met(g(rr, "ratio_ping"), TARGETS["rerun_ratio"])))
        ratio8 = g(fl, "ratios", "8")
        rows.append(("4", f"Fleet: wall(8 hosts) ÷ wall(1 host); every host exit 0 with its own container: "
                          f"{'yes' if g(fl, 'all_correct') else 'no' if fl else '–'} "
                          f"(wall(4) ÷ wall(1) = {r(g(fl, 'ratios', '4'))}"
                          + (f"; with the lean changes: wall(8) ÷ wall(1) = {r(g(fl, 'lean', 'ratios', '8'))}" if g(fl, "lean") else "")
                          + ")", "≤ 1.5", r(ratio8), met(ratio8, TARGETS["fleet"])))
        pr = g(pl, "throughput", "ratio")
        rows.append(("5a", f"Pull of a {s((g(pl, 'image_bytes') or 0) / 1e9, 2, ' GB')} image: docker_pull_progress over "
                           "SSH (ad-hoc `ansible`, start-up included) ÷ `docker pull`, medians", "≤ 1.05", r(pr, 3),
                     met(pr, TARGETS["pull"])))
        po = g(pl, "throughput", "ratio_module_own")
        rows.append(("5b", "… the module's own duration ÷ `docker pull`", "≤ 1.05", r(po, 3), met(po, TARGETS["pull"])))
        st = g(pl, "stall", "latency_past_window", "max")
        rows.append(("5c", f"Stall detection: stall start → attempt abandoned, past the {g(pl, 'stall', 'stall_timeout', default='–')} s "
                           f"window (worst of {g(pl, 'stall', 'latency_past_window', 'n', default='–')})", "≤ 2 s", s(st, 3),
                     met(st, TARGETS["stall"])))
        pm = g(se, "per_minute")
        d0 = next((x for x in (g(se, "runs") or []) if x.get("tag") == "default"), {})
        rows.append(("6", f"SSH sessions per minute of waiting (60 s boot): {d0.get('sessions', '–')} sessions in "
                          f"{s(d0.get('window_s'), 1)}; new SSH connections: {d0.get('connections', '–')}", "≤ 12",
                     "–" if pm is None else f"{pm:.1f}", met(pm, TARGETS["sessions"])))
        vp = g(vw, "latency", "p95")
        rows.append(("7", f"Live viewer: event written → in the DOM, p95 over {g(vw, 'latency', 'n', default='–')} events "
                          f"(p50 {ms(g(vw, 'latency', 'p50'))})", "≤ 1 s", ms(vp), met(vp, TARGETS["viewer"])))
        self.add("| # | Metric | Target | Measured | Met? |", "|---|---|---|---|---|")
        for row in rows:
            self.add("| " + " | ".join(str(x) for x in row) + " |")
        self.add("")

    # -- misses -----------------------------------------------------------------------------------
    def misses_section(self):
        rd, rr, fl, pl, se, vw, mi, ex = (self.data(n) for n in
                                          ("readiness", "rerun", "fleet", "pull", "sessions", "viewer", "micro", "experiments"))
        out = []
        micro = {v["label"]: v.get("per_task") for v in (g(mi, "variants") or [])}
        ping = next((v for k, v in micro.items() if k.startswith("ping (")), None)
        async_start = next((v for k, v in micro.items() if k.startswith("waa_probe started async")), None)
        sync_probe = next((v for k, v in micro.items() if k.startswith("openadapt.waa.waa_probe")), None)
        docker_info = next((v for k, v in micro.items() if k.startswith("community.docker")), None)
        if rd and max(g(rd, "lag", "p95") or 0, g(rd, "watching", "lag", "p95") or 0) > TARGETS["lag"]:
            watching = [x.get("lag") for x in (g(rd, "runs") or []) if x.get("ok") and not x.get("ready_before_probe")]
            out.append(f"- **Readiness lag (p95 {s(g(rd, 'watching', 'lag', 'p95'))} with an 8 s server delay, "
                       f"{s(g(rd, 'lag', 'p95'))} with the stand-in's 3 s; {s(pct_of(watching, 95))} over the "
                       f"{len(watching)} runs where the wait was already watching).** The misses come from the server "
                       "coming up before anything watches; the watching itself meets the target. After one "
                       "synchronous probe, the wait is an async waa_probe (polls every 0.5 s) whose progress file a "
                       "progress_watch round trip checks every 0.2 s; the lag adds the poll, the file check, the SSH return of the watch and the next task "
                       "(the `set_fact` whose result ends the phase). "
                       + (f"With the 3 s delay, in {rd.get('ready_before_probe')} of {g(rd, 'lag', 'n')} runs the server "
                          "came up while nothing was watching: the phase's first, synchronous probe had found it "
                          "down and the background wait was still being started (an async start takes "
                          f"{s(async_start)} here), so those lags are mostly that start's cost. "
                          if rd.get("ready_before_probe") else "")
                       + "On this loaded machine each of these steps stretches (an SSH round trip takes 0.5–1 s instead "
                       "of 0.3 s). The synchronous long-poll (change 1) removes the async start and the file hand-over.")
        top = [t for t in (g(rr, "profile", "top_tasks") or [])][:6]
        top_txt = "; ".join(f"{t['task'].split(' | ', 1)[-1]} {t['median_s']:.2f} s" for t in top)
        if rd and (g(rd, "cold", "p50") or 0) > TARGETS["cold"]:
            phases = g(rd, "phases_mean") or {}
            tops = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])[:6])
            cold_tasks = g(ex, "variants", "current", "cold_remote_tasks")
            out.append(f"- **Cold setup ({s(g(rd, 'cold', 'p50'))} beyond the configured boot).** Not the boot: the "
                       f"phases around it are each a few SSH round trips (mean phase durations: {tops}; start-up "
                       f"{s(g(rd, 'startup', 'p50'))} before the first event). "
                       + (f"A cold run makes {cold_tasks} remote round trips. " if cold_tasks else "")
                       + f"Each costs about {s(ping)} here even for `ping` (0.29 s on an idle machine), a module "
                       f"carrying the collection's module_utils about {s(sync_probe)}, and each async start "
                       f"{s(async_start)} (async tasks are never pipelined). 10 s on this machine means at most ~10 "
                       "round trips besides the boot.")
        if rr and (g(rr, "wall", "p50") or 0) > TARGETS["rerun"]:
            b = g(rr, "profile", "buckets") or {}
            out.append(f"- **Re-run ({s(g(rr, 'wall', 'p50'))}).** It executes {g(rr, 'counts', 'executed')} tasks, "
                       f"{g(rr, 'counts', 'remote')} of them on the VM; remote task time is "
                       f"{s(b.get('remote task time'))} of the {s(b.get('wall'))} wall (controller-only tasks "
                       f"{s(b.get('controller-only task time'))}, between tasks "
                       f"{s(b.get('between tasks (scheduling, includes, callbacks)'))}, start-up "
                       f"{s(b.get('start-up (launch to first playbook event)'))}). The largest items: {top_txt}. At "
                       f"{s(ping)}–{s(sync_probe)} a round trip, 8 s allows about 8–10 of them.")
        if rr and (g(rr, "ratio_mix") or 0) > TARGETS["rerun_ratio"]:
            c = g(rr, "counts") or {}
            frac = c.get("local", 0) / max(1, c.get("executed", 1))
            out.append(f"- **Re-run vs. the same-mix no-op ({r(g(rr, 'ratio_mix'))}).** The no-op's remote tasks are "
                       "`ping`, the smallest module; the re-run's are heavier: module_utils shipped in each AnsiballZ "
                       f"payload ({s(sync_probe)} for a waa_probe against {s(ping)} for ping in the table below), "
                       f"community.docker loading its Docker client ({s(docker_info)}), the smoke test's real work "
                       "and its `fetch`. The literal baseline of row 3c (every executed task as a remote ping) is met "
                       f"only because {frac:.0%} of the re-run's tasks never leave the controller.")
        if fl and (g(fl, "ratios", "8") or 0) > TARGETS["fleet"]:
            runs8 = [x for x in g(fl, "runs") or [] if x["n"] == 8 and x.get("variant", "current") == "current"]
            runs1 = [x for x in g(fl, "runs") or [] if x["n"] == 1 and x.get("variant", "current") == "current"]
            busy8 = max((x["cpu_busy_fraction"] for x in runs8), default=None)
            busy1 = max((x["cpu_busy_fraction"] for x in runs1), default=None)
            vm_cpu = g(ex, "variants", "current", "cold_cpu_vm", "p50")
            w1 = g(fl, "wall", "1", "p50")
            c1, c8 = g(fl, "controller_cpu", "1"), g(fl, "controller_cpu", "8")
            proj = (w1 + (c8 - c1) / 2) if (w1 and c1 is not None and c8 is not None) else None
            ctl8 = pct_of([x["controller_cpu_s"] for x in runs8])
            bound = ((ctl8 + 8 * vm_cpu) / 2) if (vm_cpu and ctl8) else None
            bound_txt = (f"A cold setup costs {vm_cpu:.1f} CPU-s of module runs on the \"VM\" (experiments below) and "
                         f"the 8-host run used {ctl8:.1f} CPU-s on the controller, so 8 hosts sharing these 2 cores "
                         f"need at least ({ctl8:.0f} + 8 × {vm_cpu:.1f}) / 2 = {bound:.0f} s of CPU time, before "
                         "anyone else's jobs: the measured wall is CPU-bound. " if bound else "")
            out.append(f"- **Fleet ({r(g(fl, 'ratios', '8'))} for 8 hosts).** " + bound_txt + "The hosts run in parallel (forks 50, one "
                       f"worker per host) but share two cores: the machine's CPU was {busy8 if busy8 is None else f'{busy8:.0%}'} "
                       f"busy during the 8-host runs against {busy1 if busy1 is None else f'{busy1:.0%}'} for one host, "
                       f"and the controller alone used {g(fl, 'cpu_s_per_host', '8')} CPU-s per host. Each host's "
                       "setup is ~25 remote module runs (a Python interpreter on the VM each, here the same two cores) "
                       "plus the controller's per-task templating and result processing. With real VMs the remote half "
                       "runs on each VM's own CPUs; the controller half still scales with hosts × tasks, so the lever is "
                       "the same as for the re-run: fewer remote tasks."
                       + (f" Estimate for real VMs (only the controller shared): wall(1) + (controller CPU-s(8) − "
                          f"controller CPU-s(1)) / 2 cores = {s(proj)} → {r(proj / w1)}." if proj else "")
                       + (f" The lean variant measured {r(g(fl, 'lean', 'ratios', '8'))} here (8 hosts "
                          f"{s(g(fl, 'lean', 'wall', '8', 'p50'))} against {s(g(fl, 'wall', '8', 'p50'))})."
                          if g(fl, "lean", "ratios", "8") else ""))
        overhead = pct_of([x["wall"] - x["module_duration"] for x in (g(pl, "throughput", "runs") or [])
                           if x.get("what") == "module" and x.get("module_duration")])
        if pl and (g(pl, "throughput", "ratio") or 0) > TARGETS["pull"]:
            out.append(f"- **Pull ({r(g(pl, 'throughput', 'ratio'), 3)} with Ansible start-up, "
                       f"{r(g(pl, 'throughput', 'ratio_module_own'), 3)} for the module alone).** The module's own "
                       f"transfer is close to `docker pull` ({s(g(pl, 'throughput', 'module_own', 'p50'))} vs "
                       f"{s(g(pl, 'throughput', 'raw_wall', 'p50'))}); the rest is Ansible's start-up and the SSH round "
                       f"trip ({s(overhead)} median, the module's wall minus its own duration), a fixed cost that a bigger image (the real one is "
                       "~15 GB) divides away. In `waa vm-setup` that start-up is paid once for the whole run, not for the pull.")
        if se and (g(se, "per_minute") or 0) > TARGETS["sessions"]:
            d0 = next((x for x in g(se, "runs") or [] if x.get("tag") == "default"), {})
            d10 = next((x for x in g(se, "runs") or [] if x.get("tag") == "interval10"), {})
            kinds = d0.get("session_kinds") or {}
            out.append(f"- **SSH sessions ({g(se, 'per_minute'):.1f}/min).** Over the {s(d0.get('window_s'), 1)} wait: "
                       f"{d0.get('sessions')} sessions ({kinds.get('command', 0)} exec, {kinds.get('subsystem', 0)} sftp) "
                       f"but {d0.get('connections')} new SSH connection(s) (ControlPersist). "
                       f"{d0.get('module_runs')} were module runs (mostly progress_watch round trips, one per 5 s ≈ 12/min, "
                       "plus the first synchronous probes); the rest belong to the async starts of the waits, ~6 "
                       "sessions each (async tasks are not pipelined: mkdir, two sftp puts, chmod, exec, cleanup). "
                       + (f"With waa_progress_interval=10 the same wait took {d10.get('sessions')} sessions = "
                          f"{d10.get('per_minute')}/min. " if d10.get("per_minute") else "")
                       + "Over a real 20-minute boot the async start amortises away and the rate tends to 60/interval "
                       "(12/min at 5 s): the target sits exactly on the default interval.")
        if vw and (g(vw, "latency", "p95") or 0) > TARGETS["viewer"]:
            out.append(f"- **Viewer ({ms(g(vw, 'latency', 'p95'))}).** See the details below.")
        if ex and g(ex, "variants", "lean", "all_ok"):
            cur, lean = g(ex, "variants", "current"), g(ex, "variants", "lean")
            lb = {x["variant"]: x for x in g(ex, "long_boot") or []}
            cpu_cold = (g(lean, "cold_cpu", "p50") / g(cur, "cold_cpu", "p50")) if g(cur, "cold_cpu", "p50") else None
            out.append(f"- The measured candidate changes (below, \"lean\") take a cold setup from "
                       f"{g(cur, 'cold_remote_tasks')} to {g(lean, 'cold_remote_tasks')} remote round trips and "
                       f"{g(cur, 'cold_sessions')} to {g(lean, 'cold_sessions')} SSH sessions, its CPU seconds to "
                       f"{r(cpu_cold)} and its wall time to {r(g(ex, 'cold_ratio'))} (median)"
                       + (f"; with a {g(ex, 'long_boot_seconds')} s boot, {g(lb, 'lean', 'per_minute')} SSH sessions "
                          f"per minute of waiting against {g(lb, 'current', 'per_minute')}" if lb.get("lean") else "")
                       + ". They do not reach the 8 s / 10 s targets on this machine; that needs the round trips "
                       "of changes 3–4 to go as well.")
        self.add("## Misses and why", "")
        self.add(*(out or ["Every target is met."]))
        self.add("")

    # -- details ----------------------------------------------------------------------------------
    def details(self):
        rd = self.data("readiness")
        self.add("## Details", "")
        self.add("### 1–2. Readiness lag and cold setup", f"_{self.when('readiness')}_", "")
        if rd:
            self.add("Each run: `waa vm-setup` for a new container (own name, ports, state and storage directories) on "
                     "the stand-in VM, image already present, WAA_SIM_BOOT_SECONDS=2 and WAA_SIM_SERVER_DELAY=3. "
                     "The lag is `phase_end(waa_server).ts` − `/var/log/waa-sim/server_ready`; the `server_ready` "
                     "event (progress_watch returned) comes first, the phase end one task later.", "")
            self.add("| run | server delay | wall | cold (wall − boot − delay) | lag to phase_end | lag to server_ready event | ready before the probe ran | WAA's loop | load |",
                     "|---|---|---|---|---|---|---|---|---|")
            for x in rd.get("runs", []):
                self.add(f"| {x['i']} | {s(x.get('server_delay'), 0)} | {s(x.get('wall'))} | {s(x.get('cold'))} | {s(x.get('lag'), 3)} | "
                         f"{s(x.get('lag_server_ready_event'), 3)} | {x.get('ready_before_probe', '–')} | {s(x.get('waa_loop_lag'))} | {x.get('load')} |"
                         + ("" if x.get("ok") else " failed: " + (x.get("error") or "")[:200].replace("\n", " ").replace("|", "/")))
            self.add("")
            ph = rd.get("phases_mean") or {}
            self.add("Mean phase durations (s): " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items()) + "; start-up "
                     f"(launch → first event) p50 {s(g(rd, 'startup', 'p50'))}, shut-down p50 {s(g(rd, 'shutdown', 'p50'))}.")
            w = rd.get("watching") or {}
            if w:
                self.add(f"Server delay 8 s: lag p50 {s(g(w, 'lag', 'p50'), 3)}, p95 {s(g(w, 'lag', 'p95'), 3)}, to the "
                         f"server_ready event p50 {s(g(w, 'lag_server_ready_event', 'p50'), 3)}; server up before the probe "
                         f"ran in {w.get('ready_before_probe')} of {g(w, 'lag', 'n')}; cold (wall − 10 s) p50 "
                         f"{s(g(w, 'cold', 'p50'))}. WAA's own loop in the simulator is phase-locked to the simulated "
                         "boot (it starts with the container and sleeps 5 s; the server comes up at a fixed offset), "
                         "hence its nearly constant observed lag; with a real boot of random length it is uniform on "
                         "0–5 s.", "")
            if rd.get("ready_before_probe") is not None:
                self.add(f"In {rd.get('ready_before_probe')} of {g(rd, 'lag', 'n')} runs the server was already answering "
                         "while nothing was watching (after the first synchronous probe, before the background wait had "
                         "started), so the lag there includes that start; over the runs where the probe was already "
                         f"watching: p50 {s(g(rd, 'lag_probe_watching', 'p50'), 3)}, p95 "
                         f"{s(g(rd, 'lag_probe_watching', 'p95'), 3)} (n {g(rd, 'lag_probe_watching', 'n')}).", "")
        rr = self.data("rerun")
        self.add("### 3. Re-run on a ready host", f"_{self.when('rerun')}_", "")
        if rr:
            c = rr.get("counts") or {}
            self.add(f"The re-run executed {c.get('executed')} tasks ({c.get('remote')} on the VM, {c.get('local')} on the "
                     f"controller only), skipped {c.get('skipped')}, retried {c.get('retries')}. Baselines run through "
                     "ansible-runner with the CLI's environment and the same inventory (ControlPersist, pipelining), "
                     "timed as whole processes like `waa`; runs alternate.", "")
            self.add("| | wall p50 | min | max | n | CPU-s p50 (controller + VM) |", "|---|---|---|---|---|---|")
            for label, key, cpu in (("`waa vm-setup` re-run", "wall", "cpu"),
                                    (f"{c.get('remote')} × ping + {c.get('local')} × set_fact", "noop_mix_wall", "noop_mix_cpu"),
                                    (f"{c.get('executed')} × ping", "noop_ping_wall", "noop_ping_cpu")):
                v = rr.get(key) or {}
                self.add(f"| {label} | {s(v.get('p50'))} | {s(v.get('min'))} | {s(v.get('max'))} | {v.get('n', 0)} | "
                         f"{s(g(rr, cpu, 'p50'), 1, '')} |")
            self.add("", f"Pairwise ratios (re-run ÷ same-mix no-op): {rr.get('pair_ratios_mix')}; "
                         f"(re-run ÷ all-ping no-op): {rr.get('pair_ratios_ping')}. Changed tasks reported by the re-runs: "
                     f"{sorted({t for x in rr.get('reruns', []) for t in (x.get('changed') or [])}) or 'none'}.", "")
        fl = self.data("fleet")
        self.add("### 4. Fleet", f"_{self.when('fleet')}_", "")
        if fl:
            self.add("Hosts are network namespaces (`wb7-hN`, veth 10.213.7.4N+1 ↔ .4N+2, sshd on the namespace side). "
                     "All share this machine's dockerd, so each host publishes its container's ports on the host side "
                     "of its veth (`waa_publish_address`), which is where the probes on that \"VM\" reach them "
                     "(`waa_server_url` follows `waa_publish_address`). Each run starts with no container.", "")
            self.add("| hosts | variant | wall | correct | exit codes | distinct containers | CPU busy (machine) | controller CPU-s | load |",
                     "|---|---|---|---|---|---|---|---|---|")
            for x in fl.get("runs", []):
                self.add(f"| {x['n']} | {x.get('variant', 'current')} | {s(x['wall'])} | {x['correct']} | {sorted(set((x.get('exit_codes') or {}).values()))} | "
                         f"{x.get('distinct_containers')} | {x.get('cpu_busy_fraction', 0):.0%} | {x.get('controller_cpu_s')} | {x.get('load')} |")
            self.add("")
            sample = next((x.get("sample_result") for x in fl.get("runs", []) if x.get("sample_result")), None)
            if sample and sample.get("server_url") and sample.get("publish_address") and \
                    sample["publish_address"] not in str(sample.get("server_url")):
                self.add(f"Observed: with `waa_publish_address: {sample['publish_address']}` the result document still says "
                         f"`server_url: {sample['server_url']}` and the tunnel command forwards to 127.0.0.1 "
                         f"(`{sample.get('tunnel_command')}`), where nothing listens (see Other findings).", "")
        pl = self.data("pull")
        self.add("### 5. Pull and stall detection", f"_{self.when('pull')}_", "")
        if pl:
            tp = pl.get("throughput") or {}
            self.add(f"Image: `windowsarena/winarena:pad1100` ({(pl.get('image_bytes') or 0) / 1e9:.2f} GB compressed, "
                     f"{pl.get('layers')} layers), pulled through our own fault-proxy instance (127.0.0.1:18500 → the "
                     "stand-in hub registry) so that faults never reach other people's tests; the image is removed "
                     "before every pull and each pull's bytes are checked at the proxy.", "")
            self.add("| run | what | wall | module's own | bytes via proxy |", "|---|---|---|---|---|")
            for i, x in enumerate(tp.get("runs", [])):
                self.add(f"| {i} | {x['what']} | {s(x['wall'])} | {s(x.get('module_duration'))} | {x.get('bytes', 0) / 1e9:.2f} GB |")
            self.add("", f"Pairwise ratios (module incl. start-up ÷ raw, each pair back to back): {tp.get('pair_ratios')}, "
                         f"median {r(pct_of(tp.get('pair_ratios') or []), 3)}.", "")
            st = pl.get("stall") or {}
            self.add(f"Stall: fault `stall` on blobs after 1 MiB, module with `stall_timeout: {st.get('stall_timeout')}`, "
                     "`attempts: 1`. Stall start = the last stalled blob request at the proxy; abandonment = the "
                     "module's final progress record.", "")
            self.add("| run | outcome | stalled requests | stall → abandoned | past the window |", "|---|---|---|---|---|")
            for i, x in enumerate(st.get("runs", [])):
                self.add(f"| {i} | {x.get('outcome')} | {x.get('stalled_requests')} | {s(x.get('stall_to_abandon'), 3)} | "
                         f"{s(x.get('latency_past_window'), 3)} |")
            self.add("")
        se = self.data("sessions")
        self.add("### 6. SSH sessions while waiting", f"_{self.when('sessions')}_", "")
        if se:
            self.add("Our own sshd (127.0.0.1:18022, LogLevel VERBOSE: one `Starting session:` line per session) "
                     "stands in for the VM; the window is phase_start(windows_boot) → phase_end(waa_server).", "")
            self.add("| variant | window | sessions (exec/sftp) | per minute | module runs | new connections | windows_boot | waa_server | whole run |",
                     "|---|---|---|---|---|---|---|---|---|")
            for x in se.get("runs", []):
                k = x.get("session_kinds") or {}
                pp = x.get("per_phase") or {}
                self.add(f"| {x['tag']} {x.get('vars') or ''} | {s(x.get('window_s'), 1)} | {x.get('sessions')} "
                         f"({k.get('command', 0)}/{k.get('subsystem', 0)}) | {x.get('per_minute')} | {x.get('module_runs')} | "
                         f"{x.get('connections')} | {g(pp, 'windows_boot', 'sessions')} in {s(g(pp, 'windows_boot', 'seconds'), 1)} | "
                         f"{g(pp, 'waa_server', 'sessions')} in {s(g(pp, 'waa_server', 'seconds'), 1)} | {x.get('whole_run_sessions')} |")
            self.add("")
        vw = self.data("viewer")
        self.add("### 7. Live viewer", f"_{self.when('viewer')}_", "")
        if vw and not vw.get("skipped"):
            self.add(f"Viewer with its default poll interval ({vw.get('poll_interval')} s), headless Chromium; "
                     f"{vw.get('events')} events, {vw.get('missing')} missing. Steady (one every 50 ms): p50 "
                     f"{ms(g(vw, 'steady', 'p50'))}, p95 {ms(g(vw, 'steady', 'p95'))}. Bursts of 20: p50 "
                     f"{ms(g(vw, 'burst', 'p50'))}, p95 {ms(g(vw, 'burst', 'p95'))}. Max {ms(g(vw, 'latency', 'max'))}.", "")
        elif vw:
            self.add(str(vw.get("skipped")), "")

    # -- profile ----------------------------------------------------------------------------------
    def profile(self):
        rr, mi = self.data("rerun"), self.data("micro")
        self.add("## Where a re-run's time goes", "")
        p = g(rr, "profile") or {}
        if p:
            self.add(f"Medians over {p.get('runs')} re-runs, from ansible-runner's events (each task's own duration, "
                     "and the gaps between tasks).", "")
            self.add("| bucket | median |", "|---|---|")
            order = ["wall", "start-up (launch to first playbook event)", "remote task time", "controller-only task time",
                     "skipped task time", "between tasks (scheduling, includes, callbacks)", "shut-down (stats to exit)",
                     "remote tasks", "validate_argument_spec tasks", "include_role tasks"]
            buckets = p.get("buckets") or {}
            for k in order + [k for k in buckets if k not in order]:
                if k in buckets:
                    unit = "" if k.endswith("tasks") else " s"
                    self.add(f"| {k} | {buckets[k]}{unit} |")
            cp = g(rr, "controller_profile") or {}
            if cp.get("main_total"):
                self.add("", f"The controller side, from one re-run with ansible-playbook's main process under cProfile "
                             f"(the forked per-task workers are not in it): {s(cp.get('main_total'))} in the main process, "
                             f"of which {s(cp.get('main_waiting'))} waiting for workers and {s(cp.get('main_busy'))} "
                             f"busy: loading the playbook {s(cp.get('playbook_load'))} ({cp.get('yaml_files')} YAML "
                             f"files, {cp.get('role_loads')} role loads), {cp.get('role_include_calls')} dynamic "
                             f"`include_role` {s(cp.get('role_includes'))}, deepcopy {s(cp.get('deepcopy'))}, "
                             f"{cp.get('forks')} worker forks {s(cp.get('fork_time'))}, imports {s(cp.get('imports'))}.")
            self.add("", "By role (time from each task's start to its end, summed):", "")
            self.add("| role | seconds |", "|---|---|")
            for k, v in sorted((p.get("by_role") or {}).items(), key=lambda kv: -kv[1]):
                self.add(f"| {k} | {v} |")
            self.add("", "By module:", "")
            self.add("| module | seconds |", "|---|---|")
            for k, v in sorted((p.get("by_action") or {}).items(), key=lambda kv: -kv[1]):
                self.add(f"| {k} | {v} |")
            self.add("", "Slowest tasks:", "")
            self.add("| role · task [module] | median s |", "|---|---|")
            for t in (p.get("top_tasks") or [])[:18]:
                self.add(f"| {t['task']} | {t['median_s']} |")
            self.add("")
        if mi:
            self.add(f"### Cost of one task on this machine", f"_{self.when('micro')}_", "")
            self.add("Playbooks of identical tasks against the stand-in VM, run like `waa` (ansible-runner, the CLI's "
                     "environment); median of the tasks' own durations, first task excluded. The reference on an idle "
                     "machine (test-machine.md): ping 0.29 s with ControlPersist and pipelining, 0.48 s without "
                     "ControlMaster, 0.85 s without pipelining.", "")
            self.add("| task | s / task | p95 | n |", "|---|---|---|---|")
            for v in mi.get("variants", []):
                self.add(f"| {v['label']} | {s(v.get('per_task'), 3, '')} | {s(v.get('p95'), 3, '')} | {v.get('tasks')} |")
            self.add("")

    # -- recommendations --------------------------------------------------------------------------
    def recommendations(self):
        ex, mi, se, rr = self.data("experiments"), self.data("micro"), self.data("sessions"), self.data("rerun")
        micro = {v["label"]: v.get("per_task") for v in (g(mi, "variants") or [])}
        state = g(ex, "product_state") or {}
        applied = g(ex, "applied") or []

        def m(prefix):
            return next((v for k, v in micro.items() if k.startswith(prefix)), None)

        self.add("## Recommended product changes", f"_{self.when('experiments')}_", "")
        if ex:
            have = [k for k, v in state.items() if v]
            self.add(f"The product measured here already has: {', '.join(have) or 'none of them'} "
                     "(commit ee58376 \"Re-runs: probe before starting a background wait, ask before pulling, read "
                     "resources without fact gathering\"). The rows above measure that product.", "")
            cur, lean = g(ex, "variants", "current") or {}, g(ex, "variants", "lean") or {}
            self.add("Measured on patched copies of the collection (bench/experiments.py: the repository is not "
                     "edited), a cold setup then a re-run per round, variants alternating, through an sshd of ours that "
                     f"counts SSH sessions. \"lean\" = the current product + {' + '.join(applied) or 'nothing'}:", "")
            self.add("| variant | all exit 0 | cold wall p50 | re-run wall p50 | readiness lag p50 | remote tasks (cold / re-run) | SSH sessions (cold / re-run) | CPU-s controller+VM (cold / re-run) |",
                     "|---|---|---|---|---|---|---|---|")
            for name, v in (("current", cur), ("lean", lean)):
                self.add(f"| {name} | {v.get('all_ok')} | {s(g(v, 'cold', 'p50'))} | {s(g(v, 'rerun', 'p50'))} | "
                         f"{s(g(v, 'lag', 'p50'), 3)} | {v.get('cold_remote_tasks')} / {v.get('rerun_remote_tasks')} | "
                         f"{v.get('cold_sessions')} / {v.get('rerun_sessions')} | "
                         f"{s(g(v, 'cold_cpu', 'p50'), 1, '')} / {s(g(v, 'rerun_cpu', 'p50'), 1, '')} |")
            pairs = ex.get("pair_ratios") or []
            cpu_cold = (g(lean, "cold_cpu", "p50") / g(cur, "cold_cpu", "p50")) if g(cur, "cold_cpu", "p50") and g(lean, "cold_cpu", "p50") else None
            cpu_re = (g(lean, "rerun_cpu", "p50") / g(cur, "rerun_cpu", "p50")) if g(cur, "rerun_cpu", "p50") and g(lean, "rerun_cpu", "p50") else None
            self.add("", f"Lean ÷ current: wall medians cold {r(ex.get('cold_ratio'))}, re-run {r(ex.get('rerun_ratio'))} "
                         f"(per round, cold: {', '.join('%.2f' % p['cold'] for p in pairs)}; re-run: "
                         f"{', '.join('%.2f' % p['rerun'] for p in pairs)}); CPU seconds cold {r(cpu_cold)}, re-run "
                         f"{r(cpu_re)}. Wall times swing with the other jobs on this machine; the "
                         "round-trip and session counts are exact, and CPU seconds (the controller's processes plus "
                         "everything under our sshd, i.e. the module runs on the \"VM\") are far less sensitive to the "
                         "load than wall time.", "")
            lb = ex.get("long_boot") or []
            if lb:
                self.add(f"With a {ex.get('long_boot_seconds')} s boot (the wait spans several round trips, so the "
                         "until loop of change 1 really retries):", "")
                self.add("| variant | exit 0 | wall | waiting window | SSH sessions in it | per minute | readiness lag |",
                         "|---|---|---|---|---|---|---|")
                for x in lb:
                    self.add(f"| {x['variant']} | {x.get('ok')} | {s(x.get('wall'))} | {s(x.get('window_s'), 1)} | "
                             f"{x.get('sessions')} | {x.get('per_minute')} | {s(x.get('lag'), 3)} |")
                self.add("")
        fc = g(ex, "fault_checks") or []
        if fc:
            self.add("Failures with the lean waits (short phase timeouts of 12 s):", "")
            self.add("| simulator fault | expected exit | exit | phase | message |", "|---|---|---|---|---|")
            for x in fc:
                self.add(f"| {x['fault']} | {x['expected']} | {x.get('exit_code')} | {x.get('phase')} | "
                         f"{(x.get('message') or '').replace('|', '/')[:160]} |")
            self.add("")
        a_start, sync_p, ping = m("waa_probe started async"), m("openadapt.waa.waa_probe"), m("ping (")
        n = 0
        if not state.get("sync_long_poll_wait"):
            n += 1
            first = ("The product now probes once synchronously and starts the background wait only when that "
                     "probe is unhealthy, which makes re-runs cheap; a cold setup still pays, for each of the three "
                     "waits, the failed synchronous probe, the async start and the first watch. "
                     if state.get("sync_first_wait") else "")
            self.add(
                f"{n}. **Waits as one synchronous long-poll** — `roles/common/tasks/wait.yml`. {first}Replace the "
                "tasks by one: `openadapt.waa.waa_probe` with `wait_timeout: \"{{ waa_progress_interval }}\"`, "
                "`deadline_in`, `register: waa_wait`, `until:` healthy, or a layer with `fatal`, or "
                "`deadline_exceeded`, or exit code 9; `retries: waa_wait_timeout // waa_progress_interval`, "
                "`delay: 0` (exact text: `SYNC_WAIT` in bench/experiments.py). Each round trip still waits up to the "
                "interval on the VM and returns the moment the layers are healthy, so cadence and readiness are "
                f"unchanged, but the async start ({s(a_start)} here against {s(sync_p)} for a synchronous probe: "
                "async tasks are never pipelined, so it is a temp dir, two sftp transfers, a chmod, the wrapper's "
                "fork and a job file) disappears. Measured effect: the `lean` rows above (cold setup, SSH sessions "
                "per minute of waiting, readiness lag). To keep the live boot lines: `plugins/modules/waa_probe.py` "
                "should return the record it writes to its progress file as `progress` (kind `boot`, stage, "
                "log_tail) in every result, so the callback's `v2_runner_retry` → `_progress()` works unchanged; "
                "and `plugins/callback/waa_events.py` should emit `server_ready` on the waa_probe result of the "
                "waa_server phase (it keys on `progress_watch` today); and the timeout message must name the phase's "
                "whole wait, not the last round's (the lean copy says \"Timed out after 5 s\" for a 12 s wait, see the "
                "failure table): give waa_probe the wait's start or total (e.g. a `wait_total` option used only in "
                "messages) or re-word the final failure in wait.yml. The probe restarts each round, so it re-reads "
                "the container log from the start each time (a few hundred lines) — cheap.")
        if not state.get("pull_check"):
            n += 1
            self.add(
                f"{n}. **Skip the background pull when the image is there** — `roles/image/tasks/main.yml`: first a "
                "check-mode `docker_pull_progress` (`would_pull`); the progress directory, async start and watch only "
                "when a pull is needed.")
        if not state.get("ping_fold"):
            n += 1
            self.add(
                f"{n}. **Fold the SSH connectivity ping into the first module run** — `roles/preflight/tasks/main.yml`: "
                "`when: not waa_verify_nested_virt | bool` on the `ping` task (the KVM check is then the first SSH "
                "round trip; an unreachable host still fails there as exit 1 via `v2_runner_on_unreachable`), and "
                "let the callback print `✓ SSH connectivity` on the first successful remote result so the output "
                f"keeps the line. One round trip less per run ({s(ping)} here). Included in `lean`.")
        setup, kvm = m("setup"), m("openadapt.waa.kvm_check")
        req, info, cmd = m("command"), m("community.docker.docker_container_info"), m("command")
        n += 1
        parts = []
        if state.get("no_fact_gathering"):
            parts.append(f"(a) the resources `command` (now replacing `setup`, which cost {s(setup)} a run here) "
                         f"could be one more result of `kvm_check` ({s(kvm)}): memory, cores and free space are three "
                         "system calls")
        else:
            parts.append(f"(a) return memory, cores and free space from `kvm_check` and drop `setup` ({s(setup)} a run here)")
        parts.append(f"(b) report whether `requests` imports from the docker-daemon `waa_probe` instead of the separate "
                     f"`command` task ({s(req)})")
        parts.append(f"(c) drop `Look for an existing container` ({s(info)}: community.docker.docker_container_info "
                     "loads the Docker SDK shim) by taking the container's state from the docker-daemon probe "
                     "(layers `[docker_daemon, container]`); `docker_container` compares the configuration itself")
        parts.append("(d) return the smoke screenshot in the smoke `waa_probe` result (base64, ~30 KB) and write it "
                     "on the controller, instead of a separate `fetch` round trip")
        self.add(f"{n}. **Fewer round trips, estimated from the per-task costs** (not patched here): " + "; ".join(parts)
                 + f". Each removes one remote round trip ({s(ping)}–{s(sync_p)} on this machine).")
        n += 1
        c = g(rr, "counts") or {}
        self.add(
            f"{n}. **A ready-host fast path** — `playbooks/vm_setup.yml`. The re-run still makes {c.get('remote', '–')} "
            "remote round trips, and at this machine's 0.5–1 s per round trip the 8 s target allows about 8–10. "
            "When the container exists with the configured image and one all-layer `waa_probe` is healthy, phases "
            "2–6 have nothing to do: run preflight, that probe (plus `docker_container` in check mode for "
            "configuration drift), then smoke/persist/validate, and report phases 2–6 as ok (\"already ready\"); "
            "the final validation can reuse the same probe result when it is seconds old."
            + (f" Measured floor: a playbook of just those module calls (lock, KVM check, resources, all-layer probe, "
               f"container info, smoke test, fetch, persist, unlock: {g(ex, 'floor', 'remote_tasks')} remote tasks, "
               f"{g(ex, 'floor', 'sessions')} SSH sessions) took {s(g(ex, 'floor', 'wall', 'p50'))} and "
               f"{s(g(ex, 'floor', 'cpu', 'p50'), 1, ' CPU-s')} on the ready container, against "
               f"{s(g(ex, 'variants', 'current', 'rerun', 'p50'))} and "
               f"{s(g(ex, 'variants', 'current', 'rerun_cpu', 'p50'), 1, ' CPU-s')} for the current re-run in the same rounds."
               if g(ex, "floor", "wall", "p50") else ""))
        cp = g(rr, "controller_profile") or {}
        if cp.get("main_busy"):
            n += 1
            self.add(
                f"{n}. **Controller cost per run** (minor; from the profile, not measured as a patch) — "
                f"ansible-playbook's main process is busy {s(cp.get('main_busy'))} per re-run: loading the playbook "
                f"{s(cp.get('playbook_load'))} ({cp.get('role_loads')} role loads — each phase role lists "
                "`openadapt.waa.common` as a dependency, so common's defaults and argument spec are loaded again "
                f"per role), {cp.get('role_include_calls')} dynamic `include_role` of common at run time "
                f"{s(cp.get('role_includes'))}, Python imports {s(cp.get('imports'))}, and the rest spread over "
                "the tasks (variables, templating, results). `include_tasks` of `roles/common/tasks/wait.yml` "
                "instead of `include_role`, and fewer dependency loads, would save a fraction of a second per run "
                "(and per host in a fleet); the remote round trips above matter far more.")
        if se:
            d10 = next((x for x in se.get("runs", []) if x.get("tag") == "interval10"), None)
            if d10:
                n += 1
                self.add(
                    f"{n}. **SSH sessions** — `roles/common/defaults/main.yml`: `waa_progress_interval: 10` measured "
                    f"{d10.get('per_minute')} sessions/min of waiting (default 5: {se.get('per_minute')}); readiness is "
                    "unaffected because a round trip returns as soon as the work ends, only the boot-log refresh gets "
                    "coarser. Change 1 removes the async start's sessions as well.")
        self.add("")

    def other(self):
        self.add("## Other findings", "")
        fl = self.data("fleet")
        items = []
        sample = next((x.get("sample_result") for x in (g(fl, "runs") or []) if x.get("sample_result")), None)
        if sample and sample.get("publish_address") and sample["publish_address"] not in str(sample.get("server_url")):
            items.append(
                "- `plugins/plugin_utils/_events.py` `result_document()` builds `server_url`, `vnc_url` and the tunnel "
                "from `127.0.0.1` regardless of `waa_publish_address`; with a non-loopback publish address the printed "
                f"tunnel (`{sample.get('tunnel_command')}`) forwards to a port nothing listens on. Use the "
                "`waa_local_address` the roles use (pass it through set_stats).")
        rr = self.data("rerun")
        changed = sorted({t for x in (g(rr, "reruns") or []) for t in (x.get("changed") or [])})
        if changed:
            items.append(f"- Re-runs on a ready host reported changed tasks: {changed} (expected none).")
        self.add(*(items or ["None."]))
        self.add("")


HEADLINES = [
    # (label, results file, path in its data, target key, format)
    ("Readiness lag p95, probe watching (8 s server delay)", "readiness", ("watching", "lag", "p95"), "lag", s),
    ("Readiness lag p95, 3 s server delay", "readiness", ("lag", "p95"), "lag", s),
    ("Cold setup beyond the configured boot, median", "readiness", ("cold", "p50"), "cold", s),
    ("Re-run on a ready host, median wall", "rerun", ("wall", "p50"), "rerun", s),
    ("Re-run ÷ same-mix no-op", "rerun", ("ratio_mix",), "rerun_ratio", r),
    ("Remote tasks in a re-run", "rerun", ("counts", "remote"), None, lambda x: "–" if x is None else str(x)),
    ("Fleet wall(8) ÷ wall(1)", "fleet", ("ratios", "8"), "fleet", r),
    ("SSH sessions per minute of waiting", "sessions", ("per_minute",), "sessions",
     lambda x: "–" if x is None else f"{x:.1f}"),
]


def before_after(rep: "Report", before_dir: Path) -> None:
    """The headline figures of bench/results/before (the product before the last changes) beside now."""
    before = Report(_load(before_dir)) if before_dir.is_dir() else None
    if before is None or not before.docs:
        return
    rep.add("## Before → after", "",
            "`bench/results/before/` holds the last full run before the second session's product changes "
            f"(commit {g(before.docs, 'rerun', 'meta', 'commit', default='?')}): waits as a synchronous long-poll "
            "instead of an async job and its watcher, no separate SSH ping (the VM lock proves SSH), KVM check and "
            "host readings in one module run, no requests check or container lookup when the probe already knows, "
            "and a ready host's waits answered by the docker phase's probe of every layer. Different runs on a shared "
            "machine: compare ratios within a run above; these absolute figures drift by ±20 %.", "",
            "| metric | target | before | after | after ÷ before |", "|---|---|---|---|---|")
    for label, name, path, target, fmt in HEADLINES:
        old, new = g(before.data(name), *path), g(rep.data(name), *path)
        ratio = f"{new / old:.2f}×" if isinstance(old, (int, float)) and isinstance(new, (int, float)) and old else "–"
        goal = "–" if target is None else (f"≤ {TARGETS[target]:g} s" if fmt is s else f"≤ {TARGETS[target]:g}")
        rep.add(f"| {label} | {goal} | {fmt(old)} | {fmt(new)} | {ratio} |")
    rep.add("")


def write(results: Path, output: Path) -> Path:
    docs = _load(results)
    rep = Report(docs)
    quick = any(g(d, "meta", "quick") for d in docs.values())
    rep.add("# Benchmarks", "",
            "Generated by `make bench` (`.venv/bin/python bench/run.py`, options `--quick`, `--only NAMES`, "
            f"`--report-only`) on {time.strftime('%Y-%m-%d %H:%M %Z')}{' (some results from --quick runs)' if quick else ''}. "
            "Do not edit: change bench/report.py and run `bench/run.py --report-only`.", "",
            "Everything runs against the stand-in VM on this machine (sshd, the host's dockerd, loopback registries, "
            "the WAA simulator), with containers `waa-bench7-*`, ports 18000–18999 and network namespaces of our own. "
            "The machine has **2 cores shared with other people's test runs**, so absolute times drift from run to "
            "run (each section gives the load average before→after); comparisons are ratios of runs that alternate "
            "within one benchmark. Reference costs on an idle machine: an empty playbook starts in ~0.55 s, a `ping` "
            "over SSH with ControlPersist and pipelining takes ~0.29 s.", "")
    rep.table()
    before_after(rep, results / "before")
    rep.misses_section()
    rep.recommendations()
    rep.profile()
    rep.details()
    rep.other()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(rep.lines).rstrip() + "\n")
    return output
