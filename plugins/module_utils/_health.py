# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health-layer model and the parsing of WAA / dockur container logs.

Layers, in order, with the exit code a failure of each maps to:
docker_daemon 2, container 4, windows_boot 5, waa_server 6, accessibility 7.

Log facts (see the reference on the real container): dockur's info lines are prefixed with
"❯ " and carry ANSI colour codes; "Windows started" is printed on a timer, not when Windows is
ready; when dockur fails, the container does NOT exit, so its ERROR lines are the only signal.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import collections
import re
import time

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerError

from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYER_EXIT_CODE as EXIT_CODES
from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYERS

# Terminal control sequences, whole: CSI (7- and 8-bit), the string sequences OSC, DCS, SOS, PM and
# APC up to their terminator (BEL, ESC \ or ST; an unterminated one to the end), and the other
# ESC sequences (ESC 7, ESC ( B, ...). Then every C0 and C1 control character but newline and tab.
_ESCAPES_RE = re.compile(r'\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]'
                         r'|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c|\Z)'
                         r'|\x1b[ -/]*[0-~]')
_CONTROLS_RE = re.compile(r'[\x00-\x08\x0b-\x1f\x7f-\x9f]')

AZURE_FIX = ('On Azure, use a VM size with nested virtualization (Dv5, Ddsv5, Ev5 or Edsv5 series) '
             'created with the Standard security type, not Trusted Launch.')


class LayerResult(object):
    """The outcome of checking one health layer."""

    def __init__(self, layer, healthy, message, duration=0.0, details=None, fatal=False, diagnosis=None, fix=None,
                 exit_code=None):
        if layer not in LAYERS:
            raise ValueError('unknown health layer %r' % (layer,))
        self.layer = layer
        self.healthy = bool(healthy)
        self.message = message
        self.duration = duration
        self.details = details or {}
        # fatal: waiting longer cannot help (e.g. a dockur ERROR line, an exited container).
        self.fatal = bool(fatal)
        self.diagnosis = diagnosis
        self.fix = fix
        # The failure's class when its cause, not the layer, decides it (see cause_exit_code).
        self._exit_code = exit_code

    @property
    def exit_code(self):
        if self.healthy:
            return 0
        return self._exit_code if self._exit_code is not None else EXIT_CODES[self.layer]

    def to_dict(self):
        return {
            'layer': self.layer,
            'healthy': self.healthy,
            'message': self.message,
            'duration': round(self.duration, 3),
            'details': self.details,
            'fatal': self.fatal,
            'diagnosis': self.diagnosis,
            'fix': self.fix,
            'exit_code': self.exit_code,
        }

    def __repr__(self):
        return 'LayerResult(%r, %r, %r)' % (self.layer, self.healthy, self.message)


def exit_code_for(layer):
    """The exit code for a failure of ``layer``."""
    return EXIT_CODES[layer]


def first_unhealthy(results):
    """The first unhealthy LayerResult in layer order, or None when all are healthy."""
    bad = [r for r in results if not r.healthy]
    if not bad:
        return None
    return min(bad, key=lambda r: LAYERS.index(r.layer))


def strip_ansi(text):
    """Untrusted text (log lines, model actions, task instructions) made safe for a terminal and a
    log file: escape sequences removed whole, then every control character but newline and tab
    (carriage returns too: they would let a line overwrite what the terminal shows)."""
    return _CONTROLS_RE.sub('', _ESCAPES_RE.sub('', text))


# -- boot stages ---------------------------------------------------------------------------
BOOT_STAGES = (
    # A first start on an empty /storage: dockur downloads the Windows ISO and builds the install
    # image (install.sh), then Windows setup runs inside the VM (~20 min on Azure).
    ('installing_windows', re.compile(r'\bDownloading Windows\b|\bExtracting .*\bimage\.\.\.|'
                                      r'Adding drivers to image|\bBuilding .*\bimage\.\.\.')),
    ('qemu_started', re.compile(r'Booting Windows using QEMU')),
    # "succesfully" (sic) in the 2024 image, "successfully" in newer dockur: match neither word.
    ('windows_started', re.compile(r'\bWindows started\b')),
    ('server_ready', re.compile(r'VM is up and running')),
    # --prepare-image true (waa prepare-image): WAA's entry.sh shuts Windows down through the server's
    # /shutdown, waits 180 s for Windows to save the disk, then the container exits.
    ('shutting_down', re.compile(r'Windows VM is shutting down')),
)


# -- fatal signatures ----------------------------------------------------------------------
def _kvm_diagnosis(match):
    reason = (match.group('reason') or '').strip()
    text = 'KVM acceleration is not available inside the container'
    if reason:
        text += ' (%s)' % reason
    if 'missing' in reason:
        text += ': the container has no /dev/kvm, so it was started without --device /dev/kvm or the host has no KVM'
    elif 'write' in reason:
        text += ': /dev/kvm exists in the container but cannot be opened read-write'
    elif 'vmx' in reason or 'svm' in reason:
        text += ': the CPU does not expose vmx/svm, so nested virtualization is off on this host'
    return text + '. QEMU cannot boot Windows; the container keeps running but port 5000 will never answer.'


def _ram_diagnosis(match):
    return ('RAM_SIZE of %s GB is more than the %s GB of memory available to the container; dockur refused '
            'to start Windows.' % (match.group('want'), match.group('have')))


# wget's progress line of dockur's ISO download: "win11x64-enterprise-eval.iso   40%[====>   ]  2.19G ...".
INSTALL_PROGRESS_RE = re.compile(r'^(?P<file>[\w.-]+\.iso)\s+(?P<percent>\d{1,3})%\[')
# Fatal signatures worth one container restart: the cause may be gone on a second start.
RETRYABLE_SIGNATURES = ('qemu_init_failed',)

FATAL_SIGNATURES = (
    {
        # QEMU's own error when it cannot initialise its accelerator (e.g. /dev/kvm busy): dockur's
        # QEMU process is gone and the container keeps waiting for the server forever.
        'id': 'qemu_init_failed',
        'pattern': re.compile(r'^qemu-system-[\w-]+: (?P<text>.*(?:failed to initiali[sz]e|[Cc]ould not initiali[sz]e).*)$'),
        'diagnosis': lambda m: 'QEMU failed to initialise: %s' % m.group('text').strip(),
        'fix': 'Check that no other VM or container holds /dev/kvm (lsof /dev/kvm), then recreate the container; '
               'on Azure, use a VM size with nested virtualization (Dv5, Ddsv5, Ev5 or Edsv5).',
    },
    {
        'id': 'kvm_unavailable',
        'pattern': re.compile(r'ERROR: KVM acceleration not available(?: \((?P<reason>[^)]*)\))?'),
        'diagnosis': _kvm_diagnosis,
        'fix': ('Start the container with --device /dev/kvm on a host where /dev/kvm works (check it with '
                'openadapt.waa.kvm_check); if /dev/kvm exists but is not writable, fix its permissions. ' + AZURE_FIX),
    },
    {
        'id': 'ram_too_high',
        'pattern': re.compile(r'ERROR: Your configured RAM_SIZE of (?P<want>[0-9.]+) ?GB is too high for the '
                              r'(?P<have>[0-9.]+) ?GB of memory available'),
        'diagnosis': _ram_diagnosis,
        'fix': 'Lower RAM_SIZE (the waa_ram_size variable) below the memory available, or use a VM size with more memory.',
    },
    {
        'id': 'no_net_admin',
        'pattern': re.compile(r'ERROR: Failed to create bridge|falling back to usermode networking'),
        'diagnosis': lambda m: ('dockur could not create its network bridge (the container lacks NET_ADMIN) and fell '
                                'back to usermode networking: Windows may boot, but port 5000 will never answer.'),
        'fix': 'Recreate the container with --cap-add NET_ADMIN.',
    },
    {
        # dockur's install.sh refusing the user's ISO (/custom.iso, waa prepare-image).
        'id': 'iso_invalid',
        'pattern': re.compile(r'ERROR: (?P<text>Invalid ISO file.*|Failed to extract ISO file.*|Failed to find ISO file.*|'
                              r'Failed to locate file .* ISO image.*|You cannot boot .* images on a .* CPU.*)$'),
        'diagnosis': lambda m: 'dockur cannot install Windows from the ISO: %s' % m.group('text').strip(),
        'fix': 'Give a Windows 11 x64 installation ISO (e.g. Windows 11 Enterprise Evaluation from Microsoft\'s '
               'Evaluation Center) with --iso or --iso-url.',
    },
    {
        # WAA's entry.sh when the server refused /shutdown during --prepare-image true.
        'id': 'shutdown_failed',
        'pattern': re.compile(r'Failed to shut down the Windows VM'),
        'diagnosis': lambda m: ('Windows was installed, but its WAA server did not accept /shutdown, so Windows was not '
                                'shut down cleanly and the disk cannot be trusted.'),
        'fix': 'Run waa prepare-image again with --force (the disk is prepared anew).',
    },
    {
        # dockur's disk.sh when the storage folder cannot hold Windows' disk: it stops there.
        'id': 'disk_too_small',
        'pattern': re.compile(r'ERROR: (?P<text>Not enough free space .*)$'),
        'diagnosis': lambda m: 'dockur cannot create Windows\' disk: %s' % m.group('text').strip(),
        'fix': 'Free space in the storage folder (waa_storage_path), give it a larger disk, or lower DISK_SIZE '
               '(waa_disk_size); then recreate the container.',
    },
)

# Any other dockur error line. Newer dockur prints some and then retries or falls back (e.g.
# "ERROR: Microsoft blocked the automated download..." before another mirror), so only the
# signatures above end a wait; these are shown as warnings while the wait goes on.
DOCKUR_ERROR_RE = re.compile(r'^\s*\u276f\s*ERROR: (?P<text>.*)$')
DOCKUR_ERRORS_KEPT = 5

# dockur exit codes seen when the container does exit (e.g. with a sim or a modified entry script).
EXIT_CODE_HINTS = {
    88: 'kvm_unavailable',
    17: 'ram_too_high',
}


def match_fatal(line):
    """The fatal signature a (ANSI-stripped) log line carries, as a dict, or None."""
    for sig in FATAL_SIGNATURES:
        match = sig['pattern'].search(line)
        if match:
            return {
                'id': sig['id'],
                'line': line.strip(),
                'diagnosis': sig['diagnosis'](match),
                'fix': sig['fix'],
            }
    return None


def cause_exit_code(cause):
    """The exit code a stopped or restarting container's cause decides: dockur giving up with a known
    signature (RAM_SIZE, KVM, NET_ADMIN, ...) is a failed Windows boot (5) whether the container keeps
    running (the real image) or exits and Docker restarts it; any other cause is the container's (4).
    The same failure so has one exit code, however a poll happens to catch it."""
    return EXIT_CODES['windows_boot'] if signature_by_id(cause) is not None else EXIT_CODES['container']


def signature_by_id(sig_id):
    for sig in FATAL_SIGNATURES:
        if sig['id'] == sig_id:
            return sig
    return None


def diagnose_exit(exit_code, oom_killed=False, lines=()):
    """Diagnosis and fix for an exited container from its exit code and last log lines."""
    for line in lines:
        found = match_fatal(strip_ansi(line))
        if found:
            return found['diagnosis'], found['fix'], found['id']
    if oom_killed:
        return ('The container was killed because the host ran out of memory.',
                'Lower RAM_SIZE (waa_ram_size) or use a VM size with more memory.', 'oom_killed')
    hint = EXIT_CODE_HINTS.get(exit_code)
    if hint:
        sig = signature_by_id(hint)
        return ('The container exited with code %s, which dockur uses for %s.' % (exit_code, hint.replace('_', ' ')),
                sig['fix'], hint)
    if exit_code == 137:
        return ('The container was killed (exit code 137: SIGKILL, e.g. docker stop after its timeout or docker kill).',
                'Start it again (docker start) or recreate it; give docker stop at least 120 s for the Windows shutdown.',
                'killed')
    if exit_code == 0:
        return ('The container exited normally (code 0): it was probably started without its command '
                '"/entry.sh --prepare-image false --start-client false", or the command was passed as a list.',
                'Recreate the container with the command as ONE string argument.', 'no_command')
    return ('The container exited with code %s.' % exit_code,
            'Read the container log (docker logs), fix the cause and recreate the container.', 'exited')


# -- log following -------------------------------------------------------------------------
_TS_RE = re.compile(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) (.*)$')


def parse_timestamped_line(line):
    """Split a ``docker logs --timestamps`` line into (ts_key, text).

    ``ts_key`` is (unix seconds, nanoseconds), or None when the line carries no timestamp.
    """
    match = _TS_RE.match(line)
    if not match:
        return None, line
    base, frac, zone, text = match.groups()
    secs = calendar.timegm(time.strptime(base, '%Y-%m-%dT%H:%M:%S'))
    if zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((frac or '0').ljust(9, '0'))
    return (secs, nanos), text


def format_since(ts_key):
    """A ``since`` value for the logs API from a (seconds, nanoseconds) key."""
    return '%d.%09d' % ts_key


def parse_docker_time(value):
    """(seconds, nanoseconds) of a Docker RFC3339Nano time such as State.StartedAt; None if unset."""
    if not value or value.startswith('0001-'):
        return None
    key, _rest = parse_timestamped_line(value + ' x')
    return key


class BootLogParser(object):
    """Feeds ANSI-stripped log lines and records boot stages, fatal signatures and a tail."""

    def __init__(self, tail_lines=20, clock=time.monotonic):
        self.stages = collections.OrderedDict()
        self.fatal = None
        self.errors = []  # dockur ERROR lines without a fatal signature (warnings; the wait goes on)
        self.install = {}  # the first-install path's progress: last step line, download percent
        self.tail = collections.deque(maxlen=tail_lines)
        self.lines_seen = 0
        self._clock = clock
        self._start = clock()

    def feed(self, text, log_time=None):
        """One raw log line (ANSI codes allowed)."""
        line = strip_ansi(text).replace('\r', '').rstrip()
        if not line.strip():
            return
        self.lines_seen += 1
        self.tail.append(line)
        for stage, pattern in BOOT_STAGES:
            if pattern.search(line):
                if stage == 'installing_windows' and 'qemu_started' not in self.stages:
                    self.install['step'] = line.strip().lstrip('\u276f').strip()[:200]
                if stage not in self.stages:
                    self.stages[stage] = {'log_time': log_time, 'seen_after': round(self._clock() - self._start, 3),
                                          'line': line.strip()[:300]}
        progress = INSTALL_PROGRESS_RE.match(line.strip())
        if progress and 'qemu_started' not in self.stages:
            self.install['download_percent'] = min(int(progress.group('percent')), 100)
        if self.fatal is None:
            self.fatal = match_fatal(line)
            if self.fatal is not None:
                self.fatal['log_time'] = log_time
                return
        error = DOCKUR_ERROR_RE.match(line)
        if error and len(self.errors) < DOCKUR_ERRORS_KEPT and error.group('text').strip() not in self.errors:
            self.errors.append(error.group('text').strip()[:300])

    def feed_text(self, text):
        for line in text.split('\n'):
            self.feed(line)

    @property
    def qemu_started(self):
        return 'qemu_started' in self.stages

    @property
    def windows_started(self):
        # The ready line implies the start line even if a log rotation dropped it.
        return 'windows_started' in self.stages or 'server_ready' in self.stages


def diagnose_log(text):
    """Run the parser over a whole log text: returns the BootLogParser."""
    parser = BootLogParser()
    parser.feed_text(text)
    return parser


class ContainerLogFollower(object):
    """Reads only NEW lines of a container's log on each poll.

    The first read starts shortly before the container's current StartedAt (so errors of an
    earlier run do not count); later reads pass ``since`` = the last timestamp seen and drop
    the lines at that exact time which were already read (``since`` is inclusive).
    """

    # Output can be stamped a little before Docker records StartedAt.
    START_SLACK_SECONDS = 2

    def __init__(self, engine, container, parser=None):
        self.engine = engine
        self.container = container
        self.parser = parser or BootLogParser()
        self._last_key = None
        self._seen_at_last = 0
        self._started_key = None
        self.available = True
        self.error = None
        # Lines stamped before this (seconds, nanoseconds) belong to a start that is over (set after
        # a restart: the start slack would otherwise read the old start's last lines again).
        self.not_before = None

    def reset(self, started_key):
        """Forget what was read (the container restarted)."""
        self._started_key = started_key
        self._last_key = None
        self._seen_at_last = 0
        self.parser = BootLogParser(tail_lines=self.parser.tail.maxlen)

    def poll(self, started_at=None, timeout=None, tty=None, finished_at=None):
        """Read new lines into the parser. Returns the number of new lines.

        ``finished_at`` (State.FinishedAt) is when the container's previous start ended: lines before it
        belong to that start, even inside the slack before StartedAt (a quick restart)."""
        started_key = parse_docker_time(started_at) if started_at else None
        if started_key is not None and started_key != self._started_key:
            self.reset(started_key)
            finished_key = parse_docker_time(finished_at) if finished_at else None
            if finished_key is not None and finished_key < started_key:
                self.not_before = max(self.not_before or finished_key, finished_key)
        if self._last_key is not None:
            since = format_since(self._last_key)
        elif self._started_key is not None:
            since = format_since((max(0, self._started_key[0] - self.START_SLACK_SECONDS), self._started_key[1]))
        else:
            since = None
        try:
            text = self.engine.container_logs(self.container, since=since, timestamps=True, tty=tty, timeout=timeout)
        except DockerError as exc:
            # e.g. a logging driver without read support: boot detection falls back to VNC.
            self.available = False
            self.error = exc.message
            return 0
        self.available = True
        return self.feed_timestamped(text)

    def feed_timestamped(self, text):
        new = 0
        skip_at = self._last_key
        skip_left = self._seen_at_last
        for raw in text.split('\n'):
            if not raw:
                continue
            key, line = parse_timestamped_line(raw.rstrip('\r'))
            if key is not None and self.not_before is not None and key < self.not_before:
                continue
            if key is not None:
                if skip_at is not None:
                    if key < skip_at:
                        continue
                    if key == skip_at and skip_left > 0:
                        skip_left -= 1
                        continue
                if key == self._last_key:
                    self._seen_at_last += 1
                else:
                    self._last_key = key
                    self._seen_at_last = 1
            self.parser.feed(line, log_time=format_since(key) if key else None)
            new += 1
        return new
