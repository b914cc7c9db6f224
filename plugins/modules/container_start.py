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
  - With O(restart=unanswered) it decides itself, from one pass over the container, Windows boot and
    WAA server layers, whether a running container needs a restart (a server-start of a VM whose
    WAA server hangs), so that the choice is made in one place and costs no extra round trip.
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
    description: Starting a running container changes nothing; O(restart=always) always restarts.
options:
  name:
    description: Container name.
    type: str
    required: true
  restart:
    description:
      - What to do with a container that is already running (a stopped one is always started).
      - V(never) leaves it. V(always) restarts it.
      - V(unanswered) restarts it only when Windows has booted (or failed to boot) and the WAA server at
        O(server_url) does not answer; one that is still booting is left to finish.
    type: str
    choices: [never, always, unanswered]
    default: never
  server_url:
    description: The WAA server as the VM reaches it (for O(restart=unanswered)).
    type: str
    default: http://127.0.0.1:5000
  vnc_url:
    description: The VNC page as the VM reaches it (for O(restart=unanswered)).
    type: str
    default: http://127.0.0.1:8006
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

- name: Start it, or restart it when its WAA server hangs
  openadapt.waa.container_start:
    name: winarena
    restart: unanswered
    server_url: http://127.0.0.1:5000
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
reason:
  description: Why a running container was or was not restarted (O(restart=unanswered)).
  returned: when the container was running and O(restart=unanswered)
  type: str
  sample: Windows booted but the WAA server does not answer
layers:
  description: The layers checked for O(restart=unanswered) (see M(openadapt.waa.waa_probe)'s RV(openadapt.waa.waa_probe#module:layers)).
  returned: when the container was running and O(restart=unanswered)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._container import restart_wanted
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError, DockerNotFound
from ansible_collections.openadapt.waa.plugins.module_utils._probe_run import check_params, clients, probe_params
from ansible_collections.openadapt.waa.plugins.module_utils._prober import Prober


def _restart_choice(p):
    """{restart, reason, layers} for a running container, by the rule of _container.restart_wanted."""
    if p['restart'] != 'unanswered':
        return dict(restart=p['restart'] == 'always')
    probe = probe_params(docker_host=p['docker_host'], container_name=p['name'], server_url=p['server_url'],
                         vnc_url=p['vnc_url'], layers=['container', 'windows_boot', 'waa_server'])
    engine, waa = clients(probe)
    prober = Prober(probe, engine, waa)
    layers = [r.to_dict() for r in prober.run_once()]
    restart, reason = restart_wanted(layers, prober.boot)
    return dict(restart=restart, reason=reason, layers=layers)


ARGS = dict(
    name=dict(type='str', required=True),
    restart=dict(type='str', choices=['never', 'always', 'unanswered'], default='never'),
    server_url=dict(type='str', default='http://127.0.0.1:5000'),
    vnc_url=dict(type='str', default='http://127.0.0.1:8006'),
    stop_timeout=dict(type='int', default=120),
    docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
)


def start(module):
    """Start, restart or leave the container; the module's result (fails through ``module``)."""
    p = module.params
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
    choice = _restart_choice(p) if running else {}
    action = 'restarted' if running and choice['restart'] else ('none' if running else 'started')
    if action != 'none' and not module.check_mode:
        try:
            if action == 'restarted':
                engine.container_restart(p['name'], p['stop_timeout'])
            else:
                engine.container_start(p['name'])
        except (DockerNotFound, DockerError) as exc:
            module.fail_json(msg='Could not %s container %s: %s. Check: docker logs %s' % (
                action[:-2] if action == 'started' else 'restart', p['name'], exc, p['name']), waa_exit_code=4)
    said = {'none': 'Already running:', 'started': 'Started', 'restarted': 'Restarted'}[action]
    result = dict(changed=action != 'none', action=action, id=info.get('Id', ''), msg='%s %s' % (said, p['name']))
    result.update((key, choice[key]) for key in ('reason', 'layers') if key in choice)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True)
    p = module.params
    try:
        check_params(probe_params(container_name=p['name'], server_url=p['server_url'], vnc_url=p['vnc_url']))
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)
    module.exit_json(**start(module))


if __name__ == '__main__':
    main()
