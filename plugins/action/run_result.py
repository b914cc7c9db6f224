# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind openadapt.waa.run_result (its docs: plugins/modules/run_result.py)."""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.openadapt.waa.plugins.plugin_utils._artifact import run_artifact


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # everything it reads is the run's own variables, on the controller

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        missing = object()

        def get(name, default):
            value = task_vars.get(name, missing)
            return default if value is missing else self._templar.template(value)

        artifact = run_artifact(get, time.time())
        # set_stats' own shape: the strategy adds it to the run's custom stats (AWX artifacts, the callback).
        result.update(changed=False, result=artifact, ansible_stats={
            "data": {"waa_results": {task_vars["inventory_hostname"]: artifact}}, "per_host": False, "aggregate": True})
        return result
