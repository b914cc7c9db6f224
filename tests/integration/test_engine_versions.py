"""The project's Docker client and community.docker against the Docker Engines users have:
Engine 29 (API 1.44-1.52, refuses older clients) and an old engine (API 1.41 at most).

Each engine is played by tests/standin/engine_proxy.py in front of the stand-in's real daemon;
the real CLI sets up a container through it (the probe, the pull, community.docker's container
phase), runs one benchmark task (exec and archives) and probes it, all over real SSH.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, docker_rm, unique_ports

sys.path.insert(0, str(REPO / "tests" / "standin"))
sys.path.insert(0, str(REPO / ".collections"))  # the Makefile links the collection there
from engine_proxy import ENGINE_29, OLD_ENGINE, EngineProxy  # noqa: E402

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError  # noqa: E402

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}
NOTEPAD = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"


@pytest.fixture
def engine_socket_dir():
    # The VM's login user must reach the socket, as it reaches /var/run/docker.sock.
    path = Path(tempfile.mkdtemp(prefix="waa-engine-"))
    path.chmod(0o755)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_engine_29_refuses_a_client_pinned_at_1_41(engine_socket_dir):
    """The proxy really behaves like Engine 29: the client this project had (pinned at 1.41)
    fails with the daemon's own message, the negotiating client does not."""
    with EngineProxy(str(engine_socket_dir / "e29.sock"), **ENGINE_29) as proxy:
        pinned = DockerEngine("unix://%s" % proxy.listen, timeout=10)
        pinned._prefix = "/v1.41"
        with pytest.raises(DockerError) as err:
            pinned.info()
        assert err.value.status == 400
        assert "client version 1.41 is too old. Minimum supported API version is 1.44" in err.value.message
        engine = DockerEngine("unix://%s" % proxy.listen, timeout=10)
        assert engine.api_prefix() == "/v1.52"
        assert engine.info()["Containers"] >= 0


@pytest.mark.parametrize("engine", [ENGINE_29, OLD_ENGINE], ids=["engine-29", "engine-1.41"])
def test_setup_benchmark_and_probe_work_through_the_engine(engine, engine_socket_dir, waa_cli):
    api = "%d.%d" % engine["api"]
    name = "waa-engine-%s" % api.replace(".", "-")
    docker_rm(name)
    with EngineProxy(str(engine_socket_dir / "docker.sock"), **engine) as proxy:
        hostvars = dict(unique_ports(), waa_container_name=name, waa_docker_host="unix://%s" % proxy.listen,
                        waa_force_pull=True, **FAST)
        setup = waa_cli("--skip-smoke-test", hostvars=hostvars)
        assert setup.rc == 0, setup.output
        assert setup.doc["container"]["id"], setup.output

        run = waa_cli("--task", NOTEPAD, "--timeout", "240", hostvars=hostvars, command="run", timeout=300)
        assert run.rc == 0, run.output
        ended = [e for e in run.events() if e.get("type") == "task_end"]
        assert [e.get("task_id") for e in ended] == [NOTEPAD.split("/")[1]], run.output

        probe = waa_cli(hostvars=hostvars, command="probe")
        assert probe.rc == 0, probe.output

        assert not proxy.rejected, "a request used a version the engine refuses: %s" % proxy.rejected[:5]
        versioned = [r for r in proxy.requests if re.match(r"^\S+ /v\d", r)]
        versions = {re.match(r"^\S+ /v(\d+\.\d+)/", r).group(1) for r in versioned}
        assert versions == {api}, versions
        for call in ("POST /v%s/images/create" % api,      # the pull (docker_pull_progress)
                     "POST /v%s/containers/create" % api,  # the container phase (waa_container)
                     "/exec/",                             # the benchmark client (waa_benchmark)
                     "/containers/%s/json" % name):        # the probe (waa_probe)
            assert any(call in r for r in versioned), "no %s through the engine: %s" % (call, versioned[:20])
    docker_rm(name)
