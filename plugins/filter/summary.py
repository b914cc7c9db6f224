# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One benchmark score from the hosts' recorded results: an AWX workflow's merge step."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: benchmark_summary
short_description: The fleet's benchmark summary from the hosts' recorded results
version_added: 0.2.0
description:
  - The merged summary of a benchmark run over several hosts, from their recorded results (set_stats C(waa_results),
    which every playbook records and AWX keeps as the job's artifacts, merging a sliced job's slices) - the same
    summary C(waa run) writes to C(results/summary.json) and C(waa results) prints - per domain, overall, per host
    (tasks, time, failures by class), the slowest tasks, the tasks without a result, the tasks with two results
    (counted once) and the fleet's estimated cost; C(lines) holds it as a human table.
  - The values come from the VMs; task names, scores and numbers are checked, anything else is left out.
positional: _input
options:
  _input:
    description:
      - The recorded results, C({host - result}) (C(waa_results)), or a list of such - AWX merges a sliced job's
        artifacts key by key, so each benchmark host is also recorded under a key of its own
        (C(waa_benchmark_host_<12 hex>)); playbooks/benchmark_summary.yml gathers them.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: One score from the slices (the workflow passes the sliced job's artifacts on as extra variables)
  ansible.builtin.set_stats:
    data:
      waa_benchmark_summary: "{{ waa_results | openadapt.waa.benchmark_summary }}"
"""

RETURN = r"""
_value:
  description: The summary (C(tasks), C(successes), C(success_rate), C(average_score), C(domains), C(hosts), C(slowest),
    C(without_result), C(duplicates), C(cost_usd)) and C(lines), the same as a human table.
  type: dict
"""

from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary


def benchmark_summary(waa_results):
    merged = _summary.merge_recorded(waa_results)
    return dict(merged, lines=_summary.lines(merged))


class FilterModule(object):
    def filters(self):
        return {'benchmark_summary': benchmark_summary}
