#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: persist_files
short_description: Write several small files on the VM atomically, never through a symlink
version_added: 0.1.0
description:
  - Writes each file to a temporary file in its directory and renames it over the target, so a reader never sees
    half a file.
  - Refuses to write through a symbolic link planted at the target (for example in a world-writable C(/tmp)), and
    never creates world-writable files.
  - One module run for all files, instead of one file transfer per file.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reports which files would change, writes nothing.
  diff_mode:
    support: none
    description: No diff is produced.
  idempotent:
    support: full
    description: A file whose content and mode are already as asked is left alone.
options:
  files:
    description:
      - The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file. Missing parent directories are created with mode 0700.
        type: path
        required: true
      content:
        description: The whole content.
        type: str
        required: true
      mode:
        description: Permission mode, without the world-writable bit.
        type: str
        default: '0640'
      track_changes:
        description:
          - Whether a new content counts as a change. V(false) for logs and records that differ on every run,
            so that re-running a setup on a ready host reports no change.
        type: bool
        default: true
      append:
        description:
          - Append the content to the file (a log that keeps earlier runs' lines) instead of replacing it.
            The file is opened with C(O_APPEND) and C(O_NOFOLLOW).
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: Save the container id and the setup log
  openadapt.waa.persist_files:
    files:
      - path: /var/lib/openadapt-waa/container_id
        content: "{{ container_id }}\n"
      - path: /tmp/waa_setup.log
        content: "{{ setup_log }}"
        append: true
        track_changes: false
"""

RETURN = r"""
files:
  description: One entry per file.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/openadapt-waa/container_id", "written": true, "bytes": 65}]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, append_bytes, atomic_write_bytes
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path


def _current(path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        return data, os.stat(path).st_mode & 0o777
    except (IOError, OSError):
        return None, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                content=dict(type='str', required=True),
                mode=dict(type='str', default='0640'),
                track_changes=dict(type='bool', default=True),
                append=dict(type='bool', default=False),
            )),
        ),
        supports_check_mode=True,
    )
    results = []
    changed = False
    for spec in module.params['files']:
        path = spec['path']
        try:
            validate_abs_path(path, 'file path')
            mode = int(spec['mode'], 8)
        except ValueError as exc:
            module.fail_json(msg='%s Fix the path or mode of this file.' % exc, files=results)
        if mode & 0o002:
            module.fail_json(msg='Mode %s of %s is world-writable: use e.g. 0640.' % (spec['mode'], path), files=results)
        data = spec['content'].encode('utf-8')
        if spec['append']:  # a log: each run adds its lines, earlier runs' stay
            if not module.check_mode:
                try:
                    append_bytes(path, data, mode)
                except (ProgressFileError, OSError, ValueError) as exc:
                    module.fail_json(msg='Could not append to %s: %s' % (path, exc), files=results)
            changed = changed or spec['track_changes']
            results.append({'path': path, 'written': True, 'bytes': len(data)})
            continue
        old, old_mode = _current(path)
        needed = old != data or old_mode != mode or os.path.islink(path)
        if needed and not module.check_mode:
            try:
                atomic_write_bytes(path, data, mode)
            except (ProgressFileError, OSError, ValueError) as exc:
                module.fail_json(msg='Could not write %s: %s' % (path, exc), files=results)
        if needed and spec['track_changes']:
            changed = True
        results.append({'path': path, 'written': needed, 'bytes': len(data)})
    written = [r['path'] for r in results if r['written']]
    module.exit_json(changed=changed, files=results,
                     msg='Saved %s' % ', '.join(written) if written else 'All files already up to date')


if __name__ == '__main__':
    main()
