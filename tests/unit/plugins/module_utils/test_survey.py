"""The survey's decisions (pure logic): pre-flight checks, readiness, what a ready host reports."""

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _survey

RES = {"path": "/var/lib/docker", "free_bytes": 77_800_000_000, "mem_mb": 24064, "cores": 8}
KVM_OK = {"kvm": {"checked": True, "usable": True}, "resources": RES, "msg": "/dev/kvm is usable.", "fix": None}
HASH = "c" * 64
IMAGE = {"checked": True, "present": True, "image": "reg/winarena:latest", "image_id": "sha256:aa",
         "msg": "reg/winarena:latest is already present; nothing pulled."}


def layers(**overrides):
    base = [
        {"layer": "docker_daemon", "healthy": True, "message": "The Docker daemon answers.", "details": {}},
        {"layer": "container", "healthy": True, "message": "Container winarena is running.",
         "details": {"id": "0123456789ab", "full_id": "0123456789ab" * 5, "config_hash": HASH, "image_id": "sha256:aa"}},
        {"layer": "windows_boot", "healthy": True, "message": "Windows started and the VNC page answers.", "details": {}},
        {"layer": "waa_server", "healthy": True, "message": "The WAA server answers /probe: Probe successful.", "details": {}},
        {"layer": "accessibility", "healthy": True, "message": "The accessibility tree (uia) has 7 elements.", "details": {}},
    ]
    for entry in base:
        entry.update(overrides.get(entry["layer"], {}))
    return base


def checks(host=KVM_OK, error=None, disk=50, ram="8G", cores=8):
    return _survey.preflight(host, error, disk, ram, cores, "/var/lib/docker", "10.0.0.4")


def test_parse_gb():
    assert [_survey.parse_gb(x) for x in ("8G", "8 GB", "8", "7.5g", "lots")] == [8.0, 8.0, 8.0, 7.5, None]


def test_preflight_passes_with_the_messages_the_user_reads():
    result = checks()
    assert result["ok"] and result["failed_check"] is None
    assert [(c["name"], c["message"]) for c in result["checks"]] == [
        ("Nested virtualization (KVM usable)", "/dev/kvm is usable."),
        ("Disk space", "77.8 GB free at /var/lib/docker (need 50 GB)"),
        ("Memory for RAM_SIZE", "23.5 GB memory (RAM_SIZE 8G)"),
        ("CPU cores for CPU_CORES", "8 cores (CPU_CORES 8)"),
    ]


@pytest.mark.parametrize("kwargs, name, words", [
    ({"disk": 100}, "Disk space", ["Only 77.8 GB free at /var/lib/docker", "need 100 GB", "ssh 10.0.0.4 'docker system prune -a'"]),
    ({"ram": "32G"}, "Memory for RAM_SIZE", ["RAM_SIZE 32G is more than the VM's 23.5 GB", "(e.g. 17G)"]),
    ({"cores": 16}, "CPU cores for CPU_CORES", ["CPU_CORES 16 is more than the VM's 8 cores", "Set waa_cpu_cores to 8"]),
    ({"ram": "lots"}, "Memory for RAM_SIZE", ["RAM_SIZE lots is more than"]),
])
def test_preflight_stops_at_the_first_failed_check_naming_the_fix(kwargs, name, words):
    result = checks(**kwargs)
    assert not result["ok"] and result["failed_check"] == name
    assert result["checks"][-1]["name"] == name and not result["checks"][-1]["ok"]
    for word in words:
        assert word in result["msg"], result["msg"]


def test_unusable_kvm_stops_before_the_resources_and_a_read_error_stops_everything():
    bad = dict(KVM_OK, kvm={"checked": True, "usable": False}, msg="/dev/kvm does not exist. Fix: use Dv5.", fix="use Dv5")
    result = checks(host=bad)
    assert [c["name"] for c in result["checks"]] == ["Nested virtualization (KVM usable)"]
    assert result["fix"] == "use Dv5" and "Fix: use Dv5" in result["msg"]
    unread = checks(host={}, error="Cannot read the host resources at /x: no such file")
    assert not unread["ok"] and unread["msg"].startswith("Cannot read the host resources")
    skipped = checks(host=dict(KVM_OK, kvm={"checked": False, "usable": None}))
    assert skipped["ok"] and [c["name"] for c in skipped["checks"]][0] == "Disk space"


@pytest.mark.parametrize("change, reason", [
    ({}, None),
    ({"expect": {"rebuild": True}}, "a rebuild was asked for"),
    ({"expect": {"force_pull": True}}, "a pull was asked for (force)"),
    ({"preflight": {"cores": 64}}, "a pre-flight check failed"),
    ({"layers": {"waa_server": {"healthy": False}}}, "layer waa_server is not healthy"),
    ({"image": {"present": False}}, "the image is not present"),
    ({"layers": {"container": {"details": {"config_hash": "d" * 64, "image_id": "sha256:aa"}}}},
     "the container's configuration label differs from this run's"),
    ({"layers": {"container": {"details": {"config_hash": None, "image_id": "sha256:aa"}}}},
     "the container's configuration label differs from this run's"),
    ({"image": {"image_id": "sha256:bb"}}, "the container runs another image than reg/winarena:latest names now"),
])
def test_ready_only_when_nothing_is_left_to_do(change, reason):
    expect = dict({"image": IMAGE["image"], "config_hash": HASH}, **change.get("expect", {}))
    found = layers(**change.get("layers", {}))
    ready, why = _survey.readiness(checks(**change.get("preflight", {})), found, dict(IMAGE, **change.get("image", {})), expect)
    assert ready is (reason is None)
    assert why == (reason or "every layer healthy and the container is the one this run asks for")


def test_a_ready_host_reports_each_phase_as_found():
    phases = _survey.found_ready(layers(), IMAGE, "winarena")
    assert [p["phase"] for p in phases] == ["docker", "image", "container", "windows_boot", "waa_server", "accessibility"]
    lines = {p["phase"]: p["checks"][0] for p in phases}
    assert lines["container"] == {"name": "Container winarena", "message": "already running with the same configuration "
                                                                           "(ID: 0123456789ab) (found at the start of this run)"}
    assert lines["image"]["message"] == IMAGE["msg"]
    assert lines["waa_server"]["message"].endswith("Probe successful. (found at the start of this run)")


def test_the_recorded_container_id(tmp_path):
    state = tmp_path / "container_id"
    assert _survey.read_persisted(str(state)) == ""
    state.write_text("abc\n")
    assert _survey.read_persisted(str(state)) == "abc"
    assert _survey.read_persisted(None) == ""


def test_a_wait_knows_what_the_survey_found_healthy():
    now = {"windows_boot": {"healthy": True, "message": "Windows started."},
           "waa_server": {"healthy": False, "message": "refused"}}
    assert _survey.known_healthy(now, ["windows_boot"]) == {
        "done": True, "message": "Windows started. (found at the start of this run)"}
    assert _survey.known_healthy(now, ["windows_boot", "waa_server"])["done"] is False
    assert _survey.known_healthy({}, ["windows_boot"]) == {"done": False, "message": ""}
    assert _survey.known_healthy(now, [])["done"] is False


def test_the_container_phase_has_nothing_to_do_only_for_the_container_asked_for():
    seen = {"status": "running", "config_hash": "h1", "full_id": "abc", "image_id": "sha256:1"}
    now = {"container": {"details": seen}}
    image = {"image_id": "sha256:1", "changed": False}
    assert _survey.container_as_asked(now, "h1", image, False) is True
    assert _survey.container_as_asked(now, "h1", image, True) is False  # --rebuild
    assert _survey.container_as_asked(now, "h2", image, False) is False  # another configuration
    assert _survey.container_as_asked(now, "h1", {"image_id": "sha256:2"}, False) is False  # the tag moved
    assert _survey.container_as_asked(now, "h1", dict(image, changed=True), False) is False  # this run pulled
    assert _survey.container_as_asked({"container": {"details": dict(seen, status="exited")}}, "h1", image, False) is False
    assert _survey.container_as_asked({}, "h1", image, False) is False


@pytest.mark.parametrize("mem_mb, cores, ram, cpus", [
    (16384, 4, "8G", 4),     # a D4: its 4 cores, WAA's 8G
    (8192, 2, "6G", 2),      # a D2: the memory less 2 GB
    (65536, 16, "8G", 8),    # a D16: capped at WAA's 8G and 8
    (3072, 1, "2G", 1),      # never below 2G
])
def test_auto_sizes_windows_from_the_vm_capped_at_waa_s_defaults(mem_mb, cores, ram, cpus):
    assert _survey.sizing({"mem_mb": mem_mb, "cores": cores}, "auto", "auto") == {"ram_size": ram, "cpu_cores": cpus}
    assert _survey.sizing({"mem_mb": mem_mb, "cores": cores}, "12G", 3) == {"ram_size": "12G", "cpu_cores": 3}


def test_the_configuration_hash_is_taken_with_auto_resolved():
    spec = {"image": "i", "env": {"RAM_SIZE": "auto", "CPU_CORES": "auto", "DISK_SIZE": "30G"}}
    resolved = _survey.resolve_spec(spec, {"ram_size": "8G", "cpu_cores": 4})
    assert resolved["env"] == {"RAM_SIZE": "8G", "CPU_CORES": "4", "DISK_SIZE": "30G"}
    assert spec["env"]["RAM_SIZE"] == "auto", "the caller's spec is not changed"
    assert _survey.config_hash(resolved) != _survey.config_hash(spec)


def test_the_golden_disk_check_comes_last_and_stops_the_run():
    bad = {"name": "Windows disk (golden image)", "ok": False, "message": "No golden Windows disk", "fix": "waa prepare-image"}
    result = _survey.preflight(KVM_OK, None, 50, "8G", 8, "/var/lib/docker", "10.0.0.4", bad)
    assert not result["ok"] and result["failed_check"] == "Windows disk (golden image)"
    assert result["fix"] == "waa prepare-image" and result["checks"][-1] is bad
