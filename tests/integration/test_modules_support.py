"""Helpers for the module integration tests (imported by test_modules_*.py; holds no tests itself).

Modules run for real: `ansible localhost -m openadapt.waa.X` with Debian's /usr/bin/python3 as
on a VM, a private ansible.cfg (so the project's event callback does not record these runs) and
the json stdout callback to read the result.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / ".venv" / "bin" / "ansible"
PYTHON_ON_VM = "/usr/bin/python3"


def ensure_collection_link() -> Path:
    root = REPO / ".collections"
    link = root / "ansible_collections" / "openadapt" / "waa"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../..")
    return root


def ansible_env(tmp_dir: Path) -> dict:
    cfg = tmp_dir / "ansible.cfg"
    if not cfg.exists():
        cfg.write_text("[defaults]\ncollections_path = %s\nretry_files_enabled = False\n" % ensure_collection_link())
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCAL_TEMP=str(tmp_dir / "ansible-local"), ANSIBLE_NOCOLOR="1")
    return env


def run_module(module: str, args: dict, tmp_dir: Path, check: bool = False, timeout: float = 120) -> dict:
    """Run openadapt.waa.<module> on localhost; return its result dict (with 'failed')."""
    cmd = [str(ANSIBLE), "localhost", "-m", "openadapt.waa." + module,
           "-e", "ansible_python_interpreter=" + PYTHON_ON_VM, "-c", "local"]
    if args:  # "-a {}" would be taken as raw parameters
        cmd += ["-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ansible_env(tmp_dir),
                          cwd=str(tmp_dir))
    try:
        data = json.loads(proc.stdout)
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("no JSON result from ansible (rc %s): %s\nstdout: %s\nstderr: %s"
                             % (proc.returncode, exc, proc.stdout[-3000:], proc.stderr[-3000:]))
    result.setdefault("failed", False)
    result["_stdout"] = proc.stdout
    return result


def free_port(candidates=range(5090, 5100)) -> int:
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %s" % (candidates,))


def docker(*args, check=True, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def remove_container(name: str) -> None:
    # Only ever our own containers: the name prefix is the guard.
    assert name.startswith("waa-modtest-"), name
    docker("rm", "-f", "-v", name, check=False, timeout=60)


def published_port(name: str, port: int) -> int:
    out = docker("port", name, "%d/tcp" % port).stdout.strip().splitlines()
    for line in out:
        host, _, hport = line.rpartition(":")
        if host in ("127.0.0.1", "0.0.0.0"):
            return int(hport)
    raise AssertionError("port %d of %s is not published: %r" % (port, name, out))


def wait_for(predicate, timeout: float, interval: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def have_docker() -> bool:
    return shutil.which("docker") is not None and docker("info", check=False, timeout=30).returncode == 0
