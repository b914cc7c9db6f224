#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_vm_deallocate
short_description: Deallocate an Azure VM, so that its compute is no longer billed
version_added: 0.1.0
description:
  - Reads the VM's power state from Azure Resource Manager; a VM that is not deallocated (running, or stopped,
    which Azure still bills) is deallocated (C(POST .../deallocate)), and the module waits until its power state
    is C(deallocated). Its disks stay, the golden Windows disk with them; C(waa up) starts it again.
  - Runs on the controller (with C(delegate_to) V(localhost)), through the Azure SDK (C(azure-identity) and
    C(azure-mgmt-compute), the C(azure) extra of openadapt-waa), with the credentials of
    M(openadapt.waa.azure_vm_start).
  - Whether another run still uses the VM is the play's to check first (C(waa down) reads the VM's lease).
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reads the power state; never deallocates.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: A deallocated VM is left alone (C(changed=false)).
options:
  wait_timeout:
    description: Seconds to wait for the power state C(deallocated) after asking for it.
    type: float
    default: 600
extends_documentation_fragment:
  - openadapt.waa.azure_vm
"""

EXAMPLES = r"""
- name: Stop paying for the WAA VM
  openadapt.waa.azure_vm_deallocate:
    name: waa-vm-1
    resource_group: openadapt-waa
  delegate_to: localhost
  become: false
"""

RETURN = r"""
power_state_before:
  description: The power state found (C(running), C(stopped), C(deallocated), ...).
  returned: always
  type: str
  sample: running
power_state:
  description: The power state at the end (C(deallocated) after a deallocation).
  returned: always
  type: str
  sample: deallocated
"""

from ansible_collections.openadapt.waa.plugins.module_utils import _azure_arm as azure


def run(module):
    p = module.params
    before, now = azure.vm_from_params(p).deallocate(p['wait_timeout'], check_mode=module.check_mode)
    module.exit_json(**azure.power_result(p['name'], before, now, 'deallocated', 'Deallocated', module.check_mode))


def main():
    azure.module_main(run)


if __name__ == '__main__':
    main()
