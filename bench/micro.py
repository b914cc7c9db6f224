"""Profile support: what one task costs, by module and SSH setting, on the stand-in VM.

Each variant is a playbook of M identical tasks run through ansible-runner with the CLI's
environment (bench/noop.py); the per-task cost is the median of the tasks' own durations
(ansible-runner's event_data.duration), the first task excluded (it opens the SSH master).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from common import PORTS, PY, REPO, WORK, load_average, local_vm, log, new_run_dir, pct, standin_host, write_inventory
from rerun import task_rows


def _inventories() -> dict[str, str]:
    hv = standin_host("micro", "waa-bench7-micro-absent", PORTS["experiment"])
    plain = write_inventory(WORK / "inv" / "micro.yml", {"local-vm": hv})
    nocm = dict(hv)
    nocm["ansible_ssh_common_args"] = (f"-o UserKnownHostsFile={local_vm.KNOWN_HOSTS} -o StrictHostKeyChecking=accept-new "
                                       "-o IdentitiesOnly=yes -o ControlMaster=no -o ControlPath=none")
    nocm_inv = write_inventory(WORK / "inv" / "micro-nocm.yml", {"local-vm": nocm})
    nopipe = dict(hv, ansible_ssh_pipelining=False)
    nopipe_inv = write_inventory(WORK / "inv" / "micro-nopipe.yml", {"local-vm": nopipe})
    return {"plain": str(plain), "nocm": str(nocm_inv), "nopipe": str(nopipe_inv)}


def variants(m: int) -> list[tuple[str, str, dict, dict, int]]:
    """(label, inventory key, task, extra env, count)."""
    probe = {"openadapt.waa.waa_probe": {"layers": ["docker_daemon"]}}
    return [
        ("ping (ControlPersist + pipelining: the CLI's settings)", "plain", {"ansible.builtin.ping": None}, {}, m),
        ("ping, no ControlMaster (a new SSH connection a task)", "nocm",
         {"ansible.builtin.ping": None}, {"ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPath=none"}, m),
        ("ping, pipelining off", "nopipe", {"ansible.builtin.ping": None}, {"ANSIBLE_PIPELINING": "False"}, m),
        ("set_fact (controller only)", "plain", {"ansible.builtin.set_fact": {"x": 1}}, {}, m),
        ("command: python3 -c 'import requests'", "plain",
         {"ansible.builtin.command": {"argv": ["/usr/bin/python3", "-c", "import requests"]}, "changed_when": False}, {}, m),
        ("file: state=directory", "plain",
         {"ansible.builtin.file": {"path": str(WORK / "vm" / "micro-dir"), "state": "directory", "mode": "0700"}}, {}, m),
        ("openadapt.waa.kvm_check", "plain", {"openadapt.waa.kvm_check": {"device": "/dev/kvm"}}, {}, m),
        ("openadapt.waa.waa_probe (docker_daemon layer)", "plain", probe, {}, m),
        ("community.docker.docker_container_info", "plain",
         {"community.docker.docker_container_info": {"name": "waa-bench7-micro-absent"}}, {}, m),
        ("setup (preflight's hardware subset)", "plain",
         {"ansible.builtin.setup": {"gather_subset": ["!all", "!min", "hardware"],
                                    "filter": ["ansible_memtotal_mb", "ansible_processor_nproc",
                                               "ansible_processor_vcpus", "ansible_mounts"]}}, {}, max(3, m // 2)),
        ("waa_probe started async (async: 60, poll: 0)", "plain",
         dict(probe, **{"async": 60, "poll": 0}), {}, max(3, m // 2)),
    ]


def bench(quick: bool = False) -> dict:
    m = 6 if quick else 10
    rounds = 1 if quick else 2
    invs = _inventories()
    durations: dict[str, list] = {}
    info: dict[str, dict] = {}
    for rnd in range(rounds):
        for idx, (label, inv_key, task, env, count) in enumerate(variants(m)):
            tasks = [dict({"name": f"t{i}"}, **task) for i in range(count + 1)]
            pb = WORK / "playbooks" / f"micro-{idx}.yml"
            pb.parent.mkdir(parents=True, exist_ok=True)
            pb.write_text(yaml.safe_dump([{"name": "micro", "hosts": "all", "gather_facts": False, "tasks": tasks}],
                                         sort_keys=False))
            r = _run_env(pb, invs[inv_key], f"micro-{idx}", env)
            rows = task_rows(Path(r["run_dir"]) / "runner")
            durs = [x["duration"] for x in rows[1:] if x["status"] == "ok"]
            durations.setdefault(label, []).extend(durs)
            info.setdefault(label, {"tasks": 0, "errors": []})
            info[label]["tasks"] += len(durs)
            if r["rc"] != 0:
                info[label]["errors"].append(r["error"])
            log(f"  micro [{rnd + 1}/{rounds}] {label}: {pct(durs, 50) if durs else None} s/task (rc {r['rc']})")
    out = []
    for label, durs in durations.items():
        out.append({"label": label, "tasks": info[label]["tasks"], "per_task": round(pct(durs, 50), 3) if durs else None,
                    "p95": round(pct(durs, 95), 3) if durs else None, "errors": info[label]["errors"][:1]})
    return {"variants": out, "m": m, "rounds": rounds, "load": load_average()}


def _run_env(pb, inv, tag, env):
    run_dir = new_run_dir(tag)
    argv = [PY, str(REPO / "bench" / "noop.py"), str(pb), str(inv), str(run_dir)]
    if env:
        argv += ["--env", json.dumps(env)]
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, cwd=str(WORK))
    return {"wall": round(time.monotonic() - t0, 3), "rc": cp.returncode, "run_dir": str(run_dir),
            "error": None if cp.returncode == 0 else (cp.stdout + cp.stderr)[-1500:]}
