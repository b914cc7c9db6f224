# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows on a copy-on-write layer over the golden disk, never on the golden disk itself.

The container's /storage is an overlay folder of its own: ``data.qcow2``, a qcow2 file whose backing
file is the golden ``data.img`` (raw, mounted read-only at the same path inside the container, so the
path in the qcow2 header is right on both sides), plus fresh copies of dockur's small state files
(``windows.boot``, ``windows.vars``...). dockur boots it with ``DISK_FMT=qcow2``. Everything Windows
writes lands in the overlay; a reset deletes it and creates an empty one: O(1) in the disk's size.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import struct
import subprocess

OVERLAY_DISK = 'data.qcow2'
QCOW2_MAGIC = b'QFI\xfb'
# dockur's small state files beside the disk: copied fresh from the golden folder at every reset.
STATE_FILES = ('windows.boot', 'windows.base', 'windows.ver', 'windows.mode', 'windows.old', 'windows.type',
               'windows.rom', 'windows.vars', 'windows.args')


class OverlayError(Exception):
    pass


def backing_file(path):
    """The backing file named in a qcow2 header, '' for none; None when ``path`` is no qcow2 file."""
    try:
        with open(path, 'rb') as handle:
            header = handle.read(32)
            if len(header) < 20 or header[:4] != QCOW2_MAGIC:
                return None
            offset, = struct.unpack('>Q', header[8:16])
            size, = struct.unpack('>I', header[16:20])
            if not offset or not size or size > 1023:
                return ''
            handle.seek(offset)
            return handle.read(size).decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


def state(golden_dir, overlay_dir):
    """{overlay, exists, backing, matches, bytes}: whether the overlay is one over this golden disk."""
    disk = os.path.join(overlay_dir, OVERLAY_DISK)
    backing = backing_file(disk)
    golden = os.path.join(golden_dir, 'data.img')
    try:
        used = os.stat(disk).st_blocks * 512
    except OSError:
        used = 0
    return {'overlay': disk, 'exists': backing is not None, 'backing': backing or '',
            'matches': bool(backing) and os.path.realpath(backing) == os.path.realpath(golden), 'bytes': used}


def _remove(overlay_dir):
    """Remove what a reset replaces - the overlay disk and dockur's state files - and nothing else."""
    removed = []
    for name in (OVERLAY_DISK, 'data.img') + STATE_FILES:
        path = os.path.join(overlay_dir, name)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
            removed.append(name)
    return removed


def create(golden_dir, overlay_dir, qemu_img='qemu-img', timeout=60):
    """An empty overlay over the golden disk, with fresh copies of dockur's state files. Returns the files
    removed first."""
    golden = os.path.join(golden_dir, 'data.img')
    if not os.path.isfile(golden):
        raise OverlayError('There is no golden disk at %s to put an overlay on.' % golden)
    if not os.path.isdir(overlay_dir):
        os.makedirs(overlay_dir, 0o750)
    removed = _remove(overlay_dir)
    for name in STATE_FILES:
        src = os.path.join(golden_dir, name)
        if os.path.isfile(src):
            shutil.copy2(src, os.path.join(overlay_dir, name))
    tmp = os.path.join(overlay_dir, OVERLAY_DISK + '.tmp')
    argv = [qemu_img, 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', os.path.realpath(golden), tmp]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
    except OSError as exc:
        raise OverlayError('Cannot run %s: %s' % (qemu_img, exc))
    if proc.returncode != 0:
        raise OverlayError('qemu-img create failed: %s' % proc.stderr.decode('utf-8', 'replace').strip()[:500])
    os.rename(tmp, os.path.join(overlay_dir, OVERLAY_DISK))
    return removed
