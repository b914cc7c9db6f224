# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Azure calls of `waa up` and `waa down`, through the Azure SDK (the ``[azure]`` extra).

Start a stopped or deallocated VM, or deallocate one, wait for its power state, and read the
address it has now (a dynamic public IP changes on every start). The credential is azure-identity's:
a service principal (the AZURE_* variables the azure_rm inventory reads too), the machine's
managed identity (Azure ML compute, any Azure resource with an identity), or the Azure CLI's login
(`auto`: the service principal when its secret is set, else azure-identity's default chain).
azure-mgmt-compute makes the calls. Every endpoint is an option, so the tests point the SDK at a
loopback stand-in of ARM.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline

ARM_ENDPOINT = 'https://management.azure.com'
LOGIN_ENDPOINT = 'https://login.microsoftonline.com'
IMDS_ENDPOINT = 'http://169.254.169.254'
NETWORK_API = '2024-05-01'
MISSING_SDK = ('The Azure SDK is not installed next to Ansible on the controller (%s): install the azure extra, '
               'pip install "openadapt-waa[azure]" (azure-identity, azure-mgmt-compute).')

# The arguments of every module that calls Azure for a VM (azure_vm_start, azure_vm_deallocate).
AZURE_VM_ARGS = dict(
    name=dict(type='str', required=True),
    resource_group=dict(type='str', required=True),
    subscription_id=dict(type='str'),
    auth_source=dict(type='str', choices=['auto', 'credentials', 'env', 'msi', 'cli']),
    arm_endpoint=dict(type='str', default=ARM_ENDPOINT),
    login_endpoint=dict(type='str', default=LOGIN_ENDPOINT),
    imds_endpoint=dict(type='str', default=IMDS_ENDPOINT),
    ca_file=dict(type='path'),
    wait_timeout=dict(type='float', default=600),
)


class AzureError(Exception):
    """An Azure call or a credential failed; the message says which and what to do."""


def _secret(env):
    secret = env.get('AZURE_SECRET') or env.get('AZURE_CLIENT_SECRET')
    if not secret and env.get('AZURE_SECRET_FILE'):
        with open(env['AZURE_SECRET_FILE']) as handle:
            secret = handle.read().strip()
    return secret


def credential(auth_source, login_endpoint=LOGIN_ENDPOINT, imds_endpoint=IMDS_ENDPOINT, ca_file=None, env=None):
    """azure-identity's credential for ``auth_source``: V(credentials) the service principal, V(msi) the managed
    identity, V(cli) `az login`, V(auto) the service principal when its secret is set, else the default chain
    (environment, workload identity, managed identity, Azure CLI...)."""
    env = os.environ if env is None else env
    try:
        from azure import identity
    except ImportError as exc:
        raise AzureError(MISSING_SDK % exc)
    transport = {'connection_verify': ca_file} if ca_file else {}
    if imds_endpoint and imds_endpoint.rstrip('/') != IMDS_ENDPOINT:
        # azure-identity's own setting for another metadata endpoint (this process only).
        os.environ['AZURE_POD_IDENTITY_AUTHORITY_HOST'] = imds_endpoint
    secret = _secret(env)
    tenant = env.get('AZURE_TENANT') or env.get('AZURE_TENANT_ID')
    if auth_source == 'msi':
        return identity.ManagedIdentityCredential(client_id=env.get('AZURE_CLIENT_ID') or None, **transport)
    if auth_source in ('credentials', 'env') or (auth_source == 'auto' and secret):
        missing = [n for n, v in (('AZURE_CLIENT_ID', env.get('AZURE_CLIENT_ID')), ('AZURE_SECRET', secret),
                                  ('AZURE_TENANT', tenant)) if not v]
        if missing:
            raise AzureError('auth_source %s needs %s in the environment.' % (auth_source, ', '.join(missing)))
        custom = login_endpoint.rstrip('/') != LOGIN_ENDPOINT
        return identity.ClientSecretCredential(tenant, env['AZURE_CLIENT_ID'], secret, authority=login_endpoint,
                                               disable_instance_discovery=custom, **transport)
    if auth_source == 'cli':
        return identity.AzureCliCredential()
    return identity.DefaultAzureCredential(exclude_interactive_browser_credential=True, **transport)


def _explain(exc, what):
    """An AzureError that says what failed and what to do, from the SDK's exception."""
    from azure.core import exceptions as errors

    if isinstance(exc, errors.ClientAuthenticationError) and getattr(exc, 'status_code', None) not in (401, 403):
        return AzureError('No Azure token for %s: %s. Check the credential: AZURE_CLIENT_ID, AZURE_SECRET and '
                          'AZURE_TENANT for a service principal, the machine\'s managed identity, or `az login`.'
                          % (what, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400].rstrip('.')))
    status = getattr(exc, 'status_code', None)
    if status == 404:
        return AzureError('Not found in Azure: %s. Check the VM name, resource group and subscription.' % what)
    if status in (401, 403):
        return AzureError('Azure refused %s (HTTP %s: %s): the identity needs the Virtual Machine Contributor role '
                          'on the VM.' % (what, status, getattr(exc, 'message', exc)))
    if isinstance(exc, errors.ServiceRequestError):
        return AzureError('Cannot reach Azure for %s: %s' % (what, exc))
    return AzureError('Azure failed %s: %s' % (what, exc))


class Vm:
    """One Azure VM through azure-mgmt-compute: its power state, start, deallocate, addresses."""

    def __init__(self, cred, subscription, resource_group, name, arm_endpoint=ARM_ENDPOINT, ca_file=None):
        try:
            from azure.mgmt.compute import ComputeManagementClient
        except ImportError as exc:
            raise AzureError(MISSING_SDK % exc)
        endpoint = arm_endpoint.rstrip('/')
        self.client = ComputeManagementClient(cred, subscription, base_url=endpoint,
                                              credential_scopes=[endpoint + '/.default'],
                                              **({'connection_verify': ca_file} if ca_file else {}))
        self.endpoint = endpoint
        self.resource_group, self.name = resource_group, name

    def _call(self, what, function, *args, **kwargs):
        from azure.core.exceptions import AzureError as SdkError

        try:
            return function(*args, **kwargs)
        except SdkError as exc:
            raise _explain(exc, '%s of VM %s' % (what, self.name))

    def power_state(self):
        """`running`, `stopped`, `deallocated`, `starting`, `deallocating`... from the VM's instance view."""
        view = self._call('the instance view', self.client.virtual_machines.instance_view, self.resource_group, self.name)
        for status in view.statuses or []:
            code = status.code or ''
            if code.startswith('PowerState/'):
                return code.split('/', 1)[1]
        return 'unknown'

    def _change(self, target, begin, passing, wait_timeout, check_mode, poll):
        """Ask for ``target`` through ``begin`` unless the VM is in it (or on its way: ``passing``), then wait."""
        before = self.power_state()
        if before == target or check_mode:
            return before, before
        if before != passing:  # a change under way is waited for, not asked again
            self._call('the %s' % target, begin, self.resource_group, self.name, polling=False)
        deadline = Deadline(wait_timeout)
        while True:
            state = self.power_state()
            if state == target:
                return before, state
            if deadline.expired():
                waited = deadline.elapsed()
                raise AzureError('The VM %s was %s and is still %s after %.0fs of waiting for it to be %s. Look at its '
                                 'activity log in the Azure portal.' % (self.name, before, state, waited, target))
            deadline.sleep(poll)

    def start(self, wait_timeout, check_mode=False, poll=2.0):
        """Start the VM unless it runs; wait until it does. Returns (state before, state now)."""
        return self._change('running', self.client.virtual_machines.begin_start, 'starting', wait_timeout, check_mode,
                            poll)

    def deallocate(self, wait_timeout, check_mode=False, poll=2.0):
        """Deallocate the VM (no compute billed; disks kept) unless it is; wait until it is."""
        return self._change('deallocated', self.client.virtual_machines.begin_deallocate, 'deallocating', wait_timeout,
                            check_mode, poll)

    def _get(self, resource_id, api_version):
        from azure.core.rest import HttpRequest

        send = getattr(self.client, 'send_request', None) or self.client._send_request  # pylint: disable=protected-access
        response = self._call('reading %s' % resource_id.rsplit('/', 1)[-1], send,
                              HttpRequest('GET', '%s%s?api-version=%s' % (self.endpoint, resource_id, api_version)))
        if response.status_code >= 300:
            raise AzureError('Azure answered GET %s with HTTP %s.' % (resource_id, response.status_code))
        return response.json() or {}

    def addresses(self):
        """(public IP or None, private IP or None) of the VM's primary NIC, read now."""
        vm = self._call('reading', self.client.virtual_machines.get, self.resource_group, self.name)
        nics = (vm.network_profile.network_interfaces if vm.network_profile else None) or []
        if not nics:
            return None, None
        primary = next((n for n in nics if n.primary), nics[0])
        nic = self._get(primary.id, NETWORK_API)
        configs = (nic.get('properties') or {}).get('ipConfigurations') or []
        config = next((c for c in configs if (c.get('properties') or {}).get('primary')), configs[0] if configs else {})
        props = config.get('properties') or {}
        public = None
        if (props.get('publicIPAddress') or {}).get('id'):
            ip = self._get(props['publicIPAddress']['id'], NETWORK_API)
            public = (ip.get('properties') or {}).get('ipAddress')
        return public, props.get('privateIPAddress')


def vm_from_params(p, env=None):
    """The Vm of a module's AZURE_VM_ARGS parameters."""
    env = os.environ if env is None else env
    subscription = p['subscription_id'] or env.get('AZURE_SUBSCRIPTION_ID')
    if not subscription:
        raise AzureError('No Azure subscription: set AZURE_SUBSCRIPTION_ID (or subscription_id).')
    auth = p['auth_source'] or env.get('ANSIBLE_AZURE_AUTH_SOURCE') or 'auto'
    cred = credential(auth, p['login_endpoint'], p['imds_endpoint'], p['ca_file'], env)
    return Vm(cred, subscription, p['resource_group'], p['name'], p['arm_endpoint'], p['ca_file'])


def power_result(name, before, now, target, verb, check_mode):
    """A power module's result: changed when the VM was not ``target``; the message says what was done."""
    changed = before != target
    return dict(changed=changed, power_state_before=before, power_state=now,
                msg=('%s the VM %s (it was %s)' % (verb, name, before)) if changed and not check_mode
                else 'The VM %s is %s' % (name, now))


def module_main(run):
    """main() of a module that calls Azure for one VM: AZURE_VM_ARGS, check mode, an AzureError is exit 1."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=dict(AZURE_VM_ARGS), supports_check_mode=True)
    try:
        run(module)
    except AzureError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)
