# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spec's per-host result document (`--json`, results/<host>.json), from a host's recorded result and
its tracked phases, with the SSH tunnel that reaches its ports. Pure Python."""

from __future__ import annotations

import shlex
import time

from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_MEANING, SPEC_HEALTH_NAME, SPEC_PHASE_NAME
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import estimate


def tunnel_command(host_doc: dict) -> str:
    """The SSH command that forwards the VM's loopback-only WAA, VNC and RDP ports."""
    conn = host_doc.get("connection") or {}
    address = conn.get("address") or host_doc.get("host")
    user = conn.get("user")
    target = "%s@%s" % (user, address) if user else address
    ports = host_doc.get("ports") or {"server": 5000, "vnc": 8006, "rdp": 3389}
    parts = ["ssh", "-N"]
    if conn.get("port") and str(conn["port"]) != "22":
        parts += ["-p", str(conn["port"])]
    if conn.get("key"):
        parts += ["-i", conn["key"]]
    bind = ports.get("address") or "127.0.0.1"  # where the ports listen on the VM
    for local in (ports["server"], ports["vnc"], ports["rdp"]):
        parts += ["-L", "%s:%s:%s" % (local, bind, local)]
    parts.append(target)
    return " ".join(shlex.quote(str(part)) for part in parts)  # a copy-paste command: quoted for a shell


def result_document(host: str, artifact: dict, host_state: dict, connection: dict, ports: dict) -> dict:
    """The spec's per-host JSON document, from the set_stats artifact and the tracked phases."""
    artifact = artifact or {}
    code = int(artifact.get("exit_code", 9))
    phases = []
    # In the order the phases ran (a reset runs before the container phase); the benchmark has its own part.
    for name, record in (host_state.get("phases") or {}).items():
        if name not in SPEC_PHASE_NAME or not record:
            continue
        entry = {
            "name": SPEC_PHASE_NAME[name], "role": name, "number": record.get("number"),
            "status": {"ok": "success"}.get(record.get("status"), record.get("status")),
            "duration_seconds": record.get("duration"), "message": record.get("message") or record.get("detail", ""),
        }
        if name == "preflight" and isinstance(artifact.get("checks"), dict):
            checks = dict(artifact["checks"])
            if checks.get("disk_space") not in (None, ""):
                checks["disk_space"] = int(float(checks["disk_space"]))  # free bytes at Docker's data root
            entry["checks"] = checks
        if name == "image":
            pull = artifact.get("image_pull") or {}
            size = pull.get("image_size_bytes") or pull.get("bytes_total")
            entry.update(image_size_bytes=int(size) if size not in (None, "") else None,
                         source=artifact.get("image_source") or None)
        phases.append(entry)
    layers = artifact.get("health_layers") or []
    health = {spec: "unknown" for spec in SPEC_HEALTH_NAME.values()}
    for layer in layers:
        key = SPEC_HEALTH_NAME.get(layer.get("layer"))
        if key:
            health[key] = "healthy" if layer.get("healthy") else "unhealthy"
    container_id = artifact.get("container_id") or ""
    doc = {
        # A host left out (a stopped Azure VM) exits 0 without being ready.
        "success": code == 0 and not artifact.get("skipped"),
        "skipped": bool(artifact.get("skipped")),
        "exit_code": code,
        "exit_meaning": EXIT_MEANING.get(code, "Unknown error"),
        "host": host,
        "duration_seconds": artifact.get("duration_seconds"),
        "timeout_seconds": artifact.get("timeout_seconds"),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "phase": artifact.get("phase"),
        "phase_number": artifact.get("phase_number"),
        "message": artifact.get("message", ""),
        "fix": artifact.get("fix", ""),
        "container": {
            "name": artifact.get("container_name"),
            "id": container_id[:12],
            "image": artifact.get("image"),
            "status": "running" if health["container_status"] == "healthy" else ("unknown" if not container_id else "not ready"),
            "health": "healthy" if code == 0 else "unhealthy",
        },
        "image": dict(artifact.get("image_pull") or {}, reference=artifact.get("image"), source=artifact.get("image_source")),
        "phases": phases,
        "health_checks": health,
        "health_layers": layers,
        "warnings": list(artifact.get("warnings") or []),
        # The setup log on the VM (phase 8 writes it; "View logs" tails it).
        "log_file": artifact.get("log_file") or "",
        "server_url": "http://127.0.0.1:%s" % ports.get("server", 5000),
        "vnc_url": "http://127.0.0.1:%s" % ports.get("vnc", 8006),
        "connection": connection,
        "ports": ports,
    }
    doc["tunnel_command"] = tunnel_command(doc)
    if artifact.get("golden"):
        doc["golden"] = dict(artifact["golden"])  # waa prepare-image: the golden disk's manifest
    # The VM's time for this run at its size's price (None when neither is known).
    doc["costs"] = estimate(artifact.get("vm_size"), artifact.get("duration_seconds"), artifact.get("hourly_rate"))
    return doc
