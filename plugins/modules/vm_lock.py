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
    The C(waa) CLI releases the lease itself when it is interrupted.
  - The lease file is created with C(O_EXCL) and C(O_NOFOLLOW), mode 0600.
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
    description: Seconds to wait for another run's lease at most.
    type: float
    default: 1800
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
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._progress import atomic_write_bytes, read_progress
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline


def _try_create(path, record):
    """Create the lease if nobody has one. False when it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    except OSError as exc:
        if exc.errno == 17:  # EEXIST
            return False
        raise
    with os.fdopen(fd, 'w') as handle:
        handle.write(json.dumps(record))
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['acquire', 'release'], default='acquire'),
            owner=dict(type='str', required=True),
            lease=dict(type='float', default=3600),
            wait_timeout=dict(type='float', default=1800),
        ),
        supports_check_mode=True,
    )
    p = module.params
    path = p['path']
    parent = os.path.dirname(path)
    if not os.path.isdir(parent) and not module.check_mode:
        os.makedirs(parent, 0o700)
    current = read_progress(path)
    if p['state'] == 'release':
        mine = bool(current) and current.get('owner') == p['owner']
        if mine and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=mine, waited=0.0, msg='Released' if mine else 'Not held by this run')

    deadline = Deadline(max(p['wait_timeout'], 0.0))
    holder = None
    while True:
        now = time.time()
        record = {'owner': p['owner'], 'since': now, 'expires': now + p['lease'], 'pid': os.getpid()}
        current = read_progress(path)
        if current and current.get('owner') != p['owner'] and float(current.get('expires', 0)) > now:
            holder = holder or current
            if deadline.expired():
                module.fail_json(
                    msg='Another waa run (%s) holds this VM since %s and did not finish within %.0fs. If that run is '
                        'gone, remove %s on the VM, or wait until its lease expires at %s.' % (
                            current.get('owner'), time.strftime('%H:%M:%S', time.localtime(current.get('since', 0))),
                            deadline.elapsed(), path, time.strftime('%H:%M:%S', time.localtime(current['expires']))),
                    waited=round(deadline.elapsed(), 1), holder=current, waa_exit_code=1)
            deadline.sleep(0.5)
            continue
        if module.check_mode:
            break
        if current:  # ours already, expired, or unreadable: take it over in one rename
            atomic_write_bytes(path, json.dumps(record).encode('utf-8'), 0o600)
            break
        if _try_create(path, record):
            break
    waited = round(deadline.elapsed(), 1) if holder else 0.0
    result = dict(changed=False, waited=waited, msg='Waited %.1fs for another run on this VM' % waited if holder else 'Lease taken')
    if holder:
        result['holder'] = holder
    module.exit_json(**result)


if __name__ == '__main__':
    main()
