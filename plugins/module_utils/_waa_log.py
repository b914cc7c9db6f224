# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the WAA benchmark client's stdout into task events (standard library, Python 3.8+).

The client (``/client/run.py``) logs through the ``desktopenv.*`` loggers with this format,
ANSI colour codes included::

    \\x1b[1;33m[2026-01-01 12:00:00,023 \\x1b[31mINFO \\x1b[32mlib_run_single/84-MainProcess\\x1b[1;33m] \\x1b[0mResult: 1.00

A log record can span several lines: ``Left tasks:`` is followed by unprefixed ``<domain>: <n>``
lines, a ``Step <n>:`` action is often multi-line Python, ``TESTING ON TASK CONFIG PATH`` comes
on the line after an empty prefixed one, and an ERROR record carries a traceback. So a record is
a prefixed line plus every unprefixed line up to the next prefixed line; it is complete when
that next line arrives, at the end of the stream, or when the caller says the stream has been
idle (a record is written with one ``write``, so an idle pipe means it is complete).

What counts (the known mistakes of other monitors are avoided on purpose):
- the task's score is ``Result: <d.dd>`` logged by module ``lib_run_single`` only; evaluators also
  log ``Result: true`` or ``Result: Found a red circle...``, and ``Reward: 0.00`` is never a score;
- ``Finished <domain>/<id>`` ends a task, ``Exception in <domain>/<id>: <e>`` ends it as an error
  (no ``Finished`` line follows);
- the total is the sum of the ``Left tasks`` lines, or the length of this worker's task list.

Success is decided from ``result.txt`` (see ``parse_result``), which Python writes as ``1``,
``1.0``, ``True``, ``0.5``...: all of ``1``, ``1.0``, ``1.00`` and ``True`` are a success.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import math
import re

from ansible_collections.openadapt.waa.plugins.module_utils._health import strip_ansi
from ansible_collections.openadapt.waa.plugins.module_utils._validate import valid_task_ref

# "[2026-01-01 12:00:00,023 INFO lib_run_single/84-MainProcess] message" once ANSI is stripped.
PREFIX_RE = re.compile(r'^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?) (?P<level>[A-Z]+) '
                       r'(?P<module>[\w.<>-]+)/(?P<lineno>\d+)-(?P<process>[^\]]*)\] ?(?P<msg>.*)$')
SCORE_RE = re.compile(r'^Result: (\d+\.\d{2})$')
SCORE_MODULE = 'lib_run_single'
STEP_RE = re.compile(r'^Step (\d+): ?(.*)$')
DOMAIN_COUNT_RE = re.compile(r'^([A-Za-z0-9_.-]+): (\d+)$')
FINISHED_RE = re.compile(r'^Finished ([^/\s]+)/(\S+)')
EXCEPTION_RE = re.compile(r'^Exception in ([^/\s]+)/([^:\s]+): ?(.*)$')
WORKER_RE = re.compile(r'^Worker (\d+) is doing tasks: (.*)$')
WORKER_TASK_RE = re.compile(r"\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)")
CONFIG_PATH_RE = re.compile(r'^TESTING ON TASK CONFIG PATH: (.*)$')
AVERAGE_RE = re.compile(r'^Average score: (\S+)$')
NAMESPACE_ITEM_RE = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,()]+)")
MAX_ACTION_CHARS = 4000


def _refused(domain, task_id):
    """The event for a task reference that does not have WAA's shape (shown, never used)."""
    return {'type': 'refused_task_ref', 'domain': str(domain)[:80] if domain else None,
            'task_id': str(task_id)[:80] if task_id else None,
            'message': 'Ignored a task reference that is not a WAA domain and example id: %r/%r'
                       % (str(domain)[:80], str(task_id)[:80])}


def parse_result(text):
    """``result.txt`` -> (score or None, success or None).

    Python writes the evaluator's value with ``f"{result}"``: ``1``, ``1.0``, ``True``, ``0``,
    ``0.0``, ``False``, ``0.5``... A score of 1 in any spelling (``1``, ``1.0``, ``1.00``,
    ``True``) is a success; anything else in [0, 1] is not; garbage and scores outside [0, 1]
    give (None, None). This file is a task's one score: the log's ``Result:`` and ``Average
    score:`` lines are the client's stdout, where model output is echoed, and score nothing.
    """
    value = (text or '').strip()
    if value in ('True', 'true'):
        return 1.0, True
    if value in ('False', 'false'):
        return 0.0, False
    try:
        score = float(value)
    except ValueError:
        return None, None
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        return None, None
    return score, score >= 1.0


def parse_namespace(text):
    """``Namespace(model='gpt-4o-mini', worker_id=0, ...)`` -> {'model': 'gpt-4o-mini', 'worker_id': 0, ...}."""
    out = {}
    inner = text.strip()
    if inner.startswith('Namespace(') and inner.endswith(')'):
        inner = inner[len('Namespace('):-1]
    for key, raw in NAMESPACE_ITEM_RE.findall(inner):
        raw = raw.strip()
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


class Record(object):
    """One log record: the prefixed line's fields plus its unprefixed continuation lines."""

    __slots__ = ('ts', 'level', 'module', 'msg', 'more')

    def __init__(self, ts, level, module, msg):
        self.ts = ts
        self.level = level
        self.module = module
        self.msg = msg
        self.more = []

    def lines(self):
        return [self.msg] + self.more


class WaaLogParser(object):
    """Feed stdout text in any chunks; get back events (dicts with a ``type``).

    Event types: ``args`` (``args``: the client's Namespace as a dict), ``left`` (``domains``,
    ``total``), ``worker`` (``worker_id``, ``tasks`` [[domain, id]...], ``total``),
    ``task_start`` (``domain``, ``task_id``, ``instruction``, ``config_path``), ``step``
    (``domain``, ``task_id``, ``step_idx`` (1-based), ``action``), ``score`` (``score``: the
    lib_run_single ``Result``), ``task_end`` (``domain``, ``task_id``, ``status`` V(finished),
    V(error) or V(incomplete), ``score``, ``error``, ``steps``) and ``run_end``
    (``average_score`` or None when no example finished).
    """

    def __init__(self):
        self._partial = ''
        self._record = None
        self.args = {}
        self.left = None  # {domain: n}
        self.worker_tasks = None  # [[domain, id], ...]
        self.task = None  # the running task: dict
        self._start = None  # the task being announced (Starting, CONFIG PATH, [Domain]...)
        self.finished = False
        self.average_score = None
        self.stray_lines = 0
        self.lines_seen = 0

    # -- input ----------------------------------------------------------------------------
    def feed(self, text):
        """Parse ``text`` (any chunk of stdout); returns the events of the records it completed."""
        events = []
        data = self._partial + text
        parts = data.split('\n')
        self._partial = parts.pop()
        for line in parts:
            self._line(line, events)
        return events

    def idle(self):
        """The stream is quiet: the pending record is complete (a partial line stays partial)."""
        events = []
        self._complete(events)
        return events

    def close(self):
        """End of stream: the partial line and the pending record are complete."""
        events = []
        if self._partial:
            line, self._partial = self._partial, ''
            self._line(line, events)
        self._complete(events)
        if self.task is not None:
            self._end_task(events, 'incomplete', None, None)
        return events

    @property
    def total(self):
        """Tasks this run will do: this worker's list when known, else the sum of ``Left tasks``."""
        if self.worker_tasks is not None:
            return len(self.worker_tasks)
        if self.left is not None:
            return sum(self.left.values())
        return None

    # -- records --------------------------------------------------------------------------
    def _line(self, raw, events):
        self.lines_seen += 1
        line = strip_ansi(raw).rstrip('\r')
        if '\r' in line:  # progress bars redraw with \r: keep what was drawn last
            line = line.rsplit('\r', 1)[-1]
        match = PREFIX_RE.match(line)
        if match:
            self._complete(events)
            self._record = Record(match.group('ts'), match.group('level'), match.group('module'),
                                  match.group('msg'))
        elif self._record is not None:
            self._record.more.append(line)
        else:
            self.stray_lines += 1

    def _complete(self, events):
        record, self._record = self._record, None
        if record is not None:
            self._handle(record, events)

    def _handle(self, rec, events):
        msg = rec.msg.strip()
        if rec.module == SCORE_MODULE:
            match = SCORE_RE.match(msg)
            if match:
                score = float(match.group(1))
                if self.task is not None:
                    self.task['score'] = score
                events.append({'type': 'score', 'score': score})
                return
        if rec.level == 'ERROR':
            match = EXCEPTION_RE.match(msg)
            if match:
                domain, task_id, error = match.group(1), match.group(2), match.group(3)
                if not valid_task_ref(domain, task_id):
                    events.append(_refused(domain, task_id))
                    domain = task_id = None
                self._end_task(events, 'error', None, error, domain, task_id)
            return
        match = STEP_RE.match(msg)
        if match and self.task is not None:
            action = '\n'.join([match.group(2)] + rec.more).rstrip('\n')
            if len(action) > MAX_ACTION_CHARS:
                action = action[:MAX_ACTION_CHARS] + '...'
            step_idx = int(match.group(1))
            self.task['steps'] += 1
            self.task['last_step'] = step_idx
            events.append({'type': 'step', 'domain': self.task['domain'], 'task_id': self.task['task_id'],
                           'step_idx': step_idx, 'action': action})
            return
        if msg.startswith('Args: '):
            self.args = parse_namespace(msg[len('Args: '):])
            events.append({'type': 'args', 'args': self.args})
            return
        if msg == 'Left tasks:':
            left = {}
            for line in rec.more:
                m = DOMAIN_COUNT_RE.match(line.strip())
                if m:
                    left[m.group(1)] = left.get(m.group(1), 0) + int(m.group(2))
            self.left = left
            events.append({'type': 'left', 'domains': left, 'total': sum(left.values())})
            return
        match = WORKER_RE.match(msg)
        if match:
            tasks = [[d, i] for d, i in WORKER_TASK_RE.findall(match.group(2)) if valid_task_ref(d, i)]
            self.worker_tasks = tasks
            events.append({'type': 'worker', 'worker_id': int(match.group(1)), 'tasks': tasks, 'total': len(tasks)})
            return
        for line in rec.lines():
            match = CONFIG_PATH_RE.match(line.strip())
            if match:
                self._pending_start(events)['config_path'] = match.group(1)
                return
        if msg.startswith('Windows Agent Arena: Starting'):
            self._pending_start(events, new=True)
            return
        if msg.startswith('[Domain]:'):
            self._pending_start(events)['domain'] = msg[len('[Domain]:'):].strip()
            return
        if msg.startswith('[Example ID]:'):
            self._pending_start(events)['task_id'] = msg[len('[Example ID]:'):].strip()
            return
        if msg.startswith('[Instruction]:'):
            start = self._pending_start(events)
            start['instruction'] = '\n'.join([msg[len('[Instruction]:'):].strip()] + rec.more).strip()
            self._start_task(events, start)
            return
        if msg == 'Agent: Thinking...' and self.task is None and self._start and not self._start.get('_used'):
            self._start_task(events, self._start)  # no [Instruction] line: start anyway
            return
        match = FINISHED_RE.match(msg)
        if match:
            if not valid_task_ref(match.group(1), match.group(2)):
                events.append(_refused(match.group(1), match.group(2)))
                if self.task is not None and self.task['task_id'] is None:
                    self._end_task(events, 'finished', None, None)
                return
            self._end_task(events, 'finished', None, None, match.group(1), match.group(2))
            return
        match = AVERAGE_RE.match(msg)
        if match:
            try:
                self.average_score = float(match.group(1))
            except ValueError:
                self.average_score = None
            self.finished = True
            events.append({'type': 'run_end', 'average_score': self.average_score})
            return
        if msg == 'No examples finished.':
            self.finished = True
            self.average_score = None
            events.append({'type': 'run_end', 'average_score': None})
            return
        if msg.startswith('Done: ') and self.task is not None:
            self.task['done'] = msg[len('Done: '):].strip() == 'True'

    # -- tasks ----------------------------------------------------------------------------
    def _pending_start(self, events, new=False):
        start = self._start
        if new or start is None or start.get('_used'):
            if self.task is not None:
                self._end_task(events, 'incomplete', None, None)
            start = {'domain': None, 'task_id': None, 'instruction': None, 'config_path': None}
            self._start = start
        return start

    def _start_task(self, events, start):
        if self.task is not None:
            self._end_task(events, 'incomplete', None, None)
        start['_used'] = True
        domain, task_id = start.get('domain'), start.get('task_id')
        path = start.get('config_path') or ''
        if (not domain or not task_id) and path:
            # evaluation_examples_windows/examples/<domain>/<id>.json
            parts = path.replace('\\', '/').rsplit('/', 2)
            if len(parts) == 3:
                domain = domain or parts[1]
                task_id = task_id or re.sub(r'\.json$', '', parts[2])
        if (domain or task_id) and not valid_task_ref(domain, task_id):
            events.append(_refused(domain, task_id))
            domain = task_id = None
        self.task = {'domain': domain, 'task_id': task_id, 'instruction': start.get('instruction'),
                     'config_path': start.get('config_path'), 'steps': 0, 'last_step': 0, 'score': None,
                     'done': False}
        events.append({'type': 'task_start', 'domain': domain, 'task_id': task_id,
                       'instruction': start.get('instruction'), 'config_path': start.get('config_path')})

    def _end_task(self, events, status, score, error, domain=None, task_id=None):
        task = self.task
        if task is not None and (task_id is None or (task['task_id'] == task_id and task['domain'] in (None, domain))):
            self.task = None
            domain, task_id = task['domain'], task['task_id']
            score = task['score'] if score is None else score
            steps = task['steps']
        elif task is not None:
            # The end of another task than the running one: the running one ended unseen.
            self._end_task(events, 'incomplete', None, None)
            steps = 0
        else:
            steps = 0
        events.append({'type': 'task_end', 'domain': domain, 'task_id': task_id, 'status': status,
                       'score': score if status == 'finished' else None, 'error': error, 'steps': steps})
