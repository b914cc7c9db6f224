"""testinfra checks specific to the fresh-host scenario (the ready-host checks are shared
with scenario default): Docker came from the docker role, and the image from the stand-in
registry forwarded into the VM."""
from __future__ import annotations

import json


def test_docker_was_installed_by_the_role(host):
    assert host.package("docker.io").is_installed
    # Debian's docker.io: /usr/sbin/dockerd (Docker CE would be /usr/bin/dockerd).
    assert host.file("/usr/sbin/dockerd").exists
    assert host.run("docker info --format '{{.ServerVersion}}'").rc == 0


def test_image_came_from_the_standin_registry(host):
    v = host.ansible.get_variables()
    info = json.loads(host.check_output("docker image inspect %s", v["waa_image"]))[0]
    assert any(d.startswith("127.0.0.1:5001/windowsarena/winarena@sha256:") for d in info["RepoDigests"]), info["RepoDigests"]


def test_result_recorded_on_the_vm(host):
    v = host.ansible.get_variables()
    state_dir = v.get("waa_state_dir", "/var/lib/openadapt-waa")  # the collection default
    setup = json.loads(host.file(state_dir + "/setup.json").content_string)
    assert setup["image"] == v["waa_image"]
    # The docker role said what it did.
    assert any("Docker was installed" in w for w in setup["warnings"]), setup["warnings"]
