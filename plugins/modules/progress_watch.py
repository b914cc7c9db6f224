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
    wait: 5
  register: watch
  until: watch.finished
  retries: 720
  delay: 0
"""

RETURN = r"""
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
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._progress import is_terminal, read_progress
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path

CHECK_INTERVAL = 0.2
MAX_WAIT = 600.0


def watch(path, wait, deadline=None):
    """Poll ``path`` until its state is terminal or ``wait`` seconds pass. Returns (record, finished)."""
    deadline = deadline or Deadline(wait)
    record = read_progress(path)
    while not is_terminal(record) and not deadline.expired():
        deadline.sleep(CHECK_INTERVAL)
        record = read_progress(path)
    return record or {}, is_terminal(record)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            wait=dict(type='float', default=5.0),
        ),
        supports_check_mode=True,
    )
    path = module.params['path']
    wait = module.params['wait']
    try:
        validate_abs_path(path, 'progress file path')
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if wait < 0 or wait > MAX_WAIT:
        module.fail_json(msg='wait must be between 0 and %d seconds; loop with until/retries for longer waits.' % MAX_WAIT)
    deadline = Deadline(wait)
    record, finished = watch(path, wait, deadline)
    module.exit_json(changed=False, progress=record, finished=finished,
                     failed_work=record.get('state') == 'failed', waited=round(deadline.elapsed(), 3))


if __name__ == '__main__':
    main()
