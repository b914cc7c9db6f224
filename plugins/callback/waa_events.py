# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: waa_events
type: notification
short_description: Write openadapt.waa run events for the CLI and the live viewer
description:
  - Turns a run of the openadapt.waa playbooks into structured events, the one source that the
    C(waa) CLI prints and the live viewer shows.
  - Writes, in the run directory, C(events.jsonl) (append-only, one JSON object a line),
    C(state.json) (the current state), C(benchmark_live.json) (the shape OpenAdapt's viewer
    polls), C(setup.log) (the human lines) and C(results/<host>.json) (the per-host result).
  - Works the same under C(ansible-playbook), ansible-runner and AWX.
requirements:
  - Enable it with C(callbacks_enabled = openadapt.waa.waa_events) (the collection's
    C(ansible.cfg) does).
options:
  run_dir:
    description:
      - Directory for the run's files. Created when missing.
      - Without it, a new directory under C($WAA_STATE_HOME/runs/) (default C(~/.local/state/openadapt-waa/runs/)) is used.
    type: path
    env:
      - name: WAA_RUN_DIR
    ini:
      - section: callback_waa_events
        key: run_dir
  display_progress:
    description:
      - Also print the live lines that are not task results (pull bytes and ETA, one line per 5 %; boot
        stages; the server answering; benchmark tasks; warnings) to Ansible's output, so that plain
        C(ansible-playbook) and AWX job output show the progress the C(waa) CLI shows.
      - The C(waa) CLI turns it off, as it prints these lines itself.
    type: bool
    default: true
    env:
      - name: WAA_DISPLAY_PROGRESS
    ini:
      - section: callback_waa_events
        key: display_progress
"""

import base64
import os
import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.openadapt.waa.plugins.module_utils._failure import SSH_FAILED, ssh_fix
from ansible_collections.openadapt.waa.plugins.module_utils._phases import PHASE_NUMBER, PHASE_TITLE, overall_exit_code, phase_of_tags
from ansible_collections.openadapt.waa.plugins.plugin_utils._bench_relay import BenchmarkRelay, safe_name
from ansible_collections.openadapt.waa.plugins.plugin_utils._human_lines import human_lines
from ansible_collections.openadapt.waa.plugins.plugin_utils._result_document import result_document
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import atomic_write, dumps, runs_home
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_state import apply_event, benchmark_live, new_state

# Tasks that never leave the controller: their success proves nothing about SSH.
CONTROLLER_ACTIONS = {
    "set_fact", "set_stats", "include_role", "include_tasks", "import_role", "import_tasks", "meta", "debug",
    "assert", "fail", "validate_argument_spec", "add_host", "group_by", "pause", "run_result",
}
# Tasks that are bookkeeping, not checks a user would want to see.
QUIET_ACTIONS = {
    "set_fact", "set_stats", "include_role", "include_tasks", "import_role", "import_tasks", "meta",
    "async_status", "debug", "setup", "stat", "fetch", "file", "progress_watch", "validate_argument_spec", "run_result",
}
# The CLI command behind each playbook: the prefix of its human lines.
COMMAND_OF = {"vm_setup": "vm-setup", "server_start": "server-start", "up": "up", "probe": "probe", "run_waa": "run",
              "prepare_image": "prepare-image", "reset": "reset", "golden_push": "golden", "down": "down"}
# Events whose lines Ansible's own output lacks (display_progress): task results it prints itself.
DISPLAYED = {"pull_progress", "transfer_progress", "boot", "server_ready", "warning", "task_start", "task_end", "benchmark"}
# Modules whose rounds (an until loop) report progress: each round's result is relayed.
PROGRESS_ACTIONS = {"progress_watch", "golden_iso", "golden_prepare"}


def _short(action: str) -> str:
    return (action or "").rsplit(".", 1)[-1]


def _is_wait(action: str, res: dict) -> bool:
    """A round of a phase's wait (roles/common/tasks/wait.yml): waa_probe returning boot progress."""
    return action == "waa_probe" and (res.get("progress") or {}).get("kind") == "boot"


def _task_name(task) -> str:
    # get_name() prefixes the role ("openadapt.waa.image : Image pull"); users want the check.
    return task.get_name().split(" : ", 1)[-1]


def _internal(task) -> bool:
    # Probes whose outcome a later task reports are tagged waa_internal: no check line for them.
    return "waa_internal" in (getattr(task, "tags", None) or [])


# The phase lists that walk the setup's nine phases (run_waa's does with waa_run_setup).
SETUP_PHASE_FILES = ("vm_setup_phases.yml", "up_phases.yml")


def _is_setup_play(play) -> bool:
    """Whether ``play`` runs the setup's phases, from its phase list (a literal play variable) and,
    for a benchmark run, --setup (an extra variable)."""
    try:
        phases_file = str((play.vars or {}).get("waa_phases_file") or "")
        extra = play.get_variable_manager().extra_vars or {}
    except Exception:  # an unknown play: number its phases as before
        return True
    if phases_file == "run_waa_phases.yml":
        return str(extra.get("waa_run_setup", "")).lower() in ("true", "1", "yes")
    return phases_file in SETUP_PHASE_FILES or not phases_file


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "openadapt.waa.waa_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_dir = None
        self.state = new_state()
        self.seq = 0
        self.playbook = None
        self.events_handle = None
        self.log_handle = None
        self.task_started = {}  # (host, task uuid) -> monotonic start
        self.warnings_seen = {}  # host -> number of warnings already emitted
        self.connection = {}  # host -> {address, port, user, key}
        self.ports = {}  # host -> {server, vnc, rdp}
        self.unreachable = {}
        self.last_boot = {}
        self.multi_host = False
        # Whether the run goes through the setup's nine phases (vm-setup, up, run --setup): only then
        # is a phase "Phase N/9"; a benchmark run or a reset shows its phases by their titles.
        self.setup_run = True
        self.changed = {}  # host -> tasks that reported a change
        self.ssh_proven = {}  # host -> seconds the first remote task took (it proved SSH works)
        self.bench = {}  # host -> BenchmarkRelay
        self.pull_shown = {}  # host -> (attempt, 5 % step) of the pull line last displayed
        self.survey = {}  # host -> what the run's first round trip (waa_survey) found

    # -- output -------------------------------------------------------------------------------
    def _open(self) -> None:
        if self.events_handle:
            return
        self.set_options()
        run_dir = self.get_option("run_dir")
        if not run_dir:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            run_dir = os.path.join(runs_home(), "%s-%s" % (stamp, self.playbook or "run"))
        self.run_dir = run_dir
        # Run files hold logs, screenshots and host names: this user's only (0600/0700), under plain
        # ansible-playbook and AWX as under the CLI (which sets the same umask before it starts Ansible).
        os.umask(0o077)
        os.makedirs(os.path.join(run_dir, "results"), exist_ok=True)
        os.makedirs(os.path.join(run_dir, "screenshots"), exist_ok=True)
        self.events_handle = open(os.path.join(run_dir, "events.jsonl"), "a", encoding="utf-8")
        self.log_handle = open(os.path.join(run_dir, "setup.log"), "a", encoding="utf-8")

    def emit(self, kind: str, host=None, **fields) -> None:
        self._open()
        self.seq += 1
        event = {"seq": self.seq, "ts": time.time(), "type": kind, "host": host}
        event.update(fields)
        self.events_handle.write(dumps(event) + "\n")
        self.events_handle.flush()
        lines = human_lines(event, prefix=COMMAND_OF.get(self.playbook, self.playbook or "waa"), multi_host=self.multi_host)
        for line in lines:
            self.log_handle.write(time.strftime("%H:%M:%S ", time.localtime(event["ts"])) + line + "\n")
        self.log_handle.flush()
        if lines and kind in DISPLAYED and self.get_option("display_progress") and self._shown(event):
            for line in lines:
                self._display.display("[%s] %s" % (host, line.strip()) if host else line)
        apply_event(self.state, event)
        atomic_write(os.path.join(self.run_dir, "state.json"), dumps(self.state))
        if kind.startswith("task_") or kind == "benchmark":
            atomic_write(os.path.join(self.run_dir, "benchmark_live.json"), dumps(benchmark_live(self.state)))

    def _shown(self, event) -> bool:
        """Whether a live line goes to Ansible's output: a pull once per 5 % (and per attempt)."""
        if event.get("type") != "pull_progress":
            return True
        total = event.get("bytes_total") or 0
        step = (int(100 * (event.get("bytes_done") or 0) / total) // 5) if total else -1
        key = (event.get("attempt"), step)
        if self.pull_shown.get(event.get("host")) == key:
            return False
        self.pull_shown[event.get("host")] = key
        return True

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _parts(result):
        host = getattr(result, "host", None) or result._host
        task = getattr(result, "task", None) or result._task
        res = getattr(result, "result", None)
        if not isinstance(res, dict):
            res = result._result
        return host, task, res

    def _remember_host(self, host) -> None:
        name = host.get_name()
        if name in self.connection:
            return
        hvars = getattr(host, "vars", {}) or {}
        self.connection[name] = {
            "address": str(hvars.get("ansible_host", name)),
            "port": hvars.get("ansible_port"),
            "user": hvars.get("ansible_user"),
            "key": hvars.get("ansible_ssh_private_key_file"),
        }
        self.ports[name] = {
            "server": int(hvars.get("waa_server_port", 5000)),
            "vnc": int(hvars.get("waa_vnc_port", 8006)),
            "rdp": int(hvars.get("waa_rdp_port", 3389)),
        }

    def _current_phase(self, name):
        return self.state["hosts"].get(name, {}).get("phase")

    def _end_phase(self, name, status="ok", message="", fix="") -> None:
        phase = self._current_phase(name)
        if not phase:
            return
        record = self.state["hosts"][name]["phases"].get(phase, {})
        if record.get("status") != "running":
            return
        if status == "ok" and record.get("_warned"):
            status = "warning"  # e.g. a failed smoke test that is not strict: the phase ended, not cleanly
        elif status == "ok" and record.get("_tasks_ok", 0) == 0 and record.get("_tasks_skipped", 0) > 0:
            status = "skipped"
        duration = round(time.time() - (record.get("started") or time.time()), 2)
        if phase == "waa_server" and status == "ok":
            self._server_ready(name, duration)  # a ready host's run found the server answering at once
        self.emit("phase_end", name, phase=phase, number=PHASE_NUMBER.get(phase), status=status,
                  duration=duration, message=message, fix=fix)

    def _server_ready(self, name, elapsed) -> None:
        """One server_ready event per waa_server phase."""
        record = self.state["hosts"][name]["phases"].get("waa_server") or {}
        if record.get("status") == "running" and not record.get("_server_ready_sent"):
            record["_server_ready_sent"] = True
            self.emit("server_ready", name, url="http://127.0.0.1:%s" % self.ports.get(name, {}).get("server", 5000),
                      elapsed=elapsed)

    def _count(self, name, key) -> None:
        phase = self._current_phase(name)
        if phase:
            record = self.state["hosts"][name]["phases"].get(phase)
            if record is not None:
                record[key] = record.get(key, 0) + 1

    def _duration(self, name, task):
        start = self.task_started.get((name, task._uuid))
        return round(time.monotonic() - start, 2) if start else None

    def _facts(self, name, task, res) -> None:
        facts = res.get("ansible_facts") or {}
        if facts.get("ansible_host") and name in self.connection:
            # A started Azure VM's new address (azure_start.yml): the tunnel and fixes name it.
            self.connection[name]["address"] = str(facts["ansible_host"])
        if "waa_warnings" in facts:
            seen = self.warnings_seen.get(name, 0)
            for message in list(facts["waa_warnings"])[seen:]:
                phase = self._current_phase(name)
                if phase == "smoke":
                    self.state["hosts"][name]["phases"].get(phase, {})["_warned"] = True
                self.emit("warning", name, phase=phase, message=" ".join(str(message).split()))
            self.warnings_seen[name] = len(facts["waa_warnings"])
        if "waa_exit_code" in facts:
            self._end_phase(name, "failed", facts.get("waa_failure_message", ""), facts.get("waa_failure_fix", ""))

    def _start_phase(self, name, phase) -> None:
        """End the current phase, start ``phase``; the pre-flight phase says what the run's survey checked."""
        self._end_phase(name)
        self.emit("phase_start", name, phase=phase, number=PHASE_NUMBER.get(phase) if self.setup_run else None,
                  title=PHASE_TITLE.get(phase, phase))
        if phase != "preflight":
            return
        if name in self.ssh_proven:
            # The run's first round trip (the VM survey) already proved SSH: say so, no extra ping.
            conn = self.connection.get(name, {})
            where = "%s%s%s" % ("%s@" % conn["user"] if conn.get("user") else "", conn.get("address") or name,
                                ":%s" % conn["port"] if conn.get("port") else "")
            self.emit("check", name, phase=phase, name="SSH connectivity", ok=True, message=where,
                      duration=self.ssh_proven[name])
        # The survey's passed checks; a failed one is the preflight role's failing task, named after it.
        for check in (self.survey.get(name, {}).get("preflight") or {}).get("checks") or []:
            if check.get("ok"):
                self._found(name, check)

    def _found(self, name, check) -> None:
        """A check the run's survey made, reported in the current phase (it counts as the phase's work)."""
        self._count(name, "_tasks_ok")
        self.emit("check", name, phase=self._current_phase(name), name=str(check.get("name") or ""), ok=True,
                  message=" ".join(str(check.get("message") or "").split()), duration=0.0)

    def _surveyed(self, name, res) -> None:
        """The run's first round trip: remember its pre-flight checks; on a host found ready as asked,
        report phases 1-6 from it (the playbook runs none of them)."""
        self.survey[name] = {"preflight": res.get("preflight") or {}}
        if not res.get("ready"):
            return
        self._start_phase(name, "preflight")
        for phase in res.get("found_ready") or []:
            self._start_phase(name, str(phase.get("phase")))
            for check in phase.get("checks") or []:
                self._found(name, check)

    def _smoke_screenshot(self, name, res) -> None:
        """The smoke test's screenshot, returned in its probe's result: screenshots/<host>-smoke.png."""
        data = (res.get("screenshot") or {}).get("data_b64")
        if not data or not self.run_dir:
            return
        rel = os.path.join("screenshots", "%s-smoke.png" % safe_name(name))
        try:
            atomic_write(os.path.join(self.run_dir, rel), base64.b64decode(data, validate=True))
        except (OSError, ValueError, TypeError):
            return
        self.emit("screenshot", name, phase=self._current_phase(name), path=rel)

    def _progress(self, name, res) -> None:
        progress = res.get("progress") or {}
        kind = progress.get("kind")
        phase = self._current_phase(name)
        if kind == "pull":
            fields = {k: progress.get(k) for k in ("bytes_done", "bytes_total", "layers_done", "layers_total", "rate_bps",
                                                   "eta_s", "source", "attempt", "attempts_max", "state", "image")}
            self.emit("pull_progress", name, phase=phase, **fields)
        elif kind == "transfer":
            fields = {k: progress.get(k) for k in ("what", "bytes_done", "bytes_total", "bytes_moved", "rate_bps", "eta_s",
                                                   "source", "state", "error")}
            self.emit("transfer_progress", name, phase=phase, **fields)
        elif kind == "benchmark" or res.get("shipped"):
            self._open()
            if name not in self.bench:
                self.bench[name] = BenchmarkRelay(self.run_dir, name, lambda kind_, **fields: self.emit(kind_, name, **fields))
            self.bench[name].feed(res, progress)
        elif kind in ("boot", "probe"):
            stage = progress.get("stage")
            tail = progress.get("log_tail") or []
            last = self.last_boot.get(name, (None, None, None))
            install = progress.get("install") or {}
            # The first-install path's progress, said once per step and per 10 % of the download.
            milestone = (install.get("step"), (install.get("download_percent") or 0) // 10) if install else None
            if (stage, tail[-1:] if tail else None, milestone) != last:
                self.last_boot[name] = (stage, tail[-1:] if tail else None, milestone)
                fields = {"install": install} if milestone and milestone != last[2] else {}
                self.emit("boot", name, phase=phase, stage=stage if stage != last[0] else None, log_tail=tail[-20:],
                          **fields)

    # -- playbook hooks -----------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.splitext(os.path.basename(getattr(playbook, "_file_name", "") or "run"))[0]

    def v2_playbook_on_play_start(self, play):
        hosts = []
        try:
            inventory = play.get_variable_manager()._inventory
            hosts = [h.get_name() for h in inventory.get_hosts(play.hosts)]
        except Exception:  # the host list is informative only
            hosts = []
        self.multi_host = len(hosts) > 1
        self.setup_run = _is_setup_play(play)
        if self.seq == 0:
            self.emit("run_start", None, playbook=self.playbook, hosts=hosts, setup=self.setup_run)

    def v2_runner_on_start(self, host, task):
        self._remember_host(host)
        name = host.get_name()
        self.task_started[(name, task._uuid)] = time.monotonic()
        # A phase starts with the first task of its role (the phase lists tag each role's import).
        phase = phase_of_tags(getattr(task, "tags", None))
        if phase and phase != self._current_phase(name):
            self._start_phase(name, phase)

    def v2_runner_retry(self, result):
        host, _task, res = self._parts(result)
        self._progress(host.get_name(), res)

    def v2_runner_on_ok(self, result):
        host, task, res = self._parts(result)
        name = host.get_name()
        self._remember_host(host)
        action = _short(task.action)
        if action not in ("set_fact", "include_role", "include_tasks", "validate_argument_spec"):  # bookkeeping does not make a phase "ran"
            self._count(name, "_tasks_ok")
        if res.get("changed") and action not in ("set_fact", "set_stats"):
            self.changed.setdefault(name, []).append(_task_name(task))
        if action == "set_fact":
            self._facts(name, task, res)
            return
        if action not in CONTROLLER_ACTIONS and not res.get("_ansible_delegated_vars"):
            self.ssh_proven.setdefault(name, self._duration(name, task))
        if action == "waa_survey":
            self._surveyed(name, res)
        if action == "waa_probe" and (res.get("screenshot") or {}).get("data_b64"):
            self._smoke_screenshot(name, res)
        if action in PROGRESS_ACTIONS or _is_wait(action, res):
            self._progress(name, res)
            if _is_wait(action, res) and self._current_phase(name) == "waa_server":
                self._server_ready(name, self._duration(name, task))
        if action == "fetch" and res.get("dest", "").startswith(self.run_dir or "\0"):
            self.emit("screenshot", name, phase=self._current_phase(name),
                      path=os.path.relpath(res["dest"], self.run_dir))
        if (action in QUIET_ACTIONS and action != "progress_watch") or _internal(task):
            return
        if res.get("ansible_job_id") and res.get("started") and not res.get("finished"):
            return  # an async start: its outcome comes from progress_watch
        if res.get("healthy") is False or res.get("would_pull"):
            return  # a probe that found the layers not ready yet: the wait that follows reports the outcome
        message = res.get("msg") if isinstance(res.get("msg"), str) else ""
        layers = res.get("layers") or (res.get("result") or {}).get("layers")
        if isinstance(layers, list) and layers and res.get("healthy", (res.get("result") or {}).get("healthy")):
            message = layers[-1].get("message") or message  # the deepest layer checked says the most
        if isinstance(res.get("checked"), str):
            message = res["checked"]  # the probe's own account of what it checked (smoke test, all layers)
        if not message and isinstance(res.get("result"), dict):  # progress_watch: the watched work's own message
            message = res["result"].get("msg") or ""
        self.emit("check", name, phase=self._current_phase(name), name=_task_name(task), ok=True,
                  message=message if message != "All assertions passed" else "", duration=self._duration(name, task))
        if _is_wait(action, res) and res.get("healthy") and self._current_phase(name) == "waa_server":
            self._end_phase(name)  # the wait is the phase's last task: the server is ready now, not at the next task

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host, task, res = self._parts(result)
        name = host.get_name()
        if _short(task.action) == "progress_watch" or _is_wait(_short(task.action), res):
            self._progress(name, res)  # a failed wait or benchmark still brings its last log lines, events and files
        message = res.get("msg") or res.get("module_stderr") or ""
        self.emit("check", name, phase=self._current_phase(name), name=_task_name(task), ok=False,
                  message=" ".join(str(message).split())[:800], duration=self._duration(name, task))

    def v2_runner_on_skipped(self, result):
        host, _task, _res = self._parts(result)
        self._count(host.get_name(), "_tasks_skipped")

    def v2_runner_on_unreachable(self, result):
        host, task, res = self._parts(result)
        name = host.get_name()
        self._remember_host(host)
        full = " ".join(str(res.get("msg", "")).split())
        detail = full[:400]
        phase = self._current_phase(name) or "preflight"
        message = SSH_FAILED if phase == "preflight" else (
            "Lost the SSH connection to the VM during phase %s (no answer from the VM: the network dropped or the "
            "VM stopped)." % phase)
        self.unreachable[name] = (phase, message, ssh_fix(full, self.connection.get(name, {}).get("address") or name)
                                  + " (ssh: " + detail + ")")
        self.emit("check", name, phase=phase, name="SSH connectivity", ok=False, message="%s (%s)" % (message, detail))
        self._end_phase(name, "failed", message)

    def v2_playbook_on_stats(self, stats):
        self._open()
        for relay in self.bench.values():
            relay.flush(force=True)
        custom = getattr(stats, "custom", {}) or {}
        artifacts = (custom.get("_run") or {}).get("waa_results") or {}
        codes = {}
        hosts = list(self.state["hosts"].keys())
        for name in sorted(set(hosts) | set(artifacts) | set(self.unreachable)):
            artifact = artifacts.get(name)
            if artifact is None:
                if name in self.unreachable:
                    phase, message, fix = self.unreachable[name]
                    artifact = {"exit_code": 1, "phase": phase, "phase_number": PHASE_NUMBER.get(phase, 1),
                                "message": message, "fix": fix}
                else:
                    artifact = {"exit_code": 9, "phase": self._current_phase(name) or "preflight",
                                "message": "The playbook stopped before recording a result. See %s/setup.log." % self.run_dir}
            else:
                self._end_phase(name, "ok" if int(artifact.get("exit_code", 9)) == 0 else "failed",
                                artifact.get("message", ""), artifact.get("fix", ""))
            doc = result_document(name, artifact, self.state["hosts"].get(name, {}),
                                  self.connection.get(name, {}), artifact.get("ports") or self.ports.get(name, {}))
            doc["changed_tasks"] = self.changed.get(name, [])
            atomic_write(os.path.join(self.run_dir, "results", "%s.json" % name), dumps(doc))
            self.emit("host_result", name, result=doc)
            codes[name] = doc["exit_code"]
        code = overall_exit_code(codes.values())
        self.emit("run_end", None, status="successful" if not code else "failed", exit_code=code, hosts=codes)
        for handle in (self.events_handle, self.log_handle):
            if handle:
                handle.close()
        self.events_handle = self.log_handle = None
