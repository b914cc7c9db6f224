#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: waa_benchmark
short_description: Run the Windows Agent Arena benchmark client in the WAA container, with live progress
version_added: 0.1.0
description:
  - Runs WAA's benchmark client (C(python -u run.py) in C(/client)) inside the running WAA container through the
    Docker Engine API (exec), as an argument list - nothing from the options is ever given to a shell.
  - Streams the client's output, appends it to O(log_file), parses it (task starts, steps, the
    C(lib_run_single) score, C(Finished) and C(Exception in) lines) and keeps O(progress_file) up to date for
    M(openadapt.waa.progress_watch), with the recent task events and the totals.
  - Copies the results the client writes in the container (O(result_dir)) to O(results_dest) on the host as
    they appear (the task directory being worked on, about every O(copy_interval) seconds and at each task end;
    the run logs), and the whole O(result_dir) once more at the end, so that nothing written in the container is
    missed. The host copy keeps the container's layout and file times.
  - Resume works as in WAA - tasks that have a C(result.txt) are skipped by the client. Earlier results are kept
    unless O(clean_results) is true.
  - Designed to run with C(async) and C(poll=0), followed by M(openadapt.waa.progress_watch) with its C(ship_dir) set
    to O(results_dest), which brings the new result files to the controller in the same round trips.
  - Standard library only on the host; Docker is reached over its unix socket.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: In check mode the container and the task list are checked and the command is returned; nothing runs.
  diff_mode:
    support: none
    description: No diff is shown.
  idempotent:
    support: partial
    description: With the default resume behaviour, finished tasks are not run again; the remaining ones are.
options:
  container_name:
    description: Name of the running WAA container.
    type: str
    default: winarena
  client_dir:
    description: The client's directory in the container (the working directory of C(run.py)).
    type: str
    default: /client
  python:
    description: The Python interpreter in the container that runs C(run.py).
    type: str
    default: python
  task_list:
    description:
      - The task list in the container (a JSON object mapping each domain to its example ids), relative to
        O(client_dir) or absolute.
        WAA ships C(evaluation_examples_windows/test_all.json) (154 tasks) and C(test_small.json).
    type: str
    default: evaluation_examples_windows/test_all.json
  tasks:
    description:
      - Run only these tasks, each C(<domain>/<example id>), in the order of O(task_list). Every one must be in
        O(task_list).
    type: list
    elements: str
  num_tasks:
    description: Run only the first this many tasks of O(task_list) (after O(domain) and O(tasks)).
    type: int
  domain:
    description: Run only the tasks of this domain (V(all) for every domain).
    type: str
    default: all
  model:
    description: The model the agent uses (C(--model)); also a level of the results layout.
    type: str
    default: gpt-4o-mini
  agent:
    description: The agent (C(--agent_name)).
    type: str
    default: navi
  som_origin:
    description: Where the set-of-marks come from (C(--som_origin)).
    type: str
    default: oss
  a11y_backend:
    description: Accessibility backend (C(--a11y_backend)).
    type: str
    choices: [uia, win32]
    default: uia
  result_dir:
    description: The client's C(--result_dir) in the container (absolute).
    type: str
    default: /client/results
  clean_results:
    description:
      - Delete earlier results (in the container and in O(results_dest)) before the run. By default they are kept
        and finished tasks are skipped (resume); C(--clean-results false) is passed, as WAA's own default would
        wipe them.
    type: bool
    default: false
  trial_id:
    description: The client's C(--trial_id) (a level of the results layout).
    type: str
    default: '0'
  max_steps:
    description: The client's C(--max_steps) (steps per task). The client's default (15) when not set.
    type: int
  worker_id:
    description: This worker's id (C(--worker_id)) when the tasks are split over several workers.
    type: int
    default: 0
  num_workers:
    description: Number of workers the tasks are split over (C(--num_workers)).
    type: int
    default: 1
  extra_args:
    description: More arguments for C(run.py), appended as given (one list element per argument).
    type: list
    elements: str
    default: []
  env:
    description: Extra environment of the client process (for example C(OPENAI_API_KEY)). Never logged.
    type: dict
    default: {}
  env_file:
    description:
      - A private JSON file on the VM with more environment for the client (merged over O(env)), read and removed
        when the module starts.
      - For secrets of a background (C(async)) run, whose module arguments stay in a file on the VM for as long as
        the run lasts.
    type: path
  results_dest:
    description:
      - Host directory that mirrors O(result_dir) (absolute). Created (mode 0750) when missing.
    type: path
    default: /var/lib/openadapt-waa/results
  copy_interval:
    description: Seconds between copies of the running task's results from the container to O(results_dest).
    type: float
    default: 2
  progress_file:
    description: Absolute path of the JSON progress file (kind V(benchmark)) for M(openadapt.waa.progress_watch).
    type: path
  log_file:
    description: Host file the client's output (stdout and stderr, as printed) is appended to.
    type: path
  timeout:
    description:
      - Seconds the client may run; V(0) means no limit of its own. The client is stopped (C(timeout) in the
        container) when this or O(deadline_in) is reached.
    type: float
    default: 0
  deadline_in:
    description:
      - Seconds left until the overall run deadline. When it ends the run, RV(deadline_exceeded) is true and
        C(waa_exit_code) is 8.
    type: float
  events_window:
    description: Number of recent task events kept in the progress file.
    type: int
    default: 500
  stop:
    description:
      - Only stop the benchmark clients that run in the container (SIGTERM, then SIGKILL after a grace) and report
        them; start nothing. The C(waa) CLI does this when a C(waa run) is interrupted, so that no agent keeps acting
        on the desktop after its run gave the VM back.
    type: bool
    default: false
notes:
  - "Progress file (kind V(benchmark)): C(state) (V(running), V(done), V(failed)), C(status), C(total_tasks),
    C(tasks_started), C(tasks_completed), C(success_count), C(error_count), C(average_score), C(current),
    C(events) (the last O(events_window) events, each with a rising C(seq): C(task_start), C(task_step),
    C(task_end), C(benchmark)), C(event_seq), C(results_dir), C(result_root), C(ship_since), C(log_file) and, at
    the end, C(result)."
  - A step event's C(screenshot) is the screenshot's path relative to O(results_dest) once the file has been
    copied; C(settled) is true when nothing more will be known about the step.
  - A task is a success when its C(result.txt) holds 1 in any of the spellings Python writes (C(1), C(1.0),
    C(True)); the score is the C(Result) line of C(lib_run_single), never an evaluator's own C(Result:) lines or
    C(Reward).
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Start the benchmark (first 10 tasks, keep earlier results)
  openadapt.waa.waa_benchmark:
    container_name: winarena
    model: gpt-4o-mini
    num_tasks: 10
    results_dest: /var/lib/openadapt-waa/results
    progress_file: /var/lib/openadapt-waa/progress/benchmark.json
    log_file: /tmp/waa_benchmark.log
    env:
      OPENAI_API_KEY: "{{ lookup('ansible.builtin.env', 'OPENAI_API_KEY') }}"
  async: 86400
  poll: 0
  register: bench_job

- name: Follow it, shipping new result files to the controller on each round trip
  openadapt.waa.progress_watch:
    path: /var/lib/openadapt-waa/progress/benchmark.json
    job_id: "{{ bench_job.ansible_job_id }}"
    wait: 5
    ship_dir: /var/lib/openadapt-waa/results
  register: bench
  until: bench.finished
  retries: 17280
  delay: 0
"""

RETURN = r"""
stopped:
  description: With O(stop), the clients that ran (exec_id, pid, command) and were stopped.
  returned: when O(stop)
  type: list
  elements: dict
left:
  description: With O(stop), the clients still running after TERM and KILL (normally none).
  returned: when O(stop)
  type: list
  elements: dict
exit_code:
  description: The client's exit code; null when it did not run (check mode, early failure).
  returned: always
  type: int
argv:
  description: The command run in the container.
  returned: always
  type: list
  elements: str
total_tasks:
  description: Tasks this run had to do (this worker's share of the tasks not yet finished).
  returned: always
  type: int
tasks_in_list:
  description: Tasks selected from the task list (before resume and the worker split).
  returned: always
  type: int
tasks_completed:
  description: Tasks that ended (finished or raised) in this run.
  returned: always
  type: int
success_count:
  description: Finished tasks whose result.txt holds 1 (C(1), C(1.0), C(True)).
  returned: always
  type: int
error_count:
  description: Tasks that raised (C(Exception in ...)) or ended without a result.
  returned: always
  type: int
average_score:
  description: The client's C(Average score), else the mean score of the finished tasks; null when none finished.
  returned: always
  type: float
tasks:
  description: One entry per task of this run - C(domain), C(task_id), C(status) (V(finished), V(error),
    V(incomplete)), C(score), C(success), C(steps), C(error), C(duration), C(result_dir) (relative to RV(results_dir)).
  returned: always
  type: list
  elements: dict
results_dir:
  description: The host directory holding the copied results (O(results_dest)).
  returned: always
  type: str
result_root:
  description: The results of this model and trial, relative to RV(results_dir) (C(<action>/<observation>/<model>/<trial>)).
  returned: always
  type: str
log_file:
  description: The host log file of the client's output.
  returned: always
  type: str
deadline_exceeded:
  description:
    - Whether the overall run deadline (O(deadline_in)) stopped the client. A stop by O(timeout) alone fails with
      C(waa_exit_code) 8 and its own message, and leaves this false.
  returned: always
  type: bool
timed_out:
  description: Whether the client was stopped by O(timeout) or O(deadline_in).
  returned: always
  type: bool
waa_exit_code:
  description: On failure, the exit code of the openadapt.waa scheme (2 Docker, 4 container, 8 timeout, 9 client failure).
  returned: failure
  type: int
"""

import codecs
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    DockerConnectionError,
    DockerEngine,
    DockerError,
    DockerNotFound,
)
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, ProgressWriter
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    valid_task_ref, validate_abs_path, validate_cleanable_result_dir, validate_task_ref)
from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import WaaLogParser, parse_result

TICK = 0.25
IDLE_FLUSH = 0.3
LOG_COPY_EVERY = 10.0
KILL_GRACE = 15
SCREENSHOT_PREFIX = 'screenshot-step_'
TAIL_LINES = 30


class BenchmarkError(Exception):
    def __init__(self, message, code=9, fix=''):
        super(BenchmarkError, self).__init__(message)
        self.message = message
        self.code = code
        self.fix = fix


# -- copying results out of the container ---------------------------------------------------
def _safe_rel(name):
    """A tar member name as a relative POSIX path, or None when it is absolute or climbs out."""
    name = name.replace('\\', '/')
    if name.startswith('/') or '\0' in name:
        return None
    norm = posixpath.normpath(name)
    if norm in ('.', '') or norm.startswith('../') or norm == '..':
        return None
    return norm


_PATH_PART_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


def _inside(base, path):
    base = os.path.realpath(base)
    real = os.path.realpath(path)
    return real == base or real.startswith(base + os.sep)


def extract_tar(fileobj, dest, strip=1, dir_mode=0o750, file_mode=0o640):
    """Extract regular files and directories of a tar stream under ``dest``, dropping the first
    ``strip`` path components. Links, devices and names that would leave ``dest`` are skipped;
    a file whose size and mtime are unchanged is not rewritten. Returns (written, bytes)."""
    written = 0
    size = 0
    if not os.path.isdir(dest):
        os.makedirs(dest, dir_mode)
    with tarfile.open(fileobj=fileobj, mode='r|') as tar:
        for member in tar:
            rel = _safe_rel(member.name)
            if rel is None:
                continue
            parts = rel.split('/')[strip:]
            if not parts:
                continue
            target = os.path.join(dest, *parts)
            if not _inside(dest, os.path.dirname(target)) or os.path.islink(target):
                continue
            if member.isdir():
                if not os.path.isdir(target):
                    os.makedirs(target, dir_mode)
                continue
            if not member.isfile():
                continue
            parent = os.path.dirname(target)
            if not os.path.isdir(parent):
                os.makedirs(parent, dir_mode)
            if not _inside(dest, parent):
                continue
            try:
                st = os.lstat(target)
                if st.st_size == member.size and int(st.st_mtime) == int(member.mtime):
                    continue
            except OSError:
                pass
            source = tar.extractfile(member)
            fd, tmp = tempfile.mkstemp(prefix='.' + parts[-1][:40] + '.', suffix='.tmp', dir=parent)
            try:
                with os.fdopen(fd, 'wb') as handle:
                    os.fchmod(handle.fileno(), file_mode)
                    while True:
                        chunk = source.read(1024 * 1024)
                        if not chunk:
                            break
                        handle.write(chunk)
                os.utime(tmp, (member.mtime, member.mtime))
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            written += 1
            size += member.size
    return written, size


def copy_out(engine, container, path, dest, strip=1):
    """``docker cp container:path dest`` through the Engine API; (files written, bytes) or None when absent."""
    reader = engine.get_archive(container, path, timeout=120)
    if reader is None:
        return None
    with reader:
        return extract_tar(reader, dest, strip=strip)


def read_container_file(engine, container, path, limit=64 * 1024 * 1024):
    reader = engine.get_archive(container, path, timeout=60)
    if reader is None:
        return None
    with reader:
        with tarfile.open(fileobj=reader, mode='r|') as tar:
            for member in tar:
                if member.isfile():
                    if member.size > limit:
                        raise BenchmarkError('%s in the container is larger than %d bytes' % (path, limit))
                    return tar.extractfile(member).read()
    return None


def task_list_json(data):
    """Validate a task list: {domain: [ids]} (order kept)."""
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError('a task list is a JSON object {"<domain>": ["<example id>", ...]}')
    return data


def select_tasks(base, domain='all', tasks=None, num_tasks=None):
    """The tasks to run, in the list's order: [(domain, id), ...]."""
    # The task list is the container's file: entries that are no WAA task reference are left out.
    pairs = [(d, str(i)) for d, ids in base.items() for i in ids if valid_task_ref(d, str(i))]
    if domain and domain != 'all':
        if domain not in base:
            raise BenchmarkError('Domain %s is not in the task list (domains: %s).' % (domain, ', '.join(base)), 1,
                                 'Pass one of the listed domains, or all.')
        pairs = [p for p in pairs if p[0] == domain]
    if tasks:
        wanted = []
        for item in tasks:
            try:
                validate_task_ref(item)
            except ValueError as exc:
                raise BenchmarkError(str(exc), 1, 'Name tasks as <domain>/<example id>, e.g. notepad/<id>.')
            d, _sep, i = str(item).partition('/')
            wanted.append((d, i))
        missing = [w for w in wanted if w not in pairs]
        if missing:
            raise BenchmarkError('Tasks not in the task list: %s.' % ', '.join('%s/%s' % m for m in missing[:10]), 1,
                                 'Check the ids against the task list, or choose another task_list.')
        keep = set(wanted)
        pairs = [p for p in pairs if p in keep]
    if num_tasks is not None:
        if num_tasks < 1:
            raise BenchmarkError('num_tasks must be at least 1.', 1)
        pairs = pairs[:num_tasks]
    return pairs


def as_task_list(pairs):
    out = {}
    for d, i in pairs:
        out.setdefault(d, []).append(i)
    return out


def tar_one_file(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- the run ----------------------------------------------------------------------------------
class Run(object):
    """The state of one benchmark run: parsed events, copies, progress records."""

    def __init__(self, module, engine):
        self.module = module
        self.p = module.params
        self.engine = engine
        self.container = self.p['container_name']
        self.parser = WaaLogParser()
        self.events = []
        self.event_seq = 0
        self.tasks = []  # dicts in order of start
        self.task = None  # the running task dict
        self.started = time.time()
        self.start_mono = time.monotonic()
        self.status = 'starting'
        self.last_copy = 0.0
        self.last_log_copy = 0.0
        self.last_write = 0.0
        self.last_benchmark = None
        self.dirty = False  # the progress record changed
        self.copy_pending = False  # the client wrote output since the running task was last copied
        self.exit_code = None
        self.deadline_exceeded = False
        self.timed_out = False
        self.limit_is_deadline = False
        self.stderr_tail = []
        self.stdout_tail = []
        self.tasks_in_list = None
        self.argv = []
        self.root = None
        self.progress = None
        if self.p['progress_file'] and not module.check_mode:
            self.progress = ProgressWriter(self.p['progress_file'], 'benchmark', min_interval=0.5)
        self.log = None

    # -- layout ----------------------------------------------------------------------------
    def result_root(self):
        """<action_space>/<observation_type>/<model>/<trial_id>, from the client's Args line when seen."""
        args = self.parser.args or {}
        defaults = ['pyautogui', 'a11y_tree', self.p['model'], self.p['trial_id']]
        seen = [args.get('action_space'), args.get('observation_type'), args.get('model'), args.get('trial_id')]
        # The Args line is the client's output: a value that is no plain directory name is not used.
        parts = [str(v) if v is not None and _PATH_PART_RE.match(str(v)) and str(v) not in ('.', '..') else d
                 for v, d in zip(seen, defaults)]
        return '/'.join(parts)

    def container_path(self, *parts):
        return posixpath.join(self.p['result_dir'], *parts)

    def host_path(self, *parts):
        return os.path.join(self.p['results_dest'], *parts)

    # -- events ----------------------------------------------------------------------------
    def add_event(self, kind, **fields):
        self.event_seq += 1
        event = {'seq': self.event_seq, 'type': kind, 'ts': time.time()}
        event.update(fields)
        self.events.append(event)
        del self.events[:-self.p['events_window']]
        self.dirty = True
        return event

    def summary(self):
        ended = [t for t in self.tasks if t.get('status')]
        finished = [t for t in ended if t['status'] == 'finished']
        scores = [t['score'] for t in finished if t.get('score') is not None]
        average = self.parser.average_score
        if average is None and scores:
            average = round(sum(scores) / len(scores), 4)
        return {
            'total_tasks': self.parser.total,
            'tasks_in_list': self.tasks_in_list,
            'already_done': (self.tasks_in_list - self.parser.total
                             if self.tasks_in_list is not None and self.parser.total is not None
                             and self.p['num_workers'] == 1 else None),
            'tasks_started': len(self.tasks),
            'tasks_completed': len(ended),
            'success_count': sum(1 for t in finished if t.get('success')),
            'error_count': sum(1 for t in ended if t['status'] != 'finished'),
            'average_score': average,
        }

    def benchmark_event(self):
        summary = self.summary()
        fields = dict((k, summary[k]) for k in ('total_tasks', 'tasks_in_list', 'already_done', 'success_count',
                                                'error_count', 'average_score'))
        fields['status'] = self.status
        if fields != self.last_benchmark:
            self.last_benchmark = fields
            self.add_event('benchmark', **fields)

    def on_parsed(self, event):
        kind = event['type']
        if kind in ('left', 'worker'):
            self.status = 'running'
            self.benchmark_event()
        elif kind == 'args':
            self.root = self.result_root()
        elif kind == 'task_start':
            self.finish_steps(self.task)
            task = {'domain': event['domain'], 'task_id': event['task_id'], 'instruction': event['instruction'],
                    'index': len(self.tasks) + 1, 'started': time.time(), 'steps': 0, 'status': None,
                    'score': None, 'success': None, 'error': None, 'step_events': []}
            self.tasks.append(task)
            self.task = task
            self.status = 'running'
            self.add_event('task_start', domain=task['domain'], task_id=task['task_id'],
                           instruction=task['instruction'], index=task['index'], total=self.parser.total,
                           result_dir=self.task_rel(task))
        elif kind == 'step' and self.task is not None:
            self.task['steps'] += 1
            ev = self.add_event('task_step', domain=self.task['domain'], task_id=self.task['task_id'],
                                step_idx=event['step_idx'], action=event['action'], screenshot=None, settled=False)
            self.task['step_events'].append(ev)
        elif kind == 'task_end':
            task = self.task if self.task is not None and self.task['task_id'] == event['task_id'] else None
            if task is None:  # an end without a start we saw
                task = {'domain': event['domain'], 'task_id': event['task_id'], 'instruction': None,
                        'index': len(self.tasks) + 1, 'started': time.time(), 'steps': event.get('steps') or 0,
                        'step_events': []}
                self.tasks.append(task)
            self.task = None
            self.copy_task(task, force=True)
            task['status'] = event['status']
            task['score'] = event.get('score')
            task['error'] = event.get('error')
            task['duration'] = round(time.time() - task['started'], 2)
            task['success'] = self.task_success(task)
            self.finish_steps(task)
            self.add_event('task_end', domain=task['domain'], task_id=task['task_id'], index=task['index'],
                           total=self.parser.total, status=task['status'], score=task['score'],
                           success=task['success'], error=task['error'], steps=task['steps'],
                           duration=task['duration'], result_dir=self.task_rel(task),
                           result_file=self.result_file_rel(task))
            self.benchmark_event()
        elif kind == 'run_end':
            self.status = 'finishing'
        elif kind == 'refused_task_ref':
            self.module.warn(event['message'])
            self.add_event('warning', message=event['message'])

    def task_rel(self, task):
        """<result root>/<domain>/<id>, or None unless both have WAA's shape."""
        if not valid_task_ref(task.get('domain'), task.get('task_id')):
            return None
        return '/'.join([self.root or self.result_root(), task['domain'], task['task_id']])

    def result_file_rel(self, task):
        rel = self.task_rel(task)
        if rel and os.path.isfile(self.host_path(*(rel + '/result.txt').split('/'))):
            return rel + '/result.txt'
        return None

    def task_success(self, task):
        if task['status'] != 'finished':
            return False
        rel = self.task_rel(task)
        if rel:
            try:
                with open(self.host_path(*(rel + '/result.txt').split('/'))) as handle:
                    score, success = parse_result(handle.read(100))
                if success is not None:
                    if task.get('score') is None:
                        task['score'] = score
                    return success
            except (IOError, OSError):
                pass
        return task.get('score') is not None and task['score'] >= 1.0

    # -- copies ----------------------------------------------------------------------------
    def copy_task(self, task, force=False):
        rel = self.task_rel(task) if task else None
        now = time.monotonic()
        if not rel or (not force and now - self.last_copy < self.p['copy_interval']):
            return
        self.last_copy = now
        self.copy_pending = False
        parts = rel.split('/')
        if not _inside(self.p['results_dest'], self.host_path(*parts)):
            self.module.warn('Refused to copy %s: it would leave %s.' % (rel, self.p['results_dest']))
            return
        try:
            copy_out(self.engine, self.container, self.container_path(*parts), self.host_path(*parts[:-1]), strip=0)
        except (DockerError, tarfile.TarError, OSError) as exc:
            self.module.warn('Copying %s from the container failed (the final copy retries): %s' % (rel, exc))
        self.resolve_screenshots(task)

    def copy_logs(self, force=False):
        now = time.monotonic()
        if not force and now - self.last_log_copy < LOG_COPY_EVERY:
            return
        self.last_log_copy = now
        try:
            copy_out(self.engine, self.container, self.container_path('logs'), self.host_path(), strip=0)
        except (DockerError, tarfile.TarError, OSError) as exc:
            self.module.warn('Copying the run logs from the container failed: %s' % exc)

    def resolve_screenshots(self, task):
        """Point the task's step events at their screenshots in the host copy."""
        pending = [e for e in task.get('step_events', []) if not e.get('screenshot')]
        rel = self.task_rel(task)
        if not pending or not rel:
            return
        directory = self.host_path(*rel.split('/'))
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        by_index = {}
        for name in names:
            if name.startswith(SCREENSHOT_PREFIX) and name.endswith('.png'):
                index = name[len(SCREENSHOT_PREFIX):].split('_', 1)[0]
                by_index[index] = name  # the last one of a step with several actions
        for event in pending:
            name = by_index.get(str(event['step_idx'] - 1))
            if name:
                event['screenshot'] = rel + '/' + name
                event['settled'] = True
                self.dirty = True

    def finish_steps(self, task):
        if not task:
            return
        self.resolve_screenshots(task)
        for event in task.get('step_events', []):
            if not event.get('settled'):
                event['settled'] = True
                self.dirty = True

    # -- progress --------------------------------------------------------------------------
    def record(self):
        current = None
        if self.task is not None:
            current = {k: self.task.get(k) for k in ('domain', 'task_id', 'index', 'instruction', 'steps')}
        rec = dict(self.summary())
        rec.update({
            'status': self.status, 'current': current, 'events': self.events, 'event_seq': self.event_seq,
            'results_dir': self.p['results_dest'], 'result_root': self.root or self.result_root(),
            'ship_since': self.started - 2.0, 'log_file': self.p['log_file'],
            'elapsed': round(time.monotonic() - self.start_mono, 1), 'container_name': self.container,
        })
        return rec

    def write_progress(self, force=False):
        """Rewrite the progress file when something changed (at most every 0.5 s), else every 5 s."""
        if self.progress is None:
            return
        now = time.monotonic()
        if not (force or self.dirty or now - self.last_write >= 5.0):
            return
        if self.progress.update(self.record(), force=force):
            self.dirty = False
            self.last_write = now

    def result(self):
        out = dict(self.summary())
        out.update({
            'exit_code': self.exit_code, 'argv': self.argv, 'results_dir': self.p['results_dest'],
            'result_root': self.root or self.result_root(), 'log_file': self.p['log_file'],
            'deadline_exceeded': self.deadline_exceeded, 'timed_out': self.timed_out,
            'duration': round(time.monotonic() - self.start_mono, 1),
            'tasks': [{k: t.get(k) for k in ('domain', 'task_id', 'index', 'status', 'score', 'success', 'steps',
                                             'error', 'duration')} for t in self.tasks],
        })
        for entry, task in zip(out['tasks'], self.tasks):
            entry['result_dir'] = self.task_rel(task)
        return out

    # -- log -------------------------------------------------------------------------------
    def open_log(self):
        path = self.p['log_file']
        if not path:
            return
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, 0o700)
        try:
            # O_NOFOLLOW: a link planted at the path (in /tmp, by anyone) is refused, not followed.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                raise BenchmarkError('%s is a symbolic link: refusing to write the log through it.' % path, 1,
                                     'Remove the link or choose another log_file.')
            raise
        self.log = os.fdopen(fd, 'ab')
        header = '\n=== openadapt.waa benchmark %s: %s ===\n' % (
            time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), ' '.join(self.argv))
        self.log.write(header.encode('utf-8'))
        self.log.flush()

    def log_write(self, data):
        if self.log is not None:
            self.log.write(data)
            self.log.flush()


def build_argv(p, test_all_meta_path, limit):
    argv = []
    if limit is not None:
        # coreutils timeout in the container: TERM at the limit, KILL KILL_GRACE s later.
        argv += ['timeout', '-k', str(KILL_GRACE), '%ds' % max(1, int(limit))]
    argv += [p['python'], '-u', 'run.py', '--agent_name', p['agent'], '--model', p['model'],
             '--som_origin', p['som_origin'], '--a11y_backend', p['a11y_backend'],
             '--result_dir', p['result_dir'], '--test_all_meta_path', test_all_meta_path,
             '--trial_id', p['trial_id'], '--worker_id', str(p['worker_id']), '--num_workers', str(p['num_workers']),
             '--clean-results', 'true' if p['clean_results'] else 'false']
    if p['max_steps'] is not None:
        argv += ['--max_steps', str(p['max_steps'])]
    argv += [str(a) for a in p['extra_args']]
    return argv


def running_clients(engine, info):
    """The benchmark clients (``run.py`` exec sessions) running in the container: [{'exec_id', 'pid', 'command'}]."""
    clients = []
    for exec_id in info.get('ExecIDs') or []:
        try:
            state = engine.exec_inspect(exec_id, timeout=10)
        except DockerError:
            continue
        config = state.get('ProcessConfig') or {}
        words = [str(config.get('entrypoint') or '')] + [str(a) for a in config.get('arguments') or []]
        if state.get('Running') and 'run.py' in words:
            clients.append({'exec_id': exec_id[:12], 'pid': state.get('Pid'), 'command': ' '.join(words)[:300]})
    return clients


# Run in the container by its Python: TERM every process whose command line runs run.py (the
# client, and the coreutils timeout around it), then KILL what is left after the grace.
_STOP_CODE = r"""
import os, signal, sys, time
me = os.getpid()
def clients():
    out = []
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != me:
            try:
                words = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
            except OSError:
                continue
            if b'run.py' in words:
                out.append(int(pid))
    return out
for sig, wait in ((signal.SIGTERM, float(sys.argv[1])), (signal.SIGKILL, 2.0)):
    for pid in clients():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.time() + wait
    while clients() and time.time() < end:
        time.sleep(0.2)
print(len(clients()))
"""


def stop_clients(engine, run, p):
    """Stop the running clients; returns (stopped, left) lists of what running_clients saw."""
    info = engine.container_inspect(run.container)
    if info is None or not (info.get('State') or {}).get('Running'):
        return [], []
    before = running_clients(engine, info)
    if not before:
        return [], []
    exec_id = engine.exec_create(run.container, [p['python'], '-c', _STOP_CODE, str(KILL_GRACE)])
    for _frame in engine.exec_start(exec_id, tick=1.0, connect_timeout=60):
        pass
    left = running_clients(engine, engine.container_inspect(run.container) or {})
    return before, left


def run_module(module, run):
    p = module.params
    engine = run.engine

    # Container and task list.
    try:
        info = engine.container_inspect(run.container)
    except DockerConnectionError as exc:
        raise BenchmarkError('Cannot reach the Docker daemon: %s' % exc.message, 2,
                             'Start Docker on the VM (waa vm-setup does), then run again.')
    if info is None:
        raise BenchmarkError('Container %s does not exist.' % run.container, 4,
                             'Run waa vm-setup first (or pass the right container name).')
    if not (info.get('State') or {}).get('Running'):
        raise BenchmarkError('Container %s is not running (%s).' % (run.container, (info.get('State') or {}).get('Status')), 4,
                             'Start it with waa vm-setup (or docker start %s) and wait for the server.' % run.container)

    # One agent at a time on the desktop: a client that still runs (a run of another controller,
    # or one whose controller died) is named, not joined.
    others = running_clients(engine, info)
    if others:
        raise BenchmarkError('A benchmark client already runs in container %s (exec %s, pid %s: %s).' % (
            run.container, others[0]['exec_id'], others[0]['pid'], others[0]['command']), 1,
            'Wait for that run to end, or stop it: docker exec %s pkill -f run.py (or interrupt the waa run that '
            'started it).' % run.container)

    list_path = p['task_list'] if p['task_list'].startswith('/') else posixpath.join(p['client_dir'], p['task_list'])
    raw = read_container_file(engine, run.container, list_path)
    if raw is None:
        raise BenchmarkError('The task list %s does not exist in container %s.' % (list_path, run.container), 1,
                             'Pass a task list that exists in the container, e.g. evaluation_examples_windows/test_all.json.')
    try:
        base = task_list_json(json.loads(raw.decode('utf-8')))
    except ValueError as exc:
        raise BenchmarkError('The task list %s is not valid: %s' % (list_path, exc), 1)
    pairs = select_tasks(base, p['domain'], p['tasks'], p['num_tasks'])
    run.tasks_in_list = len(pairs)
    selection = as_task_list(pairs)
    meta_path = p['task_list']
    custom = None
    if selection != base:
        data = (json.dumps(selection, indent=2) + '\n').encode('utf-8')
        name = 'openadapt-waa-%s.json' % hashlib.sha256(data).hexdigest()[:12]
        custom = (posixpath.dirname(list_path), name, data)
        meta_path = posixpath.join(posixpath.dirname(list_path), name)

    # Time limit: the smaller of timeout and the run deadline.
    limit = p['timeout'] if p['timeout'] and p['timeout'] > 0 else None
    if p['deadline_in'] is not None:
        if p['deadline_in'] <= 0:
            run.deadline_exceeded = True
            raise BenchmarkError('The overall deadline has passed before the benchmark started.', 8,
                                 'Increase --timeout.')
        run.limit_is_deadline = limit is None or p['deadline_in'] <= limit
        limit = p['deadline_in'] if limit is None else min(limit, p['deadline_in'])
    run.argv = build_argv(p, meta_path, limit)

    if module.check_mode:
        result = run.result()
        result.update(changed=True, msg='Would run %d task(s) of %s in %s.' % (len(pairs), p['task_list'], run.container))
        return result

    if not os.path.isdir(p['results_dest']):
        os.makedirs(p['results_dest'], 0o750)
    if p['clean_results']:
        clean(engine, run, p)
    if custom is not None:
        engine.put_archive(run.container, custom[0], tar_one_file(custom[1], custom[2]), timeout=60)
    run.open_log()
    run.write_progress(force=True)

    exec_id = engine.exec_create(run.container, run.argv, workdir=p['client_dir'], env=p['env'] or None)
    decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
    err_decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
    hard_stop = time.monotonic() + limit + KILL_GRACE + 30 if limit is not None else None
    last_data = time.monotonic()
    pending_idle = False
    stream = engine.exec_start(exec_id, tick=TICK, connect_timeout=60)
    try:
        for frame in stream:
            now = time.monotonic()
            events = []
            if frame is None:
                if pending_idle and now - last_data >= IDLE_FLUSH:
                    events = run.parser.idle()
                    pending_idle = False
            else:
                which, data = frame
                last_data = now
                run.log_write(data)
                if which == 2:
                    _tail(run.stderr_tail, err_decoder.decode(data))
                else:
                    text = decoder.decode(data)
                    _tail(run.stdout_tail, text)
                    events = run.parser.feed(text)
                    pending_idle = True
                    run.copy_pending = True
            for event in events:
                run.on_parsed(event)
            if run.task is not None and run.copy_pending:
                run.copy_task(run.task)
            run.copy_logs()
            run.write_progress()
            if hard_stop is not None and now > hard_stop:
                run.timed_out = True
                break
    finally:
        stream.close()

    for event in run.parser.feed(decoder.decode(b'', final=True)) + run.parser.close():
        run.on_parsed(event)
    run.exit_code = wait_exit(engine, exec_id)
    if limit is not None and run.exit_code in (124, 137) and time.monotonic() - run.start_mono >= limit - 1:
        run.timed_out = True
    run.deadline_exceeded = run.timed_out and run.limit_is_deadline

    # Final sync: the whole result directory, then success from the copied result.txt files.
    run.status = 'syncing'
    run.write_progress(force=True)
    try:
        copy_out(engine, run.container, p['result_dir'], p['results_dest'])
    except (DockerError, tarfile.TarError, OSError) as exc:
        module.warn('The final copy of %s from the container failed: %s' % (p['result_dir'], exc))
    for task in run.tasks:
        run.finish_steps(task)
        if task.get('status') == 'finished':
            task['success'] = run.task_success(task)
    failed = run.timed_out or run.exit_code != 0
    run.status = 'failed' if failed else 'complete'
    run.benchmark_event()
    result = run.result()
    result['changed'] = True
    s = run.summary()
    score = '' if s['average_score'] is None else ', average score %.2f' % s['average_score']
    done = '%d of %d task(s) ended: %d succeeded, %d failed, %d error(s)%s' % (
        s['tasks_completed'], s['total_tasks'] or 0, s['success_count'],
        s['tasks_completed'] - s['success_count'] - s['error_count'], s['error_count'], score)
    if s['already_done']:
        done += '; %d already done earlier (kept)' % s['already_done']
    if run.timed_out:
        what = 'the run deadline' if run.deadline_exceeded else 'its time limit'
        result.update(failed=True, waa_exit_code=8, fix='Increase --timeout, or run again: finished tasks are kept and skipped.',
                      msg='Benchmark stopped at %s (%ss): %s.' % (what, int(limit or 0), done))
    elif run.exit_code != 0:
        tail = ' | '.join((run.stderr_tail or run.stdout_tail)[-5:])
        result.update(failed=True, waa_exit_code=9,
                      fix='See the client output in %s on the VM.' % (p['log_file'] or 'the log file'),
                      msg='The benchmark client exited with %s: %s. Last output: %s' % (run.exit_code, done, tail[-800:]))
    else:
        result['msg'] = 'Benchmark complete: %s.' % done
    if run.progress is not None:
        run.progress.final(dict(run.record(), result=result, message=result['msg']), failed=bool(result.get('failed')))
    if run.log is not None:
        run.log.close()
    return result


def _tail(lines, text):
    for line in text.splitlines():
        line = line.strip()
        if line:
            lines.append(line[:300])
    del lines[:-TAIL_LINES]


def wait_exit(engine, exec_id, timeout=30):
    end = time.monotonic() + timeout
    while True:
        try:
            info = engine.exec_inspect(exec_id, timeout=10)
        except DockerError:
            return None
        if not info.get('Running') or time.monotonic() > end:
            return info.get('ExitCode')
        time.sleep(0.2)


def clean(engine, run, p):
    """Empty the result directory in the container and its copy on the host. Both are checked
    before anything is removed: a refusal leaves everything as it was."""
    info = engine.container_inspect(run.container) or {}
    mounts = [m.get('Destination') for m in info.get('Mounts') or [] if m.get('Destination')]
    try:
        result_dir = validate_cleanable_result_dir(p['result_dir'], mounts)
        if result_dir == (p['client_dir'].rstrip('/') or '/'):
            raise ValueError('Refusing to clean %s: it is the benchmark client itself.' % result_dir)
    except ValueError as exc:
        raise BenchmarkError(str(exc), 1, 'Pass --result-dir /client/results (or a directory of its own under it).')
    dest = os.path.realpath(p['results_dest'])
    if dest.count('/') < 2 or dest in ('/root', '/home', '/tmp', '/var', '/etc', '/usr'):
        raise BenchmarkError('Refusing to clean results_dest %s.' % p['results_dest'], 1,
                             'Use a directory of its own for results, e.g. /var/lib/openadapt-waa/results.')
    # A directory the container mounts (its /client/results on the VM, say) is never removed
    # from under it, even when it lies in results_dest.
    sources = set(os.path.realpath(m['Source']) for m in info.get('Mounts') or [] if m.get('Source'))
    exec_id = engine.exec_create(run.container, ['find', result_dir, '-mindepth', '1', '-delete'])
    for _frame in engine.exec_start(exec_id, tick=1.0, connect_timeout=60):
        pass
    for name in os.listdir(dest):
        path = os.path.join(dest, name)
        real = os.path.realpath(path)
        if any(src == real or src.startswith(real + '/') for src in sources):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def read_env_file(path, keep=False):
    """The JSON object in ``path`` (a private file: not a symlink, not readable by others), then
    removed unless ``keep`` (check mode)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    try:
        if os.fstat(fd).st_mode & 0o077:
            raise ValueError('env_file %s must be private (mode 0600)' % path)
        data = os.read(fd, 1024 * 1024)
    finally:
        os.close(fd)
    if not keep:
        os.unlink(path)
    try:
        env = json.loads(data.decode('utf-8'))
    except ValueError:
        raise ValueError('env_file %s is not a JSON object' % path)
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError('env_file %s must hold a JSON object of strings' % path)
    return env


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_name=dict(type='str', default='winarena'),
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
            client_dir=dict(type='str', default='/client'),
            python=dict(type='str', default='python'),
            task_list=dict(type='str', default='evaluation_examples_windows/test_all.json'),
            tasks=dict(type='list', elements='str'),
            num_tasks=dict(type='int'),
            domain=dict(type='str', default='all'),
            model=dict(type='str', default='gpt-4o-mini'),
            agent=dict(type='str', default='navi'),
            som_origin=dict(type='str', default='oss'),
            a11y_backend=dict(type='str', default='uia', choices=['uia', 'win32']),
            result_dir=dict(type='str', default='/client/results'),
            clean_results=dict(type='bool', default=False),
            trial_id=dict(type='str', default='0'),
            max_steps=dict(type='int'),
            worker_id=dict(type='int', default=0),
            num_workers=dict(type='int', default=1),
            extra_args=dict(type='list', elements='str', default=[]),
            env=dict(type='dict', default={}, no_log=True),
            env_file=dict(type='path'),
            results_dest=dict(type='path', default='/var/lib/openadapt-waa/results'),
            copy_interval=dict(type='float', default=2.0),
            progress_file=dict(type='path'),
            log_file=dict(type='path'),
            timeout=dict(type='float', default=0),
            deadline_in=dict(type='float'),
            events_window=dict(type='int', default=500),
            stop=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    run = None
    try:
        for key in ('results_dest', 'progress_file', 'log_file'):
            if p[key]:
                validate_abs_path(p[key], key)
        for key in ('result_dir', 'client_dir'):
            if not p[key].startswith('/') or '\0' in p[key] or '..' in p[key].split('/'):
                raise ValueError('%s must be an absolute path in the container without "..", got %r' % (key, p[key]))
        for key in ('model', 'agent', 'som_origin', 'trial_id', 'domain', 'python', 'task_list'):
            if not p[key] or '\0' in p[key] or '\n' in p[key]:
                raise ValueError('%s must be a non-empty single-line string' % key)
        if '/' in p['model'] or p['model'] in ('.', '..') or '/' in p['trial_id'] or p['trial_id'] in ('.', '..'):
            raise ValueError('model and trial_id name directories of the results layout: no "/", "." or ".."')
        if p['num_workers'] < 1 or not 0 <= p['worker_id'] < p['num_workers']:
            raise ValueError('worker_id must be between 0 and num_workers - 1 (num_workers >= 1)')
        if p['copy_interval'] < 0.2:
            raise ValueError('copy_interval must be at least 0.2 seconds')
        if p['events_window'] < 10:
            raise ValueError('events_window must be at least 10')
        if p['env_file']:
            secret_env = read_env_file(p['env_file'], module.check_mode)
            module.no_log_values.update(v for v in secret_env.values() if v)  # masked in every result
            p['env'] = dict(p['env'] or {}, **secret_env)
        if p['env'] and not all(isinstance(k, str) and k and '=' not in k for k in p['env']):
            raise ValueError('env keys must be non-empty names without "="')
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)
    try:
        run = Run(module, DockerEngine(p['docker_host'], timeout=60))
        if p['stop']:
            if module.check_mode:
                module.exit_json(changed=False, stopped=[], left=[])
            stopped, left = stop_clients(run.engine, run, p)
            module.exit_json(changed=bool(stopped), stopped=stopped, left=left,
                             msg='Stopped %d benchmark client(s)' % len(stopped) if stopped else 'No benchmark client ran')
        result = run_module(module, run)
    except (BenchmarkError, DockerError, ProgressFileError, IOError, OSError) as exc:
        if isinstance(exc, BenchmarkError):
            code, fix, msg = exc.code, exc.fix, exc.message
        elif isinstance(exc, DockerConnectionError):
            code, fix, msg = 2, 'Check that Docker runs on the VM.', 'Docker daemon: %s' % exc
        elif isinstance(exc, DockerNotFound):
            code, fix, msg = 4, 'Run waa vm-setup first.', 'Container %s: %s' % (p['container_name'], exc)
        elif isinstance(exc, DockerError):
            code, fix, msg = 9, 'Check the container (docker logs %s).' % p['container_name'], 'Docker: %s' % exc
        else:
            code, fix, msg = 1, 'Choose writable paths on the VM.', str(exc)
        out = dict(msg=msg, fix=fix, waa_exit_code=code, changed=False, deadline_exceeded=code == 8)
        if run is not None:
            out.update({k: v for k, v in run.result().items() if k not in out})
            out['changed'] = run.exit_code is not None
            if run.progress is not None:
                run.status = 'failed'
                try:
                    run.progress.final(dict(run.record(), message=msg, result=dict(out, failed=True)), failed=True)
                except (ProgressFileError, IOError, OSError):
                    pass
        module.fail_json(**out)
    if result.get('failed'):
        result.pop('failed')
        msg = result.pop('msg')
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
