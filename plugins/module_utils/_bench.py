# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark run behind waa_benchmark: WAA's client started through docker exec, its log parsed
live into task events, results copied out as they appear, and the progress file a watcher long-polls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import posixpath
import tarfile
import time

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    DockerError,
)
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressWriter
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    valid_task_ref)
from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import WaaLogParser, parse_result
from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import (
    BenchmarkError,
    PATH_PART_RE,
    inside,
    copy_out,
)


TICK = 0.25
IDLE_FLUSH = 0.3
LOG_COPY_EVERY = 10.0
KILL_GRACE = 15
SCREENSHOT_PREFIX = 'screenshot-step_'
TAIL_LINES = 30


# -- the run ----------------------------------------------------------------------------------
class Run(object):
    """The state of one benchmark run: parsed events, copies, progress records."""

    def __init__(self, p, engine, check_mode=False, warn=None):
        self.warn = warn or (lambda msg: None)
        self.p = p
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
        self.sample = None  # {'seed', 'tasks'} when num_tasks sampled the list
        self.share = None  # {'index', 'count', 'of', 'domains'} when a fleet splits the tasks
        # The tasks selected before a fleet's split, sent once: the controller finds a failed host's tasks in it.
        self.selection = None
        # --max-cost: when this host's share is spent (monotonic), and whether the client was stopped for it.
        seconds = (p.get('budget') or {}).get('seconds')
        self.budget_at = self.start_mono + seconds if seconds is not None else None
        self.budget_stopped = False
        # --reset-between-tasks: one client per task, so no client's "Left tasks" is the run's total.
        self.total_override = None
        self.last_reset = None  # seconds the reset before the running task took
        self.argv = []
        self.root = None
        self.progress = None
        if self.p['progress_file'] and not check_mode:
            self.progress = ProgressWriter(self.p['progress_file'], 'benchmark', min_interval=0.5)
        self.log = None

    @property
    def total(self):
        """The tasks this run does: the client's own count, or the isolated run's."""
        return self.total_override if self.total_override is not None else self.parser.total

    # -- layout ----------------------------------------------------------------------------
    def result_root(self):
        """<action_space>/<observation_type>/<model>/<trial_id>, from the client's Args line when seen."""
        args = self.parser.args or {}
        defaults = ['pyautogui', 'a11y_tree', self.p['model'], self.p['trial_id']]
        seen = [args.get('action_space'), args.get('observation_type'), args.get('model'), args.get('trial_id')]
        # The Args line is the client's output: a value that is no plain directory name is not used.
        parts = [str(v) if v is not None and PATH_PART_RE.match(str(v)) and str(v) not in ('.', '..') else d
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
        ended = [t for t in self.tasks if t.get('status') and t['status'] != 'not_run']
        finished = [t for t in ended if t['status'] == 'finished']
        # From result.txt alone (task_success): the client's "Average score:" line is not read.
        scores = [t['score'] for t in finished if t.get('score') is not None]
        average = round(sum(scores) / len(scores), 4) if scores else None
        return {
            'total_tasks': self.total,
            'tasks_in_list': self.tasks_in_list,
            'already_done': (self.tasks_in_list - self.total
                             if self.tasks_in_list is not None and self.total is not None
                             and self.p['num_workers'] == 1 else None),
            'tasks_started': len(self.tasks),
            'tasks_completed': len(ended),
            'success_count': sum(1 for t in finished if t.get('success')),
            'error_count': sum(1 for t in ended if t['status'] != 'finished'),
            'average_score': average,
            'budget_stopped': self.budget_stopped,
        }

    def next_task_past_budget(self, now):
        """True when a task begun ``now`` would end past the budget, at the mean duration of the tasks so far."""
        if self.budget_at is None:
            return False
        durations = [t['duration'] for t in self.tasks if t.get('duration') is not None]
        return now + (sum(durations) / len(durations) if durations else 0.0) > self.budget_at

    def benchmark_event(self):
        summary = self.summary()
        fields = dict((k, summary[k]) for k in ('total_tasks', 'tasks_in_list', 'already_done', 'success_count',
                                                'error_count', 'average_score'))
        fields['status'] = self.status
        if self.budget_stopped:
            fields['budget_stopped'] = True
        fields.update((k, v) for k, v in (('sample', self.sample), ('share', self.share)) if v is not None)
        if fields != self.last_benchmark:
            self.last_benchmark = fields
            if self.selection is not None:
                fields = dict(fields, selection=self.selection)
                self.selection = None
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
                           instruction=task['instruction'], index=task['index'], total=self.total,
                           result_dir=self.task_rel(task), reset_seconds=self.last_reset)
        elif kind == 'step' and self.task is not None:
            self.task['steps'] += 1
            ev = self.add_event('task_step', domain=self.task['domain'], task_id=self.task['task_id'],
                                step_idx=event['step_idx'], action=event['action'], screenshot=None, settled=False)
            self.task['step_events'].append(ev)
        elif kind == 'task_end':
            if self.budget_stopped and event['status'] != 'finished':  # begun as the client was stopped
                event = dict(event, status='not_run', error='not run: the host\'s share of --max-cost was spent')
            task = self.task if self.task is not None and self.task['task_id'] == event['task_id'] else None
            if task is None:  # an end without a start we saw
                task = {'domain': event['domain'], 'task_id': event['task_id'], 'instruction': None,
                        'index': len(self.tasks) + 1, 'started': time.time(), 'steps': event.get('steps') or 0,
                        'step_events': []}
                self.tasks.append(task)
            self.task = None
            self.copy_task(task, force=True)
            task['status'] = event['status']
            task['error'] = event.get('error')
            task['duration'] = round(time.time() - task['started'], 2)
            task['success'] = self.task_success(task)
            self.finish_steps(task)
            self.add_event('task_end', domain=task['domain'], task_id=task['task_id'], index=task['index'],
                           total=self.total, status=task['status'], score=task['score'],
                           success=task['success'], error=task['error'], steps=task['steps'],
                           duration=task['duration'], result_dir=self.task_rel(task),
                           result_file=self.result_file_rel(task))
            self.benchmark_event()
        elif kind == 'run_end':
            self.status = 'finishing'
        elif kind == 'refused_task_ref':
            self.warn(event['message'])
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
        """Whether a task succeeded, setting its score: both from its copied result.txt alone (the
        log's ``Result:`` lines can be echoed by model output); no result.txt, no score."""
        task['score'] = None
        rel = self.task_rel(task)
        if task['status'] != 'finished' or not rel:
            return False
        try:
            with open(self.host_path(*(rel + '/result.txt').split('/'))) as handle:
                task['score'], success = parse_result(handle.read(100))
        except (IOError, OSError):
            return False
        return bool(success)

    # -- copies ----------------------------------------------------------------------------
    def copy_task(self, task, force=False):
        rel = self.task_rel(task) if task else None
        now = time.monotonic()
        if not rel or (not force and now - self.last_copy < self.p['copy_interval']):
            return
        self.last_copy = now
        self.copy_pending = False
        parts = rel.split('/')
        if not inside(self.p['results_dest'], self.host_path(*parts)):
            self.warn('Refused to copy %s: it would leave %s.' % (rel, self.p['results_dest']))
            return
        try:
            copy_out(self.engine, self.container, self.container_path(*parts), self.host_path(*parts[:-1]), strip=0)
        except (DockerError, tarfile.TarError, OSError) as exc:
            self.warn('Copying %s from the container failed (the final copy retries): %s' % (rel, exc))
        self.resolve_screenshots(task)

    def copy_logs(self, force=False):
        now = time.monotonic()
        if not force and now - self.last_log_copy < LOG_COPY_EVERY:
            return
        self.last_log_copy = now
        try:
            copy_out(self.engine, self.container, self.container_path('logs'), self.host_path(), strip=0)
        except (DockerError, tarfile.TarError, OSError) as exc:
            self.warn('Copying the run logs from the container failed: %s' % exc)

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
            'duration': round(time.monotonic() - self.start_mono, 1), 'share': self.share, 'sample': self.sample,
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
