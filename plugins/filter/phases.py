# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A phase's number, title and exit code from the collection's one table (module_utils/_phases.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: phase_info
short_description: The number, title and exit code of a setup phase
version_added: 0.2.0
description:
  - Looks a phase (a role name such as V(container), or V(benchmark)) up in the collection's one table of phases,
    the table the modules, the callback, the CLI and the viewer read too. An unknown name gives the pre-flight phase.
positional: _input
options:
  _input:
    description: The phase's role name.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The exit code of the phase that failed
  ansible.builtin.debug:
    msg: "{{ (ansible_failed_task.tags | openadapt.waa.phase_of_tags | openadapt.waa.phase_info).exit_code }}"
"""

RETURN = r"""
_value:
  description: C(role), C(number) (1-9, 10 for the benchmark), C(title) and C(exit_code).
  type: dict
"""

from ansible_collections.openadapt.waa.plugins.module_utils._failure import classify_failure
from ansible_collections.openadapt.waa.plugins.module_utils._phases import phase_info, phase_of_tags
from ansible_collections.openadapt.waa.plugins.module_utils._survey import container_as_asked, known_healthy


class FilterModule(object):
    def filters(self):
        return {'phase_info': phase_info, 'classify_failure': classify_failure, 'phase_of_tags': phase_of_tags,
                'known_healthy': known_healthy, 'container_as_asked': container_as_asked}
