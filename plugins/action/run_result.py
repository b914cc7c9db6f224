# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind openadapt.waa.run_result (its docs: plugins/modules/run_result.py)."""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.openadapt.waa.plugins.plugin_utils._artifact import left_out_artifact, recorded_key, run_artifact


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

        host = task_vars["inventory_hostname"]
        left_out = self._task.args.get("left_out", False)
        if not isinstance(left_out, bool):
            result.update(failed=True, msg="left_out must be a boolean, got %r." % (left_out,))
            return result
        artifact = left_out_artifact(get, host) if left_out else run_artifact(get, time.time())
        # set_stats' own shape: the strategy adds it to the run's custom stats (AWX artifacts, the callback).
        # Every host's result comes from here, so that the aggregated values are of one type (the stats
        # drop a value whose type differs from the first one's).
        data = {"waa_results": {host: artifact}}
        if artifact.get("benchmark"):
            # AWX merges a sliced job's slices' artifacts key by key (the last slice's waa_results would hide the
            # others'): a benchmark's host is recorded under a key of its own too, for the merge step.
            data[recorded_key(host)] = {host: artifact}
        result.update(changed=False, result=artifact, ansible_stats={"data": data, "per_host": False, "aggregate": True})
        return result
