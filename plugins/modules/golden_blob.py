#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: golden_blob
short_description: Push the golden disk to Azure Blob Storage, or restore it from there, moved by the VM itself
version_added: 0.2.0
description:
  - V(push) uploads the golden disk in O(storage_path) as a page blob C(<prefix>/data.img) - only its non-zero 4 MiB
    blocks, several at once - then dockur's small files and the manifest (last, so a prefix with a manifest is a
    complete push). A blob that already holds part of this disk (its C(fingerprint) metadata) gets only the blocks
    its page ranges lack.
  - V(restore) downloads the pages that hold data (Get Page Ranges, ranged GETs, several at once) into an empty
    O(storage_path), keeping a journal so that a restore that was interrupted goes on where it stopped; the disk
    takes its name only once its fingerprint equals the manifest's, and C(windows.boot) comes last.
  - The SAS comes in O(sas_file), a private file read and removed before anything else (a background task's
    arguments stay on the VM while it runs). Progress goes to O(progress_file) (kind C(transfer)) for
    M(openadapt.waa.progress_watch).
  - Standard library only on the VM.
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
    support: partial
    description: A push of a disk already in the blob sends nothing but the small files and the manifest.
options:
  direction:
    description: V(push) or V(restore).
    type: str
    choices: [push, restore]
    required: true
  container_url:
    description: The blob container, without a SAS (C(https://ACCOUNT.blob.core.windows.net/CONTAINER), or an emulator's
      C(http://127.0.0.1:10000/ACCOUNT/CONTAINER)).
    type: str
    required: true
  prefix:
    description: The golden disk's folder in the container.
    type: str
    required: true
  storage_path:
    description: The storage folder of the golden disk on the VM.
    type: path
    required: true
  sas_file:
    description: A private file (0600) holding the SAS token; removed at once.
    type: path
    required: true
  threads:
    description: Blocks moved at once.
    type: int
    default: 8
  progress_file:
    description: Where progress records go.
    type: path
"""

EXAMPLES = r"""
- name: Push the golden disk (in the background, followed by progress_watch)
  openadapt.waa.golden_blob:
    direction: push
    container_url: https://myaccount.blob.core.windows.net/golden
    prefix: waa/2026-12
    storage_path: /var/lib/openadapt-waa/storage
    sas_file: /var/lib/openadapt-waa/golden.sas
    progress_file: /var/lib/openadapt-waa/progress/golden.json
  async: 7200
  poll: 0
"""

RETURN = r"""
manifest:
  description: The golden disk's manifest (fingerprint, size, image, ISO...).
  returned: success
  type: dict
bytes_moved:
  description: Bytes that travelled in this run (a resumed transfer moves only what was missing).
  returned: success
  type: int
resumed:
  description: Whether this run went on from an earlier, interrupted one.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _blob
from ansible_collections.openadapt.waa.plugins.module_utils._finish import Finished, finish
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_PREFLIGHT, EXIT_PULL
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressWriter, take_private_file
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_download_url, validate_storage_path


def transfer(p):
    try:
        sas = take_private_file(p['sas_file']).decode('utf-8').strip()
    except (IOError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise Finished(dict(msg='Cannot read the SAS file %s: %s' % (p['sas_file'], exc), waa_exit_code=EXIT_PREFLIGHT),
                       failed=True)
    progress = ProgressWriter(p['progress_file'], 'transfer', min_interval=0.5, scrub=lambda text: text.replace(sas, '***'))
    try:
        validate_download_url(p['container_url'])
        validate_storage_path(p['storage_path'])
        if not p['prefix'] or p['prefix'].startswith('/') or '..' in p['prefix'].split('/') or '?' in p['prefix']:
            raise ValueError('prefix must be a relative blob folder without ".." or "?", got %r' % p['prefix'][:100])
        client = _blob.BlobClient(p['container_url'], sas)
        work = _blob.push if p['direction'] == 'push' else _blob.restore
        summary = work(client, p['storage_path'], p['prefix'].strip('/'), progress, p['threads'])
    except ValueError as exc:
        progress.final({'error': str(exc)}, failed=True)
        raise Finished(dict(msg=str(exc), waa_exit_code=EXIT_PREFLIGHT), failed=True)
    except (_blob.BlobError, IOError, OSError) as exc:
        message = getattr(exc, 'message', str(exc)).replace(sas, '***')
        status = getattr(exc, 'status', None)
        code = EXIT_PREFLIGHT if status in (401, 403, 404) else EXIT_PULL
        fix = ('Check the URL and that the SAS allows it (waa golden push creates one; an expired one is made anew '
               'by running again).' if code == EXIT_PREFLIGHT else
               'Run the same command again: the transfer goes on where it stopped.')
        result = dict(msg='Golden disk %s failed: %s' % (p['direction'], message), fix=fix, waa_exit_code=code)
        progress.final({'error': message, 'result': dict(result, failed=True)}, failed=True)
        raise Finished(result, failed=True)
    moved = summary.get('bytes_sent', summary.get('bytes_fetched', 0))
    result = dict(changed=True, manifest=summary['manifest'], bytes_moved=moved, resumed=summary['resumed'],
                  msg='Golden disk %s: %.1f MB moved%s' % ('pushed' if p['direction'] == 'push' else 'restored',
                                                           moved / 1e6, ' (resumed)' if summary['resumed'] else ''))
    progress.final({'what': 'golden disk', 'result': result, 'bytes_moved': moved, 'bytes_done': summary['bytes_total'],
                    'bytes_total': summary['bytes_total'], 'source': 'the VM'}, failed=False)
    raise Finished(result, failed=False)


def main():
    module = AnsibleModule(
        argument_spec=dict(direction=dict(type='str', choices=['push', 'restore'], required=True),
                           container_url=dict(type='str', required=True), prefix=dict(type='str', required=True),
                           storage_path=dict(type='path', required=True), sas_file=dict(type='path', required=True),
                           threads=dict(type='int', default=8), progress_file=dict(type='path')),
    )
    finish(module, transfer, module.params)


if __name__ == '__main__':
    main()
