"""The container decision (pure logic against a fake engine): create, keep, replace, refuse."""

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _container

SPEC = {
    "image": "reg/winarena:latest", "command": ["/entry.sh --prepare-image false --start-client false"],
    "devices": ["/dev/kvm:/dev/kvm"], "capabilities": ["NET_ADMIN"],
    "published_ports": ["127.0.0.1:8006:8006", "127.0.0.1:5000:5000", "127.0.0.1:3389:3389"],
    "env": {"RAM_SIZE": "8G", "CPU_CORES": "4", "DISK_SIZE": "30G"},
    "volumes": ["/srv/storage:/storage", "/srv/results:/client/results"], "stop_timeout": 120, "restart_policy": "no",
}


def inspect_of(spec, status="running", image="sha256:aa", **config_extra):
    """What Docker's inspect says of a container created from ``spec``."""
    body = _container.create_body(spec, "h" * 64)
    config = dict(body, Env=body["Env"] + ["PATH=/usr/bin", "XRES=1440"], **config_extra)
    host = dict(body["HostConfig"], CapAdd=["CAP_NET_ADMIN"])
    return {"Id": "c" * 64, "Image": image, "Config": config, "HostConfig": host,
            "State": {"Status": status, "Running": status == "running"}}


class Engine:
    def __init__(self, info=None):
        self.info = info
        self.calls = []

    def container_inspect(self, name, timeout=None):
        return self.info

    def container_stop(self, name, stop_timeout=120, timeout=None):
        self.calls.append(("stop", stop_timeout))

    def container_remove(self, name, timeout=None):
        self.calls.append(("remove",))
        self.info = None

    def container_create(self, name, body, timeout=None):
        self.calls.append(("create", body))
        self.info = inspect_of(SPEC, status="created")
        return "c" * 64

    def container_start(self, name, timeout=None):
        self.calls.append(("start",))
        self.info["State"] = {"Status": "running", "Running": True}


def test_the_create_body_has_what_the_container_needs():
    body = _container.create_body(SPEC, "h" * 64)
    assert body["Labels"] == {"openadapt.waa.managed": "true", "openadapt.waa.config": "h" * 64}
    assert body["Env"] == ["CPU_CORES=4", "DISK_SIZE=30G", "RAM_SIZE=8G"]
    assert body["HostConfig"]["PortBindings"]["5000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "5000"}]
    assert body["HostConfig"]["Devices"] == [{"PathOnHost": "/dev/kvm", "PathInContainer": "/dev/kvm",
                                              "CgroupPermissions": "rwm"}]
    assert body["HostConfig"]["CapAdd"] == ["NET_ADMIN"] and body["Cmd"] == SPEC["command"]
    with pytest.raises(ValueError):
        _container.create_body(dict(SPEC, published_ports=["5000"]), "h")


def test_a_matching_container_has_no_differences_whatever_the_image_adds():
    assert _container.differences(SPEC, inspect_of(SPEC), "sha256:aa") == []


@pytest.mark.parametrize("change, phrase", [
    ({"env": dict(SPEC["env"], RAM_SIZE="4G")}, "environment RAM_SIZE"),
    ({"published_ports": ["127.0.0.2:8006:8006", "127.0.0.1:5000:5000", "127.0.0.1:3389:3389"]}, "published_ports "),
    ({"volumes": ["/other:/storage", "/srv/results:/client/results"]}, "volumes "),
    ({"capabilities": []}, "capabilities "),
    ({"restart_policy": "unless-stopped"}, "restart_policy unless-stopped instead of no"),
    ({"stop_timeout": 30}, "stop_timeout 30 instead of 120"),
    ({"command": ["/entry.sh"]}, "command /entry.sh instead of"),
    ({"devices": ["/dev/null:/dev/kvm"]}, "devices /dev/null:/dev/kvm instead of /dev/kvm:/dev/kvm"),
])
def test_each_difference_is_named(change, phrase):
    found = _container.differences(dict(SPEC, **change), inspect_of(SPEC), "sha256:aa")
    assert len(found) == 1 and found[0].startswith(phrase), found
    if "env" in change:
        assert "4G" not in found[0] and "8G" not in found[0], "values may be secrets"


def test_another_image_under_the_tag_is_a_difference():
    assert _container.differences(SPEC, inspect_of(SPEC), "sha256:bb") == [
        "image reg/winarena:latest differs from the one it runs"]


def test_create_keep_refuse_replace_and_rebuild():
    missing = Engine()
    result = _container.converge(missing, "w", SPEC, "h" * 64, "sha256:aa")
    assert result["action"] == "created" and result["changed"] and result["id"] == "c" * 64
    assert [c[0] for c in missing.calls] == ["create", "start"]

    kept = Engine(inspect_of(SPEC))
    result = _container.converge(kept, "w", SPEC, "h" * 64, "sha256:aa")
    assert result["action"] == "kept" and not result["changed"] and kept.calls == []

    differs = Engine(inspect_of(SPEC))
    result = _container.converge(differs, "w", dict(SPEC, env=dict(SPEC["env"], CPU_CORES="8")), "h", "sha256:aa")
    assert result["refused"] and result["differences"] == ["environment CPU_CORES"] and differs.calls == []

    exited = Engine(inspect_of(SPEC, status="exited"))
    result = _container.converge(exited, "w", SPEC, "h", "sha256:aa")
    assert result["action"] == "replaced" and result["removed"] == "status exited"
    assert [c[0] for c in exited.calls] == ["remove", "create", "start"], "an exited container needs no stop"

    rebuilt = Engine(inspect_of(SPEC))
    result = _container.converge(rebuilt, "w", SPEC, "h", "sha256:aa", rebuild=True, stop_timeout=7)
    assert result["removed"] == "rebuild requested" and rebuilt.calls[0] == ("stop", 7)


def test_check_mode_changes_nothing():
    engine = Engine(inspect_of(SPEC, status="dead"))
    result = _container.converge(engine, "w", SPEC, "h", "sha256:aa", check_mode=True)
    assert result["action"] == "replaced" and engine.calls == []


def _layer(name, healthy, fatal=False, message="m"):
    return {"layer": name, "healthy": healthy, "fatal": fatal, "message": message}


@pytest.mark.parametrize("layers, boot, restart, words", [
    # Stopped: container_start starts it, there is nothing to restart.
    ([_layer("container", False)], {}, False, "not running"),
    # Everything answers: leave it.
    ([_layer("container", True), _layer("windows_boot", True), _layer("waa_server", True)],
     {"windows_started": {}}, False, "answers"),
    # Booted, server hangs: restart.
    ([_layer("container", True), _layer("windows_boot", True), _layer("waa_server", False, message="timed out")],
     {"windows_started": {}, "server_ready": {}}, True, "does not answer: timed out"),
    # A fatal boot error (e.g. QEMU failed to initialise): restart.
    ([_layer("container", True), _layer("windows_boot", False, fatal=True, message="kvm busy")], {}, True, "kvm busy"),
    # Still booting: left to finish.
    ([_layer("container", True), _layer("windows_boot", False)], {"qemu_started": {}}, False, "still booting"),
])
def test_a_running_container_is_restarted_only_when_booted_and_unanswered(layers, boot, restart, words):
    wanted, reason = _container.restart_wanted(layers, boot)
    assert wanted is restart and words in reason, reason
