# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few Azure Resource Manager calls `waa up` needs, over the standard library.

Start a stopped or deallocated VM, wait for its power state, and read the address it has now
(a dynamic public IP changes on every start). A token comes from a service principal (the
AZURE_* variables the azure_rm inventory reads too), the machine's managed identity (Azure ML,
any Azure resource with an identity) or the Azure CLI's login. Every endpoint is an option, so
the tests point them at a loopback stand-in of ARM.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import ssl
import subprocess

from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline

ARM_ENDPOINT = 'https://management.azure.com'
LOGIN_ENDPOINT = 'https://login.microsoftonline.com'
IMDS_ENDPOINT = 'http://169.254.169.254'
COMPUTE_API = '2024-07-01'
NETWORK_API = '2024-05-01'


class AzureError(Exception):
    """An ARM or token call failed; the message says which and what to do."""


def _call(method, url, headers=None, body=None, ca_file=None, timeout=30):
    """(status, headers, parsed JSON body or None) of one HTTP call."""
    data = body.encode('utf-8') if isinstance(body, str) else body
    try:
        response = open_url(url, data=data, headers=headers or {}, method=method, timeout=timeout,
                            ca_path=ca_file, use_proxy=not url.startswith(('http://127.', 'https://127.')))
        raw, status, response_headers = response.read(), response.getcode(), dict(response.headers)
    except HTTPError as exc:
        raw, status, response_headers = exc.read(), exc.code, dict(exc.headers or {})
    except (URLError, OSError, ssl.SSLError) as exc:
        raise AzureError('Cannot reach %s: %s' % (url.split('?')[0], getattr(exc, 'reason', exc)))
    try:
        doc = json.loads(raw.decode('utf-8')) if raw else None
    except ValueError:
        doc = None
    return status, response_headers, doc


def _error_text(doc):
    err = (doc or {}).get('error') if isinstance(doc, dict) else None
    if isinstance(err, dict):
        return '%s: %s' % (err.get('code'), err.get('message'))
    if isinstance(doc, dict) and doc.get('error_description'):
        return doc['error_description']
    return str(err or doc)


def token_from_credentials(login_endpoint, tenant, client_id, secret, resource, ca_file=None):
    """A service principal's token (OAuth 2 client credentials)."""
    url = '%s/%s/oauth2/v2.0/token' % (login_endpoint.rstrip('/'), quote(tenant, safe=''))
    body = urlencode({'grant_type': 'client_credentials', 'client_id': client_id, 'client_secret': secret,
                      'scope': resource.rstrip('/') + '/.default'})
    status, _h, doc = _call('POST', url, {'Content-Type': 'application/x-www-form-urlencoded'}, body, ca_file)
    if status != 200 or not (doc or {}).get('access_token'):
        raise AzureError('The service principal %s got no token from %s (HTTP %s: %s). Check AZURE_CLIENT_ID, '
                         'AZURE_SECRET and AZURE_TENANT.' % (client_id, login_endpoint, status, _error_text(doc)))
    return doc['access_token']


def token_from_imds(imds_endpoint, resource, client_id=None):
    """The managed identity's token, from the instance metadata service of the machine."""
    query = {'api-version': '2018-02-01', 'resource': resource.rstrip('/') + '/'}
    if client_id:
        query['client_id'] = client_id
    url = '%s/metadata/identity/oauth2/token?%s' % (imds_endpoint.rstrip('/'), urlencode(query))
    status, _h, doc = _call('GET', url, {'Metadata': 'true'}, timeout=10)
    if status != 200 or not (doc or {}).get('access_token'):
        raise AzureError('No managed identity token from %s (HTTP %s: %s). Give this machine an identity with the '
                         'Virtual Machine Contributor role, or use a service principal (AZURE_CLIENT_ID, AZURE_SECRET, '
                         'AZURE_TENANT).' % (imds_endpoint, status, _error_text(doc)))
    return doc['access_token']


def token_from_cli(resource):
    """The Azure CLI's token (`az login` on the controller)."""
    try:
        proc = subprocess.run(['az', 'account', 'get-access-token', '--resource', resource.rstrip('/') + '/',
                               '--output', 'json'], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AzureError('No Azure credentials: no AZURE_CLIENT_ID/AZURE_SECRET/AZURE_TENANT, and the Azure CLI '
                         'could not be asked (%s). Run `az login`, or set auth_source.' % exc)
    if proc.returncode != 0:
        raise AzureError('The Azure CLI gave no token: %s. Run `az login`.' % proc.stderr.strip()[:300])
    return json.loads(proc.stdout)['accessToken']


def get_token(auth_source, arm_endpoint, login_endpoint, imds_endpoint, env=None, ca_file=None):
    """A bearer token for ARM from the source asked for; `auto`: credentials, then the CLI."""
    env = os.environ if env is None else env
    secret = env.get('AZURE_SECRET') or env.get('AZURE_CLIENT_SECRET')
    if not secret and env.get('AZURE_SECRET_FILE'):
        with open(env['AZURE_SECRET_FILE']) as handle:
            secret = handle.read().strip()
    if auth_source == 'msi':
        return token_from_imds(imds_endpoint, arm_endpoint, env.get('AZURE_CLIENT_ID'))
    if auth_source in ('credentials', 'env') or (auth_source == 'auto' and secret):
        missing = [n for n, v in (('AZURE_CLIENT_ID', env.get('AZURE_CLIENT_ID')), ('AZURE_SECRET', secret),
                                  ('AZURE_TENANT', env.get('AZURE_TENANT'))) if not v]
        if missing:
            raise AzureError('auth_source %s needs %s in the environment.' % (auth_source, ', '.join(missing)))
        return token_from_credentials(login_endpoint, env['AZURE_TENANT'], env['AZURE_CLIENT_ID'], secret,
                                      arm_endpoint, ca_file)
    return token_from_cli(arm_endpoint)


class Arm:
    """Authenticated GET/POST on ARM resource ids."""

    def __init__(self, endpoint, token, ca_file=None):
        self.endpoint = endpoint.rstrip('/')
        self.token = token
        self.ca_file = ca_file

    def call(self, method, resource_id, api_version, body=None):
        url = '%s%s?api-version=%s' % (self.endpoint, resource_id, api_version)
        headers = {'Authorization': 'Bearer ' + self.token, 'Accept': 'application/json'}
        if body is not None:
            headers['Content-Type'] = 'application/json'
        status, _h, doc = _call(method, url, headers, json.dumps(body) if body is not None else None, self.ca_file)
        if status == 404:
            raise AzureError('Not found in Azure: %s. Check the VM name, resource group and subscription.' % resource_id)
        if status in (401, 403):
            raise AzureError('Azure refused %s %s (HTTP %s: %s): the identity needs the Virtual Machine Contributor '
                             'role on the VM.' % (method, resource_id, status, _error_text(doc)))
        if status >= 300:
            raise AzureError('Azure answered %s %s with HTTP %s: %s' % (method, resource_id, status, _error_text(doc)))
        return doc or {}


def vm_id(subscription, resource_group, name):
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s' % (
        quote(subscription, safe=''), quote(resource_group, safe=''), quote(name, safe=''))


def power_state(instance_view):
    """`running`, `stopped`, `deallocated`, `starting`... from a VM's instance view."""
    for status in instance_view.get('statuses') or []:
        code = status.get('code') or ''
        if code.startswith('PowerState/'):
            return code.split('/', 1)[1]
    return 'unknown'


def addresses(arm, vm):
    """(public IP or None, private IP or None) of the VM's primary NIC, read now."""
    nics = ((vm.get('properties') or {}).get('networkProfile') or {}).get('networkInterfaces') or []
    if not nics:
        return None, None
    primary = next((n for n in nics if (n.get('properties') or {}).get('primary')), nics[0])
    nic = arm.call('GET', primary['id'], NETWORK_API)
    configs = (nic.get('properties') or {}).get('ipConfigurations') or []
    config = next((c for c in configs if (c.get('properties') or {}).get('primary')), configs[0] if configs else {})
    props = config.get('properties') or {}
    public = None
    if (props.get('publicIPAddress') or {}).get('id'):
        ip = arm.call('GET', props['publicIPAddress']['id'], NETWORK_API)
        public = (ip.get('properties') or {}).get('ipAddress')
    return public, props.get('privateIPAddress')


def start_vm(arm, resource_id, wait_timeout, check_mode=False, poll=2.0):
    """Start the VM unless it runs; wait until it does. Returns (state before, state now)."""
    before = power_state(arm.call('GET', resource_id + '/instanceView', COMPUTE_API))
    if before == 'running' or check_mode:
        return before, before
    if before != 'starting':  # a start already under way is waited for, not asked again
        arm.call('POST', resource_id + '/start', COMPUTE_API)
    deadline = Deadline(wait_timeout)
    state = before
    while True:
        state = power_state(arm.call('GET', resource_id + '/instanceView', COMPUTE_API))
        if state == 'running':
            return before, state
        if deadline.expired():
            raise AzureError('The VM %s was %s and is still %s after %.0fs of waiting for it to start. Look at its '
                             'activity log in the Azure portal.' % (resource_id.rsplit('/', 1)[-1], before, state,
                                                                    deadline.elapsed()))
        deadline.sleep(poll)
