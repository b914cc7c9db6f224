import os

from ansible_collections.openadapt.waa.plugins.module_utils import _host as kvm_check


def test_cpu_flags_are_reported(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu vme svm hypervisor\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert kvm_check.cpu_flags(str(info)) == {"vmx": False, "svm": True, "hypervisor": True}
    assert kvm_check.cpu_flags(str(tmp_path / "missing")) == {"vmx": False, "svm": False, "hypervisor": False}


def test_missing_and_regular_files_are_unusable_with_azure_fix(tmp_path):
    kvm, msg, fix = kvm_check.check_kvm(str(tmp_path / "kvm"))
    assert not kvm["exists"] and not kvm["usable"] and "does not exist" in msg
    assert "Trusted Launch" in fix and "Dv5" in fix
    regular = tmp_path / "file"
    regular.write_text("x")
    kvm, msg, fix = kvm_check.check_kvm(str(regular))
    assert kvm["exists"] and not kvm["is_char_device"] and not kvm["read_write"] and "character device" in msg
    assert kvm["group"] and kvm["mode"]


def test_dev_null_is_not_kvm():
    kvm, msg, fix = kvm_check.check_kvm("/dev/null")
    assert kvm["is_char_device"] and kvm["read_write"] and kvm["api_version"] is None and not kvm["usable"]
    assert "KVM_GET_API_VERSION" in msg and "Edsv5" in fix


def test_real_kvm_when_present():
    if not os.path.exists("/dev/kvm"):
        return
    kvm, msg, fix = kvm_check.check_kvm("/dev/kvm")
    if kvm["read_write"]:
        assert kvm["usable"] and kvm["api_version"] == 12 and kvm["create_vm"] and fix is None
    else:
        assert "group" in fix and kvm["group"] in fix


def test_host_resources_read_the_nearest_existing_directory(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:        1000 kB\nMemTotal:       16777216 kB\n")
    res = kvm_check.host_resources(str(tmp_path / "docker" / "not" / "yet"), meminfo=str(meminfo))
    st = os.statvfs(str(tmp_path))
    assert res["path"] == str(tmp_path)
    assert res["mem_mb"] == 16384 and res["cores"] == os.cpu_count()
    assert abs(res["free_bytes"] - st.f_bavail * st.f_frsize) < 50 * 1024 * 1024
    assert res["python_requests"] is True  # the test environment has requests
    assert kvm_check._importable("no_such_module_for_waa") is False
