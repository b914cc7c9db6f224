"""kvm_check and progress_watch run for real on this host (which has a working /dev/kvm but no vmx flag)."""
from __future__ import annotations

import json
import os
import time

import pytest

from test_modules_support import run_module


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="needs /dev/kvm")
def test_real_kvm_is_usable_without_vmx_flag(tmp_path):
    r = run_module("kvm_check", {}, tmp_path)
    assert not r["failed"], r["msg"]
    kvm = r["kvm"]
    assert kvm["usable"] and kvm["api_version"] == 12 and kvm["create_vm"] and kvm["read_write"]
    assert set(kvm["cpu_flags"]) == {"vmx", "svm", "hypervisor"}
    assert r["changed"] is False and r["waa_exit_code"] == 0 and r["fix"] is None


@pytest.mark.parametrize("device,reason", [("/dev/null", "KVM_GET_API_VERSION"), ("regular", "not a character device"),
                                           ("/nonexistent/kvm", "does not exist")])
def test_unusable_devices_fail_with_the_azure_fix(tmp_path, device, reason):
    if device == "regular":
        device = str(tmp_path / "kvm")
        with open(device, "w") as handle:
            handle.write("x")
    r = run_module("kvm_check", {"device": device}, tmp_path)
    assert r["failed"] and r["waa_exit_code"] == 1 and not r["kvm"]["usable"]
    assert reason in r["msg"]
    for part in ("Dv5", "Ddsv5", "Ev5", "Edsv5", "Standard security type", "Trusted Launch"):
        assert part in r["msg"] and part in r["fix"]

    r = run_module("kvm_check", {"device": device, "fail_on_unusable": False}, tmp_path)
    assert not r["failed"] and r["kvm"]["usable"] is False


def test_resources_come_with_the_check_and_without_it(tmp_path):
    missing = tmp_path / "docker-data-root" / "not-yet"
    r = run_module("kvm_check", {"device": "/dev/null", "fail_on_unusable": False, "resources_path": str(missing)}, tmp_path)
    res = r["resources"]
    assert res["path"] == str(tmp_path) and res["free_bytes"] > 0 and res["mem_mb"] > 0 and res["cores"] >= 1
    assert isinstance(res["python_requests"], bool)
    # The KVM check switched off: the device is not even looked at, the resources still come.
    r = run_module("kvm_check", {"device": "/nonexistent/kvm", "check_device": False, "resources_path": "/"}, tmp_path)
    assert not r["failed"] and r["kvm"]["checked"] is False and r["kvm"]["usable"] is None
    assert r["msg"] == "KVM check skipped." and r["resources"]["path"] == "/"
    r = run_module("kvm_check", {"resources_path": "relative/path"}, tmp_path)
    assert r["failed"] and "absolute path" in r["msg"]


def test_progress_watch_returns_at_terminal_state_or_after_wait(tmp_path):
    path = tmp_path / "p.json"
    t0 = time.monotonic()
    r = run_module("progress_watch", {"path": str(path), "wait": 1}, tmp_path)
    assert not r["failed"] and r["finished"] is False and r["progress"] == {}
    assert 1.0 <= r["waited"] < 2.0

    path.write_text(json.dumps({"kind": "pull", "state": "running", "seq": 1}))
    r = run_module("progress_watch", {"path": str(path), "wait": 0.5}, tmp_path)
    assert not r["finished"] and r["progress"]["seq"] == 1

    path.write_text(json.dumps({"kind": "pull", "state": "done", "seq": 2, "result": {"image": "x/y:1"}}))
    r = run_module("progress_watch", {"path": str(path), "wait": 5}, tmp_path)
    assert r["finished"] and r["result"] == {"image": "x/y:1"} and r["waited"] < 0.5

    path.write_text(json.dumps({"kind": "boot", "state": "failed", "seq": 3,
                                "result": {"msg": "windows_boot is unhealthy", "fix": "add --device /dev/kvm",
                                           "waa_exit_code": 5, "layers": [{"layer": "windows_boot"}]}}))
    r = run_module("progress_watch", {"path": str(path)}, tmp_path)
    assert r["failed"] and r["finished"] and r["msg"] == "windows_boot is unhealthy"
    assert r["waa_exit_code"] == 5 and r["fix"] == "add --device /dev/kvm" and r["layers"][0]["layer"] == "windows_boot"
    r = run_module("progress_watch", {"path": str(path), "fail_on_failed": False}, tmp_path)
    assert not r["failed"] and r["failed_work"] is True
    assert time.monotonic() - t0 < 30

    r = run_module("progress_watch", {"path": "relative/p.json"}, tmp_path)
    assert r["failed"] and "absolute" in r["msg"]
    r = run_module("progress_watch", {"path": str(path), "job_id": "../../etc/passwd"}, tmp_path)
    assert r["failed"] and "job id" in r["msg"]
