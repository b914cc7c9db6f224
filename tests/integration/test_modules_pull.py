"""docker_pull_progress against a real registry (Debian's docker-registry) on 127.0.0.1.

The image is built here from waa-base:bookworm with a few layers of random data and pushed to
a registry this test starts on a free port in 5090-5099. A small fault proxy in front of it
answers 429 (rate limit) or stalls a blob download, to exercise the fallback and the stall
detection. Only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from test_modules_support import docker, free_port, have_docker, image_exists, run_module, wait_for

pytestmark = pytest.mark.skipif(not have_docker() or not shutil.which("docker-registry"),
                                reason="needs Docker and docker-registry")

BASE_IMAGE = "waa-base:bookworm"
SECRET = "S3cr3t-PW-\"quoted\"-xyz"


class FaultProxy:
    """HTTP proxy to a registry with switchable faults: none, 429, stall_once."""

    def __init__(self, upstream_port: int, port: int):
        self.upstream_port = upstream_port
        self.mode = "none"
        self.stalled = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                self.forward()

            def do_GET(self):
                self.forward()

            def forward(self):
                if proxy.mode == "429" and "/manifests/" in self.path:
                    body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS",
                                                   "message": "You have reached your pull rate limit."}]}).encode()
                    self.send_response(429)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, headers=headers)
                resp = conn.getresponse()
                # Only a big layer blob stalls (the image config is a small blob too).
                stall = (proxy.mode == "stall_once" and self.command == "GET" and "/blobs/" in self.path
                         and resp.status == 200 and int(resp.getheader("Content-Length") or 0) > 1024 * 1024
                         and proxy.claim_stall())
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command == "HEAD":
                    return
                sent = 0
                while True:
                    chunk = resp.read(64 * 1024)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if stall and sent >= 128 * 1024:
                        # Hold the connection open without sending: a stalled download.
                        proxy.release.wait(30)
                        break
                conn.close()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claim_stall(self) -> bool:
        """True for exactly one request (downloads run in parallel threads)."""
        with self._lock:
            if self.stalled:
                return False
            self.stalled = 1
            return True

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if not image_exists(BASE_IMAGE):
        pytest.fail("%s is missing: build it with tests/standin/base_image.sh" % BASE_IMAGE)
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    cfg = root / "config.yml"
    cfg.write_text("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                   "http:\n  addr: 127.0.0.1:%d\nlog:\n  level: error\n" % (root / "data", port))
    log = open(root / "registry.log", "w")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)

    def up():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/")
            return conn.getresponse().status == 200
        except OSError:
            return False

    assert wait_for(up, 20), "docker-registry did not start"
    proxy = FaultProxy(port, free_port(p for p in range(5090, 5100) if p != port))
    tag = uuid.uuid4().hex[:10]
    ctx = root / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM %s\nRUN head -c 3000000 /dev/urandom > /l1\nRUN head -c 4000000 /dev/urandom > /l2\n"
                                    "RUN head -c 2000000 /dev/urandom > /l3\nLABEL modtest=%s\n" % (BASE_IMAGE, tag))
    ref = "127.0.0.1:%d/modtest/rand:%s" % (port, tag)
    built = subprocess.run(["docker", "build", "-q", "-t", ref, str(ctx)], capture_output=True, text=True,
                           env=dict(os.environ, DOCKER_BUILDKIT="0"), timeout=300)
    assert built.returncode == 0, built.stderr
    docker("push", ref)
    docker("rmi", ref)
    info = {"port": port, "proxy": proxy, "ref": ref, "path": "modtest/rand:%s" % tag,
            "proxy_ref": "127.0.0.1:%d/modtest/rand:%s" % (proxy.port, tag)}
    yield info
    proxy.close()
    proc.terminate()
    proc.wait(10)
    log.close()
    for r in (ref, info["proxy_ref"]):
        docker("rmi", "-f", r, check=False)


def rmi(ref):
    docker("rmi", "-f", ref, check=False)


def test_pull_progress_idempotence_force_and_check_mode(registry, tmp_path):
    ref = registry["ref"]
    rmi(ref)
    r = run_module("docker_pull_progress", {"image": ref}, tmp_path, check=True)
    assert not r["failed"] and r["changed"] and r["would_pull"]
    assert not image_exists(ref), "check mode must not pull"

    progress = tmp_path / "pull.json"
    r = run_module("docker_pull_progress", {"image": ref, "progress_file": str(progress)}, tmp_path)
    assert not r["failed"], r["msg"]
    assert r["changed"] is True and r["image"] == ref and r["source"] == "127.0.0.1:%d" % registry["port"]
    assert r["layers_total"] == 4 and r["layers_already_present"] == 1
    assert r["bytes_total"] >= 9_000_000 and r["bytes_downloaded"] >= r["bytes_total"]
    assert r["digest"].startswith("sha256:") and r["image_id"].startswith("sha256:")
    assert [a["outcome"] for a in r["attempts"]] == ["ok"] and r["waa_exit_code"] == 0
    record = json.loads(progress.read_text())
    assert record["kind"] == "pull" and record["state"] == "done"
    assert record["layers_done"] == record["layers_total"] == 4
    assert record["bytes_done"] == record["bytes_total"] == r["bytes_total"]
    assert record["result"]["image_id"] == r["image_id"] and record["seq"] >= 2

    r = run_module("docker_pull_progress", {"image": ref, "progress_file": str(progress)}, tmp_path)
    assert not r["failed"] and r["changed"] is False and r["attempts"] == []
    assert json.loads(progress.read_text())["state"] == "done"

    r = run_module("docker_pull_progress", {"image": ref, "force": True}, tmp_path)
    assert not r["failed"] and r["changed"] is False and len(r["attempts"]) == 1
    assert "up to date" in r["msg"]


def test_rate_limit_falls_back_at_once_and_hides_password(registry, tmp_path):
    proxy = registry["proxy"]
    rmi(registry["proxy_ref"])
    rmi(registry["ref"])
    proxy.mode = "429"
    progress = tmp_path / "pull.json"
    try:
        r = run_module("docker_pull_progress", {
            "image": registry["proxy_ref"], "fallback_registry": "127.0.0.1:%d" % registry["port"],
            "registry_username": "modtest", "registry_password": SECRET, "backoff_base": 30,
            "progress_file": str(progress)}, tmp_path)
    finally:
        proxy.mode = "none"
    assert not r["failed"], r["msg"]
    assert r["fell_back"] and r["rate_limited"] and r["changed"]
    assert r["image"] == registry["ref"] and r["source"] == "127.0.0.1:%d" % registry["port"]
    assert [a["outcome"] for a in r["attempts"]] == ["rate_limited", "ok"]
    assert r["duration"] < 20, "a rate limit must switch registries without a backoff wait"
    for text in (r["_stdout"], progress.read_text()):
        assert SECRET not in text and json.dumps(SECRET)[1:-1] not in text


def test_stall_is_detected_and_retried(registry, tmp_path):
    proxy = registry["proxy"]
    rmi(registry["proxy_ref"])
    rmi(registry["ref"])
    proxy.mode, proxy.stalled = "stall_once", 0
    proxy.release.clear()
    try:
        r = run_module("docker_pull_progress", {"image": registry["proxy_ref"], "stall_timeout": 3, "attempts": 3,
                                                "backoff_base": 0.2, "backoff_max": 1}, tmp_path)
    finally:
        proxy.mode = "none"
        proxy.release.set()
    assert not r["failed"], r["msg"]
    assert r["stalled"] == 1 and [a["outcome"] for a in r["attempts"]] == ["stalled", "ok"]
    assert r["changed"] and r["image"] == registry["proxy_ref"]
    assert r["attempts"][0]["duration"] < 15


def test_missing_and_unreachable_images_fail_with_exit_code_3(registry, tmp_path):
    missing = "127.0.0.1:%d/modtest/missing:1" % registry["port"]
    t0 = time.monotonic()
    r = run_module("docker_pull_progress", {"image": missing, "backoff_base": 5}, tmp_path)
    assert r["failed"] and r["waa_exit_code"] == 3
    assert len(r["attempts"]) == 1, "a missing image is not retried"
    assert "not found" in r["msg"] or "manifest unknown" in r["msg"]
    assert "Check the image name" in r["fix"] and time.monotonic() - t0 < 30

    closed = free_port(range(5090, 5100))
    progress = tmp_path / "fail.json"
    r = run_module("docker_pull_progress", {"image": "127.0.0.1:%d/modtest/rand:1" % closed, "attempts": 2,
                                            "backoff_base": 0.1, "progress_file": str(progress)}, tmp_path)
    assert r["failed"] and r["waa_exit_code"] == 3 and len(r["attempts"]) == 2
    assert "network" in r["fix"]
    record = json.loads(progress.read_text())
    assert record["state"] == "failed" and record["result"]["waa_exit_code"] == 3

    for bad in ("bad;rm -rf /", "$(reboot)/x:1", "a/b:`id`", "UPPER/case"):
        r = run_module("docker_pull_progress", {"image": bad}, tmp_path)
        assert r["failed"] and r["waa_exit_code"] == 3 and "image reference" in r["msg"]


def test_watch_follows_a_background_pull(registry, tmp_path):
    """The async + progress_watch pattern the image role uses."""
    rmi(registry["ref"])
    progress = tmp_path / "pull.json"
    progress.write_text(json.dumps({"kind": "pull", "state": "done", "updated": 0, "result": {"stale": True}}))
    play = tmp_path / "play.yml"
    play.write_text("""
- hosts: localhost
  gather_facts: false
  connection: local
  vars: {ansible_python_interpreter: /usr/bin/python3}
  tasks:
    - openadapt.waa.docker_pull_progress: {image: "%s", progress_file: "%s"}
      async: 120
      poll: 0
      register: job
    - openadapt.waa.progress_watch: {path: "%s", job_id: "{{ job.ansible_job_id }}", wait: 5}
      register: w
      until: w.finished
      retries: 30
      delay: 0
    - ansible.builtin.assert:
        that:
          - w.result.image == "%s"
          - w.result.changed
          - w.result.stale is not defined
""" % (registry["ref"], progress, progress, registry["ref"]))
    from test_modules_support import REPO, ansible_env
    env = ansible_env(tmp_path)
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(play)],
                          capture_output=True, text=True, env=env, timeout=180, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
