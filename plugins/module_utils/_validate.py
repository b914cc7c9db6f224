# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input validators shared by the modules (on the VM) and the CLI (on the controller).

Pure functions, standard library only, importable without Ansible. Each raises ValueError
with a message that says what is wrong and how to write it instead.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

DEFAULT_REGISTRY = 'docker.io'
# Hostnames Docker treats as Docker Hub.
HUB_ALIASES = ('docker.io', 'index.docker.io', 'registry-1.docker.io')

# The grammar of github.com/distribution/reference (reference/regexp.go).
_ALNUM = r'[a-z0-9]+'
_SEPARATOR = r'(?:[._]|__|[-]+)'
_PATH_COMPONENT = _ALNUM + r'(?:' + _SEPARATOR + _ALNUM + r')*'
_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_IPV6 = r'\[(?:[a-fA-F0-9:]+)\]'
_DOMAIN_NAME = _DOMAIN_COMPONENT + r'(?:\.' + _DOMAIN_COMPONENT + r')*'
_HOST = r'(?:' + _DOMAIN_NAME + r'|' + _IPV6 + r')'
_DOMAIN = _HOST + r'(?::[0-9]+)?'
_TAG = r'[\w][\w.-]{0,127}'
_DIGEST = r'[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'

_RE_DOMAIN = re.compile(r'^' + _DOMAIN + r'\Z')
_RE_PATH = re.compile(r'^' + _PATH_COMPONENT + r'(?:/' + _PATH_COMPONENT + r')*\Z')
_RE_TAG = re.compile(r'^' + _TAG + r'\Z')
_RE_DIGEST = re.compile(r'^' + _DIGEST + r'\Z')
_RE_CONTAINER = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z')
_RE_PORT = re.compile(r'^[0-9]{1,5}\Z')

NAME_TOTAL_LENGTH_MAX = 255
CONTAINER_NAME_MAX = 128


def _printable(value):
    # Echo bad input back in messages without letting it break lines or hide characters.
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + '...'


def split_image_reference(ref):
    """Split and validate an image reference.

    Returns a dict with ``registry`` (None when the reference names none), ``path``,
    ``tag`` (None when absent), ``digest`` (None when absent).
    """
    if not isinstance(ref, str) or not ref:
        raise ValueError('The image reference is empty: give it as [registry[:port]/]path[:tag][@digest], '
                         'e.g. windowsarena/winarena:latest.')
    if ref != ref.strip() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in ref):
        raise ValueError('The image reference %s contains whitespace or control characters: '
                         'write it as [registry[:port]/]path[:tag][@digest].' % _printable(ref))
    rest = ref
    digest = None
    if '@' in rest:
        rest, digest = rest.split('@', 1)
        if not _RE_DIGEST.match(digest):
            raise ValueError('The digest of the image reference %s is invalid: it must look like '
                             'sha256:<64 hex digits>.' % _printable(ref))
    tag = None
    last_slash = rest.rfind('/')
    colon = rest.rfind(':')
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _RE_TAG.match(tag):
            raise ValueError('The tag of the image reference %s is invalid: write it with 1-128 characters '
                             'from [A-Za-z0-9_.-], not starting with "." or "-", e.g. latest.' % _printable(ref))
    registry = None
    path = rest
    first, sep, remainder = rest.partition('/')
    # Docker's rule: the first component is a registry when it has a '.' or ':' or is 'localhost'.
    # (Newer Docker also takes upper-case components as registries, Docker 20.10 does not: reject them.)
    if sep and ('.' in first or ':' in first or first == 'localhost'):
        registry, path = first, remainder
        if not _RE_DOMAIN.match(registry):
            raise ValueError('The registry part %s of the image reference %s is invalid: write it as '
                             'host[:port], e.g. myacr.azurecr.io or 127.0.0.1:5000.'
                             % (_printable(registry), _printable(ref)))
    if not path or not _RE_PATH.match(path):
        raise ValueError('The repository path of the image reference %s is invalid: use lower-case '
                         'components of [a-z0-9] joined by "/", with ".", "_", "__" or "-" inside '
                         'components, e.g. windowsarena/winarena:latest.' % _printable(ref))
    name_len = len(path) + (len(registry) + 1 if registry else 0)
    if name_len > NAME_TOTAL_LENGTH_MAX:
        raise ValueError('The repository name of the image reference %s is longer than %d characters.'
                         % (_printable(ref), NAME_TOTAL_LENGTH_MAX))
    return {'registry': registry, 'path': path, 'tag': tag, 'digest': digest}


def validate_image_reference(ref):
    """Validate an image reference and return it unchanged."""
    split_image_reference(ref)
    return ref


def repo_digest(inspect, ref):
    """The RepoDigests entry matching the repository of ``ref``, as 'sha256:...'."""
    if not inspect:
        return None
    parts = split_image_reference(ref)
    repo = parts['path'] if parts['registry'] is None else parts['registry'] + '/' + parts['path']
    candidates = [repo, 'docker.io/' + repo, 'docker.io/library/' + repo, 'library/' + repo]
    digests = inspect.get('RepoDigests') or []
    for entry in digests:
        name, _sep, digest = entry.partition('@')
        if name in candidates:
            return digest
    return None


def image_registry(ref):
    """Return the registry host[:port] an image reference pulls from (docker.io for Docker Hub)."""
    registry = split_image_reference(ref)['registry']
    if registry is None or registry in HUB_ALIASES:
        return DEFAULT_REGISTRY
    return registry


def image_without_registry(ref):
    """Return path[:tag][@digest] of a reference, without its registry."""
    parts = split_image_reference(ref)
    text = parts['path']
    if parts['tag']:
        text += ':' + parts['tag']
    if parts['digest']:
        text += '@' + parts['digest']
    return text


def pull_arguments(ref):
    """Return (fromImage, tag) for the Engine API's POST /images/create.

    A digest goes into ``tag`` as the API expects; without tag or digest, 'latest' is used.
    """
    parts = split_image_reference(ref)
    name = parts['path'] if parts['registry'] is None else parts['registry'] + '/' + parts['path']
    if parts['digest']:
        return name, parts['digest']
    return name, parts['tag'] or 'latest'


def fallback_reference(ref, fallback_registry):
    """The same image on another registry: ``<fallback_registry>/<path>[:tag][@digest]``.

    windowsarena/winarena:latest -> myacr.azurecr.io/windowsarena/winarena:latest;
    127.0.0.1:5001/windowsarena/winarena:latest -> 127.0.0.1:5002/windowsarena/winarena:latest.
    """
    registry = validate_registry(fallback_registry)
    return validate_image_reference(registry + '/' + image_without_registry(ref))


def validate_registry(value):
    """Validate a registry as host[:port] (no scheme, no path) and return it."""
    if not isinstance(value, str) or not value:
        raise ValueError('The registry is empty: give it as host[:port], e.g. myacr.azurecr.io.')
    if '://' in value:
        raise ValueError('The registry %s must not have a scheme: give it as host[:port], '
                         'e.g. myacr.azurecr.io (not https://myacr.azurecr.io).' % _printable(value))
    if not _RE_DOMAIN.match(value):
        raise ValueError('The registry %s is invalid: give it as host[:port] without a path, '
                         'e.g. myacr.azurecr.io or 127.0.0.1:5002.' % _printable(value))
    port = value.rsplit(':', 1)[1] if ':' in value and not value.endswith(']') else None
    if port is not None and (not _RE_PORT.match(port) or not 0 < int(port) < 65536):
        raise ValueError('The port of the registry %s must be between 1 and 65535.' % _printable(value))
    return value


def validate_container_name(value):
    """Validate a Docker container name and return it."""
    if not isinstance(value, str) or not value:
        raise ValueError('The container name is empty: use letters, digits, "_", "." and "-", '
                         'starting with a letter or digit, e.g. winarena.')
    if len(value) > CONTAINER_NAME_MAX or not _RE_CONTAINER.match(value):
        raise ValueError('The container name %s is invalid: use up to %d characters from '
                         '[a-zA-Z0-9_.-], starting with a letter or digit, e.g. winarena.'
                         % (_printable(value), CONTAINER_NAME_MAX))
    return value


# WAA's task references: a domain (an app name such as notepad, vs_code, libreoffice_calc) and
# a UUID-like example id, often with a suffix ("...-WOS"). They name directories of the results
# layout on the VM and the controller, and they come from the client's output, which echoes task
# lists and model output: anything else is refused, never joined into a path.
TASK_DOMAIN_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z')
TASK_ID_RE = re.compile(r'^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}'
                        r'(?:-[A-Za-z0-9]{1,16})?\Z')


def valid_task_ref(domain, task_id):
    """True when ``domain``/``task_id`` have WAA's shape (safe as path components)."""
    return bool(isinstance(domain, str) and TASK_DOMAIN_RE.match(domain) and isinstance(task_id, str)
                and TASK_ID_RE.match(task_id))


def validate_task_ref(value):
    """Validate '<domain>/<example id>' (e.g. notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS) and return it."""
    domain, _sep, task_id = str(value).partition('/')
    if not valid_task_ref(domain, task_id):
        raise ValueError('The task %s is not <domain>/<example id>: a domain such as notepad and a WAA example id '
                         'such as aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS.' % _printable(value))
    return value


# The container's own directories that cleaning results must never empty.
PROTECTED_CONTAINER_DIRS = ('/', '/storage', '/client', '/oem', '/bin', '/boot', '/dev', '/etc', '/home', '/lib',
                            '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var')
DEFAULT_RESULT_DIR = '/client/results'


def validate_cleanable_result_dir(value, mounts=()):
    """A result directory in the container that may be emptied: a directory under /client/results,
    or another path that is none of the container's system directories and neither is, holds nor
    lies in one of its mounts (``mounts``: mount destinations, e.g. /storage). Returns the path."""
    validate_abs_path(value, 'result directory')
    norm = '/' + '/'.join(part for part in value.split('/') if part and part != '.')
    if norm == DEFAULT_RESULT_DIR or norm.startswith(DEFAULT_RESULT_DIR + '/'):
        return norm
    if norm in PROTECTED_CONTAINER_DIRS:
        raise ValueError('Refusing to clean %s: it is a directory of the container itself. Clean only a results '
                         'directory such as %s.' % (norm, DEFAULT_RESULT_DIR))
    for mount in mounts:
        mount = '/' + mount.strip('/')
        if norm == mount or norm.startswith(mount + '/') or mount.startswith(norm.rstrip('/') + '/'):
            raise ValueError('Refusing to clean %s: it is, holds or lies in the mount %s of the container '
                             '(Windows\' disk or host data). Clean only a results directory such as %s.'
                             % (norm, mount, DEFAULT_RESULT_DIR))
    return norm


# Host directories a storage path must not be: the container role creates the storage directory
# and Docker mounts it into the container as /storage, where Windows' disk image lives.
SYSTEM_DIRS = ('/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc',
               '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/tmp', '/var/log',
               '/usr/local', '/var/lib/docker')
_RE_RAM_SIZE = re.compile(r'^[1-9][0-9]{0,4}G?\Z', re.IGNORECASE)


def _validate_own_host_dir(value, what, needs, example):
    """An absolute host directory that is none of the system directories and no home directory."""
    validate_abs_path(value, what)
    norm = '/' + '/'.join(part for part in value.split('/') if part and part != '.')
    parts = norm.strip('/').split('/')
    if norm in SYSTEM_DIRS or (len(parts) == 2 and parts[0] == 'home'):
        raise ValueError('The %s %s is a system or home directory: %s a directory of its own, e.g. %s.'
                         % (what, _printable(value), needs, example))
    return norm


def validate_storage_path(value):
    """Validate the host directory for Windows' disk (mounted as /storage)."""
    return _validate_own_host_dir(value, 'storage path', "Windows' disk needs", '/var/lib/openadapt-waa/storage')


def validate_results_path(value):
    """Validate the host directory for the benchmark's results (mounted as /client/results)."""
    return _validate_own_host_dir(value, 'results path', 'the results need', '/var/lib/openadapt-waa/client-results/winarena')


def validate_results_dest(value):
    """Validate the VM directory the benchmark's results are copied to (waa_benchmark_results_dest)."""
    return _validate_own_host_dir(value, 'results destination', 'the results need',
                                  '/var/lib/openadapt-waa/results')


# The file that marks a results directory the tool itself created: only such a directory is ever
# emptied (--clean-results), whatever a variable names.
RESULTS_MARK = '.openadapt-waa-results'


_RE_SHA256 = re.compile(r'^[0-9a-fA-F]{64}\Z')


def validate_sha256(value):
    """A SHA-256 in hex (64 digits); returned in lower case."""
    if not _RE_SHA256.match(str(value)):
        raise ValueError('%s is not a SHA-256: give its 64 hexadecimal digits (sha256sum prints them).'
                         % _printable(value))
    return str(value).lower()


def validate_download_url(value):
    """An http(s) URL the VM downloads from: a host, no spaces or control characters."""
    text = str(value)
    match = re.match(r'^(https?)://([^/?#\s]+)([^\s]*)\Z', text)
    if not match or len(text) > 4096 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError('%s is not an http(s) URL: give one such as https://example.com/win11.iso (a SAS URL '
                         'works).' % _printable(value))
    return text


def validate_ram_size(value):
    """Validate RAM_SIZE: a whole number of GB such as 8G, or auto (sized from the VM)."""
    if str(value).lower() == 'auto':
        return 'auto'
    if not _RE_RAM_SIZE.match(str(value)):
        raise ValueError('The RAM size %s is not a size: give a whole number of GB such as 8G, or auto.'
                         % _printable(value))
    return str(value).upper() if str(value).upper().endswith('G') else '%sG' % value


# Jinja's markers: a value that holds one could be rendered as a template by Ansible somewhere on
# its way (extra vars, set_fact); input never needs them.
TEMPLATE_MARKERS = ('{{', '{%', '{#')


def template_marker(value):
    """The first template marker in ``value`` (a string), or None."""
    if not isinstance(value, str):
        return None
    for marker in TEMPLATE_MARKERS:
        if marker in value:
            return marker
    return None


def refuse_template(value, what):
    """Raise ValueError when ``value`` holds a template marker; return it otherwise."""
    marker = template_marker(value)
    if marker:
        raise ValueError('The %s %s contains the template marker %s: give the value itself; openadapt.waa '
                         'never evaluates templates in its input.' % (what, _printable(value), marker))
    return value


# A model or agent name: one word (it names a directory of WAA's results layout, and is an argv
# word of the client), e.g. gpt-4o-mini, navi, claude-3.5:latest.
_RE_PLAIN_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}\Z')


def parse_shard(value):
    """A host's share of a fleet's tasks, "INDEX/COUNT" (0 <= INDEX < COUNT): {'index', 'count'}."""
    match = re.match(r'^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*\Z', str(value))
    if not match or int(match.group(1)) >= int(match.group(2)):
        raise ValueError('%s is not a shard: give INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 2/8 for the third of '
                         'eight hosts.' % _printable(value))
    return {'index': int(match.group(1)), 'count': int(match.group(2))}


def validate_plain_name(value, what='name'):
    """Validate a model or agent name: letters, digits and _ . : + - (no "/", no spaces), and return it."""
    if isinstance(value, str) and _RE_PLAIN_NAME.match(value) and value not in ('.', '..'):
        return value
    raise ValueError('The %s %s is not valid: use up to 128 letters, digits and "_", ".", ":", "+", "-", starting '
                     'with a letter or digit (no "/" or spaces: it names a results directory), e.g. gpt-4o-mini.'
                     % (what, _printable(value)))


def validate_abs_path(value, what='path'):
    """Validate an absolute path without '..' components, newlines, NUL or template markers, and return it."""
    if not isinstance(value, str) or not value:
        raise ValueError('The %s is empty: give an absolute path such as /tmp/waa_progress.json.' % what)
    refuse_template(value, what)
    if '\x00' in value or '\n' in value or '\r' in value:
        raise ValueError('The %s %s contains a newline or NUL character: give a plain absolute path.'
                         % (what, _printable(value)))
    if not value.startswith('/'):
        raise ValueError('The %s %s is not absolute: give a path starting with "/".' % (what, _printable(value)))
    if '..' in value.split('/'):
        raise ValueError('The %s %s contains "..": give the path without parent references.'
                         % (what, _printable(value)))
    return value


_RE_HOSTNAME = re.compile(r'^' + _DOMAIN_NAME + r'\Z')
_RE_USER = re.compile(r'^[a-z_][a-z0-9_.-]{0,31}\Z', re.IGNORECASE)
_RE_IPV4 = re.compile(r'^(?:[0-9]{1,3}\.){3}[0-9]{1,3}\Z')
# Ansible host patterns: names, globs, groups and the :, &, ! operators; nothing a shell or a
# Jinja template would act on.
_RE_HOST_PATTERN = re.compile(r'^[A-Za-z0-9_.:*?,&!\[\]-]+\Z')


def validate_host(value):
    """Validate a host name or an IPv4/IPv6 address and return it."""
    if not isinstance(value, str) or not value:
        raise ValueError('The host is empty: give the VM\'s host name or IP address, e.g. 20.1.2.3.')
    if value.startswith('[') and value.endswith(']'):
        value_inner = value[1:-1]
    else:
        value_inner = value
    if _RE_IPV4.match(value_inner):
        if all(0 <= int(part) <= 255 for part in value_inner.split('.')):
            return value
    elif ':' in value_inner and re.match(r'^[0-9a-fA-F:]+\Z', value_inner):
        return value
    elif len(value_inner) <= 253 and _RE_HOSTNAME.match(value_inner):
        return value
    raise ValueError('The host %s is invalid: give a host name (letters, digits, "-" and ".") or an IP '
                     'address, e.g. waa-vm-1.example.com or 20.1.2.3.' % _printable(value))


def validate_publish_address(value):
    """Validate the address ports are published on: an IPv4 address (127.0.0.1, 0.0.0.0, ...)."""
    if isinstance(value, str) and _RE_IPV4.match(value) and all(0 <= int(p) <= 255 for p in value.split('.')):
        return value
    raise ValueError('The publish address %s is invalid: give an IPv4 address of the VM, e.g. 127.0.0.1 '
                     '(the default, reachable through an SSH tunnel).' % _printable(value))


def validate_user(value):
    """Validate a POSIX user name (the SSH user) and return it."""
    if isinstance(value, str) and _RE_USER.match(value):
        return value
    raise ValueError('The user %s is invalid: use a POSIX user name such as azureuser.' % _printable(value))


def validate_host_pattern(value):
    """Validate an Ansible host pattern (for --limit) and return it."""
    if isinstance(value, str) and value and _RE_HOST_PATTERN.match(value):
        return value
    raise ValueError('The host pattern %s is invalid: use inventory host or group names, globs (*) and the '
                     ':, &, ! operators, e.g. waa_vms:!waa-vm-2.' % _printable(value))
