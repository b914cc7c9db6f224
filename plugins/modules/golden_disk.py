#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: golden_disk
short_description: Look at, start, clear or record the golden Windows disk in a storage folder
version_added: 0.2.0
description:
  - V(inspect) reports what the storage folder holds (RV(state)) - C(data.img), dockur's C(windows.boot), the manifest.
  - V(begin) refuses a prepared golden disk unless O(force) (exit 1), clears a disk an earlier, interrupted
    preparation of this tool left, and marks the folder as being prepared.
  - V(record) checks the prepared disk (it exists, is at least O(min_size_gb), has C(windows.boot)), computes its
    fingerprint over its allocated ranges only, and writes the manifest beside it (O(facts) plus size, allocation,
    fingerprint and date).
  - Only dockur's files, the manifest and the mark are ever removed; nothing else in the folder.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: V(inspect) only reads; the other states say what they would do and change nothing.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: partial
    description: V(inspect) is read-only; V(record) rewrites the manifest with the date of this run.
options:
  storage_path:
    description: The storage folder (mounted at C(/storage) in the container).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [inspect, begin, record]
    default: inspect
  force:
    description: For V(begin) - clear a prepared golden disk (it is replaced by the new preparation).
    type: bool
    default: false
  busy:
    description: For V(begin) - the name of a running container that uses the folder; when set, V(begin) refuses (exit 4).
    type: str
    default: ''
  run_id:
    description: For V(begin) - the run that prepares, written in the mark.
    type: str
    default: ''
  min_size_gb:
    description: For V(record) - the smallest plausible disk (its apparent size), in GB.
    type: float
    default: 10
  facts:
    description: For V(record) - what the manifest says of the preparation (image, its digest, the ISO's checksum...).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse to replace a golden disk, mark the folder
  openadapt.waa.golden_disk:
    storage_path: /var/lib/openadapt-waa/storage
    state: begin
    force: false
    run_id: "{{ waa_run_id }}"

- name: Record the prepared disk
  openadapt.waa.golden_disk:
    storage_path: /var/lib/openadapt-waa/storage
    state: record
    facts: {image: "windowsarena/winarena:latest", iso_sha256: "{{ iso.sha256 }}"}
"""

RETURN = r"""
state:
  description: What the folder holds (C(disk), C(exists), C(size_bytes), C(allocated_bytes), C(boot_marker), C(manifest),
    C(prepared), C(incomplete), C(preparing)).
  returned: always
  type: dict
removed:
  description: For V(begin), the files cleared.
  returned: always
  type: list
  elements: str
manifest:
  description: For V(record), the manifest written.
  returned: always
  type: dict
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _golden
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_BOOT, EXIT_CONTAINER, EXIT_PREFLIGHT
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_storage_path


def begin(module, state):
    p = module.params
    if p['busy']:
        module.fail_json(
            msg='Container %s runs on %s: preparing a disk under a running Windows would ruin both.'
                % (p['busy'], p['storage_path']),
            fix='Stop and remove it first (docker rm -f %s; its data in the storage folder stays), then run waa '
                'prepare-image again.' % p['busy'], waa_exit_code=EXIT_CONTAINER, state=state, removed=[])
    if state['prepared'] and not p['force']:
        module.fail_json(msg=_golden.already_prepared(state), fix=_golden.REPLACE_FIX, waa_exit_code=EXIT_PREFLIGHT,
                         state=state, removed=[])
    if state['incomplete'] and not state['preparing'] and not p['force']:
        module.fail_json(
            msg='%s holds a data.img whose preparation never finished (no windows.boot), which this tool did not make.'
                % p['storage_path'],
            fix='Pass --force to clear it and prepare the disk again, or give another --storage-path.',
            waa_exit_code=EXIT_PREFLIGHT, state=state, removed=[])
    if module.check_mode:
        module.exit_json(changed=bool(_golden.dockur_files(p['storage_path'])), state=state, removed=[], manifest={})
    if not os.path.isdir(p['storage_path']):
        os.makedirs(p['storage_path'], 0o750)
    removed = _golden.clear(p['storage_path'])
    with open(os.path.join(p['storage_path'], _golden.PREPARING), 'w') as handle:
        json.dump({'run_id': p['run_id'], 'started_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, handle)
    module.exit_json(changed=True, state=_golden.disk_state(p['storage_path']), removed=removed, manifest={})


def record(module, state):
    p = module.params
    if not state['exists'] or not state['boot_marker']:
        module.fail_json(
            msg='The preparation ended, but %s holds no prepared Windows (%s).'
                % (p['storage_path'], 'no data.img' if not state['exists'] else 'no windows.boot beside data.img'),
            fix='Read the container log above; then run waa prepare-image again.', waa_exit_code=EXIT_BOOT,
            state=state, removed=[])
    if state['size_bytes'] < p['min_size_gb'] * 1e9:
        module.fail_json(
            msg='%s is smaller than a Windows disk can be (under %s GB): the preparation did not finish.'
                % (_golden.describe(state), p['min_size_gb']),
            fix='Run waa prepare-image again; check DISK_SIZE (waa_disk_size).', waa_exit_code=EXIT_BOOT,
            state=state, removed=[])
    manifest = dict(p['facts'], size_bytes=state['size_bytes'], allocated_bytes=state['allocated_bytes'],
                    prepared_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), disk=_golden.DISK,
                    fingerprint='sha256:' + _golden.fingerprint(state['disk']), fingerprint_block=_golden.BLOCK)
    if module.check_mode:
        module.exit_json(changed=True, state=state, removed=[], manifest=manifest)
    _golden.write_manifest(p['storage_path'], manifest)
    mark = os.path.join(p['storage_path'], _golden.PREPARING)
    if os.path.exists(mark):
        os.unlink(mark)
    module.exit_json(changed=True, state=_golden.disk_state(p['storage_path']), removed=[], manifest=manifest)


def main():
    module = AnsibleModule(
        argument_spec=dict(storage_path=dict(type='path', required=True),
                           state=dict(type='str', choices=['inspect', 'begin', 'record'], default='inspect'),
                           force=dict(type='bool', default=False), run_id=dict(type='str', default=''),
                           busy=dict(type='str', default=''),
                           min_size_gb=dict(type='float', default=10), facts=dict(type='dict', default={})),
        supports_check_mode=True,
    )
    try:
        validate_storage_path(module.params['storage_path'])
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=EXIT_PREFLIGHT)
    state = _golden.disk_state(module.params['storage_path'])
    try:
        if module.params['state'] == 'begin':
            begin(module, state)
        elif module.params['state'] == 'record':
            record(module, state)
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot %s the golden disk in %s: %s' % (module.params['state'], module.params['storage_path'], exc),
                         waa_exit_code=EXIT_BOOT)
    module.exit_json(changed=False, state=state, removed=[], manifest=state['manifest'] or {})


if __name__ == '__main__':
    main()
