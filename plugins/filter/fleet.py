# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's share of the benchmark when a fleet of VMs splits the task list."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: benchmark_shard
short_description: This host's shard of the benchmark's tasks in a fleet
version_added: 0.1.0
description:
  - The shard (O(_input)'s place among the fleet's hosts, sorted by name) and the number of shards (the fleet's size),
    for M(openadapt.waa.waa_benchmark)'s C(shard) option.
  - The fleet is the inventory's group, not the play's hosts, so that runs with C(--limit) (and AWX slices whose
    inventory keeps every host) split the list the same way and never run a task twice.
positional: _input, fleet
options:
  _input:
    description: This host's inventory name.
    type: str
    required: true
  fleet:
    description: The inventory names of every host of the fleet (order does not matter).
    type: list
    elements: str
    required: true
  override:
    description: C(INDEX/COUNT) to use instead (an inventory variable of the host); empty for none.
    type: str
    default: ''
  shard_by:
    description: V(host) splits the tasks across the fleet; V(none) gives every host the whole list.
    type: str
    choices: [host, none]
    default: host
"""

EXAMPLES = r"""
- name: Run this host's share
  openadapt.waa.waa_benchmark:
    shard: "{{ inventory_hostname | openadapt.waa.benchmark_shard(groups['waa_vms']) }}"
"""

RETURN = r"""
_value:
  description: C({index, count}), the index from 0.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.openadapt.waa.plugins.module_utils._validate import parse_shard
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import estimate


def benchmark_shard(host, fleet, override='', shard_by='host'):
    if override:
        try:
            return parse_shard(override)
        except ValueError as exc:
            raise AnsibleFilterError('waa_benchmark_shard: %s' % exc)
    if shard_by == 'none':
        return {'index': 0, 'count': 1}
    if shard_by != 'host':
        raise AnsibleFilterError('waa_benchmark_shard_by is %r: use host (split the tasks across the fleet) or none '
                                 '(every host runs the whole list).' % (shard_by,))
    hosts = sorted(set(str(h) for h in fleet))
    if str(host) not in hosts:
        return {'index': 0, 'count': 1}  # a host outside the group (an ad hoc pattern): the whole list
    return {'index': hosts.index(str(host)), 'count': len(hosts)}


def benchmark_budget(max_cost, hosts, sizes=(), hourly_rate='', spent_seconds=0):
    """{seconds, problem} for M(openadapt.waa.waa_benchmark)'s budget: seconds until this host's share of
    ``max_cost`` (USD, split evenly over ``hosts``) is spent, at the VM's hourly rate (``hourly_rate``, else the
    list price of the first size of ``sizes`` given), after ``spent_seconds`` of this run (the setup counts); or,
    when the rate is unknown, the problem (the module fails with it, exit 1)."""
    size = next((str(s) for s in sizes or () if s), '')
    costs = estimate(size, 3600, hourly_rate)
    if not costs:
        return {'seconds': None, 'problem': '--max-cost needs what an hour of the VM costs, and %s: give --hourly-rate '
                'USD or --vm-size SIZE (waa_hourly_rate, waa_vm_size).'
                % ('its size %s has no list price here' % size if size else 'its size is unknown')}
    share = float(max_cost) / max(int(hosts), 1)
    return {'seconds': round(share / costs['hourly_rate_usd'] * 3600 - float(spent_seconds), 1), 'problem': ''}


class FilterModule(object):
    def filters(self):
        return {'benchmark_shard': benchmark_shard, 'benchmark_budget': benchmark_budget}
