# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a run failed, in the user's words: one exit code, message and fix for a failed task's result
(classify_failure, the rescue of every playbook through the filter of the same name), and what to do
about a host SSH cannot reach (ssh_fix, the callback's). The codes come from the phase table (_phases)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.openadapt.waa.plugins.module_utils._phases import (
    EXIT_DEADLINE, EXIT_PREFLIGHT, EXIT_UNKNOWN, phase_info)


# A host that SSH cannot reach: exit 1 in pre-flight (the callback sees it, no task does).
SSH_FAILED = 'Cannot connect to VM via SSH. Verify IP address and SSH keys.'


def ssh_fix(detail, address):
    """What to do about an SSH failure, from ssh's own words."""
    text = detail.lower()
    if 'host identification has changed' in text or 'host key verification failed' in text:
        return ("The VM's SSH host key is not the one in known_hosts (host key checking stays on). If the VM was "
                "recreated, remove the old key with: ssh-keygen -R %s, then run again." % address)
    if 'permission denied' in text:
        return 'SSH refused the login: check the user (--ssh-user) and the private key (--ssh-key).'
    if 'connection refused' in text or 'timed out' in text or 'no route' in text or 'could not resolve' in text:
        return ('Nothing answers SSH at %s: check the address, that the VM is running (waa up starts it) and that '
                'the network security group allows port 22.' % address)
    return 'Check the host address, user and SSH key.'


# Words of sudo when the login user can become root neither by being it nor without a password.
NO_ROOT_SIGNS = ('a password is required', 'missing sudo password', 'not in the sudoers', 'sudo: not found',
                 'sudo: command not found', 'incorrect sudo password')


def _truncate(text, length=600):
    text = ' '.join(str(text).split())
    return text if len(text) <= length else text[:length - 3] + '...'


def classify_failure(result, phase, deadline_passed=False, task='?', user='?', state_dir='', timeout=0,
                     container='', refusal_fix=None):
    """One exit code, message and fix for a failed task's result (the rescue of every playbook).

    A module's own waa_exit_code wins; a login that cannot become root is 1 (pre-flight), a passed
    deadline 8, a module that crashed without a diagnosis 9; otherwise the phase's exit code decides.
    """
    result = result if isinstance(result, dict) else {}
    phase = phase or 'preflight'
    msg = result.get('msg')
    words = ' '.join(str(result.get(k) or '') for k in ('msg', 'module_stderr', 'module_stdout')).lower()
    no_root = any(sign in words for sign in NO_ROOT_SIGNS)
    deadline = bool(result.get('deadline_exceeded')) or bool(deadline_passed)
    crashed = (('module_stderr' in result or str(msg or '').startswith('MODULE FAILURE'))
               and 'waa_exit_code' not in result)
    if no_root:
        code = EXIT_PREFLIGHT
        message = ('The SSH user %s is not root and cannot use sudo without a password, which the setup needs (Docker\'s '
                   'socket, packages, %s). Give it passwordless sudo (Azure\'s azureuser has it), or log in as a user '
                   'that has it.' % (user, state_dir))
    elif deadline:
        code = EXIT_DEADLINE
        message = ('Timeout after %ss (--timeout). Reached phase: %s. Increase --timeout or check for hangs.'
                   % (timeout, phase))
    elif crashed:
        code = EXIT_UNKNOWN
        message = ('Unexpected error in phase %s (%s): %s. Please report this issue with the log.'
                   % (phase, task, _truncate(msg if msg is not None else result.get('module_stderr', ''))))
    else:
        code = result.get('waa_exit_code', phase_info(phase)['exit_code'])
        if phase == 'container' and 'waa_exit_code' not in result and refusal_fix is None:
            message = 'Container creation failed: %s. Check logs: docker logs %s' % (msg or 'unknown error', container)
        else:
            message = str(msg) if msg else 'Phase %s failed' % phase
    fix = result.get('fix') or refusal_fix or ''
    return {'exit_code': int(code), 'message': ' '.join(message.split()), 'fix': fix,
            'layers': result.get('layers') or []}
