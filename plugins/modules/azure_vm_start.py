#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_vm_start
short_description: Start a stopped or deallocated Azure VM and return the address it has now
version_added: 0.1.0
description:
  - Reads the VM's power state from Azure Resource Manager; a VM that is not running is started
    (C(POST .../start)), and the module waits until its power state is C(running).
  - Returns the VM's current public and private IP address (a dynamic public IP changes on each
    start), read from its primary network interface, so the play can connect to the new one.
  - Runs on the controller (with C(delegate_to) V(localhost)), through the Azure SDK (C(azure-identity) and
    C(azure-mgmt-compute), the C(azure) extra of openadapt-waa).
  - Credentials as the azure_rm inventory takes them - a service principal in C(AZURE_CLIENT_ID),
    C(AZURE_SECRET) (or C(AZURE_SECRET_FILE)) and C(AZURE_TENANT), a managed identity (C(msi)),
    or the Azure CLI's login; V(auto) without a secret is azure-identity's default chain.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reads the power state and the address; never starts the VM.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: A running VM is left alone (C(changed=false)).
options:
  wait_timeout:
    description: Seconds to wait for the power state C(running) after the start.
    type: float
    default: 600
extends_documentation_fragment:
  - openadapt.waa.azure_vm
"""

EXAMPLES = r"""
- name: Start the WAA VM if it is stopped, and connect to its address of now
  openadapt.waa.azure_vm_start:
    name: waa-vm-1
    resource_group: openadapt-waa
  delegate_to: localhost
  become: false
  register: vm

- name: Connect to the address the VM has now
  ansible.builtin.set_fact:
    ansible_host: "{{ vm.address }}"
"""

RETURN = r"""
power_state_before:
  description: The power state found (C(running), C(stopped), C(deallocated), ...).
  returned: always
  type: str
  sample: deallocated
power_state:
  description: The power state at the end (C(running) after a start).
  returned: always
  type: str
  sample: running
public_ip:
  description: The public IP address of the primary network interface, if it has one.
  returned: always
  type: str
  sample: 20.1.2.3
private_ip:
  description: The private IP address of the primary network interface.
  returned: always
  type: str
  sample: 10.0.0.4
address:
  description: The address to connect to - the public IP, else the private one.
  returned: always
  type: str
  sample: 20.1.2.3
"""

from ansible_collections.openadapt.waa.plugins.module_utils import _azure_arm as azure


def run(module):
    p = module.params
    vm = azure.vm_from_params(p)
    before, now = vm.start(p['wait_timeout'], check_mode=module.check_mode)
    public, private = vm.addresses()
    module.exit_json(public_ip=public, private_ip=private, address=public or private,
                     **azure.power_result(p['name'], before, now, 'running', 'Started', module.check_mode))


def main():
    azure.module_main(run)


if __name__ == '__main__':
    main()
