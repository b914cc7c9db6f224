# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module's work in module_utils ends: raise Finished(result, failed); the module's main()
turns it into fail_json or exit_json. The work stays testable without an AnsibleModule."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class Finished(Exception):
    """The module's result, and whether it failed."""

    def __init__(self, result, failed):
        Exception.__init__(self, result.get('msg'))
        self.result = result
        self.failed = failed


def finish(module, work, *args):
    """Run ``work(*args)`` and end the module with what it raised (Finished), or fail naming the bug."""
    try:
        work(*args)
    except Finished as done:
        if done.failed:
            module.fail_json(**done.result)
        module.exit_json(**done.result)
    module.fail_json(msg='%s ended without a result (a bug: please report it).' % work.__name__, waa_exit_code=9)
