# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host result a run records (``set_stats`` key ``waa_results``), from the run's variables.

The playbook's part of the result document: the callback turns it into the document the CLI prints
(``_result_document.result_document``). Built by the action plugin ``openadapt.waa.run_result`` at the end of
every playbook (``roles/common/tasks/report.yml``); pure Python, so that what a run reports is
decided, and tested, in one place.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import MAX_SELECTION
from ansible_collections.openadapt.waa.plugins.module_utils._phases import phase_info
from ansible_collections.openadapt.waa.plugins.module_utils._validate import valid_task_ref
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import VM_SIZE_RE

# What of the pull's result goes into the document (the rest is the module's bookkeeping).
PULL_KEYS = ("digest", "bytes_total", "bytes_downloaded", "layers_total", "layers_already_present", "attempts",
             "duration", "fell_back", "rate_limited", "stalled", "changed", "image_size_bytes")
SUCCESS_MESSAGE = "WAA container ready for evaluation"
# A run variable's value, or the default when the run never set it.
Getter = Callable[[str, Any], Any]


def _ran(result) -> bool:
    """A registered task result of a task that ran and succeeded (Ansible's ``is succeeded`` and not skipped)."""
    return isinstance(result, dict) and not result.get("skipped") and not result.get("failed") \
        and not result.get("unreachable")


def checks(get: Getter) -> dict:
    """The pre-flight phase's checks as the run's survey (its first round trip) found them; None: not checked."""
    survey = get("waa_survey", None)
    surveyed = _ran(survey)
    host = (survey.get("host") or {}) if surveyed else {}
    layers = (survey.get("layers") or []) if surveyed else []
    kvm = host.get("kvm") or {}
    return {
        "ssh": surveyed,
        "docker": bool(layers and layers[0].get("healthy")) or _ran(get("_waa_docker_started", None)),
        "nested_virt": kvm.get("usable") if kvm.get("checked") else None,
        "disk_space": (host.get("resources") or {}).get("free_bytes") if "resources" in host else None,
    }


def vm_size(get: Getter) -> str:
    """The VM size for the cost estimate: waa_vm_size, the azure_rm inventory's, or Azure's metadata service's."""
    survey = get("waa_survey", None)
    from_imds = ((survey or {}).get("host") or {}).get("azure_vm_size") if _ran(survey) else ""
    size = str(get("waa_vm_size", "") or get("virtual_machine_size", "") or from_imds or "")
    # Azure's metadata service answers from the VM: a recorded value is a size's name or nothing.
    return size if VM_SIZE_RE.match(size) else ""


def golden(get: Getter) -> dict:
    """The golden disk's manifest this run made, pushed or restored (with the Blob Storage URL), or {}."""
    manifest = dict(get("waa_golden_manifest", None) or {})
    if manifest and get("waa_golden_url", ""):
        manifest["url"] = get("waa_golden_url", "")
    return manifest


# A benchmark host's own artifact key (waa_benchmark_host_<12 hex>): AWX's merge of sliced jobs' artifacts is
# key by key, so the hosts of different slices must not share one.
RECORDED_KEY_PREFIX = "waa_benchmark_host_"


def recorded_key(host: str) -> str:
    return RECORDED_KEY_PREFIX + hashlib.sha256(host.encode("utf-8")).hexdigest()[:12]


# A task's status as the module names them (finished, error, incomplete, not_run): a word, never a template.
STATUS_RE = re.compile(r"^[a-z_]{1,32}$")


def benchmark(get: Getter) -> dict:
    """`waa run`: each task's outcome ({task, status, score, success, duration}), what an AWX merge step makes the
    fleet's summary of (plugin_utils/_summary.merge_recorded); {} for the other commands. The module's result comes
    from the VM: only plain values pass."""
    result = get("waa_benchmark_result", None)
    tasks = result.get("tasks") if isinstance(result, dict) else None
    if not isinstance(tasks, list):
        return {}
    out = []
    for task in tasks[:MAX_SELECTION]:
        if not isinstance(task, dict) or not valid_task_ref(task.get("domain"), task.get("task_id")):
            continue
        score, duration = task.get("score"), task.get("duration")
        status = str(task.get("status") or "")
        out.append({"task": "%s/%s" % (task["domain"], task["task_id"]),
                    "status": status if STATUS_RE.match(status) else "unknown",
                    "score": score if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
                    "success": task.get("success") is True,
                    "duration": duration if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None})
    return {"tasks": out}


def run_artifact(get: Getter, now: float) -> dict:
    """The per-host result of a run: exit code and phase (the failed one, else the playbook's last),
    message and fix, the pre-flight checks, the container, the image and its pull, the health layers
    (the failure's, else the final validation's), and where the ports listen on the VM."""
    code = int(get("waa_exit_code", 0) or 0)
    phase = get("waa_phase", None) or get("waa_final_phase", "validate")
    # A host found ready ran no image phase: what the run's survey found of the image (the same keys).
    image_result = get("waa_image_result", None) or (get("waa_survey", None) or {}).get("image") or {}
    layers = get("waa_failure_layers", []) if code else (get("waa_validation", None) or {}).get("layers", [])
    message = get("waa_failure_message", None)
    image = get("waa_image_ref", None)
    return {
        "exit_code": code,
        "success": code == 0,
        "phase": phase,
        "phase_number": phase_info(phase)["number"],
        "message": get("waa_success_message", SUCCESS_MESSAGE) if message is None else message,
        "fix": get("waa_failure_fix", "") or "",
        "warnings": list(get("waa_warnings", []) or []),
        "container_name": get("waa_container_name", ""),
        "log_file": get("waa_log_file", ""),
        "checks": checks(get),
        "vm_size": vm_size(get),
        "hourly_rate": get("waa_hourly_rate", "") or "",
        "container_id": get("waa_container_id", "") or "",
        "image": get("waa_image", "") if image is None else image,
        "image_source": image_result.get("source", ""),
        "image_pull": dict((key, image_result[key]) for key in PULL_KEYS if key in image_result),
        "duration_seconds": round(now - float(get("waa_started", now)), 1),
        # The run's time limit as it applied (a default --timeout grows on the install and restore paths).
        "timeout_seconds": round(float(get("waa_deadline", now)) - float(get("waa_started", now))),
        "health_layers": list(layers or []),
        # `waa prepare-image`: the golden disk's manifest (empty for the other commands).
        "golden": golden(get),
        "benchmark": benchmark(get),
        # Where the ports listen on the VM (the SSH tunnel's target), whatever level set them.
        "ports": {
            "server": int(get("waa_server_port", 5000)),
            "vnc": int(get("waa_vnc_port", 8006)),
            "rdp": int(get("waa_rdp_port", 3389)),
            "address": get("waa_local_address", "127.0.0.1"),
        },
    }


def left_out_artifact(get: Getter, host: str) -> dict:
    """The result of a host left out of the run because its Azure VM is stopped or deallocated
    (roles/common/tasks/stopped_vm.yml): nothing was asked of it, and `waa up` starts it."""
    return {
        "exit_code": 0,
        "skipped": True,
        "phase": "preflight",
        "phase_number": phase_info("preflight")["number"],
        "message": "Left out %s: the Azure VM %s is %s." % (host, get("waa_azure_vm_name", None) or host,
                                                            get("waa_azure_power_state", "stopped")),
        "fix": "Start it and set it up with: waa up -i <inventory> --limit %s" % host,
        "warnings": [],
        "container_name": get("waa_container_name", ""),
    }
