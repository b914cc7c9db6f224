# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM's run lease: one openadapt.waa run at a time per VM.

Every read-modify-write of the lease happens under an exclusive ``flock`` on a guard file next
to it, so a takeover and a release cannot race (two runs never both win). The lease itself is
written atomically (temp file + rename). A lease may be taken over when it expired, when it is
broken (empty or not JSON, e.g. after a full disk or a kill between create and write) for longer
than a short grace, or when the controller says its owner's process is gone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import json
import os
import time

from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, append_bytes, atomic_write_bytes
from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline

# The lease's parameters: vm_lock's argument spec, and the lease part of waa_survey's.
LEASE_ARGS = dict(
    path=dict(type='path', required=True),
    owner=dict(type='str', required=True),
    lease=dict(type='float', default=3600),
    wait_timeout=dict(type='float', default=1800),
    dead_owners=dict(type='list', elements='str', default=[]),
    controller=dict(type='dict'),
    log_file=dict(type='path'),
    log_line=dict(type='str'),
)

# A broken lease may be one being written this instant: give its writer this long.
BROKEN_GRACE = 5.0


class Guard(object):
    """An exclusive flock on ``<lease>.guard`` for the length of a ``with`` block."""

    def __init__(self, lease_path):
        self.path = lease_path + '.guard'
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def read_lease(path):
    """(record, broken_for): the lease record or None; for a file that exists but is not a lease
    record, the seconds since it was last written (else None)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except OSError:
        return None, None
    try:
        data = os.read(fd, 1024 * 1024)
        mtime = os.fstat(fd).st_mtime
    finally:
        os.close(fd)
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:
        record = None
    if isinstance(record, dict) and record.get('owner'):
        return record, None
    return None, max(0.0, time.time() - mtime)


def why_stale(record, broken_for, dead_owners, now):
    """Why the lease another run holds may be taken over, or None while it is valid."""
    if record is None:
        if broken_for is not None and broken_for >= BROKEN_GRACE:
            return 'the lease file was broken (empty or unreadable) for %.0fs' % broken_for
        return None
    if record.get('owner') in (dead_owners or ()):
        return 'the process of run %s is gone from its controller' % record.get('owner')
    try:
        if float(record.get('expires', 0)) <= now:
            return 'the lease of run %s expired' % record.get('owner')
    except (TypeError, ValueError):
        return 'the lease of run %s has no valid expiry' % record.get('owner')
    return None


def try_acquire(path, owner, lease_seconds, dead_owners=(), controller=None):
    """One attempt, under the guard. Returns (taken, holder, takeover_reason)."""
    with Guard(path):
        now = time.time()
        record, broken_for = read_lease(path)
        reason = None
        if record is not None and record.get('owner') != owner or record is None and broken_for is not None:
            reason = why_stale(record, broken_for, dead_owners, now)
            if reason is None:
                return False, record, None
        new = {'owner': owner, 'since': (record or {}).get('since', now) if (record or {}).get('owner') == owner else now,
               'expires': now + lease_seconds, 'pid': os.getpid()}
        if controller:
            new['controller'] = controller
        atomic_write_bytes(path, json.dumps(new).encode('utf-8'), 0o600)
        return True, (record if reason else None), reason


def release(path, owner):
    """Give the lease back when ``owner`` holds it. True when it was released."""
    with Guard(path):
        record, _broken = read_lease(path)
        if record is None or record.get('owner') != owner:
            return False
        os.unlink(path)
        return True


def acquire(p, check_mode=False, warn=None):
    """Wait (bounded by p['wait_timeout']) until the lease at p['path'] is free or stale, then take it, and
    append p['log_line'] to p['log_file'] when given. Returns (result, failed): vm_lock's result fields."""
    deadline = Deadline(max(p['wait_timeout'], 0.0))
    first_holder = None
    while True:
        if check_mode:
            record, broken = read_lease(p['path'])
            busy = record is not None and record.get('owner') != p['owner'] and why_stale(
                record, broken, p['dead_owners'], time.time()) is None
            return dict(changed=False, waited=0.0, free=not busy, holder=record if busy else None, took_over=None), False
        taken, holder, reason = try_acquire(p['path'], p['owner'], p['lease'], p['dead_owners'], p['controller'])
        if taken:
            break
        first_holder = first_holder or holder
        if deadline.expired():
            return dict(
                msg='Another waa run (%s) holds this VM since %s and did not finish within %.0fs. If that run is gone, '
                    'remove %s on the VM, or wait until its lease expires at %s.' % (
                        holder.get('owner'), time.strftime('%H:%M:%S', time.localtime(holder.get('since', 0))),
                        deadline.elapsed(), p['path'], time.strftime('%H:%M:%S', time.localtime(holder['expires']))),
                waited=round(deadline.elapsed(), 1), holder=holder, waa_exit_code=1), True
        deadline.sleep(0.5)
    waited = round(deadline.elapsed(), 1) if first_holder else 0.0
    append_log(p.get('log_file'), p.get('log_line'), warn)
    result = dict(changed=bool(reason), waited=waited, took_over=reason,
                  msg=('Took over the lease: %s' % reason) if reason else
                  ('Waited %.1fs for another run on this VM' % waited if first_holder else 'Lease taken'))
    if first_holder or holder:
        result['holder'] = first_holder or holder
    return result, False


def append_log(path, text, warn=None):
    """Append ``text`` (a line or several) to the VM's log at ``path``; a failure is only a warning."""
    if not path or not text:
        return
    try:
        append_bytes(path, (text.rstrip('\n') + '\n').encode('utf-8'), 0o640)
    except (ProgressFileError, OSError, ValueError) as exc:
        if warn:
            warn('Could not write the log %s: %s' % (path, exc))


def lock_dir(path):
    """Create the lease's directory (mode 0700) when missing."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o700)
