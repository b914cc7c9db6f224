# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One waa_probe run: its parameters, checking or waiting for the layers (with the one restart a
retryable boot failure gets), the detailed checks, the smoke test and the screenshot, the progress
records, and the module's result."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import time
from urllib.parse import urlsplit

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerEngine, DockerError
from ansible_collections.openadapt.waa.plugins.module_utils._health import RETRYABLE_SIGNATURES, first_unhealthy
from ansible_collections.openadapt.waa.plugins.module_utils._phases import BOOT_STAGE_ORDER, EXIT_DEADLINE, EXIT_SMOKE
from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYER_EXIT_CODE as EXIT_CODES
from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYERS
from ansible_collections.openadapt.waa.plugins.module_utils._prober import (
    MAX_POLL_INTERVAL,
    Prober,
    healthy_summary,
    smoke_summary,
)
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, atomic_write_bytes
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline, earliest
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path, validate_container_name
from ansible_collections.openadapt.waa.plugins.module_utils._waa_client import WaaClient, WaaError, png_info


# The probe's parameters and their defaults: waa_probe's argument spec, and what waa_survey passes.
PROBE_ARGS = dict(
    container_name=dict(type='str', default='winarena'),
    server_url=dict(type='str', default='http://127.0.0.1:5000'),
    vnc_url=dict(type='str', default='http://127.0.0.1:8006'),
    layers=dict(type='list', elements='str', choices=list(LAYERS), default=list(LAYERS)),
    wait_timeout=dict(type='float', default=0),
    wait_total=dict(type='float'),
    deadline_in=dict(type='float'),
    poll_interval=dict(type='float', default=0.5),
    request_timeout=dict(type='float', default=7),
    accessibility_backend=dict(type='str', choices=['uia', 'win32'], default='uia'),
    detailed=dict(type='bool', default=False),
    smoke=dict(type='bool', default=False),
    screenshot_dest=dict(type='path'),
    return_screenshot=dict(type='bool', default=False),
    restart_marker=dict(type='path'),
    install_timeout=dict(type='float'),
    progress_file=dict(type='path'),
    docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
)


def probe_params(**given):
    """PROBE_ARGS' defaults overlaid with ``given`` (for callers that are not waa_probe itself)."""
    params = dict((key, spec.get('default')) for key, spec in PROBE_ARGS.items())
    params.update(given)
    return params


def empty_result():
    # wait_over: a result that ends without a verdict on the layers (bad input) ends a wait too.
    return dict(changed=False, healthy=False, wait_over=True, layers=[], failed_layer=None, waa_exit_code=0, fix=None, diagnosis=None,
                elapsed=0.0, deadline_exceeded=False, timed_out=False, polls=0, log_tail=[], boot={}, detailed={},
                smoke={}, screenshot={}, progress={})


def check_params(p):
    """Raise ValueError naming the first bad parameter."""
    validate_container_name(p['container_name'])
    for key in ('screenshot_dest', 'progress_file', 'restart_marker'):
        if p.get(key):
            validate_abs_path(p[key], key)
    for key in ('server_url', 'vnc_url'):
        parts = urlsplit(p[key])
        if parts.scheme not in ('http', 'https') or not parts.hostname or any(c in p[key] for c in '\r\n\x00 '):
            raise ValueError('%s %r must be an http(s) URL such as http://127.0.0.1:5000.' % (key, p[key]))
    if not 0 < p['poll_interval'] <= MAX_POLL_INTERVAL:
        raise ValueError('poll_interval must be above 0 and at most %.1f seconds.' % MAX_POLL_INTERVAL)
    if p['request_timeout'] <= 0 or p['wait_timeout'] < 0 or (p['wait_total'] is not None and p['wait_total'] < 0):
        raise ValueError('request_timeout must be above 0, and wait_timeout and wait_total not negative.')
    if not p['layers']:
        raise ValueError('layers must name at least one layer.')


def progress_kind(p):
    return 'boot' if p['wait_timeout'] > 0 else 'probe'


class ProbeRun(object):
    """One waa_probe run: check (or wait for) the layers, then the detailed checks, the smoke test and the
    screenshot; ``result`` is the module's result and ``healthy`` whether it succeeded."""

    def __init__(self, p, engine, waa, progress, check_mode=False, warn=None):
        self.p = p
        self.progress = progress
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.started = time.monotonic()
        self.prober = Prober(p, engine, waa)
        self.waiting = p['wait_timeout'] > 0
        self.wait_deadline = Deadline(p['wait_timeout']) if self.waiting else Deadline()
        self.run_deadline = Deadline(p['deadline_in']) if p['deadline_in'] is not None else Deadline()
        self.prober.deadline = earliest(self.wait_deadline, self.run_deadline) if self.waiting else self.run_deadline
        self.restarted = self._restarted_before()

    def _restarted_before(self):
        """What the restart marker of this run says (a restart already made), or None."""
        path = self.p.get('restart_marker')
        try:
            with open(path) as handle:
                return json.loads(handle.read(4096))
        except (TypeError, IOError, OSError, ValueError):
            return None

    def _restart_once(self, bad):
        """Restart the container for a retryable fatal signature, once per restart marker (one run).
        Returns whether it restarted."""
        signature = (bad.details or {}).get('signature')
        if (signature not in RETRYABLE_SIGNATURES or not self.p.get('restart_marker') or self.restarted
                or self.check_mode):
            return False
        record = {'signature': signature, 'line': (bad.details or {}).get('line'), 'at': time.time()}
        try:
            atomic_write_bytes(self.p['restart_marker'], json.dumps(record).encode('utf-8'), 0o600)
            # Nothing to shut down: QEMU never ran, so no stop timeout for Windows' ACPI shutdown.
            # The next read of the log starts after the old start's end (State.FinishedAt), so its line
            # is not read again.
            self.prober.engine.container_restart(self.p['container_name'], stop_timeout=0, timeout=60)
        except (DockerError, OSError, ProgressFileError, ValueError) as exc:
            self.warn('Could not restart the container after %s: %s' % (signature, exc))
            return False
        self.restarted = record
        self.prober.boot = {}
        return True

    def stage_name(self):
        return next((s for s in reversed(BOOT_STAGE_ORDER) if s in self.prober.boot), None)

    def progress_record(self, results, message):
        record = {'kind': progress_kind(self.p), 'stage': self.stage_name(), 'log_tail': self.prober.log_tail()[-20:],
                  'layers': [r.to_dict() for r in results], 'message': message,
                  'elapsed': round(self.prober.elapsed(), 3), 'boot': self.prober.boot}
        install = self.prober.follower.parser.install
        if install:
            record['install'] = dict(install)
        if self.prober.follower.parser.errors:
            record['dockur_errors'] = list(self.prober.follower.parser.errors)
        if self.restarted:
            record['restarted'] = self.restarted
        return record

    def report(self, results, message, state='running', result=None):
        fields = self.progress_record(results, message)
        fields['log_tail'] = self.prober.log_tail()
        if result is not None:
            fields['result'] = result
        try:
            if state == 'running':
                self.progress.update(fields)
            else:
                self.progress.final(fields, failed=state == 'failed')
        except (OSError, ProgressFileError) as exc:
            self.warn('Cannot write the progress file: %s' % exc)

    def _layers(self):
        """Poll the layers until healthy, fatal, or (waiting) time is up: (results, deadline_exceeded, timed_out)."""
        prober = self.prober
        while True:
            results = prober.run_once()
            bad = first_unhealthy(results)
            if bad is not None and bad.fatal and self.waiting and self._restart_once(bad):
                self.report(results, 'Restarted the container once after: %s' % bad.message)
                continue
            if bad is None or bad.fatal or not self.waiting:
                return results, False, False
            if prober.deadline.expired():
                exceeded = self.p['deadline_in'] is not None and self.run_deadline.remaining() <= self.wait_deadline.remaining()
                return results, exceeded, True
            self.report(results, bad.message)
            prober.deadline.sleep(self.p['poll_interval'])

    def _extras(self, result, msg):
        """The detailed checks, the smoke test and the screenshot on healthy layers: (healthy, msg)."""
        p, prober = self.p, self.prober
        healthy = True
        if p['detailed']:
            detail, layer, error = prober.run_detailed()
            result['detailed'] = detail
            if layer:
                healthy = False
                result.update(failed_layer=layer, waa_exit_code=EXIT_CODES[layer],
                              fix='Check the WAA server inside Windows (VNC) and its log; recreate the container if it persists.')
                msg = 'Detailed check failed: %s.' % error
        if healthy and p['smoke'] and not self.check_mode:
            smoke = prober.run_smoke()
            result['smoke'] = smoke
            if smoke['ok']:
                msg += ' Smoke test passed (window %r).' % smoke['window']
                result['checked'] = smoke_summary(smoke)
            else:
                healthy = False
                result.update(failed_layer='smoke', waa_exit_code=EXIT_SMOKE,
                              fix='Look at the screen through VNC; check that the WAA server can start programs '
                                  '(/setup/launch) and read UI Automation; then rerun.')
                msg = 'Smoke test failed: %s.' % smoke['error']
        wants_png = p['screenshot_dest'] or p['return_screenshot']
        if healthy and wants_png and not self.check_mode:
            try:
                prober.ensure_screenshot()
            except (WaaError, ValueError) as exc:
                self.warn('Could not take a screenshot: %s' % exc)
        return healthy, msg

    def _screenshot(self, result):
        """Save the last screenshot on the VM and/or return it (base64) for the controller to write."""
        png, p = self.prober.last_png, self.p
        if png is None or self.check_mode:
            return
        width, height = png_info(png)
        shot = {'bytes': len(png), 'width': width, 'height': height}
        if p['screenshot_dest']:
            try:
                atomic_write_bytes(p['screenshot_dest'], png, 0o644)
                shot['path'] = p['screenshot_dest']
            except (OSError, ProgressFileError, ValueError) as exc:
                self.warn('Could not save the screenshot to %s: %s' % (p['screenshot_dest'], exc))
        if p['return_screenshot']:
            shot['data_b64'] = base64.b64encode(png).decode('ascii')
        if 'path' in shot or 'data_b64' in shot:
            result['screenshot'] = shot

    def run(self):
        p = self.p
        results, deadline_exceeded, timed_out = self._layers()
        result = empty_result()
        result.update(layers=[r.to_dict() for r in results], polls=self.prober.polls)
        bad = first_unhealthy(results)
        healthy = bad is None
        if healthy:
            msg = 'Healthy: %s.' % ', '.join(r.layer for r in results)
            if len(results) == len(LAYERS):
                result['checked'] = result['layers_checked'] = healthy_summary(results)
            healthy, msg = self._extras(result, msg)
        else:
            result.update(failed_layer=bad.layer, waa_exit_code=bad.exit_code, fix=bad.fix, diagnosis=bad.diagnosis)
            if deadline_exceeded:
                result['waa_exit_code'] = EXIT_DEADLINE
                msg = ('The overall deadline passed while waiting for %s: %s' % (bad.layer, bad.message))
                result['fix'] = 'Increase --timeout or check for hangs. ' + (bad.fix or '')
            elif timed_out:
                total = p['wait_total'] or p['wait_timeout']
                if self.prober.follower.parser.install and p.get('install_timeout'):
                    total = max(total, p['install_timeout'])  # the first-install path's longer wait
                msg = 'Timed out after %.0f s waiting for %s: %s' % (total, bad.layer, bad.message)
            else:
                msg = '%s is unhealthy: %s' % (bad.layer, bad.message)
            if bad.diagnosis:
                msg += ' Diagnosis: %s' % bad.diagnosis
            if self.restarted and (bad.details or {}).get('signature') in RETRYABLE_SIGNATURES:
                msg += ' The container was restarted once already in this run, and it failed again the same way.'
        if result['fix'] and not healthy:
            msg += ' Fix: %s' % result['fix']
        self._screenshot(result)
        # Whether a wait (roles/common/tasks/wait.yml) is over as far as the VM can tell: the layers are
        # healthy, a fatal signal appeared, or the run's deadline passed; only the controller's clock
        # ends it otherwise.
        wait_over = healthy or deadline_exceeded or any(r.fatal for r in results)
        result.update(healthy=healthy, wait_over=wait_over, msg=msg, elapsed=round(time.monotonic() - self.started, 3),
                      deadline_exceeded=deadline_exceeded, timed_out=timed_out, log_tail=self.prober.log_tail()[-20:],
                      boot=self.prober.boot, progress=self.progress_record(results, msg), restarted=self.restarted)
        self.report(results, msg, state='done' if healthy else 'failed', result=result)
        return result, healthy


def clients(p):
    """The Docker engine and WAA server clients for probe parameters (ValueError on a bad address)."""
    return DockerEngine(p['docker_host'], timeout=p['request_timeout']), WaaClient(p['server_url'], timeout=p['request_timeout'])
