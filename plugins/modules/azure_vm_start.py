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
  - Runs on the controller (with C(delegate_to) V(localhost)); needs no Azure SDK, only the standard library.
  - Credentials as the azure_rm inventory takes them - a service principal in C(AZURE_CLIENT_ID),
    C(AZURE_SECRET) (or C(AZURE_SECRET_FILE)) and C(AZURE_TENANT), a managed identity (C(msi)),
    or the Azure CLI's login.
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
  name:
    description: The VM's name.
    type: str
    required: true
  resource_group:
    description: The VM's resource group.
    type: str
    required: true
  subscription_id:
    description: The subscription; defaults to C(AZURE_SUBSCRIPTION_ID) in the environment.
    type: str
  auth_source:
    description:
      - Where the token comes from. V(auto) - the service principal when C(AZURE_SECRET) is set, else the
        Azure CLI. V(credentials) - the service principal. V(msi) - the machine's managed identity. V(cli) - C(az login).
      - Defaults to C(ANSIBLE_AZURE_AUTH_SOURCE) when set (as for the azure_rm inventory), else V(auto).
    type: str
    choices: [auto, credentials, env, msi, cli]
  arm_endpoint:
    description: Azure Resource Manager's endpoint (another cloud, or a test stand-in).
    type: str
    default: https://management.azure.com
  login_endpoint:
    description: Microsoft Entra ID's endpoint for the service principal's token.
    type: str
    default: https://login.microsoftonline.com
  imds_endpoint:
    description: The instance metadata service, for a managed identity's token.
    type: str
    default: http://169.254.169.254
  ca_file:
    description: CA certificates to trust for the HTTPS endpoints, instead of the system's.
    type: path
  wait_timeout:
    description: Seconds to wait for the power state C(running) after the start.
    type: float
    default: 600
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _azure_arm as arm_api


def run(module):
    p = module.params
    subscription = p['subscription_id'] or os.environ.get('AZURE_SUBSCRIPTION_ID')
    if not subscription:
        module.fail_json(msg='No Azure subscription: set AZURE_SUBSCRIPTION_ID (or subscription_id).', waa_exit_code=1)
    auth = p['auth_source'] or os.environ.get('ANSIBLE_AZURE_AUTH_SOURCE') or 'auto'
    token = arm_api.get_token(auth, p['arm_endpoint'], p['login_endpoint'], p['imds_endpoint'], ca_file=p['ca_file'])
    arm = arm_api.Arm(p['arm_endpoint'], token, p['ca_file'])
    resource = arm_api.vm_id(subscription, p['resource_group'], p['name'])
    before, now = arm_api.start_vm(arm, resource, p['wait_timeout'], check_mode=module.check_mode)
    public, private = arm_api.addresses(arm, arm.call('GET', resource, arm_api.COMPUTE_API))
    started = before != 'running'
    module.exit_json(changed=started, power_state_before=before, power_state=now, public_ip=public,
                     private_ip=private, address=public or private,
                     msg=('Started the VM %s (it was %s)' % (p['name'], before)) if started and not module.check_mode
                     else 'The VM %s is %s' % (p['name'], now))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            resource_group=dict(type='str', required=True),
            subscription_id=dict(type='str'),
            auth_source=dict(type='str', choices=['auto', 'credentials', 'env', 'msi', 'cli']),
            arm_endpoint=dict(type='str', default=arm_api.ARM_ENDPOINT),
            login_endpoint=dict(type='str', default=arm_api.LOGIN_ENDPOINT),
            imds_endpoint=dict(type='str', default=arm_api.IMDS_ENDPOINT),
            ca_file=dict(type='path'),
            wait_timeout=dict(type='float', default=600),
        ),
        supports_check_mode=True,
    )
    try:
        run(module)
    except arm_api.AzureError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)


if __name__ == '__main__':
    main()
