# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options every module that calls Azure for one VM shares (module_utils/_azure_arm.AZURE_VM_ARGS)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
requirements:
  - azure-identity
  - azure-mgmt-compute
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
      - Where the credential comes from (azure-identity). V(credentials) (or V(env)) - the service principal in
        C(AZURE_CLIENT_ID), C(AZURE_SECRET) (or C(AZURE_SECRET_FILE)) and C(AZURE_TENANT). V(msi) - the machine's
        managed identity (Azure ML compute, any Azure resource with an identity). V(cli) - C(az login).
        V(auto) - the service principal when its secret is set, else azure-identity's default chain (environment,
        workload identity, managed identity, Azure CLI).
      - Defaults to C(ANSIBLE_AZURE_AUTH_SOURCE) when set (as for the azure_rm inventory), else V(auto).
    type: str
    choices: [auto, credentials, env, msi, cli]
  arm_endpoint:
    description: Azure Resource Manager's endpoint (another cloud, or a test stand-in).
    type: str
    default: https://management.azure.com
  login_endpoint:
    description: Microsoft Entra ID's endpoint (the authority) for the service principal's token.
    type: str
    default: https://login.microsoftonline.com
  imds_endpoint:
    description: The instance metadata service, for a managed identity's token.
    type: str
    default: http://169.254.169.254
  ca_file:
    description: CA certificates to trust for the HTTPS endpoints, instead of the system's.
    type: path
"""
