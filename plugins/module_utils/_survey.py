# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of a run's first round trip (waa_survey), as plain functions with unit tests:
the pre-flight checks, the image found, and whether the host is already what this run asks for.

A host is *ready as asked* when every health layer is healthy and the running container is the
one this run would create: its configuration label equals this run's configuration hash and it
runs the image the tag names now. Then phases 1-6 have nothing to do, and the run reports what it
found instead of asking the VM again.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerError
from ansible_collections.openadapt.waa.plugins.module_utils._phases import LAYERS
from ansible_collections.openadapt.waa.plugins.module_utils._validate import image_registry, repo_digest

FOUND = ' (found at the start of this run)'
KVM_CHECK = 'Nested virtualization (KVM usable)'


def parse_gb(text):
    """'8G', '8 GB', '8' -> 8.0 (the container's RAM_SIZE is in GB); None when it is not a size."""
    match = re.match(r'^\s*(\d+(?:\.\d+)?)\s*(?:[gG][bB]?)?\s*$', str(text))
    return float(match.group(1)) if match else None


def _gb(value):
    return '%.1f' % round(value, 1)


def resource_checks(resources, required_disk_gb, ram_size, cpu_cores, data_root, ssh_host):
    """Disk space at Docker's data root, memory for RAM_SIZE, cores for CPU_CORES: a check each
    ({name, ok, message}), worded as the user reads them."""
    free = int(resources['free_bytes'])
    mem_gb = round(int(resources['mem_mb']) / 1024.0, 1)
    cores = int(resources['cores'])
    ram_gb = parse_gb(ram_size)
    checks = [{
        'name': 'Disk space', 'ok': free >= required_disk_gb * 1e9,
        'message': '%s GB free at %s (need %s GB)' % (_gb(free / 1e9), resources['path'], _number(required_disk_gb)),
        'fail': ("Only %s GB free at %s (Docker's data root %s), need %s GB. Free space with: ssh %s "
                 "'docker system prune -a', or grow the disk." % (_gb(free / 1e9), resources['path'], data_root,
                                                                  _number(required_disk_gb), ssh_host)),
    }, {
        'name': 'Memory for RAM_SIZE', 'ok': ram_gb is not None and mem_gb >= ram_gb,
        'message': '%s GB memory (RAM_SIZE %s)' % (_gb(mem_gb), ram_size),
        'fail': ("RAM_SIZE %s is more than the VM's %s GB of memory: Windows would not start. Set waa_ram_size lower "
                 "(e.g. %dG) or use a bigger VM size." % (ram_size, _gb(mem_gb), max(int(mem_gb * 0.75), 1))),
    }, {
        'name': 'CPU cores for CPU_CORES', 'ok': cores >= int(cpu_cores),
        'message': '%d cores (CPU_CORES %s)' % (cores, cpu_cores),
        'fail': ("CPU_CORES %s is more than the VM's %d cores. Set waa_cpu_cores to %d or use a bigger VM size."
                 % (cpu_cores, cores, cores)),
    }]
    for check in checks:
        if not check['ok']:
            check['message'] = check['fail']
        del check['fail']
    return checks


# WAA's own defaults (its run.sh): more does not help Windows, and a smaller VM gets what it has.
MAX_RAM_GB, MAX_CORES = 8, 8


def sizing(resources, ram_size, cpu_cores):
    """RAM_SIZE and CPU_CORES with 'auto' resolved from the VM: its cores and its memory less 2 GB for the
    host (dockur refuses a RAM_SIZE within 0.5 GB of the memory available), capped at WAA's 8G and 8."""
    if str(ram_size).lower() == 'auto':
        ram_size = '%dG' % max(2, min(MAX_RAM_GB, int(int(resources['mem_mb']) / 1024.0 - 2)))
    if str(cpu_cores).lower() == 'auto':
        cpu_cores = max(1, min(MAX_CORES, int(resources['cores'])))
    return {'ram_size': str(ram_size), 'cpu_cores': int(cpu_cores)}


def resolve_spec(spec, size):
    """The container spec with an 'auto' RAM_SIZE or CPU_CORES replaced by the VM's sizing."""
    env = dict(spec.get('env') or {})
    for key, value in (('RAM_SIZE', size['ram_size']), ('CPU_CORES', size['cpu_cores'])):
        if str(env.get(key, '')).lower() == 'auto':
            env[key] = str(value)
    return dict(spec, env=env)


def config_hash(spec):
    """The container's configuration label: what roles/common/defaults computes in Jinja as
    ``waa_container_spec | to_json(sort_keys=true) | hash('sha256')``."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode('utf-8')).hexdigest()


def _number(value):
    return ('%d' % value) if float(value).is_integer() else ('%s' % value)


def preflight(host, host_error, required_disk_gb, ram_size, cpu_cores, data_root, ssh_host, windows=None):
    """The pre-flight phase's checks in order, stopping at the first failure: {ok, checks, msg, fix, failed_check}.
    ``windows`` is the golden disk's check (_golden.windows_check), last."""
    checks = []
    if host_error:
        return {'ok': False, 'checks': [], 'msg': host_error, 'fix': 'Check that the path exists on the VM.',
                'failed_check': 'Read memory, cores and disk space'}
    kvm = host['kvm']
    if kvm.get('checked'):
        checks.append({'name': KVM_CHECK, 'ok': bool(kvm.get('usable')), 'message': host['msg'], 'fix': host['fix']})
    if all(c['ok'] for c in checks):
        checks.extend(resource_checks(host['resources'], required_disk_gb, ram_size, cpu_cores, data_root, ssh_host))
    if windows is not None and all(c['ok'] for c in checks):
        checks.append(windows)
    bad = next((c for c in checks if not c['ok']), None)
    if bad is not None:
        checks = checks[:checks.index(bad) + 1]
    return {'ok': bad is None, 'checks': checks, 'msg': bad['message'] if bad else 'Pre-flight checks passed',
            'fix': (bad.get('fix') or '') if bad else '', 'failed_check': bad['name'] if bad else None}


def image_state(engine, ref, timeout=30):
    """The image as the pull's check would find it: present or not, its id, digest, size and registry."""
    state = {'checked': False, 'present': False, 'image': ref, 'image_id': None, 'digest': None,
             'image_size_bytes': None, 'source': None, 'msg': None}
    if not ref:
        return state
    try:
        state['source'] = image_registry(ref)
        found = engine.image_inspect(ref, timeout=timeout)
    except (DockerError, ValueError):
        return state
    state['checked'] = True
    if found is not None:
        state.update(present=True, image_id=found.get('Id'), digest=repo_digest(found, ref),
                     image_size_bytes=found.get('Size'), msg='%s is already present; nothing pulled.' % ref)
    return state


def read_persisted(path):
    """The container id the last successful setup recorded on the VM ('' when none)."""
    if not path:
        return ''
    try:
        with open(path) as handle:
            return handle.read(200).strip()
    except (IOError, OSError, UnicodeDecodeError):
        return ''


def readiness(preflight_result, layers, image, expect):
    """(ready, reason): whether phases 1-6 have nothing to do for this run."""
    by_layer = dict((layer['layer'], layer) for layer in layers)
    container = (by_layer.get('container') or {}).get('details') or {}
    if expect.get('rebuild'):
        return False, 'a rebuild was asked for'
    if expect.get('force_pull'):
        return False, 'a pull was asked for (force)'
    if not preflight_result['ok']:
        return False, 'a pre-flight check failed'
    unhealthy = [name for name in LAYERS if not (by_layer.get(name) or {}).get('healthy')]
    if unhealthy:
        return False, 'layer %s is not healthy' % unhealthy[0]
    if not image.get('present'):
        return False, 'the image is not present'
    if not expect.get('config_hash') or container.get('config_hash') != expect['config_hash']:
        return False, "the container's configuration label differs from this run's"
    if not container.get('image_id') or container['image_id'] != image.get('image_id'):
        return False, 'the container runs another image than %s names now' % image.get('image')
    return True, 'every layer healthy and the container is the one this run asks for'


def found_ready(layers, image, container_name):
    """What phases 2-6 report on a ready host, phase by phase: [{phase, checks: [{name, message}]}]."""
    by_layer = dict((layer['layer'], layer) for layer in layers)
    container = by_layer['container']['details']
    return [
        {'phase': 'docker', 'checks': [{'name': 'Docker daemon running', 'message': 'answering'}]},
        {'phase': 'image', 'checks': [{'name': 'Image pull', 'message': image['msg']}]},
        {'phase': 'container', 'checks': [{
            'name': 'Container %s' % container_name,
            'message': 'already running with the same configuration (ID: %s)%s' % (container['id'], FOUND)}]},
        {'phase': 'windows_boot', 'checks': [{'name': 'Windows booted',
                                              'message': by_layer['windows_boot']['message'] + FOUND}]},
        {'phase': 'waa_server', 'checks': [{'name': 'WAA server ready', 'message': by_layer['waa_server']['message'] + FOUND}]},
        {'phase': 'accessibility', 'checks': [{'name': 'Accessibility tree available',
                                               'message': by_layer['accessibility']['message'] + FOUND}]},
    ]


def known_healthy(health_now, layers):
    """What the run already knows of ``layers`` (roles/common/tasks/wait.yml): {done, message}; done when
    the survey found each of them healthy and nothing changed the container since (the container phase
    clears what it invalidates), with the deepest layer's message as found then."""
    health_now = health_now or {}
    layers = list(layers or [])
    done = bool(layers) and all((health_now.get(name) or {}).get('healthy') for name in layers)
    return {'done': done, 'message': (health_now[layers[-1]].get('message') or '') + FOUND if done else ''}


def container_as_asked(health_now, config_hash, image_result, rebuild):
    """Whether the running container the survey saw is the one this run asks for (the container phase then
    has nothing to do): not a rebuild, running, labelled with this run's configuration hash, and running
    the image the tag names now (which this run's pull did not change)."""
    seen = ((health_now or {}).get('container') or {}).get('details') or {}
    image_result = image_result or {}
    return bool(not rebuild and seen.get('status') == 'running' and not image_result.get('changed')
                and config_hash and seen.get('config_hash') == config_hash and seen.get('full_id')
                and seen.get('image_id') and seen.get('image_id') == image_result.get('image_id'))
