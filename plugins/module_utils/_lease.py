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

from ansible_collections.openadapt.waa.plugins.module_utils._progress import atomic_write_bytes

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
