# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' input check: the same validators as the CLI, for values from an inventory, group_vars
or an AWX survey, which argument specs check for type only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: input_problems
short_description: What is wrong with the openadapt.waa variables of a host
version_added: 0.1.0
description:
  - Runs the validators the C(waa) CLI uses on each given variable that the roles read and returns one message per
    problem (an empty list when every value is fine).
positional: _input
options:
  _input:
    description: A dict of variable names (C(waa_image), C(waa_storage_path), ...) and their values.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the inputs
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ {'waa_image': waa_image, 'waa_storage_path': waa_storage_path} | openadapt.waa.input_problems }}"
"""

RETURN = r"""
_value:
  description: One message per invalid variable, naming it and the fix.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.openadapt.waa.plugins.module_utils import _validate as v
from ansible_collections.openadapt.waa.plugins.module_utils._blob import split_golden_url


def _cpu_cores(value):
    if str(value).lower() == 'auto':
        return
    if not str(value).isdigit() or int(value) < 1:
        raise ValueError('The CPU core count must be at least 1.')


def _tasks(value):
    for task in value or []:
        v.validate_task_ref(task)


CHECKS = {
    'waa_image': v.validate_image_reference,
    'waa_container_name': v.validate_container_name,
    'waa_storage_path': v.validate_storage_path,
    'waa_results_path': v.validate_results_path,
    'waa_log_file': lambda x: v.validate_abs_path(x, 'log file'),
    'waa_state_dir': lambda x: v.validate_abs_path(x, 'state directory'),
    'waa_publish_address': v.validate_publish_address,
    'waa_azure_cr': lambda x: x and v.validate_registry(x),
    'waa_ram_size': v.validate_ram_size,
    'waa_cpu_cores': _cpu_cores,
    'waa_benchmark_tasks': _tasks,
    'waa_benchmark_task_plan': _tasks,  # this host's entry
    'waa_golden_iso_url': lambda x: x and v.validate_download_url(x),
    'waa_golden_url': lambda x: x and split_golden_url(x),
    'waa_golden_iso_sha256': lambda x: x and v.validate_sha256(x),
    'waa_benchmark_result_dir': lambda x: v.validate_abs_path(x, 'result directory'),
    'waa_benchmark_results_dest': v.validate_results_dest,
    'waa_benchmark_model': lambda x: v.validate_plain_name(x, 'model name'),
    'waa_benchmark_agent': lambda x: v.validate_plain_name(x, 'agent name'),
    'waa_benchmark_shard': lambda x: x and v.parse_shard(x),
}


def input_problems(values):
    if not isinstance(values, dict):
        raise AnsibleFilterError('input_problems expects a dict of variables, got %s' % type(values).__name__)
    problems = []
    for name in sorted(values):
        check = CHECKS.get(name)
        if check is None or values[name] is None:
            continue
        try:
            check(values[name])
        except (ValueError, TypeError) as exc:
            problems.append('%s: %s' % (name, exc))
    return problems


class FilterModule(object):
    def filters(self):
        return {'input_problems': input_problems}
