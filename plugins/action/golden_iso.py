# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind openadapt.waa.golden_iso (its docs: plugins/modules/golden_iso.py).

With ``src`` the ISO is on the controller: one run of this action sends chunks through the task's own
connection (so become, jump hosts and AWX credentials apply as to any file transfer) for up to ``wait``
seconds, each appended on the VM by the module, and checks the SHA-256 once all bytes are there. The
ISO's checksum is computed once and cached by (path, size, mtime): a 6 GB ISO takes ~20 s to hash.
With ``url`` the module does all the work on the VM.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from ansible.plugins.action import ActionBase

from ansible_collections.openadapt.waa.plugins.module_utils._iso import (
    HASH_CHUNK, SHA256_RE, local_iso_problem, sha256_file, transfer_progress as progress)
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_PREFLIGHT

MODULE = "openadapt.waa.golden_iso"
# Large enough that a round trip per chunk costs little beside the bytes, small enough for ~1 s rounds.
CHUNK = 64 * 1024 * 1024


def _cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "openadapt-waa", "iso-sha256.json")


def cached_sha256(path: str) -> str:
    """The file's SHA-256, from the cache when its path, size and mtime are unchanged."""
    st = os.stat(path)
    key = "%s|%d|%d" % (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    cache_file = _cache_path()
    try:
        with open(cache_file) as handle:
            cache = json.load(handle)
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache, dict) and SHA256_RE.match(str(cache.get(key, ""))):
        return cache[key]
    digest = sha256_file(path)
    cache = {key: digest}  # one entry: the ISO of the latest run
    try:
        os.makedirs(os.path.dirname(cache_file), mode=0o700, exist_ok=True)
        with open(cache_file + ".tmp", "w") as handle:
            json.dump(cache, handle)
        os.replace(cache_file + ".tmp", cache_file)
    except OSError:
        pass  # no cache: the next round hashes again
    return digest


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def _module(self, task_vars, **args):
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if bool(args.get("src")) == bool(args.get("url")):
            result.update(failed=True, waa_exit_code=EXIT_PREFLIGHT,
                          msg="Give the Windows ISO once: src (--iso, a file on the controller) or url (--iso-url).",
                          fix="Pass --iso PATH or --iso-url URL to waa prepare-image.")
            return result
        if not args.get("src"):
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result
        src, dest = os.path.expanduser(str(args["src"])), str(args.get("dest") or "")
        problem = local_iso_problem(src)
        if problem:
            result.update(failed=True, msg=problem, waa_exit_code=EXIT_PREFLIGHT,
                          fix="Pass --iso PATH to the Windows 11 ISO on this machine (x64; e.g. Windows 11 "
                              "Enterprise Evaluation from Microsoft's Evaluation Center).")
            return result
        size = os.path.getsize(src)
        sha = cached_sha256(src)
        expected = args.get("sha256")
        if expected and expected != sha:
            result.update(failed=True, waa_exit_code=EXIT_PREFLIGHT,
                          msg="%s has SHA-256 %s, not the %s given (--iso-sha256)." % (src, sha, expected),
                          fix="Check that it is the ISO you mean and that its download finished.")
            return result
        return self._send(result, task_vars, src, dest, size, sha, float(args.get("wait") or 6))

    def _send(self, result, task_vars, src, dest, size, sha, wait):
        stat = self._module(task_vars, state="stat", dest=dest, source=sha)
        if stat.get("failed"):
            return dict(result, **stat)
        recorded = stat.get("recorded") or {}
        if recorded.get("sha256") == sha:
            return dict(result, changed=False, done=True, sha256=sha, size=size,
                        progress=progress(size, size, time.monotonic(), 0, "the VM (already there)"))
        offset, started, moved = int(stat.get("part_size") or 0), time.monotonic(), 0
        remote_tmp = self._make_tmp_path()
        try:
            with open(src, "rb") as iso, tempfile.TemporaryDirectory(prefix="waa-iso-") as local_dir:
                local = os.path.join(local_dir, "chunk")
                while offset < size and time.monotonic() - started < wait:
                    iso.seek(offset)
                    with open(local, "wb") as chunk:
                        left = min(CHUNK, size - offset)
                        while left:
                            data = iso.read(min(HASH_CHUNK, left))
                            chunk.write(data)
                            left -= len(data)
                    remote = self._connection._shell.join_path(remote_tmp, "chunk")
                    self._transfer_file(local, remote)
                    self._fixup_perms2((remote_tmp, remote))
                    step = self._module(task_vars, state="append", dest=dest, chunk=remote, offset=offset,
                                        source=sha, total=size)
                    if step.get("failed"):
                        return dict(result, **step)
                    moved += int(step["part_size"]) - offset
                    offset = int(step["part_size"])
        finally:
            self._remove_tmp_path(remote_tmp)
        done = False
        if offset >= size:
            finished = self._module(task_vars, state="finish", dest=dest, sha256=sha, source=sha)
            if finished.get("failed"):
                return dict(result, **finished)
            done = True
        return dict(result, changed=True, done=done, sha256=sha if done else "", size=size,
                    progress=progress(offset, size, started, moved, "the controller"))
