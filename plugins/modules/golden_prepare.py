#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: golden_prepare
short_description: Follow WAA's golden image preparation (C(--prepare-image true)) to its end
version_added: 0.2.0
description:
  - Follows the preparation container for up to O(wait) seconds per run - its log (dockur processing the ISO at
    C(/custom.iso), QEMU, Windows' setup, the WAA server answering, Windows shutting down) and its state - and returns
    the stage reached as RV(progress) (C(kind=boot)). Run it in an C(until) loop on RV(finished).
  - The preparation has ended when the container exits after WAA's C(Windows VM is shutting down...) line (WAA's
    C(entry.sh) waits 180 s for Windows to save its disk, then ends). An exit before it, one of dockur's fatal
    errors (the ISO refused, KVM, RAM_SIZE, ...) or C(Failed to shut down the Windows VM) fails with the exit code of
    its class (1 for the ISO, 5 otherwise) and the fix.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: Only reads.
options:
  name:
    description: The preparation container.
    type: str
    required: true
  wait:
    description: Seconds one run follows at most (it returns at once when the preparation ends or fails).
    type: float
    default: 6
  state:
    description:
      - V(followed) follows the preparation. V(absent) removes the container (the preparation's, or the one that
        verified the disk), giving a running one O(stop_timeout) seconds for Windows' ACPI shutdown first.
    type: str
    choices: [followed, absent]
    default: followed
  stop_timeout:
    description: For V(absent), seconds a running container gets to stop.
    type: int
    default: 120
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Golden image preparation
  openadapt.waa.golden_prepare:
    name: winarena-prepare
  register: prepared
  until: prepared.finished
  retries: 600
  delay: 0
"""

RETURN = r"""
finished:
  description: Whether the preparation has ended (Windows shut down and the container exited).
  returned: always
  type: bool
stage:
  description: The last stage seen (V(installing_windows), V(qemu_started), V(windows_started), V(server_ready),
    V(shutting_down), V(prepared)).
  returned: always
  type: str
exit_code:
  description: The container's exit code once it exited.
  returned: always
  type: int
progress:
  description: C(kind=boot), C(stage), C(log_tail), C(install) (C(step), the ISO processing line).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError
from ansible_collections.openadapt.waa.plugins.module_utils._health import ContainerLogFollower, cause_exit_code, diagnose_exit
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_BOOT, EXIT_CONTAINER, EXIT_PREFLIGHT
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_container_name

STAGES = ('installing_windows', 'qemu_started', 'windows_started', 'server_ready', 'shutting_down')
ENDED = ('exited', 'dead')


class PrepareFollower(object):
    """One run's view of the preparation container: its log since it started, its state."""

    def __init__(self, engine, name):
        self.engine, self.name = engine, name
        self.logs = ContainerLogFollower(engine, name)
        self.info = {}

    def poll(self):
        self.info = self.engine.container_inspect(self.name, timeout=30) or {}
        state = self.info.get('State') or {}
        if self.info:
            self.logs.poll(started_at=state.get('StartedAt'), finished_at=state.get('FinishedAt'), timeout=30)
        return state

    def stage(self):
        stages = self.logs.parser.stages
        return next((s for s in reversed(STAGES) if s in stages), 'container_started')

    def result(self, finished, stage=None):
        parser = self.logs.parser
        stage = stage or self.stage()
        progress = {'kind': 'boot', 'stage': stage, 'log_tail': list(parser.tail)[-20:], 'install': dict(parser.install)}
        return dict(changed=False, finished=finished, stage=stage, progress=progress,
                    exit_code=(self.info.get('State') or {}).get('ExitCode'))


def follow(module, follower):
    """Follow for up to ``wait`` seconds: the result dict, or a failure (fail_json)."""
    ends = time.monotonic() + max(0.5, module.params['wait'])
    while True:
        state = follower.poll()
        parser = follower.logs.parser
        if not follower.info:
            module.fail_json(msg='The preparation container %s is gone.' % module.params['name'],
                             fix='Run waa prepare-image again.', waa_exit_code=EXIT_CONTAINER, **follower.result(False))
        if parser.fatal is not None:
            fatal = parser.fatal
            code = EXIT_PREFLIGHT if fatal['id'] == 'iso_invalid' else cause_exit_code(fatal['id'])
            module.fail_json(msg=fatal['diagnosis'], fix=fatal['fix'], signature=fatal['id'], waa_exit_code=code,
                             **follower.result(False))
        if state.get('Status') in ENDED:
            if 'shutting_down' in parser.stages:
                return follower.result(True, 'prepared')
            exit_code = state.get('ExitCode')
            diagnosis, fix, _cause = diagnose_exit(exit_code, bool(state.get('OOMKilled')), list(parser.tail))
            module.fail_json(
                msg='The preparation container %s ended at stage %s, before Windows was prepared: %s'
                    % (module.params['name'], follower.stage(), diagnosis),
                fix='%s Then run waa prepare-image again (docker logs %s shows its whole log).' % (fix, module.params['name']),
                waa_exit_code=EXIT_BOOT, **follower.result(False))
        if time.monotonic() >= ends:
            return follower.result(False)
        time.sleep(0.5)


def remove(module, engine):
    """Stop (ACPI shutdown first) and remove the container; nothing to do when it is gone."""
    name = module.params['name']
    info = engine.container_inspect(name, timeout=30)
    if not info:
        return dict(changed=False, finished=True, stage='', progress={}, exit_code=None)
    if not module.check_mode:
        if (info.get('State') or {}).get('Running'):
            engine.container_stop(name, stop_timeout=module.params['stop_timeout'],
                                  timeout=module.params['stop_timeout'] + 30)
        engine.container_remove(name, timeout=60)
    return dict(changed=True, finished=True, stage='', progress={}, exit_code=(info.get('State') or {}).get('ExitCode'))


def main():
    module = AnsibleModule(
        argument_spec=dict(name=dict(type='str', required=True), wait=dict(type='float', default=6),
                           state=dict(type='str', choices=['followed', 'absent'], default='followed'),
                           stop_timeout=dict(type='int', default=120),
                           docker_host=dict(type='str', default='unix:///var/run/docker.sock')),
        supports_check_mode=True,
    )
    try:
        validate_container_name(module.params['name'])
        engine = DockerEngine(module.params['docker_host'], timeout=30)
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=EXIT_PREFLIGHT)
    try:
        if module.params['state'] == 'absent':
            module.exit_json(**remove(module, engine))
        module.exit_json(**follow(module, PrepareFollower(engine, module.params['name'])))
    except DockerError as exc:
        module.fail_json(msg='Docker did not answer about the preparation container: %s' % exc.message,
                         waa_exit_code=EXIT_CONTAINER)


if __name__ == '__main__':
    main()
