"""Human output: the spec's phase lines, a live pull progress bar, and the closing summary."""

from __future__ import annotations

import shlex
import sys
import threading
from typing import TextIO


from ansible_collections.openadapt.waa.plugins.module_utils._health import strip_ansi
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import describe as describe_costs
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_MEANING, PHASE_TITLE
from ansible_collections.openadapt.waa.plugins.plugin_utils._human_lines import format_duration, human_lines, progress_line


# The phases that wait on the VM: on a terminal each gets a spinner with its time so far.
WAIT_PHASES = ("windows_boot", "waa_server", "accessibility")


class LiveBars:
    """On a terminal: a rich progress bar per host for the pull and a spinner per host for the
    waits (the boot stage, the time so far), drawn below the lines already printed. rich turns
    colour off for NO_COLOR and draws nothing live where the stream is no terminal."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=28),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=self.console, transient=True, refresh_per_second=8)
        self._tasks: dict[tuple[str, str], int] = {}

    def print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, emoji=False)

    def show(self, key: tuple[str, str], description: str, detail: str = "",
             completed: float | None = None, total: float | None = None) -> None:
        """Add or update the bar (a total) or spinner (no total) KEY = (what, host)."""
        if not self._tasks:
            self.progress.start()
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(description, total=total, detail=detail)
        self.progress.update(self._tasks[key], description=description, detail=detail, total=total,
                             completed=completed or 0)
        self.progress.refresh()  # drawn now, not at the next tick: a short phase is seen too

    def has(self, key: tuple[str, str]) -> bool:
        return key in self._tasks

    def finish(self, key: tuple[str, str]) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
        if task is not None and not self._tasks:
            self.progress.stop()

    def close(self) -> None:
        for key in list(self._tasks):
            self.finish(key)


class Printer:
    """Print run events as they arrive: on a terminal with live bars and spinners (LiveBars);
    otherwise plain lines, the pull as one line each time its percentage moves by 5."""

    def __init__(self, command: str, stream: TextIO | None = None, verbose: bool = False):
        self.command = command
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.tty = self.stream.isatty()
        self.live = LiveBars(self.stream) if self.tty else None
        self.multi_host = False
        self._last_progress: dict[str, int] = {}
        self._waiting: dict[str, str] = {}  # host -> the wait phase its spinner shows
        self._lock = threading.Lock()

    def event(self, event: dict) -> None:
        with self._lock:
            kind = event.get("type")
            if kind == "run_start":
                self.multi_host = len(event.get("hosts") or []) > 1
            if kind == "pull_progress":
                self._progress(event)
                return
            for line in human_lines(event, prefix=self.command, multi_host=self.multi_host):
                self._write(line)
            if self.live:
                self._spinner(event)
            self.stream.flush()

    def output(self, text: str) -> None:
        """ansible-playbook's own output, shown with --verbose."""
        if self.verbose:
            with self._lock:
                self._write(text.rstrip("\n"))
                self.stream.flush()

    def _write(self, line: str) -> None:
        line = strip_ansi(line)  # the summary and --verbose carry untrusted text too
        if self.live:
            self.live.print(line)
        else:
            self.stream.write(line + "\n")

    def _tag(self, event: dict) -> str:
        return "[%s] " % event.get("host") if self.multi_host and event.get("host") else ""

    def _progress(self, event: dict) -> None:
        host = event.get("host") or ""
        if self.live:
            if event.get("state") == "done":
                self.live.finish(("pull", host))
                return
            source = event.get("source") or ""
            self.live.show(("pull", host), "%sPulling%s" % (self._tag(event), " from " + source if source else ""),
                           progress_line(event, width=0), event.get("bytes_done") or 0,
                           event.get("bytes_total") or None)
            return
        lines = human_lines(event, prefix=self.command, multi_host=self.multi_host)
        if not lines:
            return
        total = event.get("bytes_total") or 0
        pct = int(100 * (event.get("bytes_done") or 0) / total) if total else 0
        if host in self._last_progress and pct - self._last_progress[host] < 5 and pct < 100:
            return
        self._last_progress[host] = pct
        self.stream.write(lines[0] + "\n")
        self.stream.flush()

    def _spinner(self, event: dict) -> None:
        """A wait phase's spinner: from its start to its end, the boot stage as its detail."""
        kind, host, phase = event.get("type"), event.get("host") or "", event.get("phase")
        key = ("wait", host)
        if kind == "phase_start" and phase in WAIT_PHASES:
            self._waiting[host] = "%s%s" % (self._tag(event), PHASE_TITLE.get(phase, phase))
            self.live.show(key, self._waiting[host])
        elif kind == "boot" and event.get("stage") and self.live.has(key):
            self.live.show(key, self._waiting[host], event["stage"].replace("_", " "))
        elif kind in ("phase_end", "run_end") or (kind == "phase_start" and phase not in WAIT_PHASES):
            self.live.finish(key)
            if kind == "run_end":
                self.live.close()

    def line(self, text: str = "") -> None:
        with self._lock:
            if self.live:
                self.live.close()  # the summary: nothing is live any more
            self._write(text)
            self.stream.flush()


def log_command(doc: dict, name: str) -> str:
    """The copy-paste command that follows the VM's setup log (shell-quoted)."""
    conn = doc.get("connection") or {}
    target = f"{conn.get('user')}@{conn.get('address')}" if conn.get("user") else conn.get("address", name)
    port = f" -p {shlex.quote(str(conn['port']))}" if conn.get("port") and str(conn.get("port")) != "22" else ""
    remote = shlex.quote("tail -f " + shlex.quote(str(doc.get("log_file") or "/tmp/waa_setup.log")))
    return f"ssh{port} {shlex.quote(target)} {remote}"


def success_head(out, head: str, doc: dict, what: str) -> None:
    """The first lines of every success block: the message, the time and the cost of ``what``."""
    out(f"{head}SUCCESS: {doc.get('message') or 'WAA container ready for evaluation'}")
    out(f"  Total time: {format_duration(doc.get('duration_seconds'))}")
    if doc.get("costs"):
        out(f"  Estimated cost: {describe_costs(doc['costs'])} for this {what}")


def golden_summary(out, head: str, doc: dict, where: str, command: str) -> None:
    """`waa prepare-image`'s and `waa golden push`'s closing block: the golden disk and what to do with it."""
    golden = doc.get("golden") or {}
    success_head(out, head, doc, command)
    out(f"  Image: {golden.get('image')} {golden.get('image_digest') or ''}".rstrip())
    out(f"  ISO: {golden.get('iso_source')} (sha256 {golden.get('iso_sha256')})")
    out(f"  Fingerprint: {golden.get('fingerprint')} (recorded in the manifest beside the disk)")
    for warning in doc.get("warnings") or []:
        out(f"  Warning: {warning}")
    out()
    out("Next steps:")
    if command == "golden":
        out(f"  1. On every other VM, restore it instead of preparing: waa vm-setup -i <inventory> --golden {golden.get('url') or 'URL'}")
        out("  2. Run the benchmark: waa run -i <inventory> --setup --golden URL --num-tasks 3 --monitor")
        return
    out(f"  1. Set up the WAA container on it: waa vm-setup {where}")
    out(f"  2. Run the benchmark: waa run {where} --setup --num-tasks 3 --monitor")


def benchmark_summary(out, head: str, doc: dict, where: str, run_dir) -> None:
    """`waa run`'s closing block: the score, and what to do with the result (not "run the benchmark")."""
    success_head(out, head, doc, "run")
    for warning in doc.get("warnings") or []:
        out(f"  Warning: {warning}")
    out()
    out("Next steps:")
    out(f"  1. Open the results: {run_dir / 'results'} (summary.json; a folder per host, one per task: result.txt, "
        "traj.jsonl, screenshots)")
    out(f"  2. Finish what has no result: waa run {where} --resume {shlex.quote(str(run_dir))} (only the tasks "
        "without a result run)")
    out(f"  3. Stop paying for the VM when you are done: waa down {where} (its disks and the golden image stay; "
        "--deallocate-after does it at the end of a run)")


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
        elif code == 0 and command in ("prepare-image", "golden"):
            golden_summary(out, head, doc, target or f"--host {shlex.quote(name)}", command)
        elif code == 0 and command == "down":
            success_head(out, head, doc, "down")
            for warning in doc.get("warnings") or []:
                out(f"  Warning: {warning}")
            out(f"  Start it again (and set it up when it needs it): waa up {target or '--host ' + shlex.quote(name)}")
        elif code == 0 and command == "run":
            benchmark_summary(out, head, doc, target or f"--host {shlex.quote(name)}", result.run_dir)
        elif code == 0:
            container = doc.get("container") or {}
            success_head(out, head, doc, command)
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
            out(f"  4. View logs: {log_command(doc, name)}")
        else:
            out(f"{head}FAILED (exit {code}: {EXIT_MEANING.get(code, 'Unknown error')}) in phase {doc.get('phase')}")
            out(f"  {doc.get('message', '')}")
            if doc.get("fix"):
                out(f"  Fix: {doc['fix']}")
            for warning in doc.get("warnings") or []:
                out(f"  Warning: {warning}")
            if doc.get("log_file") and doc.get("phase") not in (None, "preflight"):
                out(f"  The run's log on the VM: {log_command(doc, name)}")
        results = result.run_dir / "results" / name
        if results.is_dir():
            out(f"  Results copied to the controller: {results}")
    if result.message:
        out(result.message)
    out(f"Run log: {result.run_dir / 'setup.log'}")
    if len(result.hosts) > 1:
        out(f"Overall exit code: {result.exit_code} ({result.overall()['exit_code_rule']})")
