# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option every module that talks to the Docker Engine API shares."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker Engine API of the VM, V(unix:///path) or V(tcp://host:port) (plain HTTP). The API version is
        negotiated with the engine (Docker Engine 29 and older engines alike).
      - Set it once for every module of the collection that talks to Docker with
        C(module_defaults) and the action group C(group/openadapt.waa.docker).
    type: str
    default: unix:///var/run/docker.sock
"""
