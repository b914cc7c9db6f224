# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker Engine API's wire: HTTP/1.1 spoken on a raw socket, standard library only.

http.client's buffered reader cannot survive a read timeout, and streamed pulls need short read
timeouts to notice a stalled download while the stream stays open: so the response is read here,
chunk by chunk, and bodies are decoded (chunked coding, multiplexed log frames, JSON streams).
The client on top of it is _docker_api.DockerEngine.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import time


class DockerError(Exception):
    """An Engine API call failed. ``status`` is the HTTP status, None for transport errors."""

    def __init__(self, message, status=None):
        super(DockerError, self).__init__(message)
        self.message = message
        self.status = status


class DockerConnectionError(DockerError):
    """The daemon could not be reached or stopped answering."""


class DockerTimeout(DockerConnectionError):
    """The daemon accepted the request but did not answer in time."""


class DockerNotFound(DockerError):
    """404 from the daemon: no such image or container."""


class ChunkedDecoder(object):
    """Incremental decoder of HTTP/1.1 chunked transfer coding."""

    def __init__(self):
        self._buf = b''
        self._left = None  # bytes left in the current chunk; None = expecting a size line
        self.done = False

    def feed(self, data):
        self._buf += data
        out = []
        while not self.done:
            if self._left is None:
                end = self._buf.find(b'\r\n')
                if end < 0:
                    break
                line = self._buf[:end].split(b';', 1)[0].strip()
                self._buf = self._buf[end + 2:]
                if not line:
                    continue  # the CRLF after a chunk's data
                try:
                    size = int(line, 16)
                except ValueError:
                    raise DockerError('malformed chunked response from the Docker daemon')
                if size == 0:
                    self.done = True
                    break
                self._left = size
            else:
                if not self._buf:
                    break
                piece = self._buf[:self._left]
                self._buf = self._buf[len(piece):]
                self._left -= len(piece)
                out.append(piece)
                if self._left == 0:
                    self._left = None
        return b''.join(out)


class _Response(object):
    """A response being read from a raw socket: status, headers and an incremental body."""

    def __init__(self, sock, read_timeout):
        self.sock = sock
        self.read_timeout = read_timeout
        self._raw = b''
        self.status = None
        self.headers = {}
        self._chunked = None
        self._length = None
        self._received = 0
        self.eof = False
        self.last_data = time.monotonic()

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except OSError as exc:
            raise DockerConnectionError('lost the connection to the Docker daemon: %s' % exc)
        if data:
            self.last_data = time.monotonic()
        return data

    def read_head(self, timeout):
        deadline = time.monotonic() + timeout
        while b'\r\n\r\n' not in self._raw:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DockerTimeout('the Docker daemon did not answer within %.0f s' % timeout)
            data = self._recv(min(left, 1.0))
            if data is None:
                continue
            if not data:
                raise DockerConnectionError('the Docker daemon closed the connection without an answer')
            self._raw += data
            if len(self._raw) > 1024 * 1024:
                raise DockerError('oversized response headers from the Docker daemon')
        head, self._raw = self._raw.split(b'\r\n\r\n', 1)
        lines = head.decode('iso-8859-1').split('\r\n')
        parts = lines[0].split(' ', 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            raise DockerError('malformed status line from the Docker daemon: %r' % lines[0][:100])
        for line in lines[1:]:
            name, _sep, value = line.partition(':')
            self.headers[name.strip().lower()] = value.strip()
        if 'chunked' in self.headers.get('transfer-encoding', '').lower():
            self._chunked = ChunkedDecoder()
        elif 'content-length' in self.headers:
            self._length = int(self.headers['content-length'])
        if self.status in (204, 304) or self._length == 0:
            self.eof = True

    def _decode(self, data):
        if self._chunked is not None:
            body = self._chunked.feed(data)
            if self._chunked.done:
                self.eof = True
            return body
        if self._length is not None:
            body = data[:self._length - self._received]
            self._received += len(body)
            if self._received >= self._length:
                self.eof = True
            return body
        return data

    def read_some(self, timeout):
        """Body bytes available within ``timeout``: b'' at the end, None when nothing arrived."""
        if self._raw:
            data, self._raw = self._raw, b''
            body = self._decode(data)
            if body or self.eof:
                return body
        if self.eof:
            return b''
        while True:
            data = self._recv(timeout)
            if data is None:
                return None
            if not data:
                self.eof = True
                if self._chunked is not None and not self._chunked.done:
                    raise DockerConnectionError('the Docker daemon closed the stream early')
                return b''
            body = self._decode(data)
            if body or self.eof:
                return body

    def read_all(self, timeout, limit=64 * 1024 * 1024):
        deadline = time.monotonic() + timeout
        out = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DockerConnectionError('the Docker daemon did not finish its answer within %.0f s' % timeout)
            data = self.read_some(min(left, 1.0))
            if data is None:
                continue
            if data == b'' and self.eof:
                return b''.join(out)
            out.append(data)
            size += len(data)
            if size > limit:
                raise DockerError('response from the Docker daemon larger than %d bytes' % limit)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _error_message(body, status):
    try:
        data = json.loads(body.decode('utf-8', 'replace'))
        if isinstance(data, dict) and data.get('message'):
            return str(data['message'])
    except ValueError:
        pass
    text = body.decode('utf-8', 'replace').strip()
    return text[:500] or 'HTTP %s' % status


def decode_multiplexed(data, tty=None):
    """Split a container log/attach body into (stream, bytes) frames.

    Non-TTY containers multiplex stdout/stderr with 8-byte headers
    ``[stream, 0, 0, 0, size(4 bytes, big endian)]``; TTY containers send raw bytes
    (returned as a single stdout frame). ``tty`` None guesses from the first header.
    Returns (frames, rest) where ``rest`` is an incomplete trailing frame.
    """
    if tty is None:
        tty = not (len(data) >= 8 and data[0] in (0, 1, 2) and data[1:4] == b'\x00\x00\x00')
    if tty:
        return [(1, data)] if data else [], b''
    frames = []
    pos = 0
    while len(data) - pos >= 8:
        stream = data[pos]
        size = int.from_bytes(data[pos + 4:pos + 8], 'big')
        if len(data) - pos - 8 < size:
            break
        frames.append((stream, data[pos + 8:pos + 8 + size]))
        pos += 8 + size
    return frames, data[pos:]


class JsonStreamDecoder(object):
    """Decodes a stream of JSON objects (newline separated or simply concatenated)."""

    def __init__(self):
        self._buf = ''
        self._decoder = json.JSONDecoder()
        self._pending = b''

    def feed(self, data):
        data = self._pending + data
        try:
            text = data.decode('utf-8')
            self._pending = b''
        except UnicodeDecodeError as exc:
            # A multi-byte character split across reads: keep its start for the next feed.
            text = data[:exc.start].decode('utf-8')
            self._pending = data[exc.start:]
        self._buf += text
        objects = []
        while True:
            stripped = self._buf.lstrip()
            if not stripped:
                self._buf = ''
                break
            try:
                obj, end = self._decoder.raw_decode(stripped)
            except ValueError:
                self._buf = stripped
                break
            objects.append(obj)
            self._buf = stripped[end:]
        return objects


class ResponseReader(object):
    """A streamed response body as a read-only file object (for tarfile's stream mode)."""

    def __init__(self, response, timeout):
        self.response = response
        self.timeout = timeout
        self._buf = b''

    def read(self, size=-1):
        while (size is None or size < 0 or len(self._buf) < size) and not self.response.eof:
            data = self.response.read_some(self.timeout)
            if data is None:
                raise DockerTimeout('the Docker daemon stopped sending the archive for %.0f s' % self.timeout)
            self._buf += data
        if size is None or size < 0:
            out, self._buf = self._buf, b''
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def close(self):
        self.response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
