# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_result
short_description: Record a run's per-host result for the CLI, AWX and the callback
version_added: 0.2.0
description:
  - Builds the host's result of an openadapt.waa run from the run's variables (exit code and phase, message
    and fix, the pre-flight checks, the container, the image and its pull, the health layers, the ports) and
    records it like M(ansible.builtin.set_stats) under the key C(waa_results), aggregated over the hosts.
  - Every openadapt.waa playbook ends with it (C(roles/common/tasks/report.yml)). The logic is
    C(plugins/plugin_utils/_artifact.py); this is an action plugin, it runs on the controller and
    touches nothing on the host.
options:
  left_out:
    description:
      - Record that the host was left out of the run because its Azure VM is stopped or deallocated
        (C(waa_azure_power_state)), with exit code 0, C(skipped), and the fix that starts it (C(waa up)).
    type: bool
    default: false
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  action:
    support: full
    description: An action plugin that runs on the controller.
  check_mode:
    support: full
    description: It only records.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Nothing runs on the host.
    platforms: all
"""

EXAMPLES = r"""
- name: Record the result
  openadapt.waa.run_result:

- name: Record that the VM was left out
  openadapt.waa.run_result:
    left_out: true
"""

RETURN = r"""
result:
  description: The host's result, as recorded in the run's custom stats under C(waa_results[inventory_hostname]).
  returned: always
  type: dict
  sample: {"exit_code": 0, "success": true, "phase": "validate", "phase_number": 9,
           "message": "WAA container ready for evaluation", "fix": ""}
"""
