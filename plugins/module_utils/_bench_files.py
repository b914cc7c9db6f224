# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's files: copying results out of the container (tar, never outside the
destination), reading a file in it, and the task list a run selects."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import io
import os
import posixpath
import re
import shutil
import tarfile
import time

from ansible_collections.openadapt.waa.plugins.module_utils._progress import replace_atomically
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    valid_task_ref, validate_task_ref)


class BenchmarkError(Exception):
    def __init__(self, message, code=9, fix=''):
        super(BenchmarkError, self).__init__(message)
        self.message = message
        self.code = code
        self.fix = fix


# -- copying results out of the container ---------------------------------------------------
def safe_rel(name):
    """A tar member name as a relative POSIX path, or None when it is absolute or climbs out."""
    name = name.replace('\\', '/')
    if name.startswith('/') or '\0' in name:
        return None
    norm = posixpath.normpath(name)
    if norm in ('.', '') or norm.startswith('../') or norm == '..':
        return None
    return norm


# The most tasks a selection may hold and still be reported whole to the controller (WAA has 154).
MAX_SELECTION = 5000
PATH_PART_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


def inside(base, path):
    base = os.path.realpath(base)
    real = os.path.realpath(path)
    return real == base or real.startswith(base + os.sep)


def extract_tar(fileobj, dest, strip=1, dir_mode=0o750, file_mode=0o640):
    """Extract regular files and directories of a tar stream under ``dest``, dropping the first
    ``strip`` path components. Links, devices and names that would leave ``dest`` are skipped;
    a file whose size and mtime are unchanged is not rewritten. Returns (written, bytes)."""
    written = 0
    size = 0
    if not os.path.isdir(dest):
        os.makedirs(dest, dir_mode)
    with tarfile.open(fileobj=fileobj, mode='r|') as tar:
        for member in tar:
            rel = safe_rel(member.name)
            if rel is None:
                continue
            parts = rel.split('/')[strip:]
            if not parts:
                continue
            target = os.path.join(dest, *parts)
            if not inside(dest, os.path.dirname(target)) or os.path.islink(target):
                continue
            if member.isdir():
                if not os.path.isdir(target):
                    os.makedirs(target, dir_mode)
                continue
            if not member.isfile():
                continue
            parent = os.path.dirname(target)
            if not os.path.isdir(parent):
                os.makedirs(parent, dir_mode)
            if not inside(dest, parent):
                continue
            try:
                st = os.lstat(target)
                if st.st_size == member.size and int(st.st_mtime) == int(member.mtime):
                    continue
            except OSError:
                pass
            source = tar.extractfile(member)
            # Result copies are re-copied by the final sync: no fsync per file.
            replace_atomically(target, lambda handle: shutil.copyfileobj(source, handle, 1024 * 1024), file_mode,
                               mtime=member.mtime, fsync=False)
            written += 1
            size += member.size
    return written, size


def copy_out(engine, container, path, dest, strip=1):
    """``docker cp container:path dest`` through the Engine API; (files written, bytes) or None when absent."""
    reader = engine.get_archive(container, path, timeout=120)
    if reader is None:
        return None
    with reader:
        return extract_tar(reader, dest, strip=strip)


def read_container_file(engine, container, path, limit=64 * 1024 * 1024):
    reader = engine.get_archive(container, path, timeout=60)
    if reader is None:
        return None
    with reader:
        with tarfile.open(fileobj=reader, mode='r|') as tar:
            for member in tar:
                if member.isfile():
                    if member.size > limit:
                        raise BenchmarkError('%s in the container is larger than %d bytes' % (path, limit))
                    return tar.extractfile(member).read()
    return None


def task_list_json(data):
    """Validate a task list: {domain: [ids]} (order kept)."""
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError('a task list is a JSON object {"<domain>": ["<example id>", ...]}')
    return data


def select_tasks(base, domain='all', tasks=None, num_tasks=None, sample_seed=0):
    """The tasks to run, in the list's order: [(domain, id), ...]; ``num_tasks`` samples them across
    the domains (sample_tasks)."""
    # The task list is the container's file: entries that are no WAA task reference are left out.
    pairs = [(d, str(i)) for d, ids in base.items() for i in ids if valid_task_ref(d, str(i))]
    if domain and domain != 'all':
        if domain not in base:
            raise BenchmarkError('Domain %s is not in the task list (domains: %s).' % (domain, ', '.join(base)), 1,
                                 'Pass one of the listed domains, or all.')
        pairs = [p for p in pairs if p[0] == domain]
    if tasks:
        wanted = []
        for item in tasks:
            try:
                validate_task_ref(item)
            except ValueError as exc:
                raise BenchmarkError(str(exc), 1, 'Name tasks as <domain>/<example id>, e.g. notepad/<id>.')
            d, _sep, i = str(item).partition('/')
            wanted.append((d, i))
        missing = [w for w in wanted if w not in pairs]
        if missing:
            raise BenchmarkError('Tasks not in the task list: %s.' % ', '.join('%s/%s' % m for m in missing[:10]), 1,
                                 'Check the ids against the task list, or choose another task_list.')
        keep = set(wanted)
        pairs = [p for p in pairs if p in keep]
    if num_tasks is not None:
        if num_tasks < 1:
            raise BenchmarkError('num_tasks must be at least 1.', 1)
        pairs = sample_tasks(pairs, num_tasks, sample_seed)
    return pairs


def _rank(seed, *parts):
    """A stable pseudo-random rank: the same on every host and Python (no `random`, whose
    algorithms may change between the VMs' and the controller's versions)."""
    return hashlib.sha256('/'.join([str(seed)] + [str(p) for p in parts]).encode('utf-8')).hexdigest()


def sample_tasks(pairs, count, seed=0):
    """``count`` of ``pairs`` stratified by domain: each domain's share in proportion to its size
    (largest remainder, ties by a seeded rank), its tasks chosen by a seeded rank; in the list's
    order. The same seed gives the same sample on every host."""
    if count >= len(pairs):
        return list(pairs)
    domains = as_task_list(pairs)
    total = len(pairs)
    quota = dict((d, count * len(ids) // total) for d, ids in domains.items())
    left = count - sum(quota.values())
    by_remainder = sorted(domains, key=lambda d: (-(count * len(domains[d]) % total), _rank(seed, d)))
    for d in by_remainder[:left]:
        quota[d] += 1
    chosen = set()
    for d, ids in domains.items():
        chosen.update((d, i) for i in sorted(ids, key=lambda i: _rank(seed, d, i))[:quota[d]])
    return [p for p in pairs if p in chosen]


def share_of(pairs, index, count):
    """Shard ``index`` of ``count`` of ``pairs``: the tasks dealt out one by one across the shards,
    domain after domain, with one running counter, so each shard holds every domain's tasks in
    proportion and the shards' sizes differ by one at most. In the list's order."""
    if count < 1 or not 0 <= index < count:
        raise BenchmarkError('Shard %s of %s does not exist: the index is 0 to %s.' % (index, count, count - 1), 1,
                             'Give waa_benchmark_shard as INDEX/COUNT with 0 <= INDEX < COUNT.')
    dealt = 0
    mine = set()
    for d, ids in as_task_list(pairs).items():
        for i in ids:
            if dealt % count == index:
                mine.add((d, i))
            dealt += 1
    return [p for p in pairs if p in mine]


def as_task_list(pairs):
    out = {}
    for d, i in pairs:
        out.setdefault(d, []).append(i)
    return out


def tar_one_file(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
