"""testinfra checks after `vm_setup` converged (molecule verify; scenarios default and fresh-host).

What a ready WAA host looks like from the VM: the container runs with /dev/kvm, its ports are
published on 127.0.0.1 only (the WAA server runs commands without authentication), /probe
answers, and the results persisted on the VM exist with safe permissions.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import yaml

_PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])


def _vars(host) -> dict:
    """The collection's defaults (every role's) overlaid with the host's inventory variables."""
    defaults = {}
    for path in sorted(_PROJECT.glob("roles/*/defaults/main.yml")):
        defaults.update(yaml.safe_load(path.read_text()) or {})
    plain = {k: v for k, v in defaults.items() if not (isinstance(v, str) and "{{" in v)}
    return dict(plain, **host.ansible.get_variables())


def _inspect(host, name: str) -> dict:
    out = host.check_output("docker inspect --type container %s", name)
    return json.loads(out)[0]


def test_container_runs_with_kvm(host):
    v = _vars(host)
    info = _inspect(host, v["waa_container_name"])
    assert info["State"]["Running"] is True, info["State"]
    assert info["State"]["Restarting"] is False
    devices = info["HostConfig"]["Devices"] or []
    assert any(d["PathInContainer"] == "/dev/kvm" for d in devices), devices
    assert info["Config"]["Labels"].get("openadapt.waa.managed") == "true"
    assert info["Config"]["Image"] == v["waa_image"]


def test_ports_bound_to_loopback_only(host):
    v = _vars(host)
    info = _inspect(host, v["waa_container_name"])
    bindings = info["HostConfig"]["PortBindings"]
    wanted = {"5000/tcp": v["waa_server_port"], "8006/tcp": v["waa_vnc_port"],
              "3389/tcp": v["waa_rdp_port"]}
    assert set(bindings) == set(wanted), bindings
    for port, host_port in wanted.items():
        assert bindings[port] == [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}], (port, bindings[port])
    # What the daemon really bound (not only what was asked for).
    live = info["NetworkSettings"]["Ports"]
    for port in wanted:
        assert {b["HostIp"] for b in live[port]} == {"127.0.0.1"}, (port, live[port])


def test_probe_answers(host):
    v = _vars(host)
    url = "http://127.0.0.1:%s/probe" % v["waa_server_port"]
    code = (
        "import urllib.request,sys;"
        "r=urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1],timeout=10);"
        "print(r.status)"
    )
    out = host.check_output("python3 -c %s %s", code, url)
    assert out.strip() == "200"


def test_persisted_files_are_private(host):
    v = _vars(host)
    state = host.file(v["waa_state_dir"])
    assert state.is_directory
    assert state.mode & 0o077 == 0, oct(state.mode)  # 0700: results and screenshots stay private
    info = _inspect(host, v["waa_container_name"])
    container_id = host.file(v["waa_state_dir"] + "/container_id")
    assert container_id.content_string.strip() == info["Id"]
    for name in ("container_id", "container.json", "setup.json"):
        f = host.file(v["waa_state_dir"] + "/" + name)
        assert f.is_file and not f.is_symlink, name
        assert f.user == "root", (name, f.user)
        assert f.mode & 0o027 == 0, (name, oct(f.mode))  # at most 0640
    setup = json.loads(host.file(v["waa_state_dir"] + "/setup.json").content_string)
    assert setup["container_id"] == info["Id"]
    assert setup["container_name"] == v["waa_container_name"]
    log = host.file(v["waa_log_file"])
    assert log.is_file and not log.is_symlink
    assert log.mode & (stat.S_IWGRP | stat.S_IRWXO) == 0, oct(log.mode)
    assert v["waa_container_name"] in log.content_string
