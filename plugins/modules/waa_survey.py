#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: waa_survey
short_description: A run's first round trip - take the VM's lease and find out what is already done
version_added: 0.2.0
description:
  - Takes this run's lease on the VM (as M(openadapt.waa.vm_lock)), then, in the same module run, reads the host
    (as M(openadapt.waa.kvm_check)), checks every health layer once (as M(openadapt.waa.waa_probe)), looks up the
    image and reads the container id the last setup recorded.
  - Decides the pre-flight checks (KVM, disk space at Docker's data root, memory for RAM_SIZE, cores for CPU_CORES,
    and with O(host.storage_path) a golden Windows disk or an image that installs Windows).
  - With O(expect), also decides whether the host is already what this run asks for - every layer healthy, the
    image present, and the running container labelled with this run's configuration hash and running the image
    the tag names now. Then RV(ready) is true and RV(found_ready) holds what phases 2-6 report, so the playbook
    runs none of them.
  - Standard library only on the host; Docker is reached over its unix socket.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: Reports whether the lease is free and surveys; takes nothing.
  diff_mode:
    support: none
    description: No diff.
  idempotent:
    support: full
    description: Reads only; taking a lease one already holds renews it.
options:
  lease:
    description: The lease, as M(openadapt.waa.vm_lock) takes it.
    type: dict
    required: true
    suboptions:
      path:
        description: The lease file.
        type: path
        required: true
      owner:
        description: Who holds the lease (a run id).
        type: str
        required: true
      lease:
        description: Seconds the lease lasts before another run may take it over.
        type: float
        default: 3600
      wait_timeout:
        description: Seconds to wait for another run's lease at most.
        type: float
        default: 1800
      dead_owners:
        description: Run ids whose process is known to be gone; their leases are taken over at once.
        type: list
        elements: str
        default: []
      controller:
        description: Who takes the lease (host and process of the controller), recorded in the lease.
        type: dict
      log_file:
        description: The VM's setup log; O(lease.log_line) is appended to it when the lease is taken.
        type: path
      log_line:
        description: The line that says this run started.
        type: str
  host:
    description: The host readings and the pre-flight limits.
    type: dict
    required: true
    suboptions:
      device:
        description: The KVM device.
        type: path
        default: /dev/kvm
      check_device:
        description: Whether to check KVM (the same ioctls QEMU makes).
        type: bool
        default: true
      resources_path:
        description: Docker's data root, whose filesystem's free space is read.
        type: path
        required: true
      imds_url:
        description: Azure's instance metadata service, asked for the VM size (1 s at most); empty to skip.
        type: str
        default: ''
      required_disk_gb:
        description: Free space needed at O(host.resources_path), in GB.
        type: float
        default: 50
      ram_size:
        description:
          - RAM_SIZE for Windows (e.g. V(8G)), checked against the VM's memory.
          - V(auto) is the VM's memory less 2 GB, at most V(8G) (RV(sizing)).
        type: str
        default: auto
      cpu_cores:
        description: CPU_CORES for Windows, checked against the VM's cores; V(auto) is the VM's cores, at most 8.
        type: str
        default: auto
      storage_path:
        description:
          - The storage folder (mounted at C(/storage)). When given, pre-flight checks that Windows can come up
            from it - a prepared golden disk (C(data.img) with dockur's C(windows.boot)), or an image that
            installs Windows itself (O(host.installs_windows)).
        type: path
      installs_windows:
        description: Whether the image downloads and installs Windows itself on an empty storage folder.
        type: bool
        default: false
      golden:
        description:
          - What O(host.storage_path) is checked for - V(boot) a Windows to boot (a golden disk, one to restore from
            O(host.restore_from), or an image that installs it), V(prepare) room for a golden disk that
            C(waa prepare-image) makes (a prepared one only with O(host.force)), V(push) a golden disk to push.
        type: str
        choices: [boot, prepare, push]
        default: boot
      restore_from:
        description: A golden disk URL in Blob Storage that a VM without one restores from (V(boot)).
        type: str
        default: ''
      force:
        description: With O(host.golden=prepare), a prepared golden disk may be replaced.
        type: bool
        default: false
      image:
        description: The image, as named in the golden disk check's message.
        type: str
        default: the image
      ssh_host:
        description: The VM's address as the user reaches it, named in the disk-space fix.
        type: str
        default: VM
  probe:
    description: Where the health layers are, as for M(openadapt.waa.waa_probe).
    type: dict
    required: true
    suboptions:
      container_name:
        description: The WAA container.
        type: str
        default: winarena
      server_url:
        description: The WAA server as the VM reaches it.
        type: str
        default: http://127.0.0.1:5000
      vnc_url:
        description: The noVNC page as the VM reaches it.
        type: str
        default: http://127.0.0.1:8006
      docker_host:
        description: The Docker daemon (V(unix:///path) or V(tcp://host:port)).
        type: str
        default: unix:///var/run/docker.sock
      request_timeout:
        description: Seconds for one HTTP or Docker request.
        type: float
        default: 7
      accessibility_backend:
        description: The backend of C(/accessibility).
        type: str
        choices: [uia, win32]
        default: uia
  expect:
    description:
      - What this run asks for. Without it nothing is decided and RV(ready) is false.
    type: dict
    suboptions:
      image:
        description: The image reference this run uses.
        type: str
        required: true
      spec:
        description:
          - The container this run asks for (C(waa_container_spec)); its hash, with V(auto) sizes resolved, is the
            configuration label the running container must carry.
        type: dict
        required: true
      state_file:
        description: The file where the last setup recorded the container id.
        type: path
      rebuild:
        description: A rebuild was asked for (nothing is ready then).
        type: bool
        default: false
      force_pull:
        description: A pull was asked for (nothing is ready then).
        type: bool
        default: false
notes:
  - The layers are checked once, without waiting; the phases that wait do so with M(openadapt.waa.waa_probe).
"""

EXAMPLES = r"""
- name: Take the lease and survey the VM
  openadapt.waa.waa_survey:
    lease: {path: /var/lib/openadapt-waa/lock, owner: "{{ run_id }}", lease: 3720, wait_timeout: 3600}
    host: {device: /dev/kvm, check_device: true, resources_path: /var/lib/docker, required_disk_gb: 50,
           ram_size: auto, cpu_cores: auto, ssh_host: 10.0.0.4, storage_path: /var/lib/openadapt-waa/storage}
    probe: {container_name: winarena}
    expect: {image: "windowsarena/winarena:latest", spec: "{{ waa_container_spec }}",
             state_file: /var/lib/openadapt-waa/container_id}
  register: survey
"""

RETURN = r"""
lease:
  description: What M(openadapt.waa.vm_lock) returns for the lease (C(waited), C(took_over), C(holder)).
  returned: always
  type: dict
host:
  description: What M(openadapt.waa.kvm_check) returns (C(kvm), C(resources), C(azure_vm_size)); empty on a read error.
  returned: always
  type: dict
sizing:
  description: RAM_SIZE (C(ram_size)) and CPU_CORES (C(cpu_cores)) for this VM, V(auto) resolved.
  returned: always
  type: dict
golden:
  description:
    - The storage folder's golden disk (C(disk), C(exists), C(size_bytes), C(allocated_bytes), C(boot_marker),
      C(manifest), C(prepared), C(incomplete)); null without O(host.storage_path).
  returned: always
  type: dict
preflight:
  description: The pre-flight checks (C(ok), C(checks) - each C(name), C(ok), C(message) -, C(msg), C(fix), C(failed_check)).
  returned: always
  type: dict
layers:
  description: The health layers as M(openadapt.waa.waa_probe) returns them, checked once.
  returned: always
  type: list
  elements: dict
image:
  description: The image (C(checked), C(present), C(image_id), C(digest), C(image_size_bytes), C(source), C(msg)).
  returned: always
  type: dict
persisted:
  description: Whether the container id recorded on the VM is the running container's.
  returned: always
  type: bool
ready:
  description: Whether the host is already what this run asks for (see the description).
  returned: always
  type: bool
ready_reason:
  description: Why the host is, or is not, ready as asked.
  returned: always
  type: str
found_ready:
  description: When RV(ready), what phases 2-6 report - a list of C(phase) and C(checks) (C(name), C(message)).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils import _golden, _lease, _survey
from ansible_collections.openadapt.waa.plugins.module_utils._host import bad_path, read_host
from ansible_collections.openadapt.waa.plugins.module_utils._probe_run import check_params, clients, probe_params
from ansible_collections.openadapt.waa.plugins.module_utils._prober import Prober

HOST_ARGS = dict(device=dict(type='path', default='/dev/kvm'), check_device=dict(type='bool', default=True),
                 resources_path=dict(type='path', required=True), imds_url=dict(type='str', default=''),
                 required_disk_gb=dict(type='float', default=50), ram_size=dict(type='str', default='auto'),
                 cpu_cores=dict(type='str', default='auto'), ssh_host=dict(type='str', default='VM'),
                 storage_path=dict(type='path'), installs_windows=dict(type='bool', default=False),
                 golden=dict(type='str', choices=['boot', 'prepare', 'push'], default='boot'),
                 force=dict(type='bool', default=False), restore_from=dict(type='str', default=''),
                 image=dict(type='str', default='the image'))
PROBE_KEYS = dict(container_name=dict(type='str', default='winarena'),
                  server_url=dict(type='str', default='http://127.0.0.1:5000'),
                  vnc_url=dict(type='str', default='http://127.0.0.1:8006'),
                  docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
                  request_timeout=dict(type='float', default=7),
                  accessibility_backend=dict(type='str', choices=['uia', 'win32'], default='uia'))
EXPECT_ARGS = dict(image=dict(type='str', required=True), spec=dict(type='dict', required=True),
                   state_file=dict(type='path'), rebuild=dict(type='bool', default=False),
                   force_pull=dict(type='bool', default=False))


def survey(module):
    """Everything after the lease: the result fields of this module."""
    host_p, expect = module.params['host'], module.params['expect'] or {}
    p = probe_params(**module.params['probe'])
    try:
        host, host_error = read_host(host_p['device'], host_p['check_device'], host_p['resources_path'],
                                     host_p['imds_url']), None
    except (IOError, OSError, ValueError) as exc:
        host, host_error = {}, 'Cannot read the host resources at %s: %s' % (host_p['resources_path'], exc)
    size = _survey.sizing(host['resources'], host_p['ram_size'], host_p['cpu_cores']) if host else {
        'ram_size': host_p['ram_size'], 'cpu_cores': host_p['cpu_cores']}
    golden = _golden.disk_state(host_p['storage_path']) if host_p['storage_path'] else None
    if golden is None:
        windows = None
    elif host_p['golden'] == 'prepare':
        windows = _golden.prepare_check(golden, host_p['force'])
    elif host_p['golden'] == 'push':
        windows = _golden.push_check(golden)
    else:
        windows = _golden.windows_check(golden, host_p['installs_windows'], host_p['image'], host_p['restore_from'])
    checks = _survey.preflight(host, host_error, host_p['required_disk_gb'], size['ram_size'], size['cpu_cores'],
                               host_p['resources_path'], host_p['ssh_host'], windows)
    if expect:
        expect = dict(expect, config_hash=_survey.config_hash(_survey.resolve_spec(expect['spec'], size)))
    engine, waa = clients(p)
    layers = [r.to_dict() for r in Prober(p, engine, waa).run_once()]
    image = _survey.image_state(engine, expect.get('image')) if layers[0]['healthy'] else _survey.image_state(None, None)
    ready, reason = _survey.readiness(checks, layers, image, expect) if expect else (False, 'nothing was asked')
    container = ((layers[1] if len(layers) > 1 else {}).get('details') or {})
    persisted = bool(container.get('full_id')) and _survey.read_persisted(expect.get('state_file')) == container['full_id']
    return dict(host=host, preflight=checks, sizing=size, golden=golden, layers=layers, healthy=all(r['healthy'] for r in layers) and len(layers) == 5,
                image=image, persisted=persisted, ready=ready, ready_reason=reason,
                found_ready=_survey.found_ready(layers, image, p['container_name']) if ready else [])


def main():
    module = AnsibleModule(
        argument_spec=dict(lease=dict(type='dict', required=True, options=_lease.LEASE_ARGS),
                           host=dict(type='dict', required=True, options=HOST_ARGS),
                           probe=dict(type='dict', required=True, options=PROBE_KEYS),
                           expect=dict(type='dict', options=EXPECT_ARGS)),
        supports_check_mode=True,
    )
    try:
        check_params(probe_params(**module.params['probe']))
        if bad_path(module.params['host']):
            raise ValueError(bad_path(module.params['host']))
    except ValueError as exc:
        module.fail_json(msg=str(exc), waa_exit_code=1)
    if not module.check_mode:
        _lease.lock_dir(module.params['lease']['path'])
    lease, failed = _lease.acquire(module.params['lease'], module.check_mode, module.warn)
    if failed:
        module.fail_json(lease=lease, **lease)
    module.exit_json(changed=lease['changed'], lease=lease, **survey(module))


if __name__ == '__main__':
    main()
