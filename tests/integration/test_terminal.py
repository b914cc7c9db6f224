"""`waa vm-setup` on a real terminal (a pty): rich's live pull bar and boot spinner, colour off
for NO_COLOR, and the summary intact after the live display is gone."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from conftest import WAA, docker_rm, unique_ports, write_inventory

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1,
        "waa_skip_smoke_test": True}
SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7])[0-9;]*m")


def _on_a_terminal(argv: list, env: dict, timeout: float) -> tuple[int, str]:
    """Run ARGV with a pty as its terminal; return its exit code and everything it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_live_bar_and_spinner_on_a_terminal_plain_colour_with_no_color(standin, tmp_path, fresh_image, hub_fault):
    image = fresh_image(12)
    hub_fault("none", image=image, rate_bps=3_000_000)  # 4 s of pull: the bar is redrawn many times
    name = "waa-t-terminal"
    docker_rm(name)
    hostvars = dict(unique_ports(), waa_container_name=name, waa_image=image.hub_image,
                    waa_container_env={"WAA_SIM_BOOT_SECONDS": "4"}, waa_progress_interval=1, **FAST)
    inventory = write_inventory(standin, tmp_path / "inventory.yml", hostvars)
    env = dict(os.environ, NO_COLOR="1", TERM="xterm-256color", COLUMNS="160")
    try:
        rc, text = _on_a_terminal(WAA + ["vm-setup", "-i", str(inventory), "--run-dir", str(tmp_path / "run")],
                                  env, 600)
    finally:
        docker_rm(name)
    assert rc == 0, text[-4000:]
    assert "Pulling from 127.0.0.1:5001" in text and "\u2501" in text, text[-4000:]  # rich's bar, live
    assert re.search(r"MB / [\d.]+MB \(\d+%\) \d+ of \d+ layers", text), text[-4000:]
    assert re.search(r"Windows VM boot .*qemu started.* 0:00:0\d", text), text[-4000:]  # spinner, stage, time
    assert not SGR_COLOUR.search(text), repr(SGR_COLOUR.search(text))  # NO_COLOR: no colour at all
    assert "SUCCESS: " in text and "Next steps:" in text
