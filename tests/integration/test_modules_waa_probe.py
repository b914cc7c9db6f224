"""waa_probe against real containers on this host's Docker.

A small fake of the WAA container (built here from waa-base:bookworm) prints the real log lines
(ANSI codes and all), checks /dev/kvm like dockur and, without it, prints dockur's KVM error and
keeps running forever, as the real container does; otherwise it "boots" and serves the WAA API
routes on 5000 and a page on 8006. When the project's simulator (tests/sim/Dockerfile) exists, a
healthy-path test runs against it too.
"""
from __future__ import annotations

import concurrent.futures
import json
import struct
import time
import uuid

import pytest

from test_modules_support import (REPO, docker, have_docker, image_exists, published_port, remove_container,
                                  run_module, wait_for)

pytestmark = pytest.mark.skipif(not have_docker(), reason="needs a running Docker engine")

BASE_IMAGE = "waa-base:bookworm"
FAKE_IMAGE = "waa-modtest-fake:1"
SIM_IMAGE = "waa-sim:modtest"

FAKE_SERVER = r'''
import json, os, struct, sys, threading, time, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOOT = float(os.environ.get("FAKE_BOOT_SECONDS", "1"))
SERVER_DELAY = float(os.environ.get("FAKE_SERVER_DELAY", "1"))
A = "\x1b[1;34m\u276f \x1b[1;36m"
E = "\x1b[1;34m\u276f \x1b[1;31m"
Z = "\x1b[0m"
state = {"notepad": False}

def say(text):
    sys.stdout.write(text + "\n"); sys.stdout.flush()

def png(w, h):
    raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

def tree():
    win = '<window name="Untitled - Notepad" st:enabled="True"/>' if state["notepad"] else ""
    return ('<desktop xmlns:st="urn:st" xmlns:cp="urn:cp"><pane name="Taskbar"><button name="Notepad - 1 running window"/>'
            '</pane>' + win + '</desktop>')

class WAA(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def send(self, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body, indent=2, sort_keys=True).encode()
        self.send_response(code); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        if self.path == "/probe":
            return self.send(200, {"status": "Probe successful", "message": "Service is operational"})
        if self.path == "/screenshot":
            return self.send(200, png(320, 240), "image/png")
        if self.path.startswith("/accessibility"):
            return self.send(200, {"AT": tree()})
        return self.send(500, {"status": "error", "message": "no route"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        if self.path == "/setup/launch":
            state["notepad"] = body.get("command") == "notepad"
            return self.send(200, b"notepad launched successfully", "text/plain")
        if self.path == "/setup/close_all":
            state["notepad"] = False
            return self.send(200, b"closed", "text/plain")
        if self.path == "/execute":
            return self.send(200, {"status": "success", "output": "Point(x=10, y=20)\n", "error": "", "returncode": 0})
        return self.send(500, {"status": "error", "message": "no route"})

class VNC(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")

threading.Thread(target=ThreadingHTTPServer(("0.0.0.0", 8006), VNC).serve_forever, daemon=True).start()
say("Starting WinArena...")
say("Starting VM...")
say(A + "Starting Windows for Docker v4.00..." + Z)
say(A + "For support visit https://github.com/dockur/windows" + Z)
if not os.path.exists("/dev/kvm"):
    say(E + "ERROR: KVM acceleration not available (device file missing), this will cause a major loss of performance." + Z)
    say(E + "ERROR: See the FAQ on how to diagnose the cause, or continue without KVM by setting KVM=N (not recommended)." + Z)
    while True:
        say("Waiting for a response from the windows server. This might take a while...")
        time.sleep(1)
# FAKE_BOOT_GATE: the boot waits (at most 2 min) for this file, which the test makes once it has seen the wait begin.
GATE = os.environ.get("FAKE_BOOT_GATE")
gate_ends = time.time() + 120
while GATE and not os.path.exists(GATE) and time.time() < gate_ends:
    time.sleep(0.1)
say(A + "Booting Windows using QEMU v8.1.5..." + Z)
time.sleep(BOOT)
say(A + "Windows started succesfully, visit http://localhost:8006/ to view the screen..." + Z)
end = time.time() + SERVER_DELAY
while time.time() < end:
    say("Waiting for a response from the windows server. This might take a while...")
    time.sleep(0.5)
threading.Thread(target=ThreadingHTTPServer(("0.0.0.0", 5000), WAA).serve_forever, daemon=True).start()
say("VM is up and running, and the Windows Arena Server is ready to use!")
say("VM started, server ready")
while True:
    time.sleep(3600)
'''


@pytest.fixture(scope="module")
def fake_image(tmp_path_factory):
    if not image_exists(BASE_IMAGE):
        pytest.fail("%s is missing: build it with tests/standin/base_image.sh" % BASE_IMAGE)
    ctx = tmp_path_factory.mktemp("fake")
    (ctx / "fake.py").write_text(FAKE_SERVER)
    (ctx / "Dockerfile").write_text('FROM %s\nCOPY fake.py /fake.py\nENTRYPOINT ["/bin/bash", "-c"]\n' % BASE_IMAGE)
    proc = docker("build", "-q", "-t", FAKE_IMAGE, str(ctx), check=False)
    assert proc.returncode == 0, proc.stderr
    return FAKE_IMAGE


@pytest.fixture
def containers():
    made = []

    def start(image, kvm=True, env=None, command="python3 -u /fake.py"):
        name = "waa-modtest-%s" % uuid.uuid4().hex[:8]
        args = ["run", "-d", "--name", name, "--cap-add", "NET_ADMIN", "-p", "127.0.0.1::5000", "-p", "127.0.0.1::8006"]
        if kvm:
            args += ["--device", "/dev/kvm"]
        for key, value in (env or {}).items():
            args += ["-e", "%s=%s" % (key, value)]
        made.append(name)
        docker(*args, image, command)
        try:
            return {"name": name, "server_url": "http://127.0.0.1:%d" % published_port(name, 5000),
                    "vnc_url": "http://127.0.0.1:%d" % published_port(name, 8006)}
        except Exception:  # an already exited container publishes nothing
            return {"name": name, "server_url": "http://127.0.0.1:9", "vnc_url": "http://127.0.0.1:9"}

    yield start
    for name in made:
        remove_container(name)


def probe_args(c, **extra):
    args = {"container_name": c["name"], "server_url": c["server_url"], "vnc_url": c["vnc_url"]}
    args.update(extra)
    return args


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_waits_until_healthy_then_smoke(fake_image, containers, tmp_path):
    # The boot goes on only once the module has polled and written its progress: it waits, whatever the load.
    c = containers(fake_image, env={"FAKE_BOOT_GATE": "/tmp/boot", "FAKE_BOOT_SECONDS": "1", "FAKE_SERVER_DELAY": "1"})
    progress = tmp_path / "boot.json"
    shot = tmp_path / "shot.png"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(run_module, "waa_probe", probe_args(c, wait_timeout=60, progress_file=str(progress)),
                              tmp_path)
        assert wait_for(progress.exists, 60), "the module never polled"
        docker("exec", c["name"], "touch", "/tmp/boot")
        r = waiting.result(timeout=120)
    assert not r["failed"], r["msg"]
    assert r["healthy"] is True and r["waa_exit_code"] == 0 and r["changed"] is False
    assert [layer["layer"] for layer in r["layers"]] == ["docker_daemon", "container", "windows_boot", "waa_server", "accessibility"]
    assert {"container_started", "qemu_started", "windows_started", "vnc_ready", "server_ready"} <= set(r["boot"])
    assert r["polls"] > 1 and r["elapsed"] < 30
    assert not any("\x1b" in line for line in r["log_tail"])
    record = json.loads(progress.read_text())
    assert record["kind"] == "boot" and record["state"] == "done" and record["result"]["healthy"] is True
    assert record["seq"] >= 2

    r = run_module("waa_probe", probe_args(c, detailed=True, smoke=True, screenshot_dest=str(shot)), tmp_path)
    assert not r["failed"], r["msg"]
    assert r["detailed"]["ok"] and r["detailed"]["execute"]["ok"]
    assert r["smoke"]["ok"] and r["smoke"]["window"] == "Untitled - Notepad"
    assert [s["step"] for s in r["smoke"]["steps"]] == ["baseline", "launch", "window", "screenshot", "close_all", "closed"]
    assert r["screenshot"]["path"] == str(shot) and png_size(shot.read_bytes()) == (320, 240)
    assert shot.stat().st_size == r["screenshot"]["bytes"] > 1024


def test_kvm_error_is_fatal_within_seconds(fake_image, containers, tmp_path):
    c = containers(fake_image, kvm=False)
    t0 = time.monotonic()
    r = run_module("waa_probe", probe_args(c, wait_timeout=120), tmp_path)
    took = time.monotonic() - t0
    assert r["failed"] and not r["healthy"]
    assert r["failed_layer"] == "windows_boot" and r["waa_exit_code"] == 5
    assert took < 15, "a fatal dockur error must end the wait at once (took %.1f s)" % took
    assert "--device /dev/kvm" in r["fix"] and "Trusted Launch" in r["fix"]
    assert "device file missing" in r["diagnosis"]
    assert r["layers"][-1]["fatal"] is True and r["deadline_exceeded"] is False
    assert any("KVM acceleration not available" in line for line in r["log_tail"])


def test_wait_timeout_and_deadline(fake_image, containers, tmp_path):
    # A long "boot": the server never answers within the test's short waits.
    c = containers(fake_image, env={"FAKE_BOOT_SECONDS": "600"})
    t0 = time.monotonic()
    r = run_module("waa_probe", probe_args(c, wait_timeout=2.5), tmp_path)
    took = time.monotonic() - t0
    assert r["failed"] and r["timed_out"] and not r["deadline_exceeded"]
    assert r["failed_layer"] == "windows_boot" and r["waa_exit_code"] == 5
    assert "qemu_started" in r["boot"] and "windows_started" not in r["boot"]
    assert took < 12
    # One round of a longer wait (a task repeating the module with until): the message names the
    # whole wait, and the result carries the progress record that shows the boot live.
    r = run_module("waa_probe", probe_args(c, wait_timeout=1, wait_total=1200), tmp_path)
    assert r["failed"] and r["timed_out"] and "Timed out after 1200 s waiting for windows_boot" in r["msg"]
    progress = r["progress"]
    assert progress["kind"] == "boot" and "qemu_started" in progress["boot"] and progress["log_tail"]
    assert progress["layers"][-1]["layer"] == "windows_boot" and progress["message"] == r["msg"]

    t0 = time.monotonic()
    r = run_module("waa_probe", probe_args(c, wait_timeout=300, deadline_in=2.0), tmp_path)
    took = time.monotonic() - t0
    assert r["failed"] and r["deadline_exceeded"] and r["waa_exit_code"] == 8
    assert r["elapsed"] < 4.0 and took < 12

    # Checking once: unhealthy at once, no waiting.
    r = run_module("waa_probe", probe_args(c, layers=["waa_server"]), tmp_path)
    assert r["failed"] and r["failed_layer"] == "waa_server" and r["waa_exit_code"] == 6 and r["polls"] == 1


def test_missing_and_exited_container(fake_image, containers, tmp_path):
    r = run_module("waa_probe", {"container_name": "waa-modtest-does-not-exist", "wait_timeout": 30}, tmp_path)
    assert r["failed"] and r["failed_layer"] == "container" and r["waa_exit_code"] == 4 and r["elapsed"] < 5

    c = containers(fake_image, command="echo 'Starting WinArena...'; exit 3")
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", c["name"]).stdout.strip() == "exited", 20)
    # Docker's log may lag the exit on a busy host: the module reads what Docker has.
    wait_for(lambda: "Starting WinArena..." in docker("logs", c["name"]).stdout, 20)
    r = run_module("waa_probe", probe_args(c, layers=["docker_daemon", "container"]), tmp_path)
    assert r["failed"] and r["failed_layer"] == "container" and r["waa_exit_code"] == 4
    assert r["layers"][-1]["details"]["exit_code"] == 3
    assert "Starting WinArena..." in r["log_tail"]

    r = run_module("waa_probe", {"container_name": "bad name; rm -rf /"}, tmp_path)
    assert r["failed"] and "container name" in r["msg"]


def test_simulator_healthy_if_present(containers, tmp_path):
    dockerfile = REPO / "tests" / "sim" / "Dockerfile"
    if not dockerfile.exists():
        pytest.skip("the WAA simulator (tests/sim/Dockerfile) is not there yet")
    proc = docker("build", "-q", "-t", SIM_IMAGE, str(dockerfile.parent), check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # No storage folder is mounted: the simulator takes its /storage as holding Windows.
    c = containers(SIM_IMAGE, env={"WAA_SIM_BOOT_SECONDS": "2", "WAA_SIM_SERVER_DELAY": "2", "WAA_SIM_ASSUME_PREPARED": "1"},
                   command="/entry.sh --prepare-image false --start-client false")
    r = run_module("waa_probe", probe_args(c, wait_timeout=120, detailed=True), tmp_path, timeout=180)
    assert not r["failed"], r["msg"]
    assert r["healthy"] and r["detailed"]["ok"]
