# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health-layer prober behind waa_probe and waa_survey: one pass over the layers, the detailed
checks and the Notepad smoke test (a wait over several passes is _probe_run). Standard library only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import json
import time
from urllib.error import HTTPError, URLError
from urllib.request import ProxyHandler, Request, build_opener

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerError
from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYERS
from ansible_collections.openadapt.waa.plugins.module_utils._health import (
    ContainerLogFollower,
    LayerResult,
    cause_exit_code,
    diagnose_exit,
    strip_ansi,
)
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline, earliest
from ansible_collections.openadapt.waa.plugins.module_utils._waa_client import (
    WaaError,
    find_named,
    local_name,
    parse_at,
    png_info,
)

MAX_POLL_INTERVAL = 1.0
NOTEPAD_TITLE_RE = re.compile(r'(?i)^.* - notepad$')
SMOKE_WINDOW_TIMEOUT = 30.0
SMOKE_CLOSE_TIMEOUT = 15.0
SCREENSHOT_MIN_BYTES = 1024
SCREEN_MIN = 200
SCREEN_MAX = 16384
EXECUTE_CHECK = ['python', '-c', 'import pyautogui; print(pyautogui.position())']


def http_status(url, timeout):
    """HTTP status of GET ``url`` (no proxies), or None when nothing answered."""
    opener = build_opener(ProxyHandler({}))
    try:
        with opener.open(Request(url, method='GET'), timeout=timeout) as resp:
            resp.read(64 * 1024)
            return resp.status
    except HTTPError as exc:
        return exc.code
    except (URLError, OSError, ValueError):
        return None


class Prober(object):
    def __init__(self, params, engine, waa, clock=time.monotonic):
        self.p = params
        self.engine = engine
        self.waa = waa
        self.clock = clock
        self.start = clock()
        self.follower = ContainerLogFollower(engine, params['container_name'])
        self.boot = {}
        self.exit_tail = None
        self.inspect = None
        self.deadline = Deadline()
        self.polls = 0
        self.last_png = None  # the last screenshot taken (detailed check, smoke test, or ensure_screenshot)

    # -- helpers ---------------------------------------------------------------------------
    def elapsed(self):
        return self.clock() - self.start

    def timeout(self):
        """A request timeout never running past the deadline."""
        return self.deadline.bound(self.p['request_timeout'], minimum=0.5)

    def mark(self, stage, **extra):
        if stage not in self.boot:
            entry = {'elapsed': round(self.elapsed(), 3)}
            entry.update(extra)
            self.boot[stage] = entry

    def log_tail(self):
        if self.exit_tail is not None:
            return self.exit_tail
        return list(self.follower.parser.tail)

    def _inspect(self):
        self.inspect = self.engine.container_inspect(self.p['container_name'], timeout=self.timeout())
        return self.inspect

    def _last_lines(self, count=20):
        try:
            text = self.engine.container_logs(self.p['container_name'], tail=count, timeout=self.timeout(),
                                              tty=((self.inspect or {}).get('Config') or {}).get('Tty'))
        except DockerError:
            return []
        lines = [strip_ansi(line).replace('\r', '').rstrip() for line in text.split('\n')]
        return [line for line in lines if line.strip()][-count:]

    def _diagnose_stopped(self, info):
        """Diagnosis of a container that is not running: its current run's log first, then its exit code."""
        state = info.get('State') or {}
        self.follower.poll(started_at=state.get('StartedAt'), finished_at=state.get('FinishedAt'),
                           timeout=self.timeout(),
                           tty=(info.get('Config') or {}).get('Tty'))
        fatal = self.follower.parser.fatal
        # The current run's lines; else the log's last lines (no log driver read, or lines stamped oddly).
        self.exit_tail = (list(self.follower.parser.tail) if self.follower.available else []) or self._last_lines()
        if fatal:
            return fatal['diagnosis'], fatal['fix'], fatal['id']
        return diagnose_exit(state.get('ExitCode'), state.get('OOMKilled'), self.exit_tail)

    # -- layers ----------------------------------------------------------------------------
    def check_docker_daemon(self):
        try:
            ok = self.engine.ping(timeout=self.timeout())
        except DockerError as exc:
            return LayerResult('docker_daemon', False, 'The Docker daemon does not answer: %s' % exc.message,
                               diagnosis='The Docker daemon is not running or its socket is not reachable.',
                               fix='Start Docker (systemctl start docker) and run the module as a user allowed to use '
                                   'the socket (become: true).')
        if not ok:
            return LayerResult('docker_daemon', False, 'The Docker daemon answered /_ping without OK.',
                               fix='Restart the Docker daemon.')
        return LayerResult('docker_daemon', True, 'The Docker daemon answers.', details={'docker_host': self.engine.docker_host})

    def _inspected(self, layer):
        """(inspect data or None, None), or (None, the layer's failure) when Docker cannot be asked."""
        try:
            return self._inspect(), None
        except DockerError as exc:
            message = 'Cannot inspect container %s: %s' % (self.p['container_name'], exc.message)
            return None, LayerResult(layer, False, message)

    def check_container(self):
        name = self.p['container_name']
        info, failed = self._inspected('container')
        if failed:
            return failed
        if info is None:
            return LayerResult('container', False, 'Container %s does not exist.' % name, fatal=True,
                               details={'exists': False}, diagnosis='No container named %s.' % name,
                               fix='Create it (the container phase) with --device /dev/kvm, --cap-add NET_ADMIN and the '
                                   'command "/entry.sh --prepare-image false --start-client false".')
        state = info.get('State') or {}
        restarts = info.get('RestartCount') or 0
        details = {'exists': True, 'id': (info.get('Id') or '')[:12], 'full_id': info.get('Id') or '',
                   'status': state.get('Status'), 'restart_count': restarts,
                   'started_at': state.get('StartedAt'), 'exit_code': state.get('ExitCode'),
                   'oom_killed': bool(state.get('OOMKilled')), 'image': (info.get('Config') or {}).get('Image'),
                   'image_id': info.get('Image'),
                   # The container role's record of the configuration the container was created with.
                   'config_hash': ((info.get('Config') or {}).get('Labels') or {}).get('openadapt.waa.config')}
        if state.get('Restarting'):
            diagnosis, fix, cause = self._diagnose_stopped(info)
            details['cause'] = cause
            return LayerResult('container', False, 'Container %s is in a restart loop (restarted %d times, last exit code %s).'
                               % (name, restarts, state.get('ExitCode')), details=details, fatal=restarts >= 2,
                               diagnosis=diagnosis, fix=fix, exit_code=cause_exit_code(cause))
        if state.get('Status') != 'running' or not state.get('Running'):
            if state.get('Status') in ('exited', 'dead'):
                diagnosis, fix, cause = self._diagnose_stopped(info)
                details['cause'] = cause
                return LayerResult('container', False, 'Container %s has %s with code %s.' % (name, state.get('Status'),
                                                                                              state.get('ExitCode')),
                                   details=details, fatal=True, diagnosis=diagnosis, fix=fix,
                                   exit_code=cause_exit_code(cause))
            return LayerResult('container', False, 'Container %s is %s, not running.' % (name, state.get('Status')),
                               details=details, fatal=True, diagnosis='The container is %s.' % state.get('Status'),
                               fix='Start it (docker start %s) or recreate it.' % name)
        self.exit_tail = None
        self.mark('container_started', log_time=state.get('StartedAt'))
        return LayerResult('container', True, 'Container %s is running.' % name, details=details)

    def check_windows_boot(self):
        name = self.p['container_name']
        info = self.inspect
        if info is None or 'container' not in self.p['layers']:
            info, failed = self._inspected('windows_boot')
            if failed:
                return failed
        if info is None:
            return LayerResult('windows_boot', False, 'Container %s does not exist.' % name, fatal=True,
                               fix='Create the container first.')
        state = info.get('State') or {}
        if not state.get('Running'):
            diagnosis, fix, _cause = self._diagnose_stopped(info)
            return LayerResult('windows_boot', False, 'Container %s is not running.' % name, fatal=True,
                               diagnosis=diagnosis, fix=fix)
        self.follower.poll(started_at=state.get('StartedAt'), finished_at=state.get('FinishedAt'),
                           timeout=self.timeout(),
                           tty=(info.get('Config') or {}).get('Tty'))
        parser = self.follower.parser
        for stage, entry in parser.stages.items():
            self.mark(stage, log_time=entry['log_time'], line=entry['line'])
        details = {'stages': list(parser.stages), 'logs_available': self.follower.available,
                   'log_lines_read': parser.lines_seen}
        if parser.fatal:
            fatal = parser.fatal
            details['signature'] = fatal['id']
            details['line'] = fatal['line']
            return LayerResult('windows_boot', False, 'Fatal error in the container log: %s' % fatal['line'],
                               details=details, fatal=True, diagnosis=fatal['diagnosis'], fix=fatal['fix'])
        vnc = http_status(self.p['vnc_url'], self.timeout())
        details['vnc_status'] = vnc
        if vnc == 200:
            self.mark('vnc_ready')
        if not self.follower.available:
            details['logs_error'] = self.follower.error
            if vnc == 200:
                return LayerResult('windows_boot', True, 'The VNC page answers (container logs unreadable: %s).'
                                   % self.follower.error, details=details)
            return LayerResult('windows_boot', False, 'Waiting for the VNC page (container logs unreadable: %s).'
                               % self.follower.error, details=details)
        if not parser.qemu_started and parser.install:
            percent = parser.install.get('download_percent')
            message = ('Installing Windows (a first start without a prepared Windows disk in /storage): %s%s'
                       % (parser.install.get('step') or 'preparing', ' (download %d%%)' % percent if percent is not None
                          and 'Downloading' in (parser.install.get('step') or '') else ''))
        elif not parser.qemu_started:
            message = 'Waiting for QEMU to start (no "Booting Windows using QEMU" line yet).'
        elif not parser.windows_started:
            message = 'QEMU is booting; waiting for the "Windows started" line.'
        elif vnc != 200:
            message = 'Windows started; waiting for the VNC page %s to answer 200 (got %s).' % (self.p['vnc_url'], vnc)
        else:
            return LayerResult('windows_boot', True, 'Windows started and the VNC page answers.', details=details)
        return LayerResult('windows_boot', False, message, details=details,
                           fix='Wait longer (a first boot installs Windows: ~20 min), or look at the screen through VNC.')

    def check_waa_server(self):
        try:
            data = self.waa.probe(timeout=self.timeout())
        except WaaError as exc:
            details = {'status': exc.status}
            if exc.status is not None and exc.status >= 500:
                message = 'The WAA server answers /probe with HTTP %s (still starting?).' % exc.status
            elif exc.status is None:
                message = 'The WAA server does not answer yet: %s' % exc.message
            else:
                message = exc.message
            return LayerResult('waa_server', False, message, details=details,
                               fix='Wait for the server inside Windows; if it never answers, check NET_ADMIN, the VNC '
                                   'screen and the container log.')
        self.mark('server_ready')
        return LayerResult('waa_server', True, 'The WAA server answers /probe: %s.' % data.get('status'),
                           details={'status': 200, 'response': data})

    def check_accessibility(self):
        backend = self.p['accessibility_backend']
        try:
            at = self.waa.accessibility(backend, timeout=self.timeout())
            root = parse_at(at)
        except (WaaError, ValueError) as exc:
            return LayerResult('accessibility', False, 'The accessibility tree (%s) is not available: %s'
                               % (backend, getattr(exc, 'message', exc)),
                               details={'status': getattr(exc, 'status', None), 'backend': backend},
                               fix='Check that the WAA server runs in the interactive Windows session (not as a '
                                   'service) and that UI Automation works; try accessibility_backend=win32.')
        if local_name(root.tag) != 'desktop':
            return LayerResult('accessibility', False, 'The accessibility tree root is <%s>, not <desktop>.'
                               % local_name(root.tag), details={'backend': backend})
        count = sum(1 for _node in root.iter())
        return LayerResult('accessibility', True, 'The accessibility tree (%s) has %d elements.' % (backend, count),
                           details={'backend': backend, 'elements': count, 'bytes': len(at)})

    def run_once(self):
        self.polls += 1
        results = []
        for layer in LAYERS:
            if layer not in self.p['layers']:
                continue
            t0 = self.clock()
            result = getattr(self, 'check_' + layer)()
            result.duration = self.clock() - t0
            results.append(result)
            if not result.healthy:
                break
        return results

    # -- extra checks ----------------------------------------------------------------------
    def ensure_screenshot(self):
        """The last screenshot of this probe, or a new one (WaaError, ValueError when none can be had)."""
        if self.last_png is None:
            self.last_png = self.take_screenshot()[0]
        return self.last_png

    def take_screenshot(self):
        data = self.waa.screenshot(timeout=self.timeout())
        width, height = png_info(data)
        return data, width, height

    def run_detailed(self):
        out = {'ok': False}
        try:
            data, width, height = self.take_screenshot()
            out['screenshot'] = {'ok': True, 'bytes': len(data), 'width': width, 'height': height}
            self.last_png = data
        except (WaaError, ValueError) as exc:
            out['screenshot'] = {'ok': False, 'error': str(exc)}
            return out, 'waa_server', 'The screenshot check failed: %s' % exc
        try:
            at = self.waa.accessibility(self.p['accessibility_backend'], timeout=self.timeout())
            if not at.strip():
                raise ValueError('empty AT')
            out['accessibility'] = {'ok': True, 'bytes': len(at)}
        except (WaaError, ValueError) as exc:
            out['accessibility'] = {'ok': False, 'error': str(exc)}
            return out, 'accessibility', 'The accessibility tree check failed: %s' % exc
        try:
            res = self.waa.execute(EXECUTE_CHECK, shell=False, timeout=self.deadline.bound(max(self.p['request_timeout'], 30),
                                                                                           minimum=0.5))
            output = str(res.get('output') or '')
            out['execute'] = {'ok': 'Point' in output, 'output': output.strip()[:200], 'returncode': res.get('returncode')}
            if 'Point' not in output:
                return out, 'waa_server', ('/execute with pyautogui.position() did not print a Point: %r (error %r)'
                                           % (output[:200], str(res.get('error') or '')[:200]))
        except WaaError as exc:
            out['execute'] = {'ok': False, 'error': str(exc)}
            return out, 'waa_server', 'The /execute check failed: %s' % exc
        out['ok'] = True
        return out, None, None

    def _notepad_windows(self):
        root = parse_at(self.waa.accessibility(self.p['accessibility_backend'], timeout=self.timeout()))
        return find_named(root, NOTEPAD_TITLE_RE)

    def _wait_windows(self, predicate, seconds):
        limit = earliest(Deadline(seconds, clock=self.clock), self.deadline)
        names = self._notepad_windows()
        while not predicate(names) and not limit.expired():
            limit.sleep(1.0)
            names = self._notepad_windows()
        return names, predicate(names)

    def run_smoke(self):
        steps = []
        out = {'ok': False, 'steps': steps, 'window': None, 'error': None}
        launched = False

        def step(name, ok, **extra):
            entry = {'step': name, 'ok': ok, 'elapsed': round(self.elapsed(), 3)}
            entry.update(extra)
            steps.append(entry)

        try:
            before = self._notepad_windows()
            step('baseline', True, notepad_windows=len(before))
            reply = self.waa.launch('notepad', shell=False, timeout=self.timeout())
            launched = True
            step('launch', True, reply=reply.strip()[:200])
            names, found = self._wait_windows(lambda n: len(n) > len(before), SMOKE_WINDOW_TIMEOUT)
            new = [n for n in names if n not in before] or names[len(before):]
            step('window', found, names=names[:5])
            if not found:
                raise ValueError('no window named like "Untitled - Notepad" appeared in the accessibility tree within %.0f s'
                                 % SMOKE_WINDOW_TIMEOUT)
            out['window'] = new[0] if new else names[-1]
            data, width, height = self.take_screenshot()
            sane = SCREEN_MIN <= width <= SCREEN_MAX and SCREEN_MIN <= height <= SCREEN_MAX
            step('screenshot', sane and len(data) > SCREENSHOT_MIN_BYTES, bytes=len(data), width=width, height=height)
            if len(data) <= SCREENSHOT_MIN_BYTES:
                raise ValueError('the screenshot has only %d bytes' % len(data))
            if not sane:
                raise ValueError('the screenshot is %dx%d, not a plausible screen size' % (width, height))
            self.last_png = data
            self.waa.close_all(timeout=self.timeout())
            launched = False
            step('close_all', True)
            names, gone = self._wait_windows(lambda n: len(n) <= len(before), SMOKE_CLOSE_TIMEOUT)
            step('closed', gone, names=names[:5])
            if not gone:
                raise ValueError('the Notepad window was still open %.0f s after /setup/close_all' % SMOKE_CLOSE_TIMEOUT)
            out['ok'] = True
        except (WaaError, ValueError) as exc:
            out['error'] = str(exc)
        finally:
            if launched:
                # Leave the desktop as we found it even when a step failed.
                try:
                    self.waa.close_all(timeout=self.timeout())
                except WaaError:
                    pass
        return out


# What a healthy layer says in one line's summary of what was checked.
_CHECKED = {
    'docker_daemon': lambda r: 'Docker answers',
    'container': lambda r: 'container running',
    'windows_boot': lambda r: 'Windows booted (VNC answers)',
    'waa_server': lambda r: 'WAA server answers /probe',
    'accessibility': lambda r: 'accessibility tree has %s elements' % r.details.get('elements', '?'),
}


def healthy_summary(results):
    """'5 layers healthy: Docker answers, container running, ...' for the layers checked."""
    return '%d layers healthy: %s.' % (len(results), ', '.join(_CHECKED[r.layer](r) for r in results))


def smoke_summary(smoke):
    """What the smoke test did: 'Notepad opened, window "Untitled - Notepad" found, screenshot 52 KB (1440x900), closed.'"""
    shot = next((s for s in smoke['steps'] if s['step'] == 'screenshot'), {})
    return ('Smoke test passed: Notepad opened, window %s found, screenshot %.0f KB (%sx%s), closed.'
            % (json.dumps(smoke['window']), shot.get('bytes', 0) / 1024.0, shot.get('width', '?'), shot.get('height', '?')))
