#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: waa_container
short_description: Create, keep or replace the Windows Agent Arena container, never recreating a running one
version_added: 0.2.0
description:
  - Creates and starts the container from O(spec) when there is none, labelled with O(config_hash) (so that the next
    run's survey knows it is the one asked for) and C(openadapt.waa.managed=true).
  - A container that exists but does not run (exited, dead, created) is replaced; with O(rebuild) any container is
    (a running one first gets its stop timeout, Windows' ACPI shutdown). The data in the bind-mounted directories
    stays.
  - A running container is kept when it matches O(spec) - image (O(image_id)), command, the environment the spec sets,
    published ports, volumes, devices, capabilities, restart policy, stop timeout. When it differs, it is kept and the
    module fails, naming the differences (environment variables by name only), because recreating it would restart
    Windows under whatever runs in it.
  - Creates the host directories in O(directories) first (mode 0750) and refuses a path that exists and is not a
    directory.
  - Uses the collection's own Docker client (standard library, the Engine's unix socket); no docker SDK or
    C(requests) on the host.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Says what it would do (RV(action)) and what differs; creates, removes and starts nothing.
  diff_mode:
    support: none
    description: RV(differences) names what differs.
  idempotent:
    support: full
    description: A container that matches is kept (V(kept), not changed).
options:
  name:
    description: The container's name.
    type: str
    required: true
  spec:
    description:
      - What the container is made of - C(image), C(command) (a list of one string, the image's entrypoint is
        C(bash -c)), C(devices), C(capabilities), C(published_ports) (C(ADDRESS:HOST_PORT:CONTAINER_PORT)), C(env)
        (a dict of strings), C(volumes), C(stop_timeout), C(restart_policy). The container role's C(waa_container_spec).
    type: dict
    required: true
  config_hash:
    description: The hash of O(spec) this run asks for, put on a created container as the C(openadapt.waa.config) label.
    type: str
    required: true
  image_id:
    description: The id of the image the spec's C(image) names now; a running container with another image differs.
    type: str
  rebuild:
    description: Replace the container even when it runs and matches.
    type: bool
    default: false
  stop_timeout:
    description: Seconds a running container gets to stop (Windows' ACPI shutdown) before it is removed for O(rebuild).
    type: int
    default: 120
  directories:
    description: Host directories the container mounts (Windows' disk, the results), created when missing.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Create, replace or keep the container
  openadapt.waa.waa_container:
    name: winarena
    spec: "{{ waa_container_spec }}"
    config_hash: "{{ waa_container_config }}"
    image_id: "{{ pulled.image_id }}"
    directories: [/var/lib/openadapt-waa/storage, /var/lib/openadapt-waa/client-results/winarena]
"""

RETURN = r"""
action:
  description: V(created), V(replaced) (an existing container was removed first, see RV(removed)), V(kept) or V(refused).
  returned: always
  type: str
removed:
  description: Why an existing container was removed (V(rebuild requested), V(status exited), ...), or null.
  returned: always
  type: str
differences:
  description: What differs between the running container and O(spec) (for V(refused)).
  returned: always
  type: list
  elements: str
id:
  description: The container's id (empty in check mode for one not created yet).
  returned: always
  type: str
container:
  description: Docker's inspect data of the container (empty when there is none).
  returned: always
  type: dict
clients:
  description:
    - The benchmark clients running in the container when O(rebuild) was refused because of them (C(exec_id), C(pid),
      C(command)).
  returned: when a rebuild was refused because a benchmark runs
  type: list
  elements: dict
  version_added: 0.2.0
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._container import converge
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_CONTAINER, EXIT_UNKNOWN
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path, validate_container_name


def _directories(module):
    """Create the missing directories; a path that is not a directory fails, naming the fix."""
    for path in module.params['directories']:
        if os.path.isdir(path):
            continue
        if os.path.lexists(path):
            module.fail_json(msg='%s exists and is not a directory. Set waa_storage_path (--storage-path) and '
                                 'waa_results_path (--results-path) to directories.' % path, waa_exit_code=EXIT_CONTAINER)
        if not module.check_mode:
            os.makedirs(path, 0o750)


def main():
    module = AnsibleModule(
        argument_spec=dict(name=dict(type='str', required=True), spec=dict(type='dict', required=True),
                           config_hash=dict(type='str', required=True), image_id=dict(type='str'),
                           rebuild=dict(type='bool', default=False), stop_timeout=dict(type='int', default=120),
                           directories=dict(type='list', elements='path', default=[]),
                           docker_host=dict(type='str', default='unix:///var/run/docker.sock')),
        supports_check_mode=True,
    )
    p = module.params
    try:
        validate_container_name(p['name'])
        for path in p['directories']:
            validate_abs_path(path, 'directories')
        engine = DockerEngine(p['docker_host'], timeout=60)
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=EXIT_UNKNOWN)
    _directories(module)
    try:
        result = converge(engine, p['name'], p['spec'], p['config_hash'], p['image_id'], p['rebuild'],
                          p['stop_timeout'], module.check_mode)
    except (DockerError, KeyError, ValueError) as exc:
        # Docker's own words (e.g. "address already in use"); the container phase names the log to read.
        module.fail_json(msg=str(getattr(exc, 'message', exc)), changed=False)
    if result.get('clients'):
        client = result['clients'][0]
        module.fail_json(
            msg='A benchmark client runs in container %s (exec %s, pid %s: %s): --rebuild would stop it mid-task, so '
                'the container was kept.' % (p['name'], client['exec_id'], client['pid'], client['command']),
            fix='Wait for that benchmark to end, or stop it (interrupt the waa run that started it, or: docker exec %s '
                'pkill -f run.py), then run again with --rebuild.' % p['name'],
            waa_exit_code=EXIT_CONTAINER, **result)
    if result.get('refused'):
        dirs = p['directories']
        kept = ("Windows' disk in %s and the results in %s" % tuple(dirs) if len(dirs) == 2
                else ' and '.join(dirs) or 'the bind-mounted directories')
        module.fail_json(
            msg='Container %s is running with another configuration than this run asks for (%s). Recreating it would '
                'restart Windows and stop what runs in it, so it was kept.' % (p['name'], '; '.join(result['differences'])),
            fix='Re-run with --rebuild (waa_rebuild) to recreate it: %s are kept. Or run with the settings it was '
                'created with.' % kept,
            waa_exit_code=EXIT_CONTAINER, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
