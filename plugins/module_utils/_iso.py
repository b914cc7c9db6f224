# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows ISO on the VM, moved in resumable pieces: appended chunk by chunk from the controller
(the golden_iso action), or fetched from a URL with HTTP ranges. Beside the ISO, ``<iso>.part`` holds
what has arrived, ``<iso>.part.source`` says where it comes from (the source's SHA-256 or its URL, so
a resume never mixes two ISOs), and ``<iso>.sha256`` records the finished ISO's checksum and size.

Standard library only; every wait is bounded by the caller's ``wait`` seconds per round.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import time

from ansible.module_utils.six.moves.http_client import HTTPException
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

HASH_CHUNK = 4 * 1024 * 1024
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
# dockur refuses smaller files ("Invalid ISO file: Size is smaller than 100 MB").
MIN_ISO_BYTES = 100000000
ISO9660_MAGIC_OFFSET = 0x8001


def transfer_progress(done, total, started, moved, source):
    """A round's progress (kind transfer) for the live output: bytes, rate over the round, ETA."""
    elapsed = max(time.monotonic() - started, 1e-3)
    rate = moved / elapsed if moved else None
    eta = (total - done) / rate if rate and total else None
    return {'kind': 'transfer', 'what': 'ISO', 'bytes_done': done, 'bytes_total': total, 'bytes_moved': moved, 'rate_bps': rate,
            'eta_s': round(eta, 1) if eta is not None else None, 'source': source,
            'state': 'done' if total and done >= total else 'running'}


class IsoError(Exception):
    """A failure with the fix to name; ``retry`` when the next round may succeed (network)."""

    def __init__(self, message, fix='', retry=False):
        Exception.__init__(self, message)
        self.message, self.fix, self.retry = message, fix, retry


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def looks_like_iso(path):
    """An ISO 9660 image: 'CD001' in its primary volume descriptor."""
    with open(path, 'rb') as handle:
        handle.seek(ISO9660_MAGIC_OFFSET)
        return handle.read(5) == b'CD001'


def local_iso_problem(path):
    """Why the controller's file cannot be the ISO ('' when it can)."""
    if not os.path.isfile(path):
        return "The ISO %s does not exist on the controller (or is not a file)." % path
    if os.path.getsize(path) < MIN_ISO_BYTES:
        return ("%s has %d bytes: a Windows ISO has several GB (dockur refuses anything under 100 MB)."
                % (path, os.path.getsize(path)))
    if not looks_like_iso(path):
        return "%s is not an ISO 9660 image (no CD001 volume descriptor)." % path
    return ""


class IsoFile(object):
    """The ISO at ``dest`` on the VM and its partial download."""

    def __init__(self, dest):
        self.dest = dest
        self.part = dest + '.part'
        self.source_file = self.part + '.source'
        self.record_file = dest + '.sha256'

    def _read(self, path):
        try:
            with open(path) as handle:
                return handle.read(4096).strip()
        except (IOError, OSError):
            return ''

    def recorded(self):
        """{sha256, size} of the finished ISO when its record matches the file, else None."""
        try:
            record = json.loads(self._read(self.record_file) or '{}')
            if os.path.getsize(self.dest) == record.get('size') and SHA256_RE.match(record.get('sha256', '')):
                return record
        except (OSError, ValueError, TypeError):
            pass
        return None

    def part_size(self, source):
        """Bytes of ``source`` already here; a partial file of another source is dropped."""
        if self._read(self.source_file) != source:
            self.discard()
            return 0
        try:
            return os.path.getsize(self.part)
        except OSError:
            return 0

    def stat(self, source):
        record = self.recorded()
        return {'exists': os.path.isfile(self.dest), 'recorded': record,
                'part_size': self.part_size(source) if source else 0}

    def discard(self):
        for path in (self.part, self.source_file):
            if os.path.lexists(path):
                os.unlink(path)

    def _start(self, source):
        directory = os.path.dirname(self.dest)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o750)
        if self._read(self.source_file) != source:
            self.discard()
            with open(self.source_file, 'w') as handle:
                handle.write(source)

    def append(self, chunk, offset, source):
        """Append the chunk file at ``offset`` (the part's size now); returns the part's new size."""
        self._start(source)
        have = self.part_size(source)
        try:
            if have != offset:
                raise IsoError('The partial ISO on the VM has %d bytes, the chunk starts at %d: out of step.'
                               % (have, offset), retry=True)
            with open(chunk, 'rb') as src, open(self.part, 'ab') as dst:
                shutil.copyfileobj(src, dst, HASH_CHUNK)
        finally:
            if os.path.lexists(chunk):
                os.unlink(chunk)
        return os.path.getsize(self.part)

    def finish(self, expected=None, source=''):
        """Check the finished part against ``expected`` (SHA-256), make it the ISO, record it (with where it
        came from: a URL without a checksum is known by its URL)."""
        actual = sha256_file(self.part)
        size = os.path.getsize(self.part)
        if expected and actual != expected:
            self.discard()
            raise IsoError('The ISO that arrived on the VM has SHA-256 %s, not %s: it was damaged on the way, or it is '
                           'another file.' % (actual, expected),
                           fix='Run the same command again (the ISO is fetched anew); check --iso-sha256 against the '
                               "ISO's published checksum.")
        os.rename(self.part, self.dest)
        os.unlink(self.source_file)
        record = {'sha256': actual, 'size': size, 'source': source}
        with open(self.record_file, 'w') as handle:
            json.dump(record, handle)
        return record

    def fetch(self, url, wait, timeout=30):
        """Download for up to ``wait`` seconds, resuming with a Range request. Returns (bytes_done,
        bytes_total or None, complete)."""
        self._start(url)
        have = self.part_size(url)
        headers = {'Accept-Encoding': 'identity'}
        if have:
            headers['Range'] = 'bytes=%d-' % have
        try:
            response = open_url(url, headers=headers, timeout=timeout, use_proxy=True, http_agent='openadapt-waa')
        except HTTPError as exc:
            if exc.code == 416 and have:  # nothing left after what we have: it is all here
                return have, have, True
            raise IsoError('%s answered HTTP %s %s.' % (url, exc.code, exc.reason),
                           fix='Check --iso-url: it must name the ISO file itself and be reachable from the VM.',
                           retry=exc.code >= 500 or exc.code == 429)
        except (URLError, OSError) as exc:
            raise IsoError('Cannot reach %s from the VM: %s.' % (url, getattr(exc, 'reason', exc)),
                           fix='Check the URL and that the VM reaches it (proxy, firewall, a SAS token that expired).',
                           retry=True)
        with response:
            status = getattr(response, 'status', None) or response.getcode()
            length = response.headers.get('Content-Length')
            if status == 200 and have:  # the server ignores ranges: start over
                self.discard()
                self._start(url)
                have = 0
            total = have + int(length) if length and length.isdigit() else None
            ends = time.monotonic() + max(0.5, float(wait))
            with open(self.part, 'ab') as dst:
                while time.monotonic() < ends:
                    try:
                        data = response.read(1024 * 1024)
                    except (OSError, ValueError, HTTPException) as exc:
                        raise IsoError('The download from %s broke off at %d bytes: %s.' % (url, have, exc or type(exc).__name__),
                                       retry=True)
                    if not data:
                        if total is not None and have < total:
                            raise IsoError('The download from %s broke off at %d of %d bytes.' % (url, have, total),
                                           retry=True)
                        return have, total if total is not None else have, True
                    dst.write(data)
                    have += len(data)
        return have, total, total is not None and have >= total
