#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: progress_watch
short_description: Long-poll a progress file written by a background module
version_added: 0.1.0
description:
  - Reads the progress file that M(openadapt.waa.docker_pull_progress) or M(openadapt.waa.waa_probe) writes while
    it runs in the background (C(async) with C(poll=0)).
  - Returns as soon as the file's C(state) is terminal (V(done) or V(failed)), or after O(wait) seconds, checking
    the file about every 0.2 seconds. Used in an C(until) loop with C(delay=0), each SSH round trip waits on the
    VM, and the loop ends the moment the work ends.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  idempotent:
    support: full
    description: The module never changes anything.
options:
  path:
    description:
      - The progress file.
    type: path
    required: true
  wait:
    description:
      - Seconds to wait at most for a terminal state. V(0) reads once.
    type: float
    default: 5
  job_id:
    description:
      - The C(ansible_job_id) of the background task that writes the file.
      - With it, the watch also ends when that job has ended without a terminal record (for example when the
        module failed on its parameters or crashed), and a terminal record older than the job is ignored as stale.
    type: str
  async_dir:
    description:
      - Directory of Ansible's async job files on this host (the C(async_dir) setting, for the user the job ran as).
    type: path
    default: ~/.ansible_async
  fail_on_failed:
    description:
      - Fail this task when the watched work has failed, with the work's C(msg), C(fix), C(waa_exit_code) and other
        result keys copied to the top level (so C(ansible_failed_result) carries them).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Pull in the background
  openadapt.waa.docker_pull_progress:
    image: windowsarena/winarena:latest
    progress_file: /tmp/waa_pull.json
  async: 3600
  poll: 0
  register: pull_job

- name: Follow the pull
  openadapt.waa.progress_watch:
    path: /tmp/waa_pull.json
    job_id: "{{ pull_job.ansible_job_id }}"
    wait: 5
  register: watch
  until: watch.finished
  retries: 720
  delay: 0
"""

RETURN = r"""
result:
  description:
    - The watched module's final result, from the progress file's C(result) or the async job file; empty until finished.
  returned: always
  type: dict
progress:
  description: The last record read from the file; empty when the file is missing or unreadable.
  returned: always
  type: dict
  sample: {"kind": "pull", "state": "running", "seq": 12, "bytes_done": 1048576, "bytes_total": 4194304}
finished:
  description: Whether the record's state is terminal (V(done) or V(failed)).
  returned: always
  type: bool
failed_work:
  description: Whether the record's state is V(failed).
  returned: always
  type: bool
job_finished:
  description: Whether the async job O(job_id) has ended; null without O(job_id).
  returned: always
  type: bool
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._progress import TERMINAL_STATES, read_progress
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path

CHECK_INTERVAL = 0.2
MAX_WAIT = 600.0
# Async job ids are "j<digits>.<pid>"; anything else could walk out of async_dir.
JOB_ID_RE = re.compile(r'^j?[0-9]+\.[0-9]+\Z')
# Keys of a module result that describe this task, not the watched work.
OWN_KEYS = ('changed', 'failed', 'invocation', 'progress', 'finished', 'result', 'job_finished', 'waited',
            'failed_work', 'ansible_job_id', 'started', 'results_file', 'stderr', 'stdout')


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


def watch(path, wait, deadline=None, job_path=None):
    """Poll until the work ends or ``wait`` seconds pass. Returns the Watch."""
    deadline = deadline or Deadline(wait)
    state = Watch(path, job_path)
    while not state.check() and not deadline.expired():
        deadline.sleep(CHECK_INTERVAL)
    return state


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            wait=dict(type='float', default=5.0),
            job_id=dict(type='str'),
            async_dir=dict(type='path', default='~/.ansible_async'),
            fail_on_failed=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        validate_abs_path(p['path'], 'progress file path')
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if p['wait'] < 0 or p['wait'] > MAX_WAIT:
        module.fail_json(msg='wait must be between 0 and %d seconds; loop with until/retries for longer waits.' % MAX_WAIT)
    job_path = None
    if p['job_id']:
        if not JOB_ID_RE.match(p['job_id']):
            module.fail_json(msg='job_id %r is not an Ansible async job id (j<digits>.<pid>); pass '
                                 'the registered ansible_job_id.' % p['job_id'])
        job_path = os.path.join(p['async_dir'], p['job_id'])  # type=path: ~ is already expanded
    deadline = Deadline(p['wait'])
    state = watch(p['path'], p['wait'], deadline, job_path)
    finished = state.ended
    result, work_failed = state.outcome() if finished else ({}, False)
    # The watch reports the watched work's change (a pulled image), so the play's change count is true.
    out = dict(changed=bool(finished and result.get('changed')), progress=state.record or {}, finished=bool(finished), result=result,
               failed_work=bool(finished and work_failed), job_finished=state.job_finished,
               waited=round(deadline.elapsed(), 3))
    if finished and work_failed and p['fail_on_failed']:
        for key, value in result.items():
            if key not in OWN_KEYS and not key.startswith('_ansible'):
                out[key] = value
        msg = result.get('msg') or (state.record or {}).get('message') or 'The watched work failed without a message.'
        out.pop('msg', None)
        module.fail_json(msg=msg, **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
