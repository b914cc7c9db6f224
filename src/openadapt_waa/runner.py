"""Run an openadapt.waa playbook through ansible-runner (the engine AWX uses) and read the result.

The playbook's callback plugin writes every event and each host's result document into the run
directory; this module starts the run, follows the events as they are written, and turns the
outcome into one exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from openadapt_waa.child_env import SecretFiles, allowed_environment
from openadapt_waa.collection import locate
from openadapt_waa.ssh import ssh_args
from openadapt_waa.tailer import Tailer

from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_DEADLINE as EXIT_TIMEOUT
from ansible_collections.openadapt.waa.plugins.module_utils._phases import (
    EXIT_PREFLIGHT,
    EXIT_UNKNOWN,
    OVERALL_RULE,
    overall_exit_code,
)
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import runs_home


@dataclass
class RunResult:
    """The outcome of one playbook run."""

    exit_code: int
    status: str  # ansible-runner's: successful, failed, timeout, canceled
    run_dir: Path
    hosts: dict[str, dict] = field(default_factory=dict)  # host -> result document
    message: str = ""
    notes: list[str] = field(default_factory=list)  # what the CLI said of the run (a fleet's second pass...)

    def overall(self) -> dict:
        return {"exit_code": self.exit_code, "exit_code_rule": OVERALL_RULE, "run_dir": str(self.run_dir),
                "hosts": [self.hosts[name] for name in sorted(self.hosts)]}


def default_run_dir(kind: str) -> Path:
    base = Path(runs_home())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = base / f"{stamp}-{kind}-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    latest = base / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(path.name)
    except OSError:
        pass  # a convenience only
    return path


class EventFollower(threading.Thread):
    """Follow events.jsonl as the callback appends to it and hand each event to a function."""

    def __init__(self, path: Path, handle: Callable[[dict], None], interval: float = 0.1):
        super().__init__(daemon=True)
        self.tailer = Tailer(path)
        self.handle = handle
        self.interval = interval
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.drain()
            self._halt.wait(self.interval)
        self.drain()

    def drain(self) -> None:
        while True:
            for event in self.tailer.read():
                self.handle(event)
            if not self.tailer.pending:
                return

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def _environment(run_dir: Path) -> dict:
    collection = locate()
    bindir = os.path.dirname(sys.executable)
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(collection.collections_path),
        "ANSIBLE_CALLBACKS_ENABLED": "openadapt.waa.waa_events",
        "WAA_RUN_DIR": str(run_dir),
        # The CLI prints the live lines itself, from the events.
        "WAA_DISPLAY_PROGRESS": "False",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args(),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_FORKS": "50",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_PYTHON_INTERPRETER": os.environ.get("ANSIBLE_PYTHON_INTERPRETER", "auto_silent"),
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
    }
    return env


def write_extravars(private_data_dir: Path, extravars: dict) -> Path:
    """Write the run's variables where ansible-runner passes them on (``-e @env/extravars``), every
    string tagged ``!unsafe``: values come from the CLI and are data, and Ansible renders
    extra vars passed as inline JSON (runner's ``extravars=``) as templates."""
    import yaml

    class Unsafe(str):
        pass

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Unsafe, lambda dumper, text: dumper.represent_scalar("!unsafe", str(text), style='"'))

    def tag(value):
        if isinstance(value, str):
            return Unsafe(value)
        if isinstance(value, dict):
            return {str(key): tag(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [tag(item) for item in value]
        return value

    path = Path(private_data_dir) / "env" / "extravars"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(tag(extravars), Dumper=Dumper, default_flow_style=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def _read_results(run_dir: Path) -> dict[str, dict]:
    results = {}
    for path in sorted((run_dir / "results").glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("host"), str):  # not the merged summary.json
            results[doc["host"]] = doc
    return results


def _reached_phase(run_dir: Path) -> dict[str, str]:
    try:
        state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: host.get("phase") or "preflight" for name, host in state.get("hosts", {}).items()}


# Signals that stop a run, and the shell's exit code for each (128 + the signal number).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_exit_code(signum: int) -> int:
    return 128 + int(signum)


class Interrupts:
    """The stop signals (STOP_SIGNALS) a run receives, caught from before the playbook starts until
    its release run has ended: the default action would kill the CLI with the secret files still
    on disk. The first one cancels the playbook; one more cancels the release."""

    def __init__(self):
        self.received: list[int] = []
        self._previous: dict = {}

    def __enter__(self) -> "Interrupts":
        for signum in STOP_SIGNALS:
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:
                pass  # not the main thread: leave signals alone
        return self

    def __exit__(self, *_exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum, _frame) -> None:
        self.received.append(signum)

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def since(self) -> Callable[[], bool]:
        """A cancel callback: true once a signal arrives after this call."""
        mark = len(self.received)
        return lambda: len(self.received) > mark


@dataclass
class PlaybookRun:
    """What one playbook run is: the playbook, where and with what it runs, where its files go."""

    playbook: str
    inventory: str | dict
    extravars: dict
    run_dir: Path
    limit: str | None = None
    hard_timeout: float | None = None

    @property
    def is_benchmark(self) -> bool:
        """A benchmark's client is stopped before its lease is given back."""
        return self.playbook == "run_waa.yml"


def _release_lease(run: PlaybookRun, cancel: Callable[[], bool] | None = None) -> bool:
    """After an interrupt, give the VM's lease back so that the next run need not wait for it; the
    benchmark client of an interrupted `waa run` is stopped first; ``cancel`` (another signal) ends it early."""
    where = run.run_dir / "release"
    where.mkdir(parents=True, exist_ok=True)
    write_extravars(where, dict(run.extravars, waa_release_stop_benchmark=run.is_benchmark))
    kwargs = dict(private_data_dir=str(where), playbook=str(locate().playbook("release.yml")), inventory=run.inventory,
                  envvars=dict(_environment(run.run_dir), WAA_RUN_DIR=str(where / "events")),
                  quiet=True, timeout=120, suppress_env_files=True, cancel_callback=cancel)
    if run.limit:
        kwargs["limit"] = run.limit
    try:
        return _start(kwargs).status == "successful"
    except Exception:  # best effort: the lease also expires by itself
        return False


def _start(kwargs: dict):
    """ansible_runner.run with the child's environment reduced to allowed_environment()."""
    import ansible_runner  # imported here: it is slow to import and `waa --help` needs none of it

    runner = ansible_runner.interface.init_runner(**kwargs)
    runner.config.env = allowed_environment(runner.config.env, dict(os.environ))
    runner.run()
    return runner


def run_playbook(
    playbook: str,
    *,
    inventory: str | dict,
    extravars: dict,
    run_dir: Path,
    limit: str | None = None,
    hard_timeout: float | None = None,
    on_event: Callable[[dict], None] | None = None,
    on_output: Callable[[str], None] | None = None,
) -> RunResult:
    """Run one playbook of the collection; return the exit code and each host's result document.

    ``hard_timeout`` is the backstop behind the deadline that every wait on the VM respects:
    past it the run is stopped and the result is exit code 8 with the phase reached.
    """
    if not shutil.which("ansible-playbook", path=_environment(run_dir)["PATH"]):
        return RunResult(EXIT_UNKNOWN, "failed", run_dir, message="ansible-playbook is not installed next to waa; reinstall openadapt-waa.")
    run = PlaybookRun(playbook, inventory, extravars, run_dir, limit, hard_timeout)
    follower = EventFollower(run_dir / "events.jsonl", on_event) if on_event else None
    if follower:
        follower.start()

    def event_handler(event: dict) -> bool:
        if on_output and event.get("stdout"):
            on_output(event["stdout"])
        return True

    write_extravars(run_dir / "runner", extravars)
    kwargs = dict(
        private_data_dir=str(run_dir / "runner"),
        playbook=str(locate().playbook(playbook)),
        inventory=inventory,
        envvars=_environment(run_dir),
        quiet=True,
        event_handler=event_handler,
        suppress_env_files=True,
    )
    if limit:
        kwargs["limit"] = limit
    if hard_timeout:
        kwargs["timeout"] = int(hard_timeout)
    # The secret files exist exactly while the signal handlers are ours: a signal during the
    # playbook or its release never ends the CLI before the files are removed.
    with SecretFiles(), Interrupts() as interrupts:
        try:
            runner = _start(dict(kwargs, cancel_callback=interrupts.since()))
        finally:
            if follower:
                follower.stop()
        return _outcome(run, runner, interrupts)


def _outcome(run: PlaybookRun, runner, interrupts: Interrupts) -> RunResult:
    """The run's result from what the callback wrote; releases the lease when nothing else will."""
    run_dir, interrupted = run.run_dir, interrupts.first
    hosts = _read_results(run_dir)
    status = runner.status
    if status == "timeout" or (status == "canceled" and not interrupted):
        phases = _reached_phase(run_dir)
        for name, phase in (phases or {"all": "preflight"}).items():
            if name not in hosts or hosts[name].get("exit_code") == 0:
                hosts[name] = {"host": name, "success": False, "exit_code": EXIT_TIMEOUT, "phase": phase,
                               "message": f"Timeout after {int(run.hard_timeout or 0)}s (--timeout). Reached phase: {phase}. "
                                          "Increase --timeout or check for hangs.", "fix": "Increase --timeout"}
        return RunResult(EXIT_TIMEOUT, status, run_dir, hosts, "timeout")
    if interrupted:
        name = signal.Signals(interrupted).name
        released = _release_lease(run, cancel=interrupts.since())
        phases = _reached_phase(run_dir)
        reached = ", ".join(f"{host}: {phase}" for host, phase in sorted(phases.items())) or "preflight"
        return RunResult(signal_exit_code(interrupted), "canceled", run_dir, hosts,
                         f"Interrupted by {name} during phase {reached}. The VM keeps what finished "
                         f"({'lease released' if released else 'lease not released: the next run takes it over'}"
                         f"{', benchmark client stopped' if run.is_benchmark and released else ''}); "
                         "run the same command again to continue.")
    # A run that never reached its report (SSH dropped, playbook crashed) still holds the VM's
    # lease: give it back so that the next run need not wait for it to expire.
    # (Exit 1 includes an SSH connection lost in any phase.)
    if not hosts or any(doc.get("exit_code") in (EXIT_PREFLIGHT, EXIT_UNKNOWN) for doc in hosts.values()):
        # A benchmark's own client stops first: the lease is never given back under a working agent.
        _release_lease(run, cancel=interrupts.since())
    if not hosts:
        return RunResult(EXIT_UNKNOWN, status, run_dir, hosts,
                         f"The run ended without a result (ansible-runner status {status}, rc {runner.rc}). "
                         f"See {run_dir / 'runner'} and report this issue.")
    return RunResult(overall_exit_code(doc.get("exit_code", EXIT_UNKNOWN) for doc in hosts.values()), status, run_dir,
                     hosts)
