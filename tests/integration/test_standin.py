"""The stand-in Azure VM itself, for real: sshd, Ansible over ssh, the registries and the
hub fault proxy, and the idempotence/repair of `local_vm.py up`. No mocks."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker
import pytest
import requests

from conftest import wait_for

pytestmark = pytest.mark.standin

LOCAL_VM = Path(__file__).resolve().parents[1] / "standin" / "local_vm.py"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def api():
    client = docker.APIClient(base_url="unix:///var/run/docker.sock", timeout=60)
    yield client
    client.close()


def _rmi(api, ref: str) -> None:
    # force: a container of another test (or `make demo`) may use the image; this only untags it,
    # so the next pull fetches the manifest and config again.
    try:
        api.remove_image(ref, force=True)
    except docker.errors.ImageNotFound:
        pass


def _split(ref: str) -> tuple[str, str]:
    repo, tag = ref.rsplit(":", 1)
    return repo, tag


def _pull(api, ref: str, auth_config=None, timeout: float = 120) -> list[dict]:
    """All events of a pull through the Engine API (bounded). Raises docker.errors.APIError
    when the engine refuses before the stream starts."""
    repo, tag = _split(ref)
    events, deadline = [], time.monotonic() + timeout
    for event in api.pull(repo, tag, stream=True, decode=True, auth_config=auth_config):
        events.append(event)
        assert time.monotonic() < deadline, f"pull of {ref} took longer than {timeout}s: {events[-5:]}"
    return events


class StreamedPull:
    """A pull whose JSON stream is read in a thread, so the test can watch it with timeouts."""

    def __init__(self, ref: str):
        self.api = docker.APIClient(base_url="unix:///var/run/docker.sock", timeout=300)
        self.events: queue.Queue = queue.Queue()
        repo, tag = _split(ref)
        self.thread = threading.Thread(target=self._read, args=(repo, tag), daemon=True)
        self.thread.start()

    def _read(self, repo, tag):
        try:
            for event in self.api.pull(repo, tag, stream=True, decode=True):
                self.events.put((time.monotonic(), event))
            self.events.put((time.monotonic(), {"__end__": True}))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            self.events.put((time.monotonic(), {"__exception__": repr(exc)}))

    def get(self, timeout: float):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self.api.close()  # closing our side makes the engine drop the pull if nobody else waits
        self.thread.join(timeout=10)


def _http(url: str, method: str = "GET", headers=None, auth=None, body: bytes | None = None):
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}), data=body)
    if auth:
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _run(argv, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)


# --------------------------------------------------------------------------------------------
# ssh and Ansible
# --------------------------------------------------------------------------------------------
def test_ssh_with_generated_key_and_known_hosts(standin):
    # As on Azure: the login user is azureuser, not root, and reaches Docker through sudo only.
    cp = _run(standin.ssh_argv("id -un; test -x /usr/bin/python3 && echo python-ok; "
                               "sudo -n docker version --format '{{.Server.APIVersion}}'; "
                               "docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 || echo no-docker-without-sudo"),
              timeout=30)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.split()
    assert lines[0] == "azureuser" and lines[1] == "python-ok"
    assert lines[2].count(".") == 1  # the "VM" reaches the same docker engine
    assert lines[3] == "no-docker-without-sudo"
    kh = standin.known_hosts.read_text()
    assert kh.startswith(f"[{standin.ssh_host}]:{standin.ssh_port} ssh-ed25519 ")
    assert oct(standin.ssh_key.stat().st_mode & 0o777) == "0o600"


def test_wrong_client_key_is_refused(standin, tmp_path):
    key = tmp_path / "other_key"
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]).check_returncode()
    cp = _run(standin.ssh_argv("true", key=key), timeout=30)
    assert cp.returncode == 255
    assert "Permission denied" in cp.stderr


def test_unknown_host_key_is_refused(standin, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    cp = _run(standin.ssh_argv("true", known_hosts=empty), timeout=30)
    assert cp.returncode == 255
    assert "Host key verification failed" in cp.stderr


def test_ansible_ping_over_ssh(standin):
    ansible = Path(sys.executable).parent / "ansible"
    cp = _run([ansible, "-i", standin.inventory, standin.group, "-m", "ansible.builtin.ping"],
              env=standin.ansible_env(), cwd=standin.repo, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert f"{standin.host} | SUCCESS" in cp.stdout and '"pong"' in cp.stdout


def test_inventory_hostvars(standin):
    inv = Path(sys.executable).parent / "ansible-inventory"
    cp = _run([inv, "-i", standin.inventory, "--host", standin.host], env=standin.ansible_env(), timeout=60)
    assert cp.returncode == 0, cp.stderr
    hv = json.loads(cp.stdout)
    assert hv["ansible_host"] == "127.0.0.1" and int(hv["ansible_port"]) == 2222 and hv["ansible_user"] == "azureuser"
    assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
    assert Path(hv["ansible_ssh_private_key_file"]).is_absolute()
    assert f"UserKnownHostsFile={standin.known_hosts}" in hv["ansible_ssh_common_args"]
    assert hv["waa_image"] == standin.hub_image == "127.0.0.1:5001/windowsarena/winarena:latest"
    assert hv["waa_azure_cr"] == standin.acr == "127.0.0.1:5002"
    assert hv["waa_storage_path"] == str(standin.storage_path) and standin.storage_path.is_dir()
    assert hv["waa_container_env"] == {"WAA_SIM_BOOT_SECONDS": "2", "WAA_SIM_SERVER_DELAY": "3"}


def test_acr_credentials_file(standin):
    creds = json.loads(standin.acr_credentials_file.read_text())
    assert creds == {"username": "waa-acr", "password": standin.acr_password, "registry": "127.0.0.1:5002"}
    assert len(creds["password"]) >= 24
    assert standin.acr_credentials_file.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------------------------
# registries
# --------------------------------------------------------------------------------------------
def test_hub_and_acr_serve_the_same_latest(standin):
    url = "http://{}/v2/windowsarena/winarena/manifests/latest"
    s1, h1, _ = _http(url.format(standin.hub), "HEAD", {"Accept": MANIFEST_ACCEPT})
    s2, h2, _ = _http(url.format(standin.acr), "HEAD", {"Accept": MANIFEST_ACCEPT},
                      auth=(standin.acr_username, standin.acr_password))
    assert (s1, s2) == (200, 200)
    assert h1["Docker-Content-Digest"] == h2["Docker-Content-Digest"] == standin.image_digest
    assert _http(url.format(standin.acr), "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 401


def test_pull_from_hub_through_proxy(standin, api, standin_ctl, fresh_image, hub_fault):  # hub_fault: the stats are ours
    image = fresh_image(2)  # layers no earlier test or run left in the engine
    standin_ctl.hub_stats(reset=True)
    events = _pull(api, image.hub_image)
    try:
        assert not [e for e in events if "error" in e], events
        assert events[-1]["status"].startswith("Status: Downloaded newer image"), events[-3:]
        assert any(e.get("status") == "Pull complete" for e in events)  # really pulled a layer
        stats = standin_ctl.hub_stats()["modes"]["none"]
        assert stats["manifest_requests"] >= 1 and stats["blob_requests"] >= 1 and stats["bytes_out"] > 2 << 20
        assert api.inspect_image(image.hub_image)["RepoDigests"] == [f"{standin.hub}/{image.repository}@{image.digest}"]
    finally:
        _rmi(api, image.hub_image)


def test_latest_shares_no_layer_with_the_engine(standin, api):
    """After `up`, :latest is in the registries only: its layers are none of the engine's, so the
    first pull (make demo's) downloads every one, with byte progress."""
    manifest = json.loads(_http(f"http://{standin.hub}/v2/windowsarena/winarena/manifests/{standin.image_digest}",
                                headers={"Accept": MANIFEST_ACCEPT})[2])
    sizes = [layer["size"] for layer in manifest["layers"]]
    assert sum(sizes) > 60 << 20, sizes  # the padding: seconds of visible progress
    config_digest = manifest["config"]["digest"]
    owners: dict[str, list[str]] = {}  # layer -> the engine's images that hold it
    for img in api.images(all=True):
        names = (img.get("RepoTags") or []) + (img.get("RepoDigests") or [])
        # :latest itself, or an earlier :latest that a pull brought (the registry's, not the
        # engine's build): only what the engine built locally must share nothing.
        if img["Id"] == config_digest or any("/windowsarena/winarena" in n for n in names):
            continue
        for layer in api.inspect_image(img["Id"])["RootFS"].get("Layers") or []:
            owners.setdefault(layer, []).append(", ".join(names) or img["Id"][:19])
    config = json.loads(_http(f"http://{standin.hub}/v2/windowsarena/winarena/blobs/{config_digest}")[2])
    shared = {layer: owners[layer] for layer in config["rootfs"]["diff_ids"] if layer in owners}
    assert not shared, f"{len(shared)} layers of :latest are in other images of the engine: {shared}"


def test_acr_pull_needs_login(standin, api, tmp_path):
    _rmi(api, standin.acr_image)
    with pytest.raises(docker.errors.APIError) as anon:
        _pull(api, standin.acr_image)
    assert "no basic auth credentials" in str(anon.value)
    with pytest.raises(docker.errors.APIError) as wrong:
        _pull(api, standin.acr_image, auth_config={"username": standin.acr_username, "password": "wrong"})
    assert "unauthorized" in str(wrong.value).lower()
    try:
        events = _pull(api, standin.acr_image,
                       auth_config={"username": standin.acr_username, "password": standin.acr_password})
        assert events[-1]["status"].startswith("Status: Downloaded newer image"), events[-3:]
        _rmi(api, standin.acr_image)
        # the DOCKER_CONFIG left by `up` is logged in (and /root/.docker is not needed)
        cp = _run(["docker", "pull", "-q", standin.acr_image], env={**os.environ, "DOCKER_CONFIG": str(standin.docker_config)})
        assert cp.returncode == 0, cp.stderr
        # a fresh docker config is not
        _rmi(api, standin.acr_image)
        cp = _run(["docker", "pull", "-q", standin.acr_image], env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
        assert cp.returncode != 0 and "no basic auth credentials" in cp.stderr
    finally:
        _rmi(api, standin.acr_image)


def test_hub_429_on_manifest_fails_the_pull(standin, api, hub_fault, standin_ctl, fresh_image):
    image = fresh_image(1)
    hub_fault("429", image=image)
    status, headers, body = _http(f"http://{standin.hub}/v2/{image.repository}/manifests/{image.tag}",
                                  headers={"Accept": MANIFEST_ACCEPT})
    assert status == 429 and headers.get("Retry-After")
    assert json.loads(body)["errors"][0]["code"] == "TOOMANYREQUESTS"
    with pytest.raises(docker.errors.APIError) as exc:
        _pull(api, image.hub_image)
    assert "toomanyrequests" in str(exc.value) and "pull rate limit" in str(exc.value)
    assert standin_ctl.hub_stats()["modes"]["429"]["responses_429"] >= 2
    # Scoped to that repository: every other pull goes through.
    other = f"http://{standin.hub}/v2/windowsarena/winarena/manifests/latest"
    assert _http(other, "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 200


def test_hub_429_on_blobs_arrives_in_the_stream(standin, api, hub_fault, fresh_image):
    image = fresh_image(2)  # its blobs are in no engine: the pull must fetch them
    hub_fault("429", image=image, targets="blobs")
    events = _pull(api, image.hub_image)  # no exception: the error is inside the stream
    errors = [e for e in events if "error" in e]
    assert errors and "toomanyrequests" in errors[-1]["error"], events
    assert "toomanyrequests" in errors[-1]["errorDetail"]["message"]
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image(image.hub_image)


def test_fault_file_is_reread_per_request(standin, hub_fault, fresh_image):
    image = fresh_image(1)
    url = f"http://{standin.hub}/v2/{image.repository}/manifests/{image.tag}"
    hub_fault("none")
    assert _http(url, "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 200
    standin.fault_file.write_text(json.dumps({"mode": "429", "repository": image.repository}))
    assert _http(url, "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 429
    assert json.loads(_http(f"{standin.hub_url}/__fault__")[2])["mode"] == "429"
    standin.fault_file.write_text(json.dumps({"mode": "none"}))
    assert _http(url, "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 200
    # the CLI switch works too
    cp = _run([sys.executable, LOCAL_VM, "fault", "429", "--repository", image.repository], timeout=30)
    assert cp.returncode == 0 and json.loads(cp.stdout)["mode"] == "429", cp.stderr
    assert _http(url, "HEAD", {"Accept": MANIFEST_ACCEPT})[0] == 429


def test_hub_stall_stops_byte_progress(standin, hub_fault, standin_ctl, api, fresh_image):
    """A stalled blob: the Engine API stream stops reporting bytes; the pull does not end by
    itself. Released (fault off), the engine retries and completes."""
    pad = fresh_image(8)
    stall_after = 1 << 20
    hub_fault("stall", image=pad, stall_after_bytes=stall_after, stall_seconds=300)
    pull = StreamedPull(pad.hub_image)
    try:
        big_layer, current, last_progress = None, 0, None
        deadline = time.monotonic() + 30
        quiet_needed = 4.0
        while time.monotonic() < deadline:
            item = pull.get(timeout=0.5)
            now = time.monotonic()
            if item is None:
                if last_progress and now - last_progress >= quiet_needed:
                    break
                continue
            t, event = item
            assert "__end__" not in event and "__exception__" not in event and "error" not in event, event
            detail = event.get("progressDetail") or {}
            if event.get("status") == "Downloading" and detail.get("total", 0) > 4 * stall_after:
                big_layer, current, last_progress = event["id"], detail["current"], t
        assert big_layer, "never saw the 8 MB layer downloading"
        assert last_progress and time.monotonic() - last_progress >= quiet_needed, "progress did not stop"
        assert 0 < current <= stall_after
        stats = standin_ctl.hub_stats()
        assert stats["active_stalls"] >= 1 and stats["modes"]["stall"]["stalls"] >= 1
        stalled = [r for r in stats["recent"] if r["mode"] == "stall" and r["bytes"] == stall_after]
        assert stalled or stats["active_stalls"], stats["recent"][-5:]

        # switch the fault off and end the stalled response: the engine retries (Range) and finishes
        standin_ctl.set_hub_fault("none", release=True)
        end, last_status, deadline = None, "", time.monotonic() + 60
        while time.monotonic() < deadline and end is None:
            item = pull.get(timeout=1)
            if item and ("__end__" in item[1] or "__exception__" in item[1] or "error" in item[1]):
                end = item[1]
            elif item and str(item[1].get("status", "")).startswith("Status:"):
                last_status = item[1]["status"]
        assert end == {"__end__": True}, end
        assert last_status.startswith("Status: Downloaded newer image")
    finally:
        standin_ctl.set_hub_fault("none", release=True)
        pull.close()
        _rmi(api, pad.hub_image)


def test_hub_throttle_shows_pull_progress(standin, hub_fault, standin_ctl, api, fresh_image):
    """rate_bps slows the hub down so a pull reports growing byte counts, as on a real network."""
    pad = fresh_image(8)
    hub_fault("none", image=pad, rate_bps=4_000_000)
    try:
        t0 = time.monotonic()
        events = _pull(api, pad.hub_image, timeout=60)
        elapsed = time.monotonic() - t0
        assert events[-1]["status"].startswith("Status: Downloaded newer image"), events[-3:]
        big = [e["progressDetail"]["current"] for e in events
               if e.get("status") == "Downloading" and e.get("progressDetail", {}).get("total", 0) > 4_000_000]
        assert len(big) >= 5 and big == sorted(big), big
        assert elapsed >= 1.5, f"8 MB at 4 MB/s took only {elapsed:.2f}s"
    finally:
        _rmi(api, pad.hub_image)


# --------------------------------------------------------------------------------------------
# up / down (keep these last: they restart the stand-in's daemons)
# --------------------------------------------------------------------------------------------
def _pids(ctl) -> dict:
    st = ctl.status()
    return {k: st[k]["pid"] for k in ("sshd", "registry_hub", "registry_acr", "fault_proxy")}


def _same_vm(a, b) -> bool:
    """Equal but for the image digest (tests/sim may change while a developer works on it)."""
    import dataclasses
    return dataclasses.replace(a, image_digest="") == dataclasses.replace(b, image_digest="")


@pytest.mark.serial
def test_up_again_is_fast_and_changes_nothing(standin, standin_ctl):
    standin_ctl.up()  # absorb a rebuild if tests/sim changed since the session started
    before = _pids(standin_ctl)
    assert all(before.values()), before
    inventory = standin.inventory.read_text()
    t0 = time.monotonic()
    cp = _run([sys.executable, LOCAL_VM, "up"], timeout=120)
    elapsed = time.monotonic() - t0
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert elapsed < 15, f"second up took {elapsed:.1f}s:\n{cp.stdout}"
    assert "(cached" in cp.stdout and "ok (started" not in cp.stdout, cp.stdout
    assert _pids(standin_ctl) == before
    assert standin.inventory.read_text() == inventory


@pytest.mark.serial
def test_up_repairs_crashed_daemons_and_stale_pidfiles(standin, standin_ctl):
    import signal

    run_dir = standin.state_dir / "run"
    # A session open when the listener dies (a ControlMaster's, say) lives on under init.
    session = subprocess.Popen(standin.ssh_argv("sleep", "120"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: [line for line in _sshd_sessions() if "[listener]" not in line], 20, "the session under sshd")
        os.kill(int((run_dir / "sshd.pid").read_text()), signal.SIGKILL)
        os.kill(int((run_dir / "fault-proxy.pid").read_text()), signal.SIGKILL)
        time.sleep(0.3)
        assert standin_ctl._orphaned_sshd_sessions(), "the session outlived its listener"
    except BaseException:
        session.kill()
        raise
    # a pidfile naming a live process that is not ours (pid reuse after a reboot): never killed
    (run_dir / "registry-hub.pid").write_text(f"{os.getpid()}\n")
    (run_dir / "registry-acr.pid").write_text("999999\n")  # a dead pid
    time.sleep(0.3)
    again = standin_ctl.up()
    session.wait(timeout=30)  # its server side was ended with the orphans
    assert _same_vm(again, standin)
    assert not standin_ctl._orphaned_sshd_sessions(), "every session is the new listener's"
    st = standin_ctl.status()
    assert st["ready"], st
    assert st["registry_hub"]["pid"] != os.getpid()
    assert _run(standin.ssh_argv("true"), timeout=30).returncode == 0


def _sshd_sessions() -> list[str]:
    out = subprocess.run(["pgrep", "-a", "-f", "^sshd: "], capture_output=True, text=True, timeout=10).stdout
    return out.splitlines()


@pytest.mark.serial
def test_down_removes_what_up_made_and_up_repairs(standin, standin_ctl, api):
    labelled = api.create_container(standin.sim_image, command="true", labels={standin.container_label: "1"})["Id"]
    unlabelled = api.create_container(standin.sim_image, command="true")["Id"]
    # On a fresh CI machine `up` started dockerd itself, so `down` stops it; on a machine with its
    # own engine, `down` must leave that engine running. Both cases are checked.
    dockerd_ours = standin_ctl.status()["dockerd"]["started_by_standin"]
    try:
        standin_ctl.down()
        st = standin_ctl.status()
        assert not any(_pids(standin_ctl).values()), st
        assert not st["sshd"]["ssh_ok"] and st["fault_proxy"]["http"] is None and st["registry_acr"]["http_login"] is None
        if dockerd_ours:
            with pytest.raises((docker.errors.DockerException, requests.exceptions.ConnectionError)):
                api.ping()
        else:
            assert api.ping()  # a dockerd not started by `up` keeps running

        t0 = time.monotonic()
        again = standin_ctl.up()
        assert time.monotonic() - t0 < 90
        assert _same_vm(again, standin)  # same keys, credentials, paths
        assert standin_ctl.status()["ready"]
        assert _run(standin.ssh_argv("true"), timeout=30).returncode == 0
        with pytest.raises(docker.errors.NotFound):
            api.inspect_container(labelled)
        api.inspect_container(unlabelled)  # not ours: left alone
    finally:
        standin_ctl.up()  # later tests need the stand-in whatever happened above
        for cid in (labelled, unlabelled):
            try:
                api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
