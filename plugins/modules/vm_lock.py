#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: vm_lock
short_description: Serialize openadapt.waa runs on one VM with a lease file
version_added: 0.1.0
description:
  - O(state=acquire) waits until no other run holds the lease, then takes it; O(state=release) gives it back.
  - The lease names its owner and expires, so a run that was killed cannot block the VM for longer than its lease.
    The C(waa) CLI releases the lease itself when it is interrupted, and names the runs whose process is gone
    from its controller in O(dead_owners), so that their leases are taken over at once.
  - Every read-modify-write happens under an exclusive C(flock) on C(<path>.guard), so two runs never both take
    an expired lease, and a release never removes a lease that another run just took.
  - A broken lease file (empty or not JSON, after a full disk or a kill mid-write) is taken over after a few seconds.
  - The lease file is written atomically with mode 0600 and opened with C(O_NOFOLLOW).
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reports whether the lease is free; takes nothing.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: Acquiring a lease one already holds renews it; releasing a free lease does nothing.
options:
  path:
    description: The lease file.
    type: path
    required: true
  state:
    description: Take or give back the lease.
    type: str
    choices: [acquire, release]
    default: acquire
  owner:
    description: Who holds the lease (a run id).
    type: str
    required: true
  lease:
    description: Seconds the lease lasts before another run may take it over.
    type: float
    default: 3600
  wait_timeout:
    description: Seconds to wait for another run's lease at most (the run's deadline).
    type: float
    default: 1800
  dead_owners:
    description: Run ids whose process is known to be gone (the C(waa) CLI checks its controller). Their leases are
      taken over without waiting for them to expire.
    type: list
    elements: str
    default: []
  controller:
    description: Who runs this (host and pid of the controller process), recorded in the lease for the next run's message.
    type: dict
  log_file:
    description: The VM's setup log; when the lease is taken, O(log_line) is appended to it (O_NOFOLLOW).
    type: path
  log_line:
    description: The line that says this run started, written to O(log_file) with the lease.
    type: str
"""

EXAMPLES = r"""
- name: Wait for other runs on this VM
  openadapt.waa.vm_lock:
    path: /var/lib/openadapt-waa/lock
    owner: "{{ run_id }}"
    lease: 1900
"""

RETURN = r"""
waited:
  description: Seconds spent waiting for another run.
  returned: always
  type: float
holder:
  description: The other run's lease when one was found (owner, since, expires).
  returned: when another run held the lease
  type: dict
took_over:
  description: Why another run's lease was taken over (expired, broken, owner gone); null when it was not.
  returned: state=acquire
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _lease
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, append_bytes
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline


def acquire(module, p):
    """Wait (bounded by wait_timeout) until the lease is free or stale, then take it."""
    deadline = Deadline(max(p['wait_timeout'], 0.0))
    first_holder = None
    while True:
        if module.check_mode:
            record, broken = _lease.read_lease(p['path'])
            busy = record is not None and record.get('owner') != p['owner'] and _lease.why_stale(
                record, broken, p['dead_owners'], time.time()) is None
            module.exit_json(changed=False, waited=0.0, free=not busy, holder=record if busy else None, took_over=None)
        taken, holder, reason = _lease.try_acquire(p['path'], p['owner'], p['lease'], p['dead_owners'], p['controller'])
        if taken:
            break
        first_holder = first_holder or holder
        if deadline.expired():
            module.fail_json(
                msg='Another waa run (%s) holds this VM since %s and did not finish within %.0fs. If that run is gone, '
                    'remove %s on the VM, or wait until its lease expires at %s.' % (
                        holder.get('owner'), time.strftime('%H:%M:%S', time.localtime(holder.get('since', 0))),
                        deadline.elapsed(), p['path'], time.strftime('%H:%M:%S', time.localtime(holder['expires']))),
                waited=round(deadline.elapsed(), 1), holder=holder, waa_exit_code=1)
        deadline.sleep(0.5)
    waited = round(deadline.elapsed(), 1) if first_holder else 0.0
    if p['log_file'] and p['log_line']:
        # The VM's log says a run started from its first round trip, whatever happens after.
        try:
            append_bytes(p['log_file'], (p['log_line'].rstrip('\n') + '\n').encode('utf-8'), 0o640)
        except (ProgressFileError, OSError, ValueError) as exc:
            module.warn('Could not write the log %s: %s' % (p['log_file'], exc))
    result = dict(changed=bool(reason), waited=waited, took_over=reason,
                  msg=('Took over the lease: %s' % reason) if reason else
                  ('Waited %.1fs for another run on this VM' % waited if first_holder else 'Lease taken'))
    if first_holder or holder:
        result['holder'] = first_holder or holder
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['acquire', 'release'], default='acquire'),
            owner=dict(type='str', required=True),
            lease=dict(type='float', default=3600),
            wait_timeout=dict(type='float', default=1800),
            dead_owners=dict(type='list', elements='str', default=[]),
            controller=dict(type='dict'),
            log_file=dict(type='path'),
            log_line=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    parent = os.path.dirname(p['path'])
    if not os.path.isdir(parent) and not module.check_mode:
        os.makedirs(parent, 0o700)
    if p['state'] == 'release':
        released = False if module.check_mode else _lease.release(p['path'], p['owner'])
        module.exit_json(changed=released, waited=0.0, msg='Released' if released else 'Not held by this run')
    acquire(module, p)


if __name__ == '__main__':
    main()
