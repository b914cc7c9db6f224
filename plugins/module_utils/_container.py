# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WAA container's create, keep, replace or refuse decision, with the project's own Docker
client (stdlib only, as the pull and the probe): no docker SDK, no requests on the VM.

The spec is the container role's ``waa_container_spec`` (image, command, devices, capabilities,
published_ports, env, volumes, stop_timeout, restart_policy). A running container is never
recreated behind the user's back: one that differs from the spec is kept, and the differences are
named (environment variables by name only, their values may be secrets).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerError

CONFIG_LABEL = 'openadapt.waa.config'
MANAGED_LABEL = 'openadapt.waa.managed'
RUNNING = ('running', 'restarting', 'paused')
REPLACED = ('exited', 'dead', 'created')


def _port(binding):
    """'127.0.0.1:5000:5000' -> ('5000/tcp', '127.0.0.1', '5000')."""
    parts = str(binding).rsplit(':', 2)
    if len(parts) != 3:
        raise ValueError('published port %r must be ADDRESS:HOST_PORT:CONTAINER_PORT' % (binding,))
    address, host_port, container_port = parts
    return '%s/tcp' % container_port, address, host_port


def _device(text):
    host, _sep, inside = str(text).partition(':')
    return {'PathOnHost': host, 'PathInContainer': inside or host, 'CgroupPermissions': 'rwm'}


def _env_list(env):
    return ['%s=%s' % (k, env[k]) for k in sorted(env)]


def create_body(spec, config_hash):
    """The Engine API's create body for the spec, labelled with the configuration's hash."""
    ports = [_port(p) for p in spec['published_ports']]
    return {
        'Image': spec['image'],
        'Cmd': list(spec['command']),
        'Env': _env_list(spec['env']),
        'Labels': {MANAGED_LABEL: 'true', CONFIG_LABEL: config_hash},
        'ExposedPorts': dict((key, {}) for key, _a, _h in ports),
        'StopTimeout': int(spec['stop_timeout']),
        'HostConfig': {
            'PortBindings': dict((key, [{'HostIp': address, 'HostPort': host}]) for key, address, host in ports),
            'Binds': list(spec['volumes']),
            'Devices': [_device(d) for d in spec['devices']],
            'CapAdd': list(spec['capabilities']),
            'RestartPolicy': {'Name': spec['restart_policy'] or 'no'},
        },
    }


def _short(value):
    text = ', '.join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= 120 else text[:117] + '...'


def differences(spec, info, image_id):
    """What differs between the existing container (its inspect data) and the spec, in words.

    Only what the spec sets is compared: the image's own environment (PATH, ...) is not a difference.
    """
    config, host = info.get('Config') or {}, info.get('HostConfig') or {}
    out = []
    if image_id and info.get('Image') != image_id:
        out.append('image %s differs from the one it runs' % spec['image'])
    if list(config.get('Cmd') or []) != list(spec['command']):
        out.append('command %s instead of %s' % (_short(spec['command']), _short(config.get('Cmd') or [])))
    have = dict(str(item).partition('=')[::2] for item in config.get('Env') or [])
    changed = sorted(k for k, v in spec['env'].items() if have.get(k) != str(v))
    if changed:
        out.append('environment %s' % ', '.join(changed))
    wanted_ports = sorted('%s:%s:%s' % (a, h, k.split('/')[0]) for k, a, h in (_port(p) for p in spec['published_ports']))
    have_ports = sorted('%s:%s:%s' % (b.get('HostIp') or '0.0.0.0', b.get('HostPort'), k.split('/')[0])
                        for k, binds in (host.get('PortBindings') or {}).items() for b in binds or [])
    if wanted_ports != have_ports:
        out.append('published_ports %s instead of %s' % (_short(wanted_ports), _short(have_ports)))
    if sorted(spec['volumes']) != sorted(host.get('Binds') or []):
        out.append('volumes %s instead of %s' % (_short(sorted(spec['volumes'])), _short(sorted(host.get('Binds') or []))))
    wanted_devices = sorted('%s:%s' % (d['PathOnHost'], d['PathInContainer']) for d in (_device(x) for x in spec['devices']))
    have_devices = sorted('%s:%s' % (d.get('PathOnHost'), d.get('PathInContainer')) for d in host.get('Devices') or [])
    if wanted_devices != have_devices:
        out.append('devices %s instead of %s' % (_short(wanted_devices), _short(have_devices)))
    have_caps = sorted(str(c).upper().replace('CAP_', '') for c in host.get('CapAdd') or [])
    if sorted(c.upper() for c in spec['capabilities']) != have_caps:
        out.append('capabilities %s instead of %s' % (_short(spec['capabilities']), _short(host.get('CapAdd') or [])))
    policy = (host.get('RestartPolicy') or {}).get('Name') or 'no'
    if (spec['restart_policy'] or 'no') != policy:
        out.append('restart_policy %s instead of %s' % (spec['restart_policy'], policy))
    if config.get('StopTimeout') is not None and int(config['StopTimeout']) != int(spec['stop_timeout']):
        out.append('stop_timeout %s instead of %s' % (spec['stop_timeout'], config['StopTimeout']))
    return out


def running_clients(engine, info):
    """The benchmark clients (``run.py`` exec sessions) running in the container: [{'exec_id', 'pid', 'command'}]."""
    clients = []
    for exec_id in info.get('ExecIDs') or []:
        try:
            state = engine.exec_inspect(exec_id, timeout=10)
        except DockerError:
            continue
        config = state.get('ProcessConfig') or {}
        words = [str(config.get('entrypoint') or '')] + [str(a) for a in config.get('arguments') or []]
        if state.get('Running') and 'run.py' in words:
            clients.append({'exec_id': exec_id[:12], 'pid': state.get('Pid'), 'command': ' '.join(words)[:300]})
    return clients


class Converger(object):
    """Create the container, keep it, replace a stopped one, or refuse to recreate a running one that
    differs. ``run()`` returns the module's result; ``refused`` and ``failed`` say how it ended."""

    def __init__(self, engine, name, spec, config_hash, image_id, rebuild=False, stop_timeout=120, check_mode=False):
        self.engine, self.name, self.spec = engine, name, spec
        self.config_hash, self.image_id = config_hash, image_id
        self.rebuild, self.stop_timeout, self.check_mode = rebuild, stop_timeout, check_mode

    def _result(self, action, info, **extra):
        result = dict(changed=action in ('created', 'replaced'), action=action, removed=None, differences=[],
                      container=info or {}, id=(info or {}).get('Id') or '')
        result.update(extra)
        return result

    def _remove(self, status):
        if status in RUNNING:
            # Windows gets its ACPI shutdown: the stop waits up to the stop timeout.
            self.engine.container_stop(self.name, stop_timeout=self.stop_timeout)
        self.engine.container_remove(self.name, timeout=60)

    def run(self):
        info = self.engine.container_inspect(self.name, timeout=30)
        status = ((info or {}).get('State') or {}).get('Status') or ''
        removed = None
        if info is not None and self.rebuild and status in RUNNING:
            # A rebuild never stops a benchmark: the client's run would lose its agent mid-task.
            clients = running_clients(self.engine, info)
            if clients:
                return self._result('refused', info, clients=clients, refused=True)
        if info is not None and (self.rebuild or status in REPLACED):
            removed = 'rebuild requested' if self.rebuild else 'status %s' % status
            if not self.check_mode:
                self._remove(status)
            info = None
        elif info is not None:
            found = differences(self.spec, info, self.image_id)
            if found:
                return self._result('refused', info, differences=found, refused=True)
            return self._result('kept', info)
        if self.check_mode:
            return self._result('replaced' if removed else 'created', None, removed=removed)
        new_id = self.engine.container_create(self.name, create_body(self.spec, self.config_hash), timeout=60)
        self.engine.container_start(new_id or self.name, timeout=60)
        info = self.engine.container_inspect(self.name, timeout=30)
        return self._result('replaced' if removed else 'created', info, removed=removed)


def converge(engine, name, spec, config_hash, image_id, rebuild=False, stop_timeout=120, check_mode=False):
    """Converger(...).run(), DockerError passed on."""
    return Converger(engine, name, spec, config_hash, image_id, rebuild, stop_timeout, check_mode).run()


def restart_wanted(layers, boot):
    """Whether ``container_start`` restarts a running container whose layers (container, windows_boot,
    waa_server; dicts of LayerResult) and boot stages are these: only when it runs, has booted (or hit a
    fatal boot error) and its WAA server does not answer. One still booting is left to finish; one
    stopped is started, not restarted. Returns (bool, reason)."""
    by_layer = dict((layer.get('layer'), layer) for layer in layers)
    if not (by_layer.get('container') or {}).get('healthy'):
        return False, 'the container is not running'
    if len(layers) == 3 and all(layer.get('healthy') for layer in layers):
        return False, 'the WAA server answers'
    failed = next((layer for layer in layers if not layer.get('healthy')), {})
    if failed.get('layer') == 'windows_boot' and failed.get('fatal'):
        return True, 'Windows failed to boot: %s' % failed.get('message', '')
    if 'server_ready' in boot or 'windows_started' in boot:
        return True, 'Windows booted but the WAA server does not answer: %s' % failed.get('message', '')
    return False, 'Windows is still booting'
