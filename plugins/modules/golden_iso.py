#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: golden_iso
short_description: Bring the Windows ISO to the VM in resumable rounds, checked by SHA-256
version_added: 0.2.0
description:
  - With O(src), the ISO is on the controller - the module's action plugin sends it in chunks (appended on the VM with
    O(state=append)) for up to O(wait) seconds per task run, then checks the whole file's SHA-256. Run it in an
    C(until) loop - each round resumes where the last one stopped, and so does a new run after an interrupt.
  - With O(url), the VM downloads it for up to O(wait) seconds per run, resuming with HTTP range requests.
  - An ISO already on the VM whose recorded SHA-256 is the source's (or, for a URL without O(sha256), whose recorded
    source is that URL) is not moved again.
  - Each round returns RV(progress) (C(kind=transfer)) for the live output.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: none
    description: Moves bytes or fails.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: A finished ISO with the same checksum is left alone.
options:
  dest:
    description: Where the ISO lives on the VM.
    type: path
    required: true
  src:
    description: The ISO on the controller (the action plugin reads it). Mutually exclusive with O(url).
    type: path
  url:
    description: An http(s) URL the VM downloads the ISO from.
    type: str
  sha256:
    description: The ISO's expected SHA-256 (lower-case hex). For O(src) the action plugin computes it when not given.
    type: str
  wait:
    description: Seconds one round moves bytes at most.
    type: float
    default: 6
  state:
    description:
      - V(present) brings the ISO (what a playbook uses). V(stat), V(append) and V(finish) are the action plugin's
        steps for O(src).
    type: str
    choices: [present, stat, append, finish]
    default: present
  source:
    description: For V(append) and V(stat) - the identity of what is sent (its SHA-256).
    type: str
  chunk:
    description: For V(append) - the chunk file on the VM, removed once appended.
    type: path
  offset:
    description: For V(append) - where the chunk starts in the ISO.
    type: int
  total:
    description: For V(append) - the ISO's size, for RV(progress).
    type: int
"""

EXAMPLES = r"""
- name: Bring the ISO from the controller, round after round
  openadapt.waa.golden_iso:
    src: /home/me/Win11_Enterprise_Eval.iso
    dest: /var/lib/openadapt-waa/iso/setup.iso
  register: iso
  until: iso.done

- name: Or download it on the VM
  openadapt.waa.golden_iso:
    url: https://example.blob.core.windows.net/isos/win11.iso
    sha256: "{{ iso_sha256 }}"
    dest: /var/lib/openadapt-waa/iso/setup.iso
  register: iso
  until: iso.done
"""

RETURN = r"""
done:
  description: Whether the ISO is complete and checked on the VM.
  returned: always
  type: bool
sha256:
  description: The finished ISO's SHA-256 (when RV(done)).
  returned: always
  type: str
size:
  description: Its size in bytes (when known).
  returned: always
  type: int
progress:
  description: C(kind=transfer), C(what), C(bytes_done), C(bytes_total), C(rate_bps), C(eta_s), C(source).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._iso import SHA256_RE, IsoError, IsoFile, transfer_progress as progress
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_PREFLIGHT
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path


def present_from_url(iso, p):
    """One round of the download (state=present with url)."""
    record = iso.recorded()
    if record and (record['sha256'] == p['sha256'] or (not p['sha256'] and record.get('source') == p['url'])):
        return dict(changed=False, done=True, sha256=record['sha256'], size=record['size'],
                    progress=progress(record['size'], record['size'], time.monotonic(), 0, 'the VM (already there)'))
    started = time.monotonic()
    before = iso.part_size(p['url'])
    done, total, complete = iso.fetch(p['url'], p['wait'])
    result = dict(changed=True, done=False, sha256='', size=total or 0,
                  progress=progress(done, total, started, done - before, p['url'].split('?')[0]))
    if complete:
        record = iso.finish(p['sha256'], p['url'])
        result.update(done=True, sha256=record['sha256'], size=record['size'])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(dest=dict(type='path', required=True), src=dict(type='path'), url=dict(type='str'),
                           sha256=dict(type='str'), wait=dict(type='float', default=6),
                           state=dict(type='str', choices=['present', 'stat', 'append', 'finish'], default='present'),
                           source=dict(type='str'), chunk=dict(type='path'), offset=dict(type='int'),
                           total=dict(type='int')),
        mutually_exclusive=[('src', 'url')],
        required_if=[('state', 'append', ('chunk', 'offset', 'source'))],
    )
    p = module.params
    try:
        validate_abs_path(p['dest'], 'dest')
        if p['sha256'] is not None and not SHA256_RE.match(p['sha256']):
            raise ValueError('sha256 must be 64 lower-case hexadecimal digits, not %r' % p['sha256'][:80])
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=EXIT_PREFLIGHT)
    iso = IsoFile(p['dest'])
    try:
        if p['state'] == 'stat':
            module.exit_json(changed=False, **iso.stat(p['source']))
        if p['state'] == 'append':
            size = iso.append(p['chunk'], p['offset'], p['source'])
            module.exit_json(changed=True, part_size=size)
        if p['state'] == 'finish':
            module.exit_json(changed=True, **iso.finish(p['sha256'], p['source'] or ''))
        if not p['url']:
            module.fail_json(msg='state=present needs url on the VM (src is sent by the action plugin).',
                             waa_exit_code=EXIT_PREFLIGHT)
        module.exit_json(**present_from_url(iso, p))
    except IsoError as exc:
        if exc.retry and p['state'] == 'present':
            # The next round tries again (the loop is bounded by the role's timeout).
            module.exit_json(changed=False, done=False, sha256='', size=0, error=exc.message,
                             progress={'kind': 'transfer', 'what': 'ISO', 'state': 'retrying', 'error': exc.message})
        module.fail_json(msg=exc.message, fix=exc.fix, waa_exit_code=EXIT_PREFLIGHT)
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot write the ISO at %s: %s' % (p['dest'], exc), waa_exit_code=EXIT_PREFLIGHT)


if __name__ == '__main__':
    main()
