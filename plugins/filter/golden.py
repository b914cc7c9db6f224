# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a golden disk URL points in Blob Storage: the account, the container's URL and the folder."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: golden_location
short_description: The account, container URL and folder of a golden disk URL
version_added: 0.2.0
description:
  - Splits a golden disk URL (C(https://ACCOUNT.blob.core.windows.net/CONTAINER/FOLDER), or an emulator's path-style
    C(http://HOST:PORT/ACCOUNT/CONTAINER/FOLDER)) into C([account, container_url, folder]), as the CLI does.
  - A URL with a query (a SAS), without a folder, or with C(..) is refused.
positional: _input
options:
  _input:
    description: The golden disk URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Where the golden disk lives
  ansible.builtin.debug:
    msg: "{{ 'https://acct.blob.core.windows.net/golden/waa-2026' | openadapt.waa.golden_location }}"
"""

RETURN = r"""
_value:
  description: C([account, container_url, folder]).
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.openadapt.waa.plugins.module_utils._blob import split_golden_url


def golden_location(url):
    try:
        return list(split_golden_url(str(url)))
    except ValueError as exc:
        raise AnsibleFilterError('waa_golden_url: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'golden_location': golden_location}
