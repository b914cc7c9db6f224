# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The long-poll behind progress_watch: wait for a progress file to change or its work to end
(Watch), and ship the new result files back in the same round trip (Shipper)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import fnmatch
import hashlib
import json
import os
import re
import stat

from ansible_collections.openadapt.waa.plugins.module_utils._progress import TERMINAL_STATES, atomic_write_bytes, read_progress
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path
from ansible_collections.openadapt.waa.plugins.module_utils._finish import Finished

CHECK_INTERVAL = 0.2
MAX_WAIT = 600.0
# Async job ids are "j<digits>.<pid>"; anything else could walk out of async_dir.
JOB_ID_RE = re.compile(r'^j?[0-9]+\.[0-9]+\Z')
# Keys of a module result that describe this task, not the watched work.
OWN_KEYS = ('changed', 'failed', 'invocation', 'progress', 'finished', 'result', 'job_finished', 'waited',
            'failed_work', 'ansible_job_id', 'started', 'results_file', 'stderr', 'stdout', 'shipped',
            'ship_pending', 'ship_bytes', 'deprecations')
# Files that only grow: sent as their new bytes.
APPEND_SUFFIXES = ('.log', '.jsonl', '.html')
MIN_PIECE = 64 * 1024
MAX_SHIP_FILES = 100000


def read_job(path):
    """The async job file: (finished, result dict, mtime) or (False, None, None) when absent/unreadable."""
    try:
        mtime = os.stat(path).st_mtime
        with open(path) as handle:
            data = json.loads(handle.read())
    except (IOError, OSError, ValueError):
        return False, None, None
    if not isinstance(data, dict):
        return False, None, None
    # While running, async_wrapper's file has "started" and "finished": false; at the end it holds the result.
    finished = 'started' not in data or bool(data.get('finished'))
    return finished, data, mtime


class Watch(object):
    def __init__(self, path, job_path=None):
        self.path = path
        self.job_path = job_path
        self.record = None
        self.job_finished = None
        self.job_result = None
        self.ended = False

    def check(self):
        """Read the files once. Returns True when the work has ended."""
        self.ended = self._check()
        return self.ended

    def _check(self):
        self.record = read_progress(self.path)
        terminal = isinstance(self.record, dict) and self.record.get('state') in TERMINAL_STATES
        if self.job_path is None:
            return terminal
        self.job_finished, self.job_result, mtime = read_job(self.job_path)
        if self.job_finished:
            return True
        if terminal and mtime is not None:
            # While the job runs its file keeps the start time: an older terminal record is from an earlier run.
            updated = self.record.get('updated')
            return isinstance(updated, (int, float)) and updated >= mtime - 1.0
        return terminal

    def outcome(self):
        """(finished-result dict, work failed?)."""
        record = self.record or {}
        result = record.get('result') if record.get('state') in TERMINAL_STATES else None
        if self.job_finished and isinstance(self.job_result, dict):
            # The job file holds exactly what the module returned: prefer it once it exists.
            if not isinstance(result, dict) or 'started' not in self.job_result:
                result = self.job_result
        if not isinstance(result, dict):
            result = {}
        failed = record.get('state') == 'failed' or bool(result.get('failed'))
        if self.job_finished and not result:
            failed = True
        return result, failed


class Shipper(object):
    """Sends the files under ``root`` that are new or grew since the cursor, in bounded answers.

    Cursor file: {"run": <the record's ship_since>, "event_seq": n, "files": {rel: [sent bytes, mtime_ns]},
    "sync": <digest of the last ``have``>, "sync_sent": {rel: [sent bytes, mtime_ns]}}. The cursor moves
    when the answer is built: an answer lost on the way is repaired by the final sync (``have``), which
    compares with what the controller really holds. The retries of one final sync get the same
    ``have`` (the task's arguments), so what they sent is kept apart under ``sync_sent``.
    """

    def __init__(self, root, cursor_path, max_bytes, since=None, exclude=(), have=None):
        self.root = root
        self.cursor_path = cursor_path
        self.max_bytes = max_bytes
        self.since = since
        self.exclude = list(exclude or [])
        self.have = have
        self.cursor = {'run': None, 'event_seq': 0, 'files': {}}
        data = read_progress(cursor_path)
        if isinstance(data, dict) and isinstance(data.get('files'), dict):
            self.cursor.update(data)
        if have is not None:
            digest = hashlib.sha256(json.dumps(have, sort_keys=True).encode('utf-8')).hexdigest()
            if self.cursor.get('sync') != digest or not isinstance(self.cursor.get('sync_sent'), dict):
                self.cursor['sync'] = digest
                self.cursor['sync_sent'] = {}
        self.pending = False
        self.sent_bytes = 0

    def _files(self):
        """(rel, path, size, mtime_ns) of the regular files under root, oldest first."""
        out = []
        since_ns = int(self.since * 1e9) if self.since else 0
        for top, dirs, names in os.walk(self.root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(top, d)))
            for name in names:
                if any(fnmatch.fnmatchcase(name, pat) for pat in self.exclude):
                    continue
                path = os.path.join(top, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_mtime_ns < since_ns:
                    continue
                rel = os.path.relpath(path, self.root).replace(os.sep, '/')
                out.append((st.st_mtime_ns, rel, path, st.st_size))
            if len(out) >= MAX_SHIP_FILES:
                break
        out.sort()
        return [(rel, path, size, mtime) for mtime, rel, path, size in out]

    def _start(self, rel, size, mtime):
        """Offset to send ``rel`` from, or None when the controller has it all."""
        sent, sent_mtime = (list(self.cursor['files'].get(rel) or []) + [None, None])[:2]
        appendable = rel.endswith(APPEND_SUFFIXES)
        if self.have is not None:
            have = self.have.get(rel)
            have = -1 if have is None else int(have)
            synced, synced_mtime = (list(self.cursor['sync_sent'].get(rel) or []) + [None, None])[:2]
            if synced is not None and synced_mtime == mtime:
                have = synced  # an earlier retry of this final sync sent up to here
            if have == size:
                return None
            if 0 <= have < size and (appendable or sent_mtime == mtime or synced_mtime == mtime):
                return have
            return 0
        if sent is None:
            return 0
        if sent_mtime == mtime and sent >= size:
            return None
        if appendable and sent <= size:
            return sent if sent < size else None
        if sent_mtime == mtime and sent < size:
            return sent  # the rest of a file sent in pieces
        return 0

    def ship(self):
        """The pieces of this answer (and self.pending when more is waiting)."""
        pieces = []
        budget = self.max_bytes
        if not os.path.isdir(self.root):
            return pieces
        files = self._files()
        seen = set(rel for rel, _path, _size, _mtime in files)
        # Entries of files now out of sight (older than ship_since, removed) are dropped.
        self.cursor['files'] = dict((rel, v) for rel, v in self.cursor['files'].items() if rel in seen)
        for rel, path, size, mtime in files:
            start = self._start(rel, size, mtime)
            if start is None:
                continue
            if pieces and budget < min(MIN_PIECE, size - start):
                self.pending = True
                break
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
                with os.fdopen(fd, 'rb') as handle:
                    handle.seek(start)
                    data = handle.read(min(size - start, budget))
            except (IOError, OSError):
                continue
            end = start + len(data)
            pieces.append({'path': rel, 'offset': start, 'data': base64.b64encode(data).decode('ascii'),
                           'size': size, 'mtime': mtime / 1e9, 'complete': end >= size})
            self.cursor['files'][rel] = [end, mtime]
            if self.have is not None:
                self.cursor['sync_sent'][rel] = [end, mtime]
            budget -= len(data)
            self.sent_bytes += len(data)
            if end < size or budget <= 0:
                self.pending = True
                break
        return pieces

    def trim_events(self, record):
        """The record with only the events not sent yet (the final sync gets them all)."""
        if not isinstance(record, dict):
            return record
        run = record.get('ship_since')
        if run != self.cursor.get('run'):
            self.cursor['run'] = run
            self.cursor['event_seq'] = 0
        events = record.get('events')
        if not isinstance(events, list):
            return record
        after = 0 if self.have is not None else int(self.cursor.get('event_seq') or 0)
        out = [e for e in events if isinstance(e, dict) and int(e.get('seq') or 0) > after]
        seq = after
        for event in out:  # the cursor stops before the first event that may still change
            if event.get('settled', True) is False:
                break
            seq = max(seq, int(event.get('seq') or 0))
        self.cursor['event_seq'] = max(seq, int(self.cursor.get('event_seq') or 0))
        record = dict(record)
        record['events'] = out
        return record

    def save(self):
        data = json.dumps(self.cursor, sort_keys=True, separators=(',', ':')).encode('utf-8')
        atomic_write_bytes(self.cursor_path, data + b'\n', 0o600)


def watch(path, wait, deadline=None, job_path=None):
    """Poll until the work ends or ``wait`` seconds pass. Returns the Watch."""
    deadline = deadline or Deadline(wait)
    state = Watch(path, job_path)
    while not state.check() and not deadline.expired():
        deadline.sleep(CHECK_INTERVAL)
    return state


def progress_watch(p, warn=None):
    """Run progress_watch for its parameters ``p``; always ends by raising Finished."""
    warn = warn or (lambda msg: None)
    try:
        validate_abs_path(p['path'], 'progress file path')
        for key in ('ship_dir', 'ship_cursor'):
            if p[key]:
                validate_abs_path(p[key], key)
        if p['ship_max_bytes'] < 1024 or p['ship_max_bytes'] > 64 * 1024 * 1024:
            raise ValueError('ship_max_bytes must be between 1024 and 67108864')
        have = p['ship_have']
        if have is not None and not all(isinstance(v, int) or str(v).isdigit() for v in have.values()):
            raise ValueError('ship_have maps relative paths to sizes in bytes')
    except ValueError as exc:
        raise Finished(dict(msg=str(exc)), failed=True)
    if p['wait'] < 0 or p['wait'] > MAX_WAIT:
        raise Finished(dict(msg='wait must be between 0 and %d seconds; loop with until/retries for longer waits.'
                            % MAX_WAIT), failed=True)
    job_path = None
    if p['job_id']:
        if not JOB_ID_RE.match(p['job_id']):
            raise Finished(dict(msg='job_id %r is not an Ansible async job id (j<digits>.<pid>); pass '
                                    'the registered ansible_job_id.' % p['job_id']), failed=True)
        job_path = os.path.join(p['async_dir'], p['job_id'])  # type=path: ~ is already expanded
    deadline = Deadline(p['wait'])
    state = watch(p['path'], p['wait'], deadline, job_path)
    finished = state.ended
    result, work_failed = state.outcome() if finished else ({}, False)
    # The watch reports the watched work's change (a pulled image), so the play's change count is true.
    out = dict(changed=bool(finished and result.get('changed')), progress=state.record or {}, finished=bool(finished), result=result,
               failed_work=bool(finished and work_failed), job_finished=state.job_finished,
               waited=round(deadline.elapsed(), 3), shipped=[], ship_pending=False, ship_bytes=0)
    if p['ship_dir']:
        record = state.record or {}
        since = p['ship_since'] if p['ship_since'] is not None else record.get('ship_since')
        shipper = Shipper(p['ship_dir'], p['ship_cursor'] or p['path'] + '.ship.json', p['ship_max_bytes'],
                          since if isinstance(since, (int, float)) else None, p['ship_exclude'], p['ship_have'])
        out['progress'] = shipper.trim_events(record)
        out['shipped'] = shipper.ship()
        out.update(ship_pending=shipper.pending, ship_bytes=shipper.sent_bytes)
        try:
            shipper.save()
        except (IOError, OSError, ValueError) as exc:
            warn('Cannot write the ship cursor: %s' % exc)
    if finished and work_failed and p['fail_on_failed']:
        for key, value in result.items():
            if key not in OWN_KEYS and not key.startswith('_ansible'):
                out[key] = value
        # The job file keeps a module's warnings as ansible-core 2.19 records them (dicts); a module
        # result must give them as text.
        if isinstance(out.get('warnings'), list):
            out['warnings'] = [w.get('msg', str(w)) if isinstance(w, dict) else str(w) for w in out['warnings']]
        msg = result.get('msg') or (state.record or {}).get('message') or 'The watched work failed without a message.'
        out.pop('msg', None)
        raise Finished(dict(out, msg=msg), failed=True)
    raise Finished(out, failed=False)
