#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: golden_overlay
short_description: Windows' copy-on-write layer over the golden disk, and its reset
version_added: 0.2.0
description:
  - Keeps the golden disk pristine - Windows runs on C(data.qcow2) in O(overlay_path), a qcow2 overlay whose backing
    file is the golden C(data.img) in O(golden_path), beside fresh copies of dockur's small state files
    (C(windows.boot), C(windows.vars)...). The container mounts O(overlay_path) at C(/storage) and O(golden_path)
    read-only at its own path, with C(DISK_FMT=qcow2).
  - V(present) creates the overlay when there is none or when it is over another disk, and keeps one over this golden
    disk. V(reset) replaces it with an empty one - Windows is back to the golden state; the cost does not grow with
    the disk's size (qemu-img writes a header of ~200 KB).
  - Removes only C(data.qcow2), C(data.img) and dockur's state files in O(overlay_path); nothing in O(golden_path).
  - Needs C(qemu-img) (Debian/Ubuntu package C(qemu-utils)) on the host.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Says whether it would create or reset the overlay.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: partial
    description: V(present) keeps a matching overlay; V(reset) always makes a new one.
options:
  golden_path:
    description: The folder of the golden disk (C(data.img)).
    type: path
    required: true
  overlay_path:
    description: The overlay folder (the container's C(/storage)), created when missing.
    type: path
    required: true
  state:
    description: V(present) or V(reset).
    type: str
    choices: [present, reset]
    default: present
  qemu_img:
    description: The qemu-img program.
    type: path
    default: qemu-img
"""

EXAMPLES = r"""
- name: Windows on an overlay over the golden disk
  openadapt.waa.golden_overlay:
    golden_path: /var/lib/openadapt-waa/storage
    overlay_path: /var/lib/openadapt-waa/overlay/winarena

- name: Back to the golden state (the container stopped first)
  openadapt.waa.golden_overlay:
    golden_path: /var/lib/openadapt-waa/storage
    overlay_path: /var/lib/openadapt-waa/overlay/winarena
    state: reset
"""

RETURN = r"""
overlay:
  description: The overlay disk's path.
  returned: always
  type: str
discarded_bytes:
  description: What Windows had written into the overlay that was replaced (its allocated bytes).
  returned: always
  type: int
seconds:
  description: How long creating the overlay took.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _overlay
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_CONTAINER, EXIT_PREFLIGHT
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_storage_path


def main():
    module = AnsibleModule(
        argument_spec=dict(golden_path=dict(type='path', required=True), overlay_path=dict(type='path', required=True),
                           state=dict(type='str', choices=['present', 'reset'], default='present'),
                           qemu_img=dict(type='path', default='qemu-img')),
        supports_check_mode=True,
    )
    p = module.params
    try:
        for path in (p['golden_path'], p['overlay_path']):
            validate_storage_path(path)
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=EXIT_PREFLIGHT)
    before = _overlay.state(p['golden_path'], p['overlay_path'])
    if p['state'] == 'present' and before['matches']:
        module.exit_json(changed=False, overlay=before['overlay'], discarded_bytes=0, seconds=0.0)
    if module.check_mode:
        module.exit_json(changed=True, overlay=before['overlay'], discarded_bytes=before['bytes'], seconds=0.0)
    started = time.monotonic()
    try:
        _overlay.create(p['golden_path'], p['overlay_path'], p['qemu_img'])
    except (_overlay.OverlayError, IOError, OSError) as exc:
        module.fail_json(msg='Cannot put Windows on an overlay over the golden disk: %s' % exc,
                         fix='Check that the golden disk is there (waa prepare-image makes it) and that qemu-img runs '
                             '(apt-get install qemu-utils).', waa_exit_code=EXIT_CONTAINER)
    module.exit_json(changed=True, overlay=before['overlay'], discarded_bytes=before['bytes'],
                     seconds=round(time.monotonic() - started, 3))


if __name__ == '__main__':
    main()
