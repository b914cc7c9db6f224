"""Build and run the WAA simulator image from tests and benchmarks (docker SDK, real dockerd).

    from waasim_harness import Sim, build_image, docker_client
    client = docker_client()
    build_image(client, "waa-sim:test")
    with Sim(client, "waa-sim:test", env={"WAA_SIM_PROBE_INTERVAL": "1"}) as sim:
        sim.wait_log("Keeping container alive", timeout=60)
        requests.get(sim.url("/probe"))

Containers are named waa-simtest-<random>, labelled waa-simtest=1, and publish 5000 and 8006
on 127.0.0.1 with random host ports. Every wait is bounded.
"""
import datetime
import re
import subprocess
import time
import uuid
from pathlib import Path

import docker

SIM_DIR = Path(__file__).resolve().parent
REPO = SIM_DIR.parents[1]
BASE_IMAGE = "waa-base:bookworm"
# One string: the image's ENTRYPOINT is ["/bin/bash", "-c"]. A list of several words would be
# split by the SDK and bash would drop all but the first (the real image behaves the same).
ENTRY_CMD = "/entry.sh --prepare-image false --start-client false"
NAME_PREFIX = "waa-simtest-"
LABEL = "waa-simtest"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text):
    return ANSI.sub("", text)


def docker_client():
    """A client for the local daemon; raises docker.errors.DockerException if there is none."""
    client = docker.from_env(timeout=300)
    client.ping()
    return client


def ensure_base_image(client, base=BASE_IMAGE):
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        subprocess.run([str(REPO / "tests" / "standin" / "base_image.sh"), base], check=True, timeout=900)


def build_image(client, tag, pad_mb=0, pad_layer_mb=None, base=BASE_IMAGE):
    """Build tests/sim as `tag` with the classic builder; returns the docker Image."""
    ensure_base_image(client, base)
    args = {"BASE": base, "PAD_MB": str(pad_mb)}
    if pad_layer_mb is not None:
        args["PAD_LAYER_MB"] = str(pad_layer_mb)
    image, _ = client.images.build(path=str(SIM_DIR), tag=tag, buildargs=args, rm=True, forcerm=True)
    return image


def remove_stale(client, older_than=900):
    """Remove containers this harness left behind (label waa-simtest=1) in earlier runs. Only
    old ones: another test session may be using the young ones right now."""
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        created = datetime.datetime.fromisoformat(c.attrs["Created"][:26].rstrip("Z") + "+00:00")
        age = (datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()
        if c.name.startswith(NAME_PREFIX) and age > older_than:
            c.remove(force=True)


class Sim:
    """One simulator container. kvm: "rw" (--device /dev/kvm), "ro" (read-only device
    permission), "null" (/dev/null mounted as /dev/kvm) or None (no device)."""

    def __init__(self, client, image, *, env=None, kvm="rw", net_admin=True, memory=None,
                 command=(ENTRY_CMD,), name=None):
        # These containers mount no storage folder: take the image's /storage as holding Windows.
        self.client, self.image, self.env = client, image, dict({"WAA_SIM_ASSUME_PREPARED": "1"}, **(env or {}))
        self.kvm, self.net_admin, self.memory, self.command = kvm, net_admin, memory, command
        self.name = name or f"{NAME_PREFIX}{uuid.uuid4().hex[:10]}"
        self.container = None
        self.started_at = None

    def start(self):
        devices = {"rw": ["/dev/kvm:/dev/kvm:rwm"], "ro": ["/dev/kvm:/dev/kvm:r"],
                   "null": ["/dev/null:/dev/kvm:rwm"], None: []}[self.kvm]
        self.started_at = time.time()
        self.container = self.client.containers.run(
            self.image, command=list(self.command) if self.command is not None else None, detach=True,
            name=self.name, labels={LABEL: "1"}, devices=devices, environment=self.env,
            cap_add=["NET_ADMIN"] if self.net_admin else [], mem_limit=self.memory,
            ports={"5000/tcp": ("127.0.0.1", None), "8006/tcp": ("127.0.0.1", None)})
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()

    def remove(self):
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except docker.errors.NotFound:
                pass

    def logs(self, raw=False, timestamps=False):
        text = self.container.logs(stdout=True, stderr=True, timestamps=timestamps).decode("utf-8", "replace")
        return text if raw else strip_ansi(text)

    def wait_log(self, pattern, timeout=60.0, raw=False):
        """Wait until the (ANSI-stripped) logs match `pattern`; returns the logs."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs(raw=raw)
            if regex.search(text):
                return text
            exited = self.status() not in ("created", "running")
            if exited or time.monotonic() > deadline:
                why = f"the container {self.container.status}" if exited else f"none within {timeout}s"
                raise AssertionError(f"{self.name}: no log line matching {pattern!r} ({why}):\n{text[-3000:]}")
            time.sleep(0.2)

    def status(self):
        self.container.reload()
        return self.container.status

    def wait_exit(self, timeout=30.0):
        """The exit code, waiting at most `timeout` seconds."""
        return self.container.wait(timeout=timeout)["StatusCode"]

    def port(self, container_port=5000):
        deadline = time.monotonic() + 10
        while True:
            self.container.reload()
            bindings = (self.container.ports or {}).get(f"{container_port}/tcp")
            if bindings:
                return int(bindings[0]["HostPort"])
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: port {container_port} not published")
            time.sleep(0.1)

    def url(self, path="/", container_port=5000):
        return f"http://127.0.0.1:{self.port(container_port)}{path}"

    def exec(self, *cmd):
        rc, out = self.container.exec_run(list(cmd))
        return rc, out.decode("utf-8", "replace")

    def instant(self, name):
        """An epoch the simulator recorded in /var/log/waa-sim/<name> (server_ready,
        windows_started, qemu_started, first_answer, stopped_answering, crash), or None."""
        rc, out = self.exec("cat", f"/var/log/waa-sim/{name}")
        return float(out) if rc == 0 else None
