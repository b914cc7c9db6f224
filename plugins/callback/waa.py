# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: waa
type: stdout
short_description: Ansible's default output without the retry noise of the openadapt.waa waits
description:
  - The default stdout callback, except that a wait's retries (C(FAILED - RETRYING ... (1229 retries left)))
    are not printed. With C(openadapt.waa.waa_events) enabled, its live lines (pull bytes and ETA, boot stage,
    server ready) say how the wait is going instead.
  - For plain C(ansible-playbook); AWX uses its own stdout callback, where the live lines appear between the
    task results.
requirements:
  - Set as the stdout callback (C(stdout_callback = openadapt.waa.waa), or C(ANSIBLE_STDOUT_CALLBACK=openadapt.waa.waa)).
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
"""

from ansible.plugins.callback.default import CallbackModule as DefaultCallback


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "openadapt.waa.waa"

    def v2_runner_retry(self, result):
        # A wait polls until its layers are ready: each poll is progress, not a failure worth a line.
        return
