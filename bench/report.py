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


def met(value, target, lower_is_better=True) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if lower_is_better else value >= target
    return "**yes**" if ok else "**no**"


def g(d, *keys, default=None):
    for k in keys:
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
        if not doc or not doc.get("meta", {}).get("ok"):
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
        lag = g(rd, "lag", "p95")
        rows.append(("1", f"Readiness lag: simulator's server_ready → `phase_end` of waa_server, p95 over "
                          f"{g(rd, 'lag', 'n', default='–')} fresh containers (p50 {s(g(rd, 'lag', 'p50'))})",
                     "≤ 1 s", s(lag), met(lag, TARGETS["lag"])))
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
                     r(g(rr, "ratio_mix")), met(g(rr, "ratio_mix"), TARGETS["rerun_ratio"])))
        rows.append(("3c", f"Re-run ÷ {c.get('executed', '–')} × ping (every executed task as a remote no-op)",
                     "≤ 1.3×", r(g(rr, "ratio_ping")), met(g(rr, "ratio_ping"), TARGETS["rerun_ratio"])))
        ratio8 = g(fl, "ratios", "8")
        rows.append(("4", f"Fleet: wall(8 hosts) ÷ wall(1 host); every host exit 0 with its own container: "
                          f"{'yes' if g(fl, 'all_correct') else 'no' if fl else '–'} "
                          f"(wall(4) ÷ wall(1) = {r(g(fl, 'ratios', '4'))})", "≤ 1.5", r(ratio8), met(ratio8, TARGETS["fleet"])))
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
        if rd and (g(rd, "lag", "p95") or 0) > TARGETS["lag"]:
            out.append(f"- **Readiness lag (p95 {s(g(rd, 'lag', 'p95'))}).** The wait is an async waa_probe (polls every "
                       "0.5 s) followed by progress_watch round trips; the lag adds the probe's poll interval, the "
                       "watch's 0.2 s file check, the SSH return and the next task's start. Under load every SSH round "
                       "trip stretches; see the experiment below for the synchronous long-poll.")
        if rd and (g(rd, "cold", "p50") or 0) > TARGETS["cold"]:
            phases = g(rd, "phases_mean") or {}
            top = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])[:6])
            out.append(f"- **Cold setup ({s(g(rd, 'cold', 'p50'))} beyond the configured boot).** Not the boot: "
                       f"the phases around it are each a few SSH round trips (mean phase durations: {top}; start-up "
                       f"{s(g(rd, 'startup', 'p50'))} before the first event). Every remote task costs about "
                       f"{s(ping)} here even for `ping` (reference on an idle machine: 0.29 s), a module with the "
                       f"collection's module_utils about {s(sync_probe)}, and each async start {s(async_start)} "
                       "(no pipelining for async: temp dir, module and wrapper transfer over sftp, then the fork). "
                       "A cold run on a cached image executes the same ~20 remote tasks as a re-run plus the "
                       "waits, so it cannot reach 10 s on this machine without fewer round trips.")
        if rr and (g(rr, "wall", "p50") or 0) > TARGETS["rerun"]:
            b = g(rr, "profile", "buckets") or {}
            out.append(f"- **Re-run ({s(g(rr, 'wall', 'p50'))}).** It executes {g(rr, 'counts', 'executed')} tasks, "
                       f"{g(rr, 'counts', 'remote')} of them on the VM; remote task time is "
                       f"{s(b.get('remote task time'))} of the {s(b.get('wall'))} wall (controller-only tasks "
                       f"{s(b.get('controller-only task time'))}, between tasks {s(b.get('between tasks (scheduling, includes, callbacks)'))}, "
                       f"start-up {s(b.get('start-up (launch to first playbook event)'))}). Nothing is skipped on a "
                       "ready host: four async starts (pull + three waits) and their watches run although the work "
                       "is already done. 8 s needs at most ~10 remote round trips at this machine's cost per round trip.")
        if rr and (g(rr, "ratio_mix") or 0) > TARGETS["rerun_ratio"]:
            out.append(f"- **Re-run vs. the same-mix no-op ({r(g(rr, 'ratio_mix'))}).** The no-op's remote tasks are "
                       "`ping`, the smallest module; the re-run's are heavier (module_utils shipped in each AnsiballZ "
                       "payload, community.docker importing its client, `setup` gathering hardware facts) and four of "
                       "them are async starts. The literal baseline of row 3c (every task as a remote ping) is met "
                       "only because ~60 % of the re-run's tasks never leave the controller.")
        if fl and (g(fl, "ratios", "8") or 0) > TARGETS["fleet"]:
            runs8 = [x for x in g(fl, "runs") or [] if x["n"] == 8]
            runs1 = [x for x in g(fl, "runs") or [] if x["n"] == 1]
            busy8 = max((x["cpu_busy_fraction"] for x in runs8), default=None)
            busy1 = max((x["cpu_busy_fraction"] for x in runs1), default=None)
            out.append(f"- **Fleet ({r(g(fl, 'ratios', '8'))} for 8 hosts).** The hosts run in parallel (forks 50, one "
                       f"worker per host) but share two cores: the machine's CPU was {busy8 if busy8 is None else f'{busy8:.0%}'} "
                       f"busy during the 8-host runs against {busy1 if busy1 is None else f'{busy1:.0%}'} for one host, "
                       f"and the controller alone used {g(fl, 'cpu_s_per_host', '8')} CPU-s per host. Each host's "
                       "setup is ~25 remote module runs (a Python interpreter on the VM each, here the same two cores) "
                       "plus the controller's per-task templating and result processing. With real VMs the remote half "
                       "runs on each VM's own CPUs; the controller half still scales with hosts × tasks, so the lever is "
                       "the same as for the re-run: fewer remote tasks.")
        if pl and (g(pl, "throughput", "ratio") or 0) > TARGETS["pull"]:
            out.append(f"- **Pull ({r(g(pl, 'throughput', 'ratio'), 3)} with Ansible start-up, "
                       f"{r(g(pl, 'throughput', 'ratio_module_own'), 3)} for the module alone).** The module's own "
                       f"transfer is close to `docker pull` ({s(g(pl, 'throughput', 'module_own', 'p50'))} vs "
                       f"{s(g(pl, 'throughput', 'raw_wall', 'p50'))}); the rest is Ansible's start-up and the SSH round "
                       "trip (~1.5–3 s on this loaded machine), a fixed cost that a bigger image (the real one is "
                       "~15 GB) divides away. In `waa vm-setup` that start-up is paid once for the whole run, not for the pull.")
        if se and (g(se, "per_minute") or 0) > TARGETS["sessions"]:
            d0 = next((x for x in g(se, "runs") or [] if x.get("tag") == "default"), {})
            d10 = next((x for x in g(se, "runs") or [] if x.get("tag") == "interval10"), {})
            kinds = d0.get("session_kinds") or {}
            out.append(f"- **SSH sessions ({g(se, 'per_minute'):.1f}/min).** Over the {s(d0.get('window_s'), 1)} wait: "
                       f"{d0.get('sessions')} sessions ({kinds.get('command', 0)} exec, {kinds.get('subsystem', 0)} sftp) "
                       f"but {d0.get('connections')} new SSH connection(s) (ControlPersist). "
                       f"{d0.get('module_runs')} were module runs (a progress_watch per {5} s ≈ 12/min); the rest are the "
                       "two async starts (windows_boot, waa_server), each ~6 sessions (mkdir, two sftp puts, chmod, "
                       "exec, cleanup). "
                       + (f"With waa_progress_interval=10 the same wait took {d10.get('sessions')} sessions = "
                          f"{d10.get('per_minute')}/min. " if d10.get("per_minute") else "")
                       + "Over a real 20-minute boot the async start amortises away and the rate tends to 60/interval "
                       "(12/min at 5 s): the target sits exactly on the default interval.")
        if vw and (g(vw, "latency", "p95") or 0) > TARGETS["viewer"]:
            out.append(f"- **Viewer ({ms(g(vw, 'latency', 'p95'))}).** See the details below.")
        if ex and g(ex, "variants", "lean", "all_ok"):
            out.append(f"- The measured candidate changes (below) cut a cold setup to {r(g(ex, 'cold_ratio'))} and a "
                       f"re-run to {r(g(ex, 'rerun_ratio'))} of the current time, and SSH sessions of a run from "
                       f"{g(ex, 'variants', 'current', 'cold_sessions')} to {g(ex, 'variants', 'lean', 'cold_sessions')}.")
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
            self.add("| run | wall | cold (wall − 5 s) | lag to phase_end | lag to server_ready event | WAA's loop | load |",
                     "|---|---|---|---|---|---|---|")
            for x in rd.get("runs", []):
                self.add(f"| {x['i']} | {s(x.get('wall'))} | {s(x.get('cold'))} | {s(x.get('lag'), 3)} | "
                         f"{s(x.get('lag_server_ready_event'), 3)} | {s(x.get('waa_loop_lag'))} | {x.get('load')} |"
                         + ("" if x.get("ok") else " failed: " + (x.get("error") or "")[:200].replace("\n", " ").replace("|", "/")))
            self.add("")
            ph = rd.get("phases_mean") or {}
            self.add("Mean phase durations (s): " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items()) + "; start-up "
                     f"(launch → first event) p50 {s(g(rd, 'startup', 'p50'))}, shut-down p50 {s(g(rd, 'shutdown', 'p50'))}.")
            self.add(f"The WAA server was not yet ready when the waa_server phase began in "
                     f"{rd.get('server_before_phase')} of {g(rd, 'lag', 'n')} runs (so the lag measures the wait, not a "
                     "late start).", "")
        rr = self.data("rerun")
        self.add("### 3. Re-run on a ready host", f"_{self.when('rerun')}_", "")
        if rr:
            c = rr.get("counts") or {}
            self.add(f"The re-run executed {c.get('executed')} tasks ({c.get('remote')} on the VM, {c.get('local')} on the "
                     f"controller only), skipped {c.get('skipped')}, retried {c.get('retries')}. Baselines run through "
                     "ansible-runner with the CLI's environment and the same inventory (ControlPersist, pipelining), "
                     "timed as whole processes like `waa`; runs alternate.", "")
            self.add("| | p50 | min | max | n |", "|---|---|---|---|---|")
            for label, key in (("`waa vm-setup` re-run", "wall"), (f"{c.get('remote')} × ping + {c.get('local')} × set_fact", "noop_mix_wall"),
                               (f"{c.get('executed')} × ping", "noop_ping_wall")):
                v = rr.get(key) or {}
                self.add(f"| {label} | {s(v.get('p50'))} | {s(v.get('min'))} | {s(v.get('max'))} | {v.get('n', 0)} |")
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
            self.add("| hosts | wall | correct | exit codes | distinct containers | CPU busy (machine) | controller CPU-s | load |",
                     "|---|---|---|---|---|---|---|---|")
            for x in fl.get("runs", []):
                self.add(f"| {x['n']} | {s(x['wall'])} | {x['correct']} | {sorted(set((x.get('exit_codes') or {}).values()))} | "
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
            self.add("", f"Pairwise ratios (module incl. start-up ÷ raw): {tp.get('pair_ratios')}.", "")
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
            self.add("| bucket | seconds |", "|---|---|")
            for k, v in (p.get("buckets") or {}).items():
                self.add(f"| {k} | {v} |")
            self.add("", "By role (time from each task's start to its end, summed):", "")
            self.add("| role | seconds |", "|---|---|")
            for k, v in (p.get("by_role") or {}).items():
                self.add(f"| {k} | {v} |")
            self.add("", "By module:", "")
            self.add("| module | seconds |", "|---|---|")
            for k, v in (p.get("by_action") or {}).items():
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

        def m(prefix):
            return next((v for k, v in micro.items() if k.startswith(prefix)), None)

        self.add("## Recommended product changes", f"_{self.when('experiments')}_", "")
        if ex:
            cur, lean = g(ex, "variants", "current") or {}, g(ex, "variants", "lean") or {}
            self.add("Measured on patched copies of the collection (bench/experiments.py: the repository is not "
                     "edited), cold setup then re-run per round, variants alternating, through an sshd of ours that "
                     "counts SSH sessions:", "")
            self.add("| variant | all exit 0 | cold wall p50 | re-run wall p50 | readiness lag p50 | remote tasks (cold / re-run) | SSH sessions (cold / re-run) |",
                     "|---|---|---|---|---|---|---|")
            for name, v in (("current", cur), ("lean = 1 + 2 + 3", lean)):
                self.add(f"| {name} | {v.get('all_ok')} | {s(g(v, 'cold', 'p50'))} | {s(g(v, 'rerun', 'p50'))} | "
                         f"{s(g(v, 'lag', 'p50'), 3)} | {v.get('cold_remote_tasks')} / {v.get('rerun_remote_tasks')} | "
                         f"{v.get('cold_sessions')} / {v.get('rerun_sessions')} |")
            self.add("", f"Lean ÷ current: cold {r(ex.get('cold_ratio'))}, re-run {r(ex.get('rerun_ratio'))}; per round "
                         f"{ex.get('pair_ratios')}.", "")
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
        a_start, sync_p = m("waa_probe started async"), m("openadapt.waa.waa_probe")
        self.add(
            "1. **Waits as a synchronous long-poll** — `roles/common/tasks/wait.yml`. Replace the async `waa_probe` "
            "(`async`/`poll: 0`) + `progress_watch` loop by one task: `openadapt.waa.waa_probe` with "
            "`wait_timeout: \"{{ waa_progress_interval }}\"`, `deadline_in`, `register: waa_wait`, `until:` healthy, or a "
            "layer with `fatal`, or `deadline_exceeded`; `retries: waa_wait_timeout // waa_progress_interval`, `delay: 0` "
            "(the exact text is `SYNC_WAIT` in bench/experiments.py). Each round trip still waits up to the interval on "
            "the VM and returns the moment the layers are healthy, so progress cadence and readiness are unchanged, but "
            f"the async start ({s(a_start)} a start here against {s(sync_p)} for a synchronous probe: no pipelining for "
            "async, two sftp transfers, a job file) and the extra watch round trip disappear from each of the three "
            "waits. To keep the live boot lines, (a) `plugins/modules/waa_probe.py` should return the record it writes "
            "to the progress file as `progress` (kind `boot`, stage, log_tail) in every result, so the callback's "
            "`v2_runner_retry` → `_progress()` works unchanged, and (b) `plugins/callback/waa_events.py` should emit "
            "`server_ready` on the waa_probe result of the waa_server phase (today it keys on `progress_watch`). The "
            "until-loop restarts the probe each round, so waa_probe re-reads the container log from the start each "
            "time (a few hundred lines at most) — cheap.")
        self.add(
            "2. **Skip the background pull when the image is there** — `roles/image/tasks/main.yml`. First run "
            "`docker_pull_progress` with `check_mode: true` (named `Image pull`, registered `_waa_pull_check`); put "
            "`when: waa_force_pull | bool or _waa_pull_check.would_pull | default(true)` on the progress directory, the "
            "async start and the watch; take `waa_image_ref`/`waa_image_result` from `_waa_pull.result | "
            "default(_waa_pull_check)`. On a cached image this replaces a file task, an async start and a watch by one "
            "synchronous module run (cold setups on a cached image and every re-run).")
        self.add(
            "3. **Fold the SSH connectivity ping into the first module run** — `roles/preflight/tasks/main.yml`: "
            "`when: not waa_verify_nested_virt | bool` on the `ping` task (the KVM check is the first SSH round trip "
            "and an unreachable host still fails there as exit 1 via `v2_runner_on_unreachable`); have the callback "
            "print the `✓ SSH connectivity` line on the first successful remote result so the human output keeps it.")
        setup, kvm = m("setup"), m("openadapt.waa.kvm_check")
        req, fil, info = m("command"), m("file"), m("community.docker.docker_container_info")
        self.add(
            f"4. **Not measured as a patch, estimated from the per-task costs above:** (a) return memory, cores and the "
            f"free space of the Docker data root from `kvm_check` (os.sysconf, /proc/meminfo, os.statvfs) and drop the "
            f"`setup` task ({s(setup)} a run here, vs {s(kvm)} for kvm_check itself); (b) report whether `requests` "
            f"imports from the docker-daemon `waa_probe` instead of the separate `command` task ({s(req)}); (c) drop "
            f"`Look for an existing container` ({s(info)}, community.docker.docker_container_info) by taking the state "
            "from the docker-daemon probe (add the `container` layer to it) — `docker_container` itself compares the "
            f"configuration; (d) return the smoke screenshot in the smoke `waa_probe` result (base64, ~30 KB) and write it "
            f"on the controller instead of a separate `fetch` round trip. Each removes one remote round trip "
            f"(~{s(m('ping ('))}–{s(sync_p)} here).")
        self.add(
            "5. **A ready-host fast path** — `playbooks/vm_setup.yml`: the re-run target (≤ 8 s) needs ≤ ~10 remote "
            "round trips at this machine's cost per round trip, while a run that checks every phase has ~20. When the "
            "container exists, runs the configured image and the all-layer probe is healthy, phases 2–6 have nothing to "
            "do: run preflight, then one `waa_probe` over all layers (+ `docker_container` in check mode for "
            "configuration drift) and go straight to smoke/persist/validate (reporting phases 2–6 as `ok`, \"already "
            "ready\"). Validate's own probe can be the same task.")
        if se:
            d10 = next((x for x in se.get("runs", []) if x.get("tag") == "interval10"), None)
            if d10:
                self.add(
                    f"6. **SSH sessions** — `roles/common/defaults/main.yml`: `waa_progress_interval: 10` measured "
                    f"{d10.get('per_minute')} sessions/min of waiting (default 5: {se.get('per_minute')}); readiness is "
                    "unaffected because a round trip returns as soon as the work ends; only the boot-log refresh gets "
                    "coarser. With change 1 the async start's ~6 sessions per wait go as well.")
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
    rep.misses_section()
    rep.recommendations()
    rep.profile()
    rep.details()
    rep.other()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(rep.lines).rstrip() + "\n")
    return output
