# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pull behind docker_pull_progress: follow POST /images/create layer by layer, detect stalls,
retry with backoff, fall back to a mirror registry, keep the password out of everything it returns,
and write the progress file a watcher long-polls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    DockerEngine,
    DockerError,
    PullError,
    registry_auth_header,
)
from ansible_collections.openadapt.waa.plugins.module_utils._docker_http import DockerTimeout
from ansible_collections.openadapt.waa.plugins.module_utils._finish import Finished
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_DOCKER, EXIT_OK, EXIT_PULL
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, ProgressWriter, take_private_file
from ansible_collections.openadapt.waa.plugins.module_utils._pull_tracker import (  # noqa: F401 (the module's names)
    NO_SPACE_RE,
    PERMANENT_ERROR_RE,
    PullTracker,
    Scrubber,
)
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline, backoff_delays
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    fallback_reference,
    image_registry,
    repo_digest,
    split_image_reference,
    validate_abs_path,
    validate_registry,
)


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
    def __init__(self, p, engine, clock=time.monotonic):
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
                    return 'stalled', 'no word from the pull for %d s' % self.stall_timeout
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


def _with_password(p, check_mode):
    """``p`` with the password of registry_password_file, which is read and removed first of all (it
    must not outlive this call), as a copy: the module's own params, echoed back as its invocation,
    never hold it. Username and password go together."""
    if p.get('registry_password_file'):
        try:
            p = dict(p, registry_password=take_private_file(p['registry_password_file'], check_mode).decode('utf-8').strip())
        except (OSError, ValueError) as exc:
            raise Finished(dict(changed=False, msg='registry_password_file: %s' % exc, waa_exit_code=EXIT_PULL,
                                fix='Pass the password through a private (0600) file that exists on the VM.'),
                           failed=True)
    if bool(p['registry_username']) != bool(p['registry_password']):
        raise Finished(dict(changed=False, msg='registry_username and a registry password go together: give both or '
                                               'neither.', waa_exit_code=EXIT_PULL,
                            fix='Set WAA_REGISTRY_USERNAME and WAA_REGISTRY_PASSWORD (or neither).'), failed=True)
    return p


def pull(p, check_mode=False):
    """Run docker_pull_progress for its parameters ``p``; always ends by raising Finished."""
    p = _with_password(p, check_mode)
    scrub = Scrubber(p['registry_password'])
    base = dict(changed=False, image=p['image'], source=None, digest=None, image_id=None, bytes_total=0,
                bytes_downloaded=0, layers_total=0, layers_already_present=0, attempts=[], duration=0.0,
                fell_back=False, rate_limited=False, stalled=0, timed_out=False, would_pull=False, fix=None,
                waa_exit_code=EXIT_OK)

    progress_ok = {'path': None}

    def write_final(result, failed):
        # Every exit leaves a terminal record, so a watcher never waits for a module that has ended.
        if not progress_ok['path'] or check_mode:
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
        raise Finished(result, failed=True)

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
        raise Finished(result, failed=False)
    if check_mode:
        msg = ('%s would be pulled again (force).' if before is not None else '%s is not present and would be pulled.')
        raise Finished(scrub.deep(dict(base, changed=True, would_pull=True, msg=msg % p['image'],
                                       image_id=(before or {}).get('Id'))), failed=False)

    try:
        puller = Puller(p, engine)
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
        raise Finished(result, failed=False)

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
    raise Finished(result, failed=True)
