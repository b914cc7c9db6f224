# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The golden disk to and from Azure Blob Storage, moved by the VM itself (standard library only).

The disk is a page blob ``<prefix>/data.img``: a page blob is sparse like the disk, so only its
non-zero 4 MiB blocks travel (Put Page), and a restore asks Get Page Ranges which pages hold data and
downloads only those (ranged GETs). Several blocks move at once, one HTTP connection per thread. Both
directions resume: a push uploads the blocks the blob's page ranges do not hold yet (the blob carries
the disk's fingerprint, so a blob of another disk is started over); a restore keeps a journal of the
blocks it wrote. dockur's small files go as block blobs, and the manifest last: a prefix with a
manifest is a complete push. A restore is checked against the manifest's fingerprint before the disk
takes its name. The controller gives a short-lived SAS; no account key ever reaches the VM.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit
from ansible_collections.openadapt.waa.plugins.module_utils import _golden
from ansible_collections.openadapt.waa.plugins.module_utils._overlay import STATE_FILES

API_VERSION = '2021-08-06'
BLOCK = _golden.BLOCK  # 4 MiB: Put Page's largest write, and the fingerprint's block
DISK_BLOB = 'data.img'
JOURNAL = 'data.img.restore.done'
PARTIAL = 'data.img.restore'


AZURE_BLOB_SUFFIXES = ('.blob.core.windows.net', '.blob.core.chinacloudapi.cn', '.blob.core.usgovcloudapi.net')


def split_golden_url(url):
    """'https://acct.blob.core.windows.net/cont/a/b' -> (account, 'https://acct.blob.core.windows.net/cont', 'a/b');
    an emulator's path-style 'http://127.0.0.1:10000/acct/cont/a/b' -> (acct, 'http://127.0.0.1:10000/acct/cont',
    'a/b'). ValueError for anything else: a SAS or query in it, no folder, '..'."""
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname or parts.query or parts.fragment:
        raise ValueError('%r is not a blob folder URL: give https://ACCOUNT.blob.core.windows.net/CONTAINER/FOLDER '
                         '(no SAS: openadapt.waa makes one)' % url[:200])
    segments = [s for s in parts.path.split('/') if s]
    host = parts.hostname.lower()
    if host.endswith(AZURE_BLOB_SUFFIXES):
        account, rest = host.split('.', 1)[0], segments
        base = '%s://%s' % (parts.scheme, parts.netloc)
    else:  # path-style: an emulator (Azurite) or a custom endpoint
        if not segments:
            raise ValueError('%r names no account: an emulator URL is http://HOST:PORT/ACCOUNT/CONTAINER/FOLDER' % url[:200])
        account, rest = segments[0], segments[1:]
        base = '%s://%s/%s' % (parts.scheme, parts.netloc, account)
    if len(rest) < 2 or any(s in ('.', '..') for s in rest):
        raise ValueError('%r names no folder in a container: give .../CONTAINER/FOLDER' % url[:200])
    return account, '%s/%s' % (base, rest[0]), '/'.join(rest[1:])


class BlobError(Exception):
    def __init__(self, message, status=None):
        Exception.__init__(self, message)
        self.message, self.status = message, status


class BlobClient(object):
    """A container of a blob service, reached with a SAS: ``base`` is scheme://host[:port]/[account/]container."""

    def __init__(self, base, sas, timeout=60):
        parts = urlsplit(base)
        if parts.scheme not in ('http', 'https') or not parts.netloc:
            raise BlobError('%s is not an http(s) blob container URL' % base)
        self.scheme, self.netloc, self.path = parts.scheme, parts.netloc, parts.path.rstrip('/')
        self.sas = sas.lstrip('?')
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self):
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            cls = http_client.HTTPSConnection if self.scheme == 'https' else http_client.HTTPConnection
            conn = self._local.conn = cls(self.netloc, timeout=self.timeout)
        return conn

    def request(self, method, blob, query='', headers=None, body=None, expect=(200, 201, 202, 206)):
        """One request; a broken connection is opened again once. Returns (status, headers, body)."""
        url = '%s/%s?%s%s' % (self.path, quote(blob), query + '&' if query else '', self.sas)
        headers = dict(headers or {}, **{'x-ms-version': API_VERSION})
        if body is not None:
            headers['Content-Length'] = str(len(body))
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http_client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise BlobError('%s %s: %s' % (method, blob, exc))
        if response.status not in expect:
            code = response.getheader('x-ms-error-code') or ''
            raise BlobError('%s %s answered HTTP %s %s' % (method, blob, response.status, code), response.status)
        return response.status, dict((k.lower(), v) for k, v in response.getheaders()), data

    def properties(self, blob):
        """The blob's headers, or None when it does not exist."""
        try:
            return self.request('HEAD', blob)[1]
        except BlobError as exc:
            if exc.status == 404:
                return None
            raise

    def page_ranges(self, blob):
        """[(start, end_exclusive)] of the pages that hold data."""
        ranges, marker = [], ''
        while True:
            query = 'comp=pagelist' + ('&marker=%s' % quote(marker) if marker else '')
            root = ET.fromstring(self.request('GET', blob, query)[2])
            for item in root.findall('PageRange'):
                ranges.append((int(item.findtext('Start')), int(item.findtext('End')) + 1))
            marker = root.findtext('NextMarker') or ''
            if not marker:
                return ranges

    def create_page_blob(self, blob, size, metadata):
        headers = {'x-ms-blob-type': 'PageBlob', 'x-ms-blob-content-length': str(size)}
        headers.update(('x-ms-meta-%s' % k, v) for k, v in metadata.items())
        self.request('PUT', blob, headers=headers, body=b'')

    def put_page(self, blob, offset, data):
        headers = {'x-ms-page-write': 'update', 'x-ms-range': 'bytes=%d-%d' % (offset, offset + len(data) - 1)}
        self.request('PUT', blob, 'comp=page', headers=headers, body=data)

    def put_block_blob(self, blob, data):
        self.request('PUT', blob, headers={'x-ms-blob-type': 'BlockBlob'}, body=data)

    def get(self, blob, start=None, end=None):
        headers = {'x-ms-range': 'bytes=%d-%d' % (start, end - 1)} if start is not None else {}
        return self.request('GET', blob, headers=headers)[2]


def _covered(ranges, start, end):
    """Whether [start, end) lies inside the union of ``ranges`` (sorted, merged by the service)."""
    for a, b in ranges:
        if a <= start and end <= b:
            return True
    return False


def _pad(data):
    return data + bytes(-len(data) % 512)


class Transfer(object):
    """Progress of one push or restore (bytes over the blocks to move), for the progress file."""

    def __init__(self, total, progress, what):
        self.total, self.done, self.moved, self.what = total, 0, 0, what
        self.started = time.monotonic()
        self.progress = progress
        self.lock = threading.Lock()

    def add(self, done, moved):
        with self.lock:
            self.done += done
            self.moved += moved
            self.report()

    def report(self, force=False):
        elapsed = max(time.monotonic() - self.started, 1e-3)
        rate = self.moved / elapsed if self.moved else None
        eta = (self.total - self.done) / rate if rate else None
        self.progress.update({'what': self.what, 'bytes_done': self.done, 'bytes_total': self.total,
                              'bytes_moved': self.moved, 'rate_bps': rate, 'eta_s': eta,
                              'source': 'the VM'}, force=force)


def _data_blocks(disk):
    """The offsets of the disk's 4 MiB blocks that hold anything but zeros (read from allocated ranges)."""
    fd = os.open(disk, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        zero = bytes(BLOCK)
        blocks = []
        for index in _golden.candidate_blocks(fd, size):
            data = os.pread(fd, BLOCK, index * BLOCK)
            if data and data != zero[:len(data)]:
                blocks.append((index * BLOCK, len(data)))
        return size, blocks
    finally:
        os.close(fd)


def push(client, storage, prefix, progress, threads=8):
    """Upload the golden disk in ``storage`` under ``prefix``; returns a summary dict."""
    manifest = _golden.read_manifest(storage)
    state = _golden.disk_state(storage)
    if not state['prepared']:
        raise BlobError('%s holds no prepared golden disk to push.' % storage)
    if not manifest or not manifest.get('fingerprint'):
        manifest = dict(manifest or {}, size_bytes=state['size_bytes'], allocated_bytes=state['allocated_bytes'],
                        fingerprint='sha256:' + _golden.fingerprint(state['disk']), fingerprint_block=BLOCK)
        _golden.write_manifest(storage, manifest)
    size, blocks = _data_blocks(state['disk'])
    blob = prefix + '/' + DISK_BLOB
    blob_size = size + (-size % 512)
    props = client.properties(blob)
    resumed = bool(props and props.get('x-ms-meta-fingerprint') == manifest['fingerprint']
                   and int(props.get('content-length', -1)) == blob_size)
    present = client.page_ranges(blob) if resumed else []
    if not resumed:
        client.create_page_blob(blob, blob_size, {'fingerprint': manifest['fingerprint']})
    todo = [(o, n) for o, n in blocks if not _covered(present, o, o + n + (-n % 512))]
    transfer = Transfer(sum(n for _o, n in blocks), progress, 'golden disk')
    transfer.done = sum(n for _o, n in blocks) - sum(n for _o, n in todo)
    transfer.report(force=True)
    fd = os.open(state['disk'], os.O_RDONLY)

    def one(block):
        offset, length = block
        client.put_page(blob, offset, _pad(os.pread(fd, length, offset)))
        transfer.add(length, length)

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, todo))
    finally:
        os.close(fd)
    for name in STATE_FILES:
        path = os.path.join(storage, name)
        if os.path.isfile(path):
            with open(path, 'rb') as handle:
                client.put_block_blob(prefix + '/' + name, handle.read())
    client.put_block_blob(prefix + '/' + _golden.MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    transfer.report(force=True)
    return {'blocks': len(blocks), 'blocks_sent': len(todo), 'bytes_sent': transfer.moved, 'resumed': resumed,
            'bytes_total': transfer.total,
            'size_bytes': size, 'manifest': manifest}


def _journal(storage):
    try:
        with open(os.path.join(storage, JOURNAL)) as handle:
            return set(int(line) for line in handle if line.strip().isdigit())
    except (IOError, OSError):
        return set()


def restore(client, storage, prefix, progress, threads=8):
    """Restore the golden disk under ``prefix`` into the empty ``storage``; returns a summary dict."""
    try:
        manifest = json.loads(client.get(prefix + '/' + _golden.MANIFEST).decode('utf-8'))
    except BlobError as exc:
        if exc.status == 404:
            raise BlobError('There is no complete golden disk at %s (no %s): push one first (waa golden push).'
                            % (prefix, _golden.MANIFEST), 404)
        raise
    except ValueError:
        raise BlobError('The manifest at %s is not JSON.' % prefix)
    size = int(manifest['size_bytes'])
    blob = prefix + '/' + DISK_BLOB
    ranges = client.page_ranges(blob)
    pieces = []
    for start, end in ranges:
        for offset in range(start - start % BLOCK, end, BLOCK):
            a, b = max(offset, start), min(offset + BLOCK, end, size)
            if a < b:
                pieces.append((a, b))
    if not os.path.isdir(storage):
        os.makedirs(storage, 0o750)
    partial = os.path.join(storage, PARTIAL)
    done = _journal(storage) if os.path.exists(partial) else set()
    if not os.path.exists(partial):
        with open(partial, 'wb') as handle:
            handle.truncate(size)
    todo = [(a, b) for a, b in pieces if a not in done]
    transfer = Transfer(sum(b - a for a, b in pieces), progress, 'golden disk')
    transfer.done = transfer.total - sum(b - a for a, b in todo)
    transfer.report(force=True)
    fd = os.open(partial, os.O_WRONLY)
    journal = open(os.path.join(storage, JOURNAL), 'a')
    lock = threading.Lock()

    def one(piece):
        a, b = piece
        data = client.get(blob, a, b)
        if len(data) != b - a:
            raise BlobError('GET %s bytes %d-%d returned %d bytes' % (blob, a, b - 1, len(data)))
        os.pwrite(fd, data, a)
        with lock:
            journal.write('%d\n' % a)
            journal.flush()
        transfer.add(len(data), len(data))

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, todo))
        os.fsync(fd)
    finally:
        os.close(fd)
        journal.close()
    fingerprint = 'sha256:' + _golden.fingerprint(partial)
    if fingerprint != manifest.get('fingerprint'):
        for path in (partial, os.path.join(storage, JOURNAL)):
            os.unlink(path)
        raise BlobError('The restored disk has fingerprint %s, the manifest says %s: the blob is not the disk that '
                        'was pushed.' % (fingerprint, manifest.get('fingerprint')))
    small = {}
    for name in STATE_FILES:
        try:
            small[name] = client.get(prefix + '/' + name)
        except BlobError as exc:
            if exc.status != 404:
                raise
    os.rename(partial, os.path.join(storage, _golden.DISK))
    os.unlink(os.path.join(storage, JOURNAL))
    for name, data in sorted(small.items(), key=lambda item: item[0] == _golden.BOOT_MARKER):
        with open(os.path.join(storage, name), 'wb') as handle:  # windows.boot last: the disk is whole
            handle.write(data)
    _golden.write_manifest(storage, dict(manifest, restored_from=prefix))
    transfer.report(force=True)
    return {'pieces': len(pieces), 'pieces_fetched': len(todo), 'bytes_fetched': transfer.moved,
            'bytes_total': transfer.total,
            'resumed': len(todo) < len(pieces), 'size_bytes': size, 'manifest': manifest}
