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
    type: str
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

import collections
import json
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    DockerEngine,
    DockerError,
    DockerTimeout,
    PullError,
    registry_auth_header,
)
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_DOCKER, EXIT_OK, EXIT_PULL
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, ProgressWriter
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline, backoff_delays
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    fallback_reference,
    image_registry,
    repo_digest,
    split_image_reference,
    validate_abs_path,
    validate_registry,
)


LAYER_STATUSES = ('Pulling fs layer', 'Waiting', 'Downloading', 'Verifying Checksum', 'Download complete',
                  'Extracting', 'Pull complete', 'Already exists')
# Errors a retry on the same registry cannot fix.
PERMANENT_ERROR_RE = re.compile(r'manifest unknown|not found|does not exist|pull access denied|unauthorized|'
                                r'authentication required|denied|no basic auth credentials|invalid reference',
                                re.IGNORECASE)
NO_SPACE_RE = re.compile(r'no space left on device', re.IGNORECASE)
RATE_WINDOW = 5.0


class PullTracker(object):
    """Aggregates Docker's per-layer pull messages into one progress picture.

    Layers persist across attempts, so a retry that finds layers done earlier ("Already exists")
    still counts them as downloaded by this module, not as present before it.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.layers = collections.OrderedDict()
        self.digest = None
        self.final_status = None
        self.last_change = clock()
        self._samples = collections.deque()
        self._sample(self.last_change)

    def new_attempt(self):
        self.final_status = None
        self.last_change = self._clock()

    def _layer(self, layer_id, status):
        layer = self.layers.get(layer_id)
        if layer is None:
            layer = {'status': None, 'current': 0, 'total': 0, 'transferred': 0, 'extract': 0, 'done': False,
                     'already': status == 'Already exists'}
            self.layers[layer_id] = layer
        return layer

    def _advance(self, layer, current):
        # A smaller 'current' than before means Docker restarted that download from zero.
        if current >= layer['current']:
            layer['transferred'] += current - layer['current']
        else:
            layer['transferred'] += current
        layer['current'] = current

    def feed(self, obj):
        """Take one decoded stream object. Returns True when progress was made."""
        if not isinstance(obj, dict):
            return False
        status = str(obj.get('status') or '')
        layer_id = obj.get('id')
        if status.startswith('Digest: '):
            self.digest = status[len('Digest: '):].strip()
            return self._changed()
        if status.startswith('Status: '):
            self.final_status = status[len('Status: '):].strip()
            return self._changed()
        if not layer_id or not (status in LAYER_STATUSES or status.startswith('Retrying in')):
            return False
        layer = self._layer(layer_id, status)
        before = (layer['status'], layer['current'], layer['extract'], layer['done'])
        detail = obj.get('progressDetail') or {}
        current = detail.get('current')
        total = detail.get('total')
        if status in ('Pulling fs layer', 'Waiting'):
            layer['done'] = False
        elif status == 'Downloading':
            if isinstance(total, int) and total > 0:
                layer['total'] = total
            if isinstance(current, int) and current >= 0:
                self._advance(layer, current)
        elif status in ('Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'):
            if layer['total'] and layer['current'] < layer['total']:
                self._advance(layer, layer['total'])
            if status == 'Extracting' and isinstance(current, int):
                layer['extract'] = current
            if status == 'Pull complete':
                layer['done'] = True
        elif status == 'Already exists':
            layer['done'] = True
        layer['status'] = status
        if before != (layer['status'], layer['current'], layer['extract'], layer['done']):
            return self._changed()
        return False

    def _changed(self):
        now = self._clock()
        self.last_change = now
        self._sample(now)
        return True

    def _sample(self, now):
        self._samples.append((now, self.bytes_downloaded))
        while len(self._samples) > 2 and now - self._samples[1][0] > RATE_WINDOW:
            self._samples.popleft()

    @property
    def bytes_downloaded(self):
        return sum(layer['transferred'] for layer in self.layers.values())

    def idle_for(self):
        return self._clock() - self.last_change

    def rate(self):
        """Bytes per second over the last few seconds."""
        now = self._clock()
        if not self._samples:
            return 0.0
        t0, b0 = self._samples[0]
        span = now - t0
        if span <= 0.2:
            return 0.0
        return max(0.0, (self.bytes_downloaded - b0) / span)

    def snapshot(self):
        fetched = [layer for layer in self.layers.values() if not layer['already']]
        bytes_total = sum(layer['total'] for layer in fetched)
        bytes_done = sum(min(layer['current'], layer['total']) if layer['total'] else layer['current'] for layer in fetched)
        rate = self.rate()
        remaining = max(0, bytes_total - bytes_done)
        eta = round(remaining / rate, 1) if rate > 0 and bytes_total else None
        return {
            'bytes_done': bytes_done,
            'bytes_total': bytes_total,
            'bytes_downloaded': self.bytes_downloaded,
            'layers_done': sum(1 for layer in self.layers.values() if layer['done']),
            'layers_total': len(self.layers),
            'layers_already_present': sum(1 for layer in self.layers.values() if layer['already']),
            'rate_bps': int(rate),
            'eta_s': eta,
        }


class Scrubber(object):
    """Removes a secret from any text (raw and JSON-escaped forms)."""

    def __init__(self, secret):
        self.forms = []
        if secret:
            self.forms = sorted({secret, json.dumps(secret)[1:-1]}, key=len, reverse=True)

    def __call__(self, text):
        if text is None:
            return None
        text = str(text)
        for form in self.forms:
            text = text.replace(form, '********')
        return text

    def deep(self, value):
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return dict((k, self.deep(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value


def failure_fix(outcomes, errors, fallback, root_dir):
    """The fix to name for a failed pull, from what the attempts saw."""
    text = ' '.join(e for e in errors if e)
    if NO_SPACE_RE.search(text):
        return ('Free disk space where Docker keeps its data (%s): remove unused images and containers with '
                '"docker system prune", or attach a bigger data disk.' % (root_dir or '/var/lib/docker'))
    if 'timeout' in outcomes:
        return 'Increase the timeout (the image is large: ~15 GB), or pull from a closer registry with --azure-cr.'
    if 'rate_limited' in outcomes and not fallback:
        return ('The registry rate-limited the pull: mirror the image into an Azure Container Registry and pass '
                '--azure-cr (fallback_registry), log in to Docker Hub, or retry later.')
    if 'stalled' in outcomes:
        return ('The download stopped making progress: check the VM\'s network (DNS, proxy, outbound HTTPS), retry, '
                'or pull from a registry in the same region with --azure-cr.')
    if PERMANENT_ERROR_RE.search(text):
        return ('Check the image name and tag; for a private registry (ACR) give registry_username and '
                'registry_password (an ACR token or the admin user).')
    return ('Check the VM\'s network and DNS and that the registry is reachable, retry, or pull from an Azure '
            'Container Registry mirror with --azure-cr.')


class Puller(object):
    def __init__(self, module, engine, clock=time.monotonic):
        p = module.params
        self.module = module
        self.engine = engine
        self.clock = clock
        self.image = p['image']
        self.force = p['force']
        self.stall_timeout = p['stall_timeout']
        self.attempts_per_source = p['attempts']
        self.backoff_base = p['backoff_base']
        self.backoff_max = p['backoff_max']
        self.fallback_registry = p['fallback_registry']
        self.username = p['registry_username']
        self.password = p['registry_password']
        self.scrub = Scrubber(self.password)
        self.deadline = Deadline.optional(p['timeout'], clock=clock)
        self.tracker = PullTracker(clock=clock)
        self.attempt_log = []
        self.stalled = 0
        self.rate_limited = False
        self.timed_out = False
        self.sources = [self.image]
        if self.fallback_registry:
            alt = fallback_reference(self.image, self.fallback_registry)
            if alt != self.image:
                self.sources.append(alt)
        self.progress = ProgressWriter(p['progress_file'], 'pull', scrub=self.scrub) if p['progress_file'] else None
        self.current = {'image': self.image, 'source': image_registry(self.image), 'attempt': 0}

    @property
    def attempts_max(self):
        return self.attempts_per_source * len(self.sources)

    def report(self, message, force=False):
        if self.progress is None:
            return
        fields = dict(self.tracker.snapshot())
        fields.pop('bytes_downloaded', None)
        fields.pop('layers_already_present', None)
        fields.update(self.current)
        fields.update({'attempts_max': self.attempts_max, 'message': self.scrub(message)})
        self.progress.update(fields, force=force)

    def auth_for(self, ref):
        if self.username and self.password and self.fallback_registry and image_registry(ref) == self.fallback_registry:
            return registry_auth_header(self.username, self.password, self.fallback_registry)
        return None

    def attempt(self, ref, number):
        """One pull attempt. Returns (outcome, error)."""
        self.tracker.new_attempt()
        self.current = {'image': ref, 'source': image_registry(ref), 'attempt': number}
        self.report('Pulling %s (attempt %d of %d)' % (ref, number, self.attempts_max), force=True)
        stream = None
        try:
            # The daemon answers only once the registry does: no answer within stall_timeout is a stall too.
            stream = self.engine.pull(ref, auth=self.auth_for(ref), tick=0.5,
                                      connect_timeout=self.deadline.bound(self.stall_timeout, minimum=1.0))
            for obj in stream:
                if obj is not None:
                    self.tracker.feed(obj)
                if self.deadline.expired():
                    self.timed_out = True
                    return 'timeout', 'the overall timeout of %.0f s ran out during the pull' % self.deadline.seconds
                if self.tracker.idle_for() >= self.stall_timeout:
                    self.stalled += 1
                    return 'stalled', 'no download progress for %d s' % self.stall_timeout
                snap = self.tracker.snapshot()
                self.report('Pulling %s: %d/%d layers, %d/%d bytes' % (ref, snap['layers_done'], snap['layers_total'],
                                                                       snap['bytes_done'], snap['bytes_total']))
        except PullError as exc:
            if exc.rate_limited:
                self.rate_limited = True
                return 'rate_limited', self.scrub(exc.message)
            return 'error', self.scrub(exc.message)
        except DockerTimeout as exc:
            if self.deadline.expired():
                self.timed_out = True
                return 'timeout', 'the overall timeout of %.0f s ran out during the pull' % self.deadline.seconds
            self.stalled += 1
            return 'stalled', self.scrub(exc.message)
        except DockerError as exc:
            return 'error', self.scrub(exc.message)
        finally:
            if stream is not None:
                # Closing the stream drops the connection, which makes the daemon abandon the pull.
                stream.close()
        if self.tracker.final_status is None:
            return 'error', 'the pull stream ended without a final status'
        return 'ok', None

    def run(self):
        started = self.clock()
        number = 0
        success_ref = None
        last_error = None
        for index, ref in enumerate(self.sources):
            delays = backoff_delays(self.attempts_per_source, self.backoff_base, self.backoff_max, jitter=0.5)
            for i in range(self.attempts_per_source):
                number += 1
                t0 = self.clock()
                outcome, error = self.attempt(ref, number)
                self.attempt_log.append({'attempt': number, 'source': image_registry(ref), 'image': ref,
                                         'duration': round(self.clock() - t0, 3), 'outcome': outcome, 'error': error})
                if outcome == 'ok':
                    success_ref = ref
                    break
                last_error = error
                if outcome == 'timeout' or self.deadline.expired():
                    self.timed_out = True
                    break
                has_next = index + 1 < len(self.sources)
                if outcome == 'rate_limited' and has_next:
                    break  # do not wait out a rate limit: the mirror is there for exactly this
                if outcome == 'error' and PERMANENT_ERROR_RE.search(error or '') and not NO_SPACE_RE.search(error or ''):
                    break  # retrying the same reference cannot fix a missing image or denied access
                if i + 1 < self.attempts_per_source:
                    self.report('Attempt %d failed (%s: %s); retrying in %.1f s' % (number, outcome, error, delays[i]),
                                force=True)
                    self.deadline.sleep(delays[i])
                    if self.deadline.expired():
                        self.timed_out = True
                        break
            if success_ref is not None or self.timed_out:
                break
        return success_ref, last_error, self.clock() - started


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
            timeout=dict(type='float', default=0),
            progress_file=dict(type='path'),
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        ),
        required_together=[('registry_username', 'registry_password')],
        supports_check_mode=True,
    )
    p = module.params
    scrub = Scrubber(p['registry_password'])
    base = dict(changed=False, image=p['image'], source=None, digest=None, image_id=None, bytes_total=0,
                bytes_downloaded=0, layers_total=0, layers_already_present=0, attempts=[], duration=0.0,
                fell_back=False, rate_limited=False, stalled=0, timed_out=False, would_pull=False, fix=None,
                waa_exit_code=EXIT_OK)

    progress_ok = {'path': None}

    def write_final(result, failed):
        # Every exit leaves a terminal record, so a watcher never waits for a module that has ended.
        if not progress_ok['path'] or module.check_mode:
            return
        fields = dict(image=result.get('image'), source=result.get('source'), attempt=len(result.get('attempts') or []),
                      attempts_max=p['attempts'], bytes_done=result.get('bytes_total', 0),
                      bytes_total=result.get('bytes_total', 0), layers_done=result.get('layers_total', 0),
                      layers_total=result.get('layers_total', 0), rate_bps=0, eta_s=None,
                      message=result.get('msg'), result=result)
        try:
            ProgressWriter(progress_ok['path'], 'pull', scrub=scrub).final(fields, failed=failed)
        except (OSError, ProgressFileError):
            pass

    def fail(msg, fix, code=EXIT_PULL, **extra):
        result = dict(base)
        result.update(extra)
        result.update(msg=scrub('%s Fix: %s' % (msg, fix)), fix=scrub(fix), waa_exit_code=code)
        result = scrub.deep(result)
        write_final(result, failed=True)
        module.fail_json(**result)

    if p['progress_file']:
        try:
            validate_abs_path(p['progress_file'], 'progress_file')
            progress_ok['path'] = p['progress_file']
        except ValueError as exc:
            fail(str(exc), 'Give progress_file as an absolute path in an existing directory.')
    try:
        split_image_reference(p['image'])
        base['source'] = image_registry(p['image'])
        if p['fallback_registry']:
            validate_registry(p['fallback_registry'])
    except ValueError as exc:
        fail(str(exc), 'Correct the parameter and run again.')
    if p['stall_timeout'] < 1:
        fail('stall_timeout must be at least 1 second.', 'Give stall_timeout in seconds, e.g. 300.')
    if p['attempts'] < 1:
        fail('attempts must be at least 1.', 'Give attempts >= 1, e.g. 3.')
    if p['backoff_base'] < 0 or p['backoff_max'] < 0:
        fail('backoff_base and backoff_max must not be negative.', 'Give non-negative numbers.')
    if p['timeout'] < 0:
        # Callers pass the time left until the run's deadline: negative means it has passed.
        fail('timeout is negative (%s): the overall deadline has already passed.' % p['timeout'],
             'Increase --timeout or check for hangs.', code=8, timed_out=True)

    engine = before = puller = None
    try:
        engine = DockerEngine(p['docker_host'], timeout=30.0)
    except ValueError as exc:
        fail(str(exc), 'Give docker_host as unix:///var/run/docker.sock or tcp://HOST:PORT.')
    try:
        engine.ping(timeout=15)
    except DockerError as exc:
        fail('The Docker daemon at %s cannot be reached: %s.' % (p['docker_host'], exc.message),
             'Start Docker (systemctl start docker) and make sure this user may use its socket (become: true).',
             code=EXIT_DOCKER)
    try:
        before = engine.image_inspect(p['image'], timeout=30)
    except DockerError as exc:
        fail('The Docker daemon refused to look up %s: %s.' % (p['image'], exc.message),
             'Correct the image reference (lower-case repository path, valid tag).')

    if before is not None and not p['force']:
        result = scrub.deep(dict(base, image_id=before.get('Id'), digest=repo_digest(before, p['image']),
                                 image_size_bytes=before.get('Size'),
                                 msg='%s is already present; nothing pulled.' % p['image']))
        write_final(result, failed=False)
        module.exit_json(**result)
    if module.check_mode:
        msg = ('%s would be pulled again (force).' if before is not None else '%s is not present and would be pulled.')
        module.exit_json(**scrub.deep(dict(base, changed=True, would_pull=True, msg=msg % p['image'],
                                           image_id=(before or {}).get('Id'))))

    try:
        puller = Puller(module, engine)
    except ProgressFileError as exc:
        progress_ok['path'] = None
        fail('The progress file cannot be written: %s' % exc, 'Choose a progress_file in an existing directory.')
    except ValueError as exc:
        fail(str(exc), 'Correct fallback_registry.')

    before_ids = {}
    for ref in puller.sources:
        try:
            inspect = before if ref == p['image'] else engine.image_inspect(ref, timeout=30)
        except DockerError:
            inspect = None
        before_ids[ref] = (inspect or {}).get('Id')

    try:
        success_ref, last_error, duration = puller.run()
    except ProgressFileError as exc:
        progress_ok['path'] = None
        fail('The progress file cannot be written: %s' % exc, 'Choose a progress_file in an existing directory.')
    except DockerError as exc:
        success_ref, last_error, duration = None, scrub(exc.message), puller.deadline.elapsed()
    except Exception as exc:  # pylint: disable=broad-except
        # Anything unexpected still ends as a clean, scrubbed failure with a final progress record.
        success_ref, last_error, duration = None, scrub('%s: %s' % (type(exc).__name__, exc)), puller.deadline.elapsed()

    snap = puller.tracker.snapshot()
    result = dict(base, would_pull=True, attempts=puller.attempt_log, duration=round(duration, 3),
                  rate_limited=puller.rate_limited, stalled=puller.stalled, timed_out=puller.timed_out,
                  bytes_total=snap['bytes_total'], bytes_downloaded=snap['bytes_downloaded'],
                  layers_total=snap['layers_total'], layers_already_present=snap['layers_already_present'])
    if success_ref is not None:
        after = engine.image_inspect(success_ref, timeout=30) or {}
        result.update(image=success_ref, source=image_registry(success_ref), image_id=after.get('Id'),
                      image_size_bytes=after.get('Size'),
                      digest=puller.tracker.digest or repo_digest(after, success_ref),
                      fell_back=success_ref != p['image'],
                      changed=bool(after.get('Id')) and after.get('Id') != before_ids.get(success_ref))
        result['msg'] = '%s pulled from %s in %.1f s (%s).' % (
            success_ref, result['source'], duration, puller.tracker.final_status or 'done')
        if result['fell_back']:
            why = 'rate limited (HTTP 429 / toomanyrequests)' if puller.rate_limited else 'failed'
            result['msg'] += ' Fell back from %s: %s.' % (p['image'], why)
        result = scrub.deep(result)
        if puller.progress is not None:
            puller.progress.final(dict(snap, image=success_ref, source=result['source'], attempt=len(puller.attempt_log),
                                       attempts_max=puller.attempts_max, message=result['msg'], result=result),
                                  failed=False)
        module.exit_json(**result)

    outcomes = set(a['outcome'] for a in puller.attempt_log)
    if puller.timed_out:
        outcomes.add('timeout')
    root_dir = None
    try:
        root_dir = (engine.info(timeout=10) or {}).get('DockerRootDir')
    except DockerError:
        pass
    fix = failure_fix(outcomes, [a['error'] for a in puller.attempt_log] + [last_error], len(puller.sources) > 1, root_dir)
    tried = ', '.join(puller.sources)
    msg = 'Pulling %s failed after %d attempt(s) (tried %s): %s.' % (
        p['image'], len(puller.attempt_log), tried, last_error or 'unknown error')
    result = scrub.deep(dict(result, msg=scrub('%s Fix: %s' % (msg, fix)), fix=fix, waa_exit_code=EXIT_PULL))
    if puller.progress is not None:
        try:
            puller.progress.final(dict(snap, image=puller.current['image'], source=puller.current['source'],
                                       attempt=len(puller.attempt_log), attempts_max=puller.attempts_max,
                                       message=result['msg'], result=result), failed=True)
        except (OSError, ProgressFileError):
            pass
    module.fail_json(**result)


if __name__ == '__main__':
    main()
