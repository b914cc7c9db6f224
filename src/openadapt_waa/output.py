"""Human output: the spec's phase lines, a live pull progress bar, and the closing summary."""

from __future__ import annotations

import shlex
import sys
import threading
from typing import TextIO

from openadapt_waa.collection import import_path

import_path()
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import describe as describe_costs  # noqa: E402
from ansible_collections.openadapt.waa.plugins.plugin_utils._events import (  # noqa: E402
    EXIT_MEANING,
    format_duration,
    human_lines,
)


class Printer:
    """Print run events as they arrive. On a terminal the pull progress redraws one line."""

    def __init__(self, command: str, stream: TextIO | None = None, verbose: bool = False):
        self.command = command
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.tty = self.stream.isatty()
        self.multi_host = False
        self._progress_open = False
        self._last_progress = {}
        self._lock = threading.Lock()

    def event(self, event: dict) -> None:
        with self._lock:
            if event.get("type") == "run_start":
                self.multi_host = len(event.get("hosts") or []) > 1
            if event.get("type") == "pull_progress":
                self._progress(event)
                return
            lines = human_lines(event, prefix=self.command, multi_host=self.multi_host)
            if lines:
                self._close_progress()
                for line in lines:
                    self.stream.write(line + "\n")
                self.stream.flush()

    def output(self, text: str) -> None:
        """ansible-playbook's own output, shown with --verbose."""
        if self.verbose:
            with self._lock:
                self._close_progress()
                self.stream.write(text.rstrip("\n") + "\n")
                self.stream.flush()

    def _progress(self, event: dict) -> None:
        lines = human_lines(event, prefix=self.command, multi_host=self.multi_host)
        if not lines:
            self._close_progress()
            return
        if self.tty and not self.multi_host:
            self.stream.write("\r\x1b[2K" + lines[0])
            self._progress_open = True
        else:
            # Without a terminal, one line each time the percentage moves by 5 or more.
            host = event.get("host")
            total = event.get("bytes_total") or 0
            pct = int(100 * (event.get("bytes_done") or 0) / total) if total else 0
            if host in self._last_progress and pct - self._last_progress[host] < 5 and pct < 100:
                return
            self._last_progress[host] = pct
            self.stream.write(lines[0] + "\n")
        self.stream.flush()

    def _close_progress(self) -> None:
        if self._progress_open:
            self.stream.write("\n")
            self._progress_open = False

    def line(self, text: str = "") -> None:
        with self._lock:
            self._close_progress()
            self.stream.write(text + "\n")
            self.stream.flush()


def summary(printer: Printer, result, command: str = "vm-setup", target: str = "") -> None:
    """The closing block: SUCCESS with next steps, or what broke and how to fix it."""
    out = printer.line
    out()
    for name in sorted(result.hosts):
        doc = result.hosts[name]
        code = doc.get("exit_code", 9)
        head = f"[{name}] " if len(result.hosts) > 1 else ""
        if doc.get("skipped"):
            out(f"{head}SKIPPED: {doc.get('message')}")
            if doc.get("fix"):
                out(f"  Fix: {doc['fix']}")
        elif code == 0:
            container = doc.get("container") or {}
            out(f"{head}SUCCESS: {doc.get('message') or 'WAA container ready for evaluation'}")
            out(f"  Total time: {format_duration(doc.get('duration_seconds'))}")
            if doc.get("costs"):
                out(f"  Estimated cost: {describe_costs(doc['costs'])} for this {command}")
            out(f"  Container: {container.get('name')} ({container.get('id')})")
            out(f"  Server: {doc.get('server_url')} on the VM's loopback (reach it through the tunnel below)")
            out("  Status: \u2713 Ready")
            for warning in doc.get("warnings") or []:
                out(f"  Warning: {warning}")
            out()
            out("Next steps:")
            out(f"  1. Open the tunnel: {doc.get('tunnel_command')}")
            out("     then WAA server: http://127.0.0.1:%s/probe   VNC: http://127.0.0.1:%s/" % (
                (doc.get("ports") or {}).get("server", 5000), (doc.get("ports") or {}).get("vnc", 8006)))
            where = target or f"--host {shlex.quote(name)}"
            out(f"  2. Run the benchmark: waa run {where} --num-tasks 3 --monitor")
            out(f"  3. Check status: waa probe {where}")
            conn = doc.get("connection") or {}
            target = f"{conn.get('user')}@{conn.get('address')}" if conn.get("user") else conn.get("address", name)
            port = f" -p {shlex.quote(str(conn['port']))}" if conn.get("port") and str(conn.get("port")) != "22" else ""
            remote = shlex.quote("tail -f " + shlex.quote(str(doc.get("log_file") or "/tmp/waa_setup.log")))
            out(f"  4. View logs: ssh{port} {shlex.quote(target)} {remote}")
        else:
            out(f"{head}FAILED (exit {code}: {EXIT_MEANING.get(code, 'Unknown error')}) in phase {doc.get('phase')}")
            out(f"  {doc.get('message', '')}")
            if doc.get("fix"):
                out(f"  Fix: {doc['fix']}")
            for warning in doc.get("warnings") or []:
                out(f"  Warning: {warning}")
        results = result.run_dir / "results" / name
        if results.is_dir():
            out(f"  Results copied to the controller: {results}")
    if result.message:
        out(result.message)
    out(f"Run log: {result.run_dir / 'setup.log'}")
    if len(result.hosts) > 1:
        out(f"Overall exit code: {result.exit_code} ({result.overall()['exit_code_rule']})")
