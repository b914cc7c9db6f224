# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic progress files: written by long-running modules, read by progress_watch and the viewer.

A reader never sees a half-written file: each write goes to a temporary file in the same
directory and replaces the target with os.replace().
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile
import time

TERMINAL_STATES = ('done', 'failed')


class ProgressFileError(Exception):
    """The progress file cannot be written where asked."""


def _check_target(path):
    if not os.path.isabs(path):
        raise ProgressFileError('%s is not an absolute path.' % path)
    parent = os.path.dirname(path) or '/'
    if not os.path.isdir(parent):
        # Created private: progress and state files are the tool's own.
        try:
            os.makedirs(parent, 0o700)
        except OSError as exc:
            raise ProgressFileError('The directory %s does not exist and cannot be created (%s): '
                                    'choose another path.' % (parent, exc))
    # A symlink planted at the target would redirect our write elsewhere (e.g. into a system file).
    if os.path.islink(path):
        raise ProgressFileError('%s is a symbolic link: refusing to write through it; remove it or choose another path.' % path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise ProgressFileError('%s exists and is not a regular file.' % path)
    return parent


def replace_atomically(path, write, mode, mtime=None, fsync=True):
    """Make ``path`` whole or not at all: ``write(handle)`` fills a temporary file beside it (with
    ``mode``, and ``mtime`` when given), which then replaces ``path``; on any error the temporary
    file goes and ``path`` is untouched. ``fsync`` makes the content durable before the rename."""
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path)[:40] + '.', suffix='.tmp',
                               dir=os.path.dirname(path) or '.')
    try:
        with os.fdopen(fd, 'wb') as handle:
            os.fchmod(handle.fileno(), mode)
            write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_bytes(path, data, mode=0o644):
    """Write ``data`` to ``path`` atomically (temp file + fsync + os.replace)."""
    if mode & 0o002 or mode & ~0o777:
        raise ValueError('mode must be a permission mode without the world-writable bit, e.g. 0o640')
    _check_target(path)
    replace_atomically(path, lambda handle: handle.write(data), mode)


def append_bytes(path, data, mode=0o640):
    """Append ``data`` to the log file ``path`` (created with ``mode``); a symlink is refused."""
    if mode & 0o002 or mode & ~0o777:
        raise ValueError('mode must be a permission mode without the world-writable bit, e.g. 0o640')
    _check_target(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_progress(path, record, mode=0o644):
    """Write a progress record (a dict) as JSON, atomically."""
    data = json.dumps(record, sort_keys=True, separators=(',', ':'), default=str).encode('utf-8')
    atomic_write_bytes(path, data + b'\n', mode)


def read_progress(path):
    """Read a progress record; None when the file is missing or not a JSON object."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(16 * 1024 * 1024)
    except (IOError, OSError):
        return None
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def is_terminal(record):
    return isinstance(record, dict) and record.get('state') in TERMINAL_STATES


class ProgressWriter(object):
    """Writes records of one ``kind`` with a rising ``seq``, at most every ``min_interval`` seconds.

    ``path`` None makes every call a no-op, so callers need no conditionals. ``scrub`` (a
    function on str) is applied to the serialized record, to keep secrets out of the file.
    """

    def __init__(self, path, kind, min_interval=0.5, mode=0o644, scrub=None, clock=time.monotonic):
        self.path = path
        self.kind = kind
        self.min_interval = min_interval
        self.mode = mode
        self.scrub = scrub
        self.seq = 0
        self._clock = clock
        self._last = None
        if path:
            _check_target(path)

    def update(self, fields, state='running', force=False):
        """Write ``fields`` unless the last write was under ``min_interval`` ago. Returns True if written."""
        if not self.path:
            return False
        now = self._clock()
        if not force and self._last is not None and now - self._last < self.min_interval:
            return False
        self.seq += 1
        record = dict(fields)
        record.update({'kind': self.kind, 'state': state, 'seq': self.seq, 'updated': time.time()})
        data = json.dumps(record, sort_keys=True, separators=(',', ':'), default=str)
        if self.scrub is not None:
            data = self.scrub(data)
        atomic_write_bytes(self.path, data.encode('utf-8') + b'\n', self.mode)
        self._last = now
        return True

    def final(self, fields, failed):
        """The last record: state done/failed, always written."""
        return self.update(fields, state='failed' if failed else 'done', force=True)


def take_private_file(path, keep=False):
    """The bytes of ``path``, a private file (not a symlink, not readable by others) that carries a
    secret to a module: it is removed (unless ``keep``, for check mode) whatever happens, before
    the caller looks at what it holds. Secrets never travel as module arguments of a background
    (async) task: Ansible leaves those in a file on the VM for as long as the task runs."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        try:
            if os.fstat(fd).st_mode & 0o077:
                raise ValueError('%s must be private (mode 0600)' % path)
            return os.read(fd, 1024 * 1024)
        finally:
            os.close(fd)
    finally:
        if not keep:
            try:
                os.unlink(path)
            except OSError:
                pass
