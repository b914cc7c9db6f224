"""The human output: live bars and spinners on a terminal, plain lines anywhere else."""
from __future__ import annotations

import io
import re

import pytest

from openadapt_waa.output import Printer

SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7])[0-9;]*m")  # a foreground colour


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _pull(done: int, total: int = 100 << 20, **kw) -> dict:
    return dict(type="pull_progress", host="vm1", bytes_done=done, bytes_total=total, layers_done=1,
                layers_total=3, rate_bps=10 << 20, eta_s=5, source="127.0.0.1:5001", **kw)


EVENTS = [
    {"type": "run_start", "hosts": ["vm1"], "playbook": "vm_setup.yml"},
    {"type": "phase_start", "host": "vm1", "phase": "image", "number": 3, "title": "Pulling image"},
    *[_pull(n << 20) for n in range(0, 101)],
    _pull(100 << 20, state="done"),
    {"type": "phase_end", "host": "vm1", "phase": "image", "status": "success", "duration": 9},
    {"type": "phase_start", "host": "vm1", "phase": "windows_boot", "number": 5, "title": "Windows boot"},
    {"type": "boot", "host": "vm1", "stage": "qemu_started"},
    {"type": "phase_end", "host": "vm1", "phase": "windows_boot", "status": "success", "duration": 3},
    {"type": "run_end", "status": "successful"},
]


def _printed(stream, monkeypatch, no_color: bool) -> str:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    printer = Printer("vm-setup", stream=stream)
    for event in EVENTS:
        printer.event(event)
    printer.line("SUCCESS")
    return stream.getvalue()


def test_terminal_gets_a_bar_for_the_pull_and_a_spinner_with_the_boot_stage(monkeypatch):
    text = _printed(Terminal(), monkeypatch, no_color=False)
    assert "Pulling from 127.0.0.1:5001" in text
    assert "\u2501" in text  # rich's bar
    assert "52.4MB / 104.9MB (50%) 1 of 3 layers" in text, text[-2000:]  # the pull's figures beside it
    assert "Windows VM boot" in text and "qemu started" in text and "0:00:0" in text  # stage and time so far
    assert "[vm-setup] Phase 5/9: Windows boot" in text and text.rstrip().endswith("SUCCESS")
    assert SGR_COLOUR.search(text)  # colour on a terminal ...


def test_no_color_turns_colour_off_but_keeps_the_live_bar(monkeypatch):
    text = _printed(Terminal(), monkeypatch, no_color=True)
    assert "\u2501" in text and "qemu started" in text
    assert not SGR_COLOUR.search(text), repr(SGR_COLOUR.search(text))


@pytest.mark.parametrize("hosts", [["vm1"], ["vm1", "vm2"]])
def test_no_terminal_plain_lines_one_per_5_percent(monkeypatch, hosts):
    stream = io.StringIO()
    printer = Printer("vm-setup", stream=stream)
    printer.event({"type": "run_start", "hosts": hosts, "playbook": "vm_setup.yml"})
    for event in EVENTS[1:]:
        printer.event(event)
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text  # nothing drawn, nothing redrawn
    pulls = [line for line in text.splitlines() if "layers" in line]
    assert len(pulls) == 21, pulls  # 0, 5, ... 100 %
    assert ("[vm1] " in pulls[0]) == (len(hosts) > 1)
