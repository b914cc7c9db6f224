#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: docker_pull_progress
short_description: Pull a Docker image with progress, stall detection, retries and a registry fallback
version_added: 0.1.0
description:
  - Pulls an image through the Docker Engine API on the unix socket (standard library only, no Docker SDK or
    requests needed on the host).
  - Follows the pull stream and aggregates progress over all layers (bytes, layers, rate, ETA); can write it
    atomically to a progress file for M(openadapt.waa.progress_watch) and live viewers.
  - Aborts an attempt when no byte progress is seen for O(stall_timeout) seconds and retries with exponential
    backoff and jitter; Docker keeps the layers already downloaded, so a retry resumes.
  - Errors reported inside the pull stream are failures.
  - On a registry rate limit (HTTP 429, C(toomanyrequests)) it switches at once to O(fallback_registry), for
    example an Azure Container Registry mirror.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: partial
    description: Can run in check mode and predict whether it would change the image.
    details:
      - Reports whether a pull would happen and pulls nothing. When O(force=true) and the image is present, it
        assumes the pull would change the image.
  diff_mode:
    support: none
    description: No diff is produced.
  idempotent:
    support: full
    description: Without O(force), nothing is pulled when the image is present.
options:
  image:
    description:
      - Image reference, C([registry[:port]/]path[:tag][@digest]). Without a tag, V(latest) is pulled.
    type: str
    required: true
  force:
    description:
      - Pull even when the image is present (to get a newer version of the tag).
    type: bool
    default: false
  stall_timeout:
    description:
      - Seconds without any byte or layer progress after which an attempt is aborted and retried.
    type: int
    default: 300
  attempts:
    description:
      - Attempts per registry (the registry of O(image), then O(fallback_registry)).
    type: int
    default: 3
  backoff_base:
    description:
      - First delay between attempts in seconds; it doubles with each retry, with random jitter.
    type: float
    default: 2.0
  backoff_max:
    description:
      - Longest delay between attempts in seconds.
    type: float
    default: 60.0
  fallback_registry:
    description:
      - Registry C(host[:port]) that mirrors the image under the same path, for example V(myacr.azurecr.io).
      - Used at once after a rate limit, and after the attempts on the first registry fail.
      - V(windowsarena/winarena:latest) falls back to V(myacr.azurecr.io/windowsarena/winarena:latest).
    type: str
  registry_username:
    description:
      - User name for O(fallback_registry) (also used when O(image) itself names that registry).
    type: str
  registry_password:
    description:
      - Password or token for O(fallback_registry). Never shown in results, messages or the progress file.
      - With C(async), prefer O(registry_password_file), because Ansible leaves a background task's arguments in a
        file on the VM while it runs.
    type: str
  registry_password_file:
    description:
      - A private (0600) file on the VM that holds the password; the module reads it and removes it before anything
        else, whatever its outcome (in check mode it is kept).
    type: path
    version_added: 0.2.0
  timeout:
    description:
      - Overall seconds the module may take, waits included. V(0) means no limit.
    type: float
    default: 0
  progress_file:
    description:
      - Absolute path of a JSON progress file, rewritten atomically at most every 0.5 seconds and once at the end.
      - A missing parent directory is created (mode 0700); a symbolic link at the path is refused.
    type: path
notes:
  - "Progress file format (shared with M(openadapt.waa.progress_watch)): a JSON object with C(kind) (V(pull)), C(state)
    (V(running), V(done) or V(failed)), C(seq), C(updated), C(image), C(source), C(attempt), C(attempts_max), C(bytes_done),
    C(bytes_total), C(layers_done), C(layers_total), C(rate_bps), C(eta_s), C(message) and, at the end, C(result)."
  - C(bytes_total) grows while Docker reports layer sizes (it starts a few downloads at a time), so C(eta_s) is a
    lower bound until every layer has started.
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Pull the WAA image with live progress, falling back to ACR on a Docker Hub rate limit
  openadapt.waa.docker_pull_progress:
    image: windowsarena/winarena:latest
    fallback_registry: myacr.azurecr.io
    registry_username: "{{ acr_user }}"
    registry_password: "{{ acr_token }}"
    progress_file: /tmp/waa_pull_progress.json
    timeout: 3600
  async: 3700
  poll: 0
  register: pull_job

- name: Check whether a pull would happen
  openadapt.waa.docker_pull_progress:
    image: windowsarena/winarena:latest
  check_mode: true
  register: would_pull
"""

RETURN = r"""
image_size_bytes:
  description: The image's size on the VM as Docker reports it (uncompressed), once it is present.
  returned: when the image is present or was pulled
  type: int
image:
  description: The reference actually pulled (or found); the fallback reference after a fallback.
  returned: always
  type: str
  sample: myacr.azurecr.io/windowsarena/winarena:latest
source:
  description: Registry host of RV(image); V(docker.io) for Docker Hub.
  returned: always
  type: str
  sample: docker.io
digest:
  description: Repository digest of the pulled image, null when unknown.
  returned: always
  type: str
  sample: sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
image_id:
  description: Local image ID, null when the image is not present.
  returned: always
  type: str
bytes_total:
  description: Compressed bytes of the layers that had to be downloaded (as far as Docker reported sizes).
  returned: always
  type: int
bytes_downloaded:
  description: Bytes transferred over all attempts.
  returned: always
  type: int
layers_total:
  description: Layers of the image seen in the pull stream.
  returned: always
  type: int
layers_already_present:
  description: Layers Docker already had before this module started (C(Already exists)).
  returned: always
  type: int
attempts:
  description: One entry per pull attempt.
  returned: always
  type: list
  elements: dict
  contains:
    attempt:
      description: Number of the attempt, from 1.
      type: int
    source:
      description: Registry of the attempt.
      type: str
    image:
      description: Reference pulled in the attempt.
      type: str
    duration:
      description: Seconds.
      type: float
    outcome:
      description: V(ok), V(error), V(rate_limited), V(stalled) or V(timeout).
      type: str
    error:
      description: The error, null on success.
      type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
fell_back:
  description: Whether the image came from O(fallback_registry).
  returned: always
  type: bool
rate_limited:
  description: Whether any attempt hit a rate limit.
  returned: always
  type: bool
stalled:
  description: Number of attempts aborted for lack of progress.
  returned: always
  type: int
timed_out:
  description: Whether O(timeout) ended the module.
  returned: always
  type: bool
would_pull:
  description: Whether a pull is (or in check mode would be) needed.
  returned: always
  type: bool
msg:
  description: Human-readable outcome; on failure it names the fix.
  returned: always
  type: str
fix:
  description: What to do about a failure; null on success.
  returned: always
  type: str
waa_exit_code:
  description: V(0) on success, V(3) when the pull failed, V(2) when the Docker daemon cannot be reached.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._finish import finish
from ansible_collections.openadapt.waa.plugins.module_utils._pull import pull


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='str', required=True),
            force=dict(type='bool', default=False),
            stall_timeout=dict(type='int', default=300),
            attempts=dict(type='int', default=3),
            backoff_base=dict(type='float', default=2.0),
            backoff_max=dict(type='float', default=60.0),
            fallback_registry=dict(type='str'),
            registry_username=dict(type='str'),
            registry_password=dict(type='str', no_log=True),
            registry_password_file=dict(type='path', no_log=False),  # a path, not the secret
            timeout=dict(type='float', default=0),
            progress_file=dict(type='path'),
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        ),
        mutually_exclusive=[('registry_password', 'registry_password_file')],
        supports_check_mode=True,
    )
    finish(module, pull, module.params, module.check_mode)


if __name__ == '__main__':
    main()
