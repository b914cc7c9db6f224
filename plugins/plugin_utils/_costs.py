# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run cost: the VM's size and time, at the size's list price or a rate the user gives.

Pure Python, no Ansible imports (the callback and the CLI use it)."""

from __future__ import annotations

import re

# USD per hour, Linux, pay-as-you-go, East US: Azure's list prices
# (https://azure.microsoft.com/pricing/details/virtual-machines/linux/) as published in 2025 for
# the sizes WAA runs on (nested virtualization: Dsv3, Ddsv5/Dsv5, Esv5/Edsv5). Other regions,
# discounts, spot and disks differ: --hourly-rate (waa_hourly_rate) gives the real rate.
PRICES_SOURCE = "Azure list price, Linux pay-as-you-go, East US (2025)"
HOURLY_USD = {
    "Standard_D4s_v3": 0.192,
    "Standard_D8s_v3": 0.384,
    "Standard_D16s_v3": 0.768,
    "Standard_D4s_v5": 0.192,
    "Standard_D8s_v5": 0.384,
    "Standard_D16s_v5": 0.768,
    "Standard_D4ds_v5": 0.226,
    "Standard_D8ds_v5": 0.452,
    "Standard_D16ds_v5": 0.904,
    "Standard_E4s_v5": 0.252,
    "Standard_E8s_v5": 0.504,
    "Standard_E8ds_v5": 0.576,
}
VM_SIZE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,63}$")


def _size_key(vm_size: str) -> str:
    """Azure's names are case-insensitive, and people drop the Standard_ prefix."""
    lowered = {k.lower(): k for k in HOURLY_USD}
    name = vm_size.strip()
    return lowered.get(name.lower()) or lowered.get("standard_" + name.lower()) or name


def estimate(vm_size, seconds, hourly_rate=None) -> dict | None:
    """{"vm_size", "hourly_rate_usd", "rate_source", "vm_runtime_seconds", "estimated_cost_usd"}, or
    None when neither a rate nor a known size says what an hour costs."""
    try:
        seconds = max(0.0, float(seconds))
    except (TypeError, ValueError):
        return None
    size = _size_key(str(vm_size)) if vm_size and VM_SIZE_RE.match(str(vm_size).strip()) else ""
    try:
        rate = float(hourly_rate) if hourly_rate not in (None, "") else None
    except (TypeError, ValueError):
        rate = None
    if rate is not None and rate > 0:
        source = "--hourly-rate (waa_hourly_rate)"
    elif size in HOURLY_USD:
        rate, source = HOURLY_USD[size], PRICES_SOURCE
    else:
        return None
    return {"vm_size": size, "hourly_rate_usd": rate, "rate_source": source, "vm_runtime_seconds": round(seconds, 1),
            "estimated_cost_usd": round(seconds / 3600.0 * rate, 4)}


def describe(costs: dict | None) -> str:
    """'≈ $0.06 (11 min of Standard_D8s_v3 at $0.384/h)' for the human summary."""
    if not costs:
        return ""
    minutes = costs["vm_runtime_seconds"] / 60.0
    what = costs["vm_size"] or "the VM"
    return "\u2248 $%.2f (%s of %s at $%.3f/h, %s)" % (
        costs["estimated_cost_usd"], ("%.0f min" % minutes) if minutes >= 1 else ("%.0f s" % costs["vm_runtime_seconds"]),
        what, costs["hourly_rate_usd"], costs["rate_source"])
