# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host result a run records (``set_stats`` key ``waa_results``), from the run's variables.

The playbook's part of the result document: the callback turns it into the document the CLI prints
(``_events.result_document``). Built by the action plugin ``openadapt.waa.run_result`` at the end of
every playbook (``roles/common/tasks/report.yml``); pure Python, so that what a run reports is
decided, and tested, in one place.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.openadapt.waa.plugins.module_utils._phases import phase_info

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
    return str(get("waa_vm_size", "") or get("virtual_machine_size", "") or from_imds or "")


def golden(get: Getter) -> dict:
    """The golden disk's manifest this run made, pushed or restored (with the Blob Storage URL), or {}."""
    manifest = dict(get("waa_golden_manifest", None) or {})
    if manifest and get("waa_golden_url", ""):
        manifest["url"] = get("waa_golden_url", "")
    return manifest


def run_artifact(get: Getter, now: float) -> dict:
    """The per-host result of a run: exit code and phase (the failed one, else the playbook's last),
    message and fix, the pre-flight checks, the container, the image and its pull, the health layers
    (the failure's, else the final validation's), and where the ports listen on the VM."""
    code = int(get("waa_exit_code", 0) or 0)
    phase = get("waa_phase", None) or get("waa_final_phase", "validate")
    image_result = get("waa_image_result", None) or {}
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
