#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: container_start
short_description: Start or restart an existing container, never creating or changing it
version_added: 0.1.0
description:
  - Starts a stopped container, or restarts a running one, through the Docker Engine API.
  - Unlike M(community.docker.docker_container), it never recreates the container, so a container that
    C(vm_setup) created keeps its devices, ports, storage and one-string command.
  - Fails when the container does not exist, naming the command that creates it.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reports what it would do.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: partial
    description: Starting a running container changes nothing; O(restart=true) always restarts.
options:
  name:
    description: Container name.
    type: str
    required: true
  restart:
    description: Restart the container when it is running (else it is only started when stopped).
    type: bool
    default: false
  stop_timeout:
    description: Seconds the container gets to shut down on a restart (Windows needs an ACPI shutdown).
    type: int
    default: 120
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Start the WAA container again
  openadapt.waa.container_start:
    name: winarena
"""

RETURN = r"""
action:
  description: What was done.
  returned: always
  type: str
  choices: [none, started, restarted]
  sample: started
id:
  description: The container's id.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError, DockerNotFound
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_container_name


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            restart=dict(type='bool', default=False),
            stop_timeout=dict(type='int', default=120),
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        validate_container_name(p['name'])
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)
    engine = DockerEngine(p['docker_host'])
    try:
        info = engine.container_inspect(p['name'])
    except DockerError as exc:
        module.fail_json(msg='Cannot inspect container %s: %s' % (p['name'], exc), waa_exit_code=2)
    if info is None:
        # The message alone names the fix too: plain ansible-playbook and AWX show only msg.
        fix = 'Run `waa vm-setup` first: it creates the container with the right devices, ports and storage.'
        module.fail_json(msg='No container named %s on this VM. %s' % (p['name'], fix), waa_exit_code=4, fix=fix)
    running = (info.get('State') or {}).get('Running', False)
    action = 'restarted' if running and p['restart'] else ('none' if running else 'started')
    if action != 'none' and not module.check_mode:
        try:
            if action == 'restarted':
                engine.container_restart(p['name'], p['stop_timeout'])
            else:
                engine.container_start(p['name'])
        except (DockerNotFound, DockerError) as exc:
            module.fail_json(msg='Could not %s container %s: %s. Check: docker logs %s' % (
                action[:-2] if action == 'started' else 'restart', p['name'], exc, p['name']), waa_exit_code=4)
    module.exit_json(changed=action != 'none', action=action, id=info.get('Id', ''),
                     msg='%s %s' % ({'none': 'Already running:', 'started': 'Started', 'restarted': 'Restarted'}[action], p['name']))


if __name__ == '__main__':
    main()
