# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client of the WAA server (Flask, port 5000 inside the Windows VM), urllib only.

Routes and payloads follow the real server (microsoft/WindowsAgentArena): GET /probe,
GET /screenshot, GET /accessibility?backend=, POST /execute, POST /execute_windows,
POST /setup/launch, POST /setup/close_all, POST /screen_size, GET /platform.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import socket
import struct
import zlib
from xml.etree import ElementTree
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PROBE_OK_STATUS = 'Probe successful'


class WaaError(Exception):
    """A WAA server call failed. ``status`` is the HTTP status, None when nothing answered."""

    def __init__(self, message, status=None, body=None):
        super(WaaError, self).__init__(message)
        self.message = message
        self.status = status
        self.body = body


def png_info(data):
    """(width, height) of PNG bytes; ValueError when they are not a PNG with a valid IHDR chunk."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 33 or not data.startswith(PNG_SIGNATURE):
        raise ValueError('not a PNG image (no PNG signature)')
    length, ctype = struct.unpack('>I4s', data[8:16])
    if ctype != b'IHDR' or length != 13:
        raise ValueError('not a PNG image (first chunk is not IHDR)')
    crc = struct.unpack('>I', data[29:33])[0]
    if zlib.crc32(data[12:29]) & 0xffffffff != crc:
        raise ValueError('corrupt PNG image (IHDR checksum mismatch)')
    width, height = struct.unpack('>II', data[16:24])
    if width == 0 or height == 0:
        raise ValueError('PNG image with zero width or height')
    return width, height


class WaaClient(object):
    """Talks to one WAA server. ``timeout`` (seconds) applies to each request."""

    def __init__(self, base_url='http://127.0.0.1:5000', timeout=7.0):
        parsed = urlsplit(base_url)
        if parsed.scheme not in ('http', 'https') or not parsed.hostname:
            raise ValueError('server URL %r must look like http://HOST:PORT' % (base_url,))
        self.base_url = base_url.rstrip('/')
        self.timeout = timeout
        # No proxies: the server is reached on the VM's loopback or through a tunnel, and an
        # http_proxy in the environment must not capture those requests.
        self._opener = build_opener(ProxyHandler({}))

    def _request(self, method, path, body=None, timeout=None, params=None, limit=64 * 1024 * 1024):
        url = self.base_url + path
        if params:
            url += '?' + urlencode(params)
        data = None
        headers = {'Accept': '*/*'}
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        elif method == 'POST':
            data = b''
        req = Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout if timeout is None else timeout) as resp:
                payload = resp.read(limit + 1)
                status = resp.status
        except HTTPError as exc:
            try:
                payload = exc.read(64 * 1024)
            except Exception:
                payload = b''
            raise WaaError('%s %s answered HTTP %s%s' % (method, path, exc.code, _error_suffix(payload)),
                           exc.code, payload)
        except (URLError, socket.timeout, OSError, ValueError) as exc:
            reason = getattr(exc, 'reason', exc)
            raise WaaError('%s %s failed: %s' % (method, path, reason))
        if len(payload) > limit:
            raise WaaError('%s %s answered more than %d bytes' % (method, path, limit), status)
        return status, payload

    def _json(self, method, path, **kwargs):
        status, payload = self._request(method, path, **kwargs)
        try:
            return json.loads(payload.decode('utf-8'))
        except ValueError:
            raise WaaError('%s %s answered HTTP %s but not JSON: %r' % (method, path, status, payload[:120]),
                           status, payload)

    def probe(self, timeout=None):
        """GET /probe: the server's JSON; WaaError unless it says 'Probe successful'."""
        data = self._json('GET', '/probe', timeout=timeout)
        if not isinstance(data, dict) or data.get('status') != PROBE_OK_STATUS:
            raise WaaError('GET /probe answered 200 but not with status "%s": %r' % (PROBE_OK_STATUS, data), 200)
        return data

    def screenshot(self, timeout=None):
        """GET /screenshot: PNG bytes."""
        return self._request('GET', '/screenshot', timeout=timeout)[1]

    def accessibility(self, backend='uia', timeout=None):
        """GET /accessibility?backend=: the AT XML string."""
        data = self._json('GET', '/accessibility', params={'backend': backend}, timeout=timeout)
        if not isinstance(data, dict) or not isinstance(data.get('AT'), str):
            raise WaaError('GET /accessibility answered without an "AT" string', 200)
        return data['AT']

    def execute(self, command, shell=False, timeout=None):
        """POST /execute: runs a command; returns {status, output, error, returncode}."""
        return self._json('POST', '/execute', body={'command': command, 'shell': bool(shell)}, timeout=timeout)

    def execute_windows(self, code, timeout=None):
        """POST /execute_windows: runs Python with the ``computer`` object; returns {status}."""
        return self._json('POST', '/execute_windows', body={'command': code}, timeout=timeout)

    def launch(self, command, shell=False, timeout=None):
        """POST /setup/launch: starts a program without waiting for it; returns the server's text."""
        return self._request('POST', '/setup/launch', body={'command': command, 'shell': bool(shell)},
                             timeout=timeout)[1].decode('utf-8', 'replace')

    def close_all(self, timeout=None):
        """POST /setup/close_all: closes all windows; returns the server's text."""
        return self._request('POST', '/setup/close_all', timeout=timeout)[1].decode('utf-8', 'replace')

    def screen_size(self, timeout=None):
        """POST /screen_size: {width, height}."""
        return self._json('POST', '/screen_size', timeout=timeout)

    def platform(self, timeout=None):
        """GET /platform: 'Windows' on the real server."""
        return self._request('GET', '/platform', timeout=timeout)[1].decode('utf-8', 'replace').strip()


def _error_suffix(payload):
    try:
        data = json.loads(payload.decode('utf-8'))
        if isinstance(data, dict) and data.get('message'):
            return ': %s' % str(data['message'])[:300]
    except (ValueError, AttributeError):
        pass
    text = payload.decode('utf-8', 'replace').strip() if payload else ''
    return (': ' + text[:300]) if text else ''


# -- accessibility tree --------------------------------------------------------------------
_AT_NAMESPACES = {
    'st': 'https://accessibility.windows.example.org/ns/state',
    'cp': 'https://accessibility.windows.example.org/ns/component',
    'win': 'https://accessibility.windows.example.org/ns/windows',
}
_ROOT_TAG_RE = re.compile(r'<([A-Za-z_][\w.-]*(?::[\w.-]+)?)')


def parse_at(xml_text):
    """Parse the AT XML string of /accessibility; returns the root Element.

    Undeclared st:/cp:/win: prefixes are declared on the fly (the server's serializer
    normally declares them). Documents with DTDs or entities are refused.
    """
    if not isinstance(xml_text, str) or not xml_text.strip():
        raise ValueError('the accessibility tree is empty')
    if '<!DOCTYPE' in xml_text or '<!ENTITY' in xml_text:
        raise ValueError('the accessibility tree contains a DTD or entity declarations')
    try:
        return ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as exc:
        if 'unbound prefix' not in str(exc):
            raise ValueError('the accessibility tree is not valid XML: %s' % exc)
    match = _ROOT_TAG_RE.search(xml_text)
    if not match:
        raise ValueError('the accessibility tree has no root element')
    decls = ''.join(' xmlns:%s="%s"' % (k, v) for k, v in _AT_NAMESPACES.items()
                    if 'xmlns:%s=' % k not in xml_text[:match.end() + 4096])
    patched = xml_text[:match.end()] + decls + xml_text[match.end():]
    try:
        return ElementTree.fromstring(patched)
    except ElementTree.ParseError as exc:
        raise ValueError('the accessibility tree is not valid XML: %s' % exc)


def local_name(tag):
    """'desktop' from '{ns}desktop' or 'desktop'."""
    return tag.rsplit('}', 1)[-1] if isinstance(tag, str) else ''


def find_named(root, pattern):
    """Names of all elements whose ``name`` attribute matches the compiled regex ``pattern``."""
    found = []
    for element in root.iter():
        name = element.get('name')
        if name and pattern.search(name):
            found.append(name)
    return found
