# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user the ssh connection really logs in as, so that the playbooks become root exactly when
that user is not root (a real Azure VM: azureuser with passwordless sudo)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: login_user
short_description: The user an ssh connection to the current host logs in as
version_added: 0.2.0
description:
  - Resolves the login user as the ssh connection does, first match wins
    - the C(ansible_user) (or C(ansible_ssh_user)) variable;
    - C(-u)/C(--user) of ansible-playbook;
    - C(remote_user) of the configuration (C(ANSIBLE_REMOTE_USER), C([defaults] remote_user));
    - the C(User) that the user's ssh configuration gives the host (C(ssh -G), with the C(-F) and C(-o) options of
      C(ansible_ssh_common_args), C(ansible_ssh_extra_args) and C(ANSIBLE_SSH_ARGS));
    - the controller's own user.
  - The playbooks use it for C(become), so that a login user given by C(-u), C(ansible.cfg) or C(~/.ssh/config)
    becomes root as one given by C(ansible_user) does.
options: {}
"""

EXAMPLES = r"""
- name: A play that becomes root unless it logs in as root
  hosts: all
  become: "{{ lookup('openadapt.waa.login_user') != 'root' }}"
  tasks: []
"""

RETURN = r"""
_raw:
  description: The login user, as a one-element list.
  type: list
  elements: str
"""

import functools
import getpass
import os
import shlex
import subprocess

from ansible import constants as C
from ansible import context
from ansible.plugins.lookup import LookupBase


def _config_options(texts):
    """The ``-F FILE`` and ``-o OPTION`` words of ssh argument strings (what decides ssh's configuration)."""
    words = [w for text in texts if text for w in shlex.split(str(text))]
    kept = []
    for i, word in enumerate(words):
        if word in ('-F', '-o') and i + 1 < len(words):
            kept += [word, words[i + 1]]
        elif word.startswith(('-F', '-o')) and len(word) > 2:
            kept.append(word)
    return kept


@functools.lru_cache(maxsize=64)  # `become` is templated for every task: ask ssh once per host
def _from_ssh_config(host, port, options=()):
    """The User line of ``ssh -G`` for the host (the user's ssh configuration, with ``options``), or None."""
    argv = ['ssh', '-G'] + list(options) + (['-p', str(port)] if port else []) + ['--', str(host)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        key, _sep, value = line.partition(' ')
        if key.lower() == 'user' and value.strip():
            return value.strip()
    return None


def login_user(variables, cli_user=None, config_user=None):
    """The login user from the host's variables, then ``cli_user`` (-u), ``config_user``, the ssh
    configuration and the controller's user."""
    for name in ('ansible_user', 'ansible_ssh_user'):
        if variables.get(name):
            return str(variables[name])
    if cli_user:
        return str(cli_user)
    if config_user:
        return str(config_user)
    host = variables.get('ansible_host') or variables.get('inventory_hostname')
    options = _config_options([os.environ.get('ANSIBLE_SSH_ARGS'), variables.get('ansible_ssh_common_args'),
                               variables.get('ansible_ssh_extra_args')])
    return (host and _from_ssh_config(str(host), variables.get('ansible_port'), tuple(options))) or getpass.getuser()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        cli_user = (context.CLIARGS or {}).get('remote_user')
        config_user = C.config.get_config_value('DEFAULT_REMOTE_USER')
        return [login_user(variables or {}, cli_user, config_user)]
