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
    description:
      - With O(state=acquire), the line that says this run started, written to O(log_file) with the lease.
      - With O(state=release), the run's last lines, written when this run's lease is released (a re-run that
        finds the host ready writes nothing else on the VM).
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _lease


def main():
    module = AnsibleModule(
        argument_spec=dict(_lease.LEASE_ARGS, state=dict(type='str', choices=['acquire', 'release'], default='acquire')),
        supports_check_mode=True,
    )
    p = module.params
    if not module.check_mode:
        _lease.lock_dir(p['path'])
    if p['state'] == 'release':
        released = False if module.check_mode else _lease.release(p['path'], p['owner'])
        if released:
            # The run's last lines (a ready host's re-run has no persist write of its own).
            _lease.append_log(p['log_file'], p['log_line'], module.warn)
        module.exit_json(changed=released, waited=0.0, msg='Released' if released else 'Not held by this run')
    result, failed = _lease.acquire(p, module.check_mode, module.warn)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
