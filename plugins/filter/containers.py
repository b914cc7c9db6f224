# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What differs between a running container and the configuration a run asks for, in words."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: container_differences
short_description: Say what a dry run of community.docker.docker_container would change
version_added: 0.1.0
description:
  - Takes the C(diff) that C(community.docker.docker_container) returns in check and diff mode and names each
    setting that differs. Environment variables are named without their values (they may hold secrets).
positional: _input
options:
  _input:
    description: The module's C(diff) (C(differences), C(image_different)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Say what would change
  ansible.builtin.debug:
    msg: "{{ _dry_run.diff | openadapt.waa.container_differences }}"
"""

RETURN = r"""
_value:
  description: One phrase such as C(env RAM_SIZE; published_ports 127.0.0.1:5000:5000 instead of 127.0.0.1:5001:5000).
  type: str
"""

_ENV_NAMES = ('env', 'environment')


def _env_names(values):
    """The names of 'K=V' entries (or of a dict's keys)."""
    if isinstance(values, dict):
        return dict((str(k), str(v)) for k, v in values.items())
    return dict(str(item).partition('=')[::2] for item in values or [])


def _describe(name, wanted, current):
    if name in _ENV_NAMES:
        wanted, current = _env_names(wanted), _env_names(current)
        changed = sorted(k for k in set(wanted) | set(current) if wanted.get(k) != current.get(k))
        return 'environment %s' % ', '.join(changed) if changed else 'environment'
    return '%s %s instead of %s' % (name, _short(wanted), _short(current))


def _short(value):
    if isinstance(value, (list, tuple)):
        value = ', '.join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 120 else text[:117] + '...'


def container_differences(diff):
    if not isinstance(diff, dict):
        return 'the configuration differs'
    phrases = []
    for entry in diff.get('differences') or []:
        for name, values in (entry.items() if isinstance(entry, dict) else []):
            values = values if isinstance(values, dict) else {}
            phrases.append(_describe(name, values.get('parameter'), values.get('container')))
    if diff.get('image_different') and not any(p.startswith('image') for p in phrases):
        phrases.insert(0, 'image %s differs from the one it runs' % _short(diff.get('after', {}).get('image', '')))
    return '; '.join(phrases) or 'the configuration differs'


class FilterModule(object):
    def filters(self):
        return {'container_differences': container_differences}
