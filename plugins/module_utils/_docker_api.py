# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Docker Engine API client over the unix socket, standard library only.

The VM's system Python has neither the docker SDK nor requests. HTTP is spoken directly on
a socket (one connection per request, ``Connection: close``, module_utils/_docker_http.py)
because http.client's buffered reader cannot survive a read timeout, and streamed pulls need
short read timeouts to notice a stalled download while the stream stays open.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import re
import socket

from urllib.parse import quote, urlencode, urlsplit

# The client's errors are defined with the wire (DockerTimeout too: import it from there).
from ansible_collections.openadapt.waa.plugins.module_utils._docker_http import (
    DockerConnectionError,
    DockerError,
    DockerNotFound,
    JsonStreamDecoder,
    ResponseReader,
    _error_message,
    _Response,
    decode_multiplexed,
)
from ansible_collections.openadapt.waa.plugins.module_utils._validate import pull_arguments

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
# The API versions this client speaks. It uses only endpoints and fields that are the same from
# 1.24 to 1.52 (Docker Engine 29), so the version is negotiated with the daemon: the highest one
# both sides speak, as docker-py's version='auto' does. Engine 29 refuses anything below 1.44;
# Debian's docker.io 20.10 speaks at most 1.41.
MIN_API_VERSION = (1, 24)
MAX_API_VERSION = (1, 52)
# Rate-limit markers in registry errors relayed by the daemon.
RATE_LIMIT_MARKERS = ('toomanyrequests', 'too many requests', 'rate limit')
# "429" only as a whole number: digests and sizes contain the digits too.
_RE_429 = re.compile(r'(?<![0-9A-Za-z])429(?![0-9A-Za-z])')


class PullError(DockerError):
    """A pull failed, either with an HTTP error or an ``{"error": ...}`` object inside the stream."""

    def __init__(self, message, status=None, rate_limited=None):
        super(PullError, self).__init__(message, status)
        self.rate_limited = is_rate_limit(message, status) if rate_limited is None else rate_limited


def is_rate_limit(message, status=None):
    """True when a registry error means 'rate limited' (HTTP 429 / toomanyrequests)."""
    if status == 429:
        return True
    text = (message or '').lower()
    return any(marker in text for marker in RATE_LIMIT_MARKERS) or bool(_RE_429.search(text))


def _parse_api_version(value):
    """'1.44' -> (1, 44); None when the daemon did not say or said something else."""
    match = re.match(r'^\s*(\d+)\.(\d+)\s*$', str(value or ''))
    return (int(match.group(1)), int(match.group(2))) if match else None


def negotiate_api_version(version_info):
    """The API version to use with a daemon whose ``GET /version`` answered ``version_info``.

    The highest version both sides speak: the daemon's ``ApiVersion`` capped at
    MAX_API_VERSION, and never below the daemon's ``MinAPIVersion``. Raises DockerError when
    the two ranges do not overlap, naming both so the fix (upgrade Docker or the collection)
    is clear.
    """
    info = version_info if isinstance(version_info, dict) else {}
    server_max = _parse_api_version(info.get('ApiVersion'))
    server_min = _parse_api_version(info.get('MinAPIVersion')) or MIN_API_VERSION
    engine = info.get('Version') or 'unknown'
    if server_max is None:
        # A daemon that does not say which version it speaks is older than every version field
        # this client reads; the oldest version this client speaks is the safe choice.
        return MIN_API_VERSION
    if server_max < MIN_API_VERSION:
        raise DockerError('Docker Engine %s speaks API %d.%d at most; openadapt.waa needs %d.%d or newer. '
                          'Upgrade Docker on the VM (docker-ce or docker.io).'
                          % ((engine,) + server_max + MIN_API_VERSION))
    if server_min > MAX_API_VERSION:
        raise DockerError('Docker Engine %s needs API %d.%d or newer; this openadapt.waa speaks %d.%d at most. '
                          'Upgrade the openadapt.waa collection.' % ((engine,) + server_min + MAX_API_VERSION))
    return max(min(server_max, MAX_API_VERSION), server_min)


def registry_auth_header(username, password, serveraddress):
    """The X-Registry-Auth header value: base64url of the JSON credentials."""
    payload = json.dumps({'username': username, 'password': password, 'serveraddress': serveraddress})
    return base64.urlsafe_b64encode(payload.encode('utf-8')).decode('ascii')


class DockerEngine(object):
    """Engine API client. ``docker_host`` is unix:///path or tcp://host:port (plain HTTP)."""

    def __init__(self, docker_host=DEFAULT_DOCKER_HOST, timeout=60.0):
        self.docker_host = docker_host or DEFAULT_DOCKER_HOST
        self.timeout = timeout
        parsed = urlsplit(self.docker_host)
        if parsed.scheme == 'unix':
            self._family, self._address = socket.AF_UNIX, parsed.path
            if not self._address:
                raise ValueError('docker_host %s has no socket path, e.g. unix:///var/run/docker.sock' % docker_host)
        elif parsed.scheme in ('tcp', 'http'):
            if not parsed.hostname or not parsed.port:
                raise ValueError('docker_host %s needs host and port, e.g. tcp://127.0.0.1:2375' % docker_host)
            self._family, self._address = socket.AF_INET, (parsed.hostname, parsed.port)
        else:
            raise ValueError('docker_host %s is not supported: use unix:///var/run/docker.sock '
                             'or tcp://HOST:PORT' % docker_host)
        self._prefix = None

    # -- transport ---------------------------------------------------------------------
    def _connect(self, timeout):
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self._address)
        except (OSError, socket.timeout) as exc:
            sock.close()
            raise DockerConnectionError('cannot connect to the Docker daemon at %s: %s' % (self.docker_host, exc))
        return sock

    def _path(self, path, params=None, versioned=True):
        if versioned:
            path = self.api_prefix() + path
        if params:
            query = urlencode([(k, v) for k, v in params.items() if v is not None])
            if query:
                path += '?' + query
        return path

    def open(self, method, path, params=None, body=None, headers=None, timeout=None, versioned=True):
        """Send a request and return the response after its head has arrived."""
        timeout = self.timeout if timeout is None else timeout
        sock = self._connect(timeout)
        payload = b''
        hdrs = {'Host': 'docker', 'User-Agent': 'openadapt.waa', 'Connection': 'close'}
        if body is not None:
            payload = json.dumps(body).encode('utf-8') if not isinstance(body, bytes) else body
            hdrs['Content-Type'] = 'application/json'
        hdrs['Content-Length'] = str(len(payload))
        hdrs.update(headers or {})
        request = '%s %s HTTP/1.1\r\n' % (method, self._path(path, params, versioned))
        request += ''.join('%s: %s\r\n' % (k, v) for k, v in hdrs.items()) + '\r\n'
        try:
            sock.sendall(request.encode('iso-8859-1') + payload)
        except (OSError, socket.timeout) as exc:
            sock.close()
            raise DockerConnectionError('cannot send to the Docker daemon at %s: %s' % (self.docker_host, exc))
        response = _Response(sock, timeout)
        try:
            response.read_head(timeout)
        except Exception:
            response.close()
            raise
        return response

    def request(self, method, path, params=None, body=None, headers=None, timeout=None, versioned=True,
                expect=(200, 201, 204)):
        """A complete request: returns (status, body bytes); raises DockerError on other statuses."""
        timeout = self.timeout if timeout is None else timeout
        response = self.open(method, path, params, body, headers, timeout, versioned)
        try:
            data = response.read_all(timeout)
        finally:
            response.close()
        if response.status not in expect:
            message = _error_message(data, response.status)
            if response.status == 404:
                raise DockerNotFound(message, 404)
            raise DockerError(message, response.status)
        return response.status, data

    def request_json(self, method, path, **kwargs):
        _status, data = self.request(method, path, **kwargs)
        try:
            return json.loads(data.decode('utf-8')) if data else None
        except ValueError:
            raise DockerError('the Docker daemon answered %s %s with invalid JSON' % (method, path))

    # -- version negotiation -----------------------------------------------------------
    def api_prefix(self):
        """'/v1.NN': the API version negotiated with the daemon (once per client)."""
        if self._prefix is None:
            self._prefix = '/v%d.%d' % negotiate_api_version(self.version())
        return self._prefix

    # -- endpoints ---------------------------------------------------------------------
    def ping(self, timeout=None):
        """True when GET /_ping answers OK."""
        _status, data = self.request('GET', '/_ping', timeout=timeout, versioned=False)
        return data.strip() == b'OK'

    def version(self, timeout=None):
        return self.request_json('GET', '/version', timeout=timeout, versioned=False)

    def info(self, timeout=None):
        return self.request_json('GET', '/info', timeout=timeout)

    def image_inspect(self, ref, timeout=None):
        """The image's inspect data, or None when it is not present."""
        try:
            return self.request_json('GET', '/images/%s/json' % quote(ref, safe=':@/'), timeout=timeout)
        except DockerNotFound:
            return None

    def container_inspect(self, name, timeout=None):
        """The container's inspect data, or None when there is no such container."""
        try:
            return self.request_json('GET', '/containers/%s/json' % quote(name, safe=''), timeout=timeout)
        except DockerNotFound:
            return None

    def container_start(self, name, timeout=None):
        """Start a created or stopped container (no-op answer 304 when it already runs)."""
        self.request('POST', '/containers/%s/start' % quote(name, safe=''), expect=(204, 304), timeout=timeout)

    def container_create(self, name, body, timeout=None):
        """Create a container named ``name`` from a create body (see _container.create_body); returns its id."""
        data = self.request_json('POST', '/containers/create', params={'name': name}, body=body, timeout=timeout)
        return (data or {}).get('Id') or ''

    def container_stop(self, name, stop_timeout=120, timeout=None):
        """Stop a container, giving it ``stop_timeout`` seconds (Windows' ACPI shutdown) before the kill."""
        self.request('POST', '/containers/%s/stop' % quote(name, safe=''), params={'t': int(stop_timeout)},
                     expect=(204, 304), timeout=(timeout if timeout is not None else stop_timeout + 60))

    def container_remove(self, name, timeout=None):
        """Remove a container (its volumes' data on the host's bind mounts stays)."""
        self.request('DELETE', '/containers/%s' % quote(name, safe=''), params={'force': 'true'},
                     expect=(204,), timeout=timeout)

    def container_restart(self, name, stop_timeout=120, timeout=None):
        """Restart a container, giving it ``stop_timeout`` seconds to shut down first."""
        self.request('POST', '/containers/%s/restart' % quote(name, safe=''), params={'t': int(stop_timeout)},
                     expect=(204,), timeout=(timeout if timeout is not None else stop_timeout + 60))

    def container_logs(self, name, tail=None, since=None, timestamps=False, tty=None, timeout=None,
                       limit=64 * 1024 * 1024):
        """Container output as text (stdout and stderr interleaved as written).

        ``tail`` is a line count (None = all), ``since`` a unix timestamp string or number;
        ``timestamps`` prefixes each line with the daemon's RFC3339Nano time.
        """
        params = {'stdout': '1', 'stderr': '1', 'timestamps': '1' if timestamps else '0'}
        if tail is not None:
            params['tail'] = str(int(tail))
        if since is not None:
            params['since'] = str(since)
        _status, data = self.request('GET', '/containers/%s/logs' % quote(name, safe=''), params=params,
                                     timeout=timeout)
        if len(data) > limit:
            data = data[-limit:]
            tty = True if tty is None else tty
        frames, _rest = decode_multiplexed(data, tty)
        return b''.join(chunk for _stream, chunk in frames).decode('utf-8', 'replace')

    def pull(self, ref, auth=None, tick=1.0, connect_timeout=None):
        """Stream ``POST /images/create``: yields decoded JSON objects, and None every ``tick``
        seconds without data so the caller can check for stalls and deadlines.

        ``auth`` is an X-Registry-Auth value (see registry_auth_header). An HTTP error or an
        ``{"error": ...}`` object in the stream raises PullError. Closing the generator
        closes the connection, which makes the daemon abandon the pull.
        """
        from_image, tag = pull_arguments(ref)
        headers = {'X-Registry-Auth': auth} if auth else {}
        response = self.open('POST', '/images/create', params={'fromImage': from_image, 'tag': tag},
                             headers=headers, timeout=connect_timeout)
        try:
            if response.status != 200:
                body = response.read_all(connect_timeout or self.timeout, limit=1024 * 1024)
                message = _error_message(body, response.status)
                raise PullError(message, response.status)
            decoder = JsonStreamDecoder()
            while True:
                data = response.read_some(tick)
                if data is None:
                    yield None
                    continue
                for obj in decoder.feed(data):
                    if isinstance(obj, dict) and obj.get('error'):
                        detail = obj.get('errorDetail') or {}
                        raise PullError(str(obj.get('error')), detail.get('code'))
                    yield obj
                if response.eof:
                    return
        finally:
            response.close()

    # -- exec and archives (the benchmark client) ----------------------------------------
    def exec_create(self, container, cmd, workdir=None, env=None, user=None, timeout=None):
        """Create an exec instance running ``cmd`` (an argv list, never a shell string) in the
        container, with stdout and stderr attached and no TTY. Returns the exec id."""
        if isinstance(cmd, (str, bytes)) or not cmd:
            raise ValueError('cmd must be a non-empty argument list')
        body = {'AttachStdin': False, 'AttachStdout': True, 'AttachStderr': True, 'Tty': False,
                'Cmd': [str(arg) for arg in cmd]}
        if workdir:
            body['WorkingDir'] = workdir
        if env:
            body['Env'] = ['%s=%s' % (k, v) for k, v in sorted(env.items())]
        if user:
            body['User'] = user
        data = self.request_json('POST', '/containers/%s/exec' % quote(container, safe=''), body=body, timeout=timeout)
        return data['Id']

    def exec_start(self, exec_id, tick=1.0, connect_timeout=None):
        """Start an exec instance and stream its output: yields (stream, bytes) frames (1 stdout,
        2 stderr), and None every ``tick`` seconds without data. Ends when the process has closed
        its output. Closing the generator closes the connection (the process keeps running)."""
        response = self.open('POST', '/exec/%s/start' % quote(exec_id, safe=''), body={'Detach': False, 'Tty': False},
                             timeout=connect_timeout)
        try:
            if response.status != 200:
                body = response.read_all(connect_timeout or self.timeout, limit=1024 * 1024)
                message = _error_message(body, response.status)
                if response.status == 404:
                    raise DockerNotFound(message, 404)
                raise DockerError(message, response.status)
            rest = b''
            while True:
                data = response.read_some(tick)
                if data is None:
                    yield None
                    continue
                if data:
                    frames, rest = decode_multiplexed(rest + data, tty=False)
                    yield from frames
                if response.eof:
                    return
        finally:
            response.close()

    def exec_inspect(self, exec_id, timeout=None):
        """{'Running': bool, 'ExitCode': int or None, 'Pid': int, ...}."""
        return self.request_json('GET', '/exec/%s/json' % quote(exec_id, safe=''), timeout=timeout)

    def get_archive(self, container, path, timeout=None):
        """A tar stream of ``path`` in the container (``docker cp`` out): returns a file-like
        object to read the tar from (close it when done), or None when the path does not exist."""
        response = self.open('GET', '/containers/%s/archive' % quote(container, safe=''), params={'path': path},
                             timeout=timeout)
        if response.status != 200:
            try:
                body = response.read_all(timeout or self.timeout, limit=1024 * 1024)
            finally:
                response.close()
            if response.status == 404:
                return None
            raise DockerError(_error_message(body, response.status), response.status)
        return ResponseReader(response, timeout or self.timeout)

    def put_archive(self, container, path, data, timeout=None):
        """Extract the tar ``data`` (bytes) into the directory ``path`` of the container (``docker cp`` in)."""
        self.request('PUT', '/containers/%s/archive' % quote(container, safe=''), params={'path': path}, body=data,
                     headers={'Content-Type': 'application/x-tar'}, timeout=timeout)
