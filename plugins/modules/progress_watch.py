#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

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
  - With O(ship_dir), each answer also carries the files that appeared or grew under that directory since the last
    answer (RV(shipped), at most O(ship_max_bytes) a round trip), so results reach the controller in the same SSH
    round trips that report progress. Which bytes were sent is kept in a cursor file next to the progress file.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: The module only reads (and, with O(ship_dir), updates its cursor file); it behaves the same in check mode.
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
  ship_dir:
    description:
      - Directory on the host whose new and grown files are returned in RV(shipped) with each answer (for example the
        benchmark results that M(openadapt.waa.waa_benchmark) copies out of the container). The
        C(openadapt.waa.waa_events) callback writes them under C(<run dir>/results/<host>/).
      - Files ending in C(.log), C(.jsonl) or C(.html) are sent as they grow (only the new bytes); other files again
        in full when they change. Symbolic links are never followed.
      - The record's C(events) list is also cut to the events not yet sent; an event with C(settled=false) is sent
        again until it is settled.
    type: path
  ship_cursor:
    description:
      - File that remembers what was sent (mode 0600). Default C(<path>.ship.json).
    type: path
  ship_max_bytes:
    description:
      - Upper bound of file bytes in one answer (before base64). Larger files are sent in pieces over several answers.
    type: int
    default: 4194304
  ship_since:
    description:
      - Files last modified before this time (epoch seconds) are never sent. Default - the progress record's
        C(ship_since) field, else every file.
    type: float
  ship_exclude:
    description:
      - File name patterns (shell globs) that are never sent.
    type: list
    elements: str
    default: ['accessibility_tree-*', '*.npy', '*.mp4', '*.tmp', '.*']
  ship_have:
    description:
      - The final sync - what the controller already holds, a mapping of relative path to size. Every file whose size differs
        is sent (from where the controller's copy ends when the file only grew), whatever the cursor says, and the
        record's whole C(events) list is returned. Loop until RV(ship_pending) is false.
    type: dict
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
shipped:
  description:
    - With O(ship_dir), the file pieces of this answer - C(path) (relative to O(ship_dir)), C(offset), C(data)
      (base64), C(size) (the file's size now), C(mtime) and C(complete) (the piece ends at the end of the file).
  returned: always
  type: list
  elements: dict
ship_pending:
  description: Whether more bytes are waiting to be sent (the answer was full).
  returned: always
  type: bool
ship_bytes:
  description: File bytes in RV(shipped) (before base64).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._finish import finish
from ansible_collections.openadapt.waa.plugins.module_utils._watch import progress_watch


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            wait=dict(type='float', default=5.0),
            job_id=dict(type='str'),
            async_dir=dict(type='path', default='~/.ansible_async'),
            fail_on_failed=dict(type='bool', default=True),
            ship_dir=dict(type='path'),
            ship_cursor=dict(type='path'),
            ship_max_bytes=dict(type='int', default=4 * 1024 * 1024),
            ship_since=dict(type='float'),
            ship_exclude=dict(type='list', elements='str', default=['accessibility_tree-*', '*.npy', '*.mp4', '*.tmp', '.*']),
            ship_have=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    finish(module, progress_watch, module.params, module.warn)


if __name__ == '__main__':
    main()
