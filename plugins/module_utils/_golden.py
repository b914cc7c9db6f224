# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The golden Windows disk in a storage folder: whether one is there and finished, its manifest, and a
fingerprint that reads only the disk's allocated ranges (a 30 GB sparse disk holds ~10 GB of data).

WAA's image does not install Windows by itself: the user prepares the disk once from an ISO
(``/entry.sh --prepare-image true`` with the ISO at ``/custom.iso``), and dockur leaves ``data.img``
and, once Windows' setup has finished, ``windows.boot`` in the storage folder (docs/golden-image.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

DISK = 'data.img'
# dockur writes it when Windows' setup has finished; without it dockur would install again.
BOOT_MARKER = 'windows.boot'
MANIFEST = 'openadapt-waa-golden.json'
# Written by prepare-image before it starts the preparation, removed when the manifest is written: an
# unfinished disk beside it is this tool's own, which the next prepare-image may clear.
PREPARING = 'openadapt-waa-preparing.json'
# What dockur keeps in its storage folder (install.sh, disk.sh, boot.sh): all of it is the prepared Windows.
DOCKUR_FILES = ('data.img', 'data.qcow2', 'windows.boot', 'windows.base', 'windows.ver', 'windows.mode', 'windows.old',
                'windows.type', 'windows.rom', 'windows.vars', 'windows.args')
BLOCK = 4 * 1024 * 1024
GIB = 1024.0 ** 3
CHECK_NAME = 'Windows disk (golden image)'

PREPARE_FIX = ('Prepare the golden disk once (~20 min) with: waa prepare-image --iso /path/to/windows11.iso '
               '(or --iso-url URL --iso-sha256 HEX), or point --storage-path (waa_storage_path) at a folder that '
               'holds a prepared data.img. An image that installs Windows by itself (one built on current '
               'dockurr/windows) needs none: set waa_image_installs_windows to true.')


def allocated_ranges(fd, size):
    """The [start, end) ranges of ``fd`` that hold data (SEEK_DATA/SEEK_HOLE); the whole file where the
    filesystem cannot tell."""
    ranges, offset = [], 0
    seek_data, seek_hole = getattr(os, 'SEEK_DATA', None), getattr(os, 'SEEK_HOLE', None)
    if seek_data is None:
        return [(0, size)] if size else []
    while offset < size:
        try:
            start = os.lseek(fd, offset, seek_data)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after offset
                break
            return [(0, size)] if size else []
        end = os.lseek(fd, start, seek_hole)
        ranges.append((start, min(end, size)))
        offset = end
    return ranges


def candidate_blocks(fd, size):
    """The indexes of the 4 MiB blocks that overlap the file's allocated ranges, in order."""
    blocks = set()
    for start, end in allocated_ranges(fd, size):
        blocks.update(range(start // BLOCK, (end + BLOCK - 1) // BLOCK))
    return sorted(blocks)


def _block_digest(fd, index):
    """sha256 of the block, or None when it holds only zeros (the same as a hole)."""
    data = os.pread(fd, BLOCK, index * BLOCK)
    if not data or not data.strip(b'\0'):
        return None
    return hashlib.sha256(data).digest()


def fingerprint(path, workers=4):
    """sha256 over the disk's content, read block by block in its allocated ranges only: each 4 MiB block
    that holds anything but zeros counts as (index, sha256 of the block). Holes and zero blocks are the
    same thing to Windows, so a restored disk whose layout differs has the same fingerprint. Blocks are
    hashed on ``workers`` threads (hashlib lets go of the GIL), in order."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        digest.update(b'openadapt-waa-golden-v1 size=%d\n' % size)
        indices = candidate_blocks(fd, size)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for index, block in zip(indices, pool.map(lambda i: _block_digest(fd, i), indices)):
                if block is not None:
                    digest.update(b'%d ' % index + block)
    finally:
        os.close(fd)
    return digest.hexdigest()


def read_manifest(storage_path):
    """The manifest openadapt.waa wrote beside the disk, or None (missing or unreadable)."""
    try:
        with open(os.path.join(storage_path, MANIFEST)) as handle:
            manifest = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(storage_path, manifest):
    """Write the manifest atomically (a reader never sees half of it)."""
    path = os.path.join(storage_path, MANIFEST)
    tmp = path + '.tmp'
    with open(tmp, 'w') as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write('\n')
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def dockur_files(storage_path):
    """The files of a prepared Windows in the folder (dockur's, its rebuilt windows.<size>.iso, our manifest)."""
    try:
        names = os.listdir(storage_path)
    except OSError:
        return []
    return sorted(n for n in names if n in DOCKUR_FILES or n in (MANIFEST, PREPARING)
                  or (n.startswith('windows.') and n.endswith('.iso')))


def clear(storage_path):
    """Remove a prepared Windows (what dockur_files lists) and nothing else; returns what was removed."""
    removed = []
    for name in dockur_files(storage_path):
        path = os.path.join(storage_path, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
            removed.append(name)
    return removed


def disk_state(storage_path):
    """What the storage folder holds: {storage, disk, exists, size_bytes, allocated_bytes, boot_marker,
    manifest, prepared, incomplete, preparing}. Prepared: data.img with dockur's windows.boot beside it
    (and no preparation of ours still under way)."""
    disk = os.path.join(storage_path, DISK)
    state = {'storage': storage_path, 'disk': disk, 'exists': False, 'size_bytes': 0, 'allocated_bytes': 0,
             'boot_marker': os.path.isfile(os.path.join(storage_path, BOOT_MARKER)),
             'manifest': read_manifest(storage_path), 'prepared': False, 'incomplete': False,
             'preparing': os.path.isfile(os.path.join(storage_path, PREPARING))}
    if os.path.isfile(disk):
        st = os.stat(disk)
        state.update(exists=st.st_size > 0, size_bytes=st.st_size, allocated_bytes=st.st_blocks * 512)
    state['prepared'] = state['exists'] and state['boot_marker'] and not state['preparing']
    state['incomplete'] = state['exists'] and not state['prepared']
    return state


def describe(state):
    """'data.img 30.0 GB (10.2 GB allocated)'."""
    return '%s %.1f GB (%.1f GB allocated)' % (state['disk'], state['size_bytes'] / GIB, state['allocated_bytes'] / GIB)


def windows_check(state, installs_windows, image, restore_from=''):
    """The pre-flight check that Windows can come up: a prepared golden disk, one to restore from Blob
    Storage, or an image that installs Windows itself. {name, ok, message, fix}."""
    check = {'name': CHECK_NAME, 'ok': True, 'fix': ''}
    if state['prepared']:
        check['message'] = 'Golden disk %s' % describe(state)
    elif restore_from:
        check['message'] = 'No golden disk in %s yet: restored from %s' % (state['storage'], restore_from)
    elif state['incomplete'] and not installs_windows:
        why = 'a waa prepare-image run stopped before its end' if state['preparing'] else 'no %s beside it' % BOOT_MARKER
        check.update(ok=False, message=(
            '%s exists but its preparation never finished (%s): Windows would not boot from it.' % (state['disk'], why)),
            fix='Prepare it again with: waa prepare-image --iso /path/to/windows11.iso --force')
    elif installs_windows:
        check['message'] = ('No Windows disk in %s yet: %s installs Windows on its first start (~20 min).'
                            % (state['storage'], image))
    else:
        check.update(ok=False, message=(
            'No golden Windows disk (%s) in %s, and %s does not install Windows by itself: the container would '
            'wait for a Windows that never comes.' % (DISK, state['storage'], image)), fix=PREPARE_FIX)
    return check


REPLACE_FIX = ('Use it (waa vm-setup boots from it), pass --force (waa_golden_force) to prepare it again - the disk is '
               'replaced -, or give another --storage-path.')


def already_prepared(state):
    """The refusal's words for a prepared golden disk that prepare-image would replace."""
    manifest = state['manifest'] or {}
    made = ('prepared %s by waa prepare-image' % manifest['prepared_at']) if manifest.get('prepared_at') else \
        "prepared by WAA's own scripts or an earlier tool"
    return ('A golden Windows disk is already in %s (%s): waa prepare-image never replaces one unless asked.'
            % (describe(state), made))


def prepare_check(state, force):
    """prepare-image's pre-flight check of the storage folder: a prepared disk is replaced only with force."""
    check = {'name': 'Storage folder for the golden disk', 'ok': True, 'fix': ''}
    if state['prepared'] and not force:
        check.update(ok=False, message=already_prepared(state), fix=REPLACE_FIX)
    elif state['prepared']:
        check['message'] = '%s will be replaced (--force)' % describe(state)
    elif state['exists']:
        check['message'] = '%s is an unfinished preparation: cleared first' % state['disk']
    else:
        check['message'] = 'No disk in %s yet: it will be prepared there' % state['storage']
    return check


def push_check(state):
    """waa golden push's pre-flight check: a prepared golden disk to push."""
    if state['prepared']:
        return {'name': CHECK_NAME, 'ok': True, 'fix': '', 'message': 'Golden disk %s' % describe(state)}
    return {'name': CHECK_NAME, 'ok': False, 'message': 'No prepared golden disk in %s to push.' % state['storage'],
            'fix': 'Prepare it first (waa prepare-image --iso ...), or give the --storage-path that holds it.'}
