#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: kvm_check
short_description: Check that KVM hardware virtualization really works on the host
version_added: 0.1.0
description:
  - Checks the KVM device the Windows Agent Arena container needs. It must exist, be a character device, open
    read-write, answer C(KVM_GET_API_VERSION) with 12, and let a VM be created (C(KVM_CREATE_VM)).
  - The CPU flags C(vmx), C(svm) and C(hypervisor) from C(/proc/cpuinfo) are reported but never decide the
    outcome; nested virtualization often works although the guest CPU shows no C(vmx) flag.
  - On failure the message names the fix, including the Azure VM sizes and security type that support nested
    virtualization and, for a permission problem, the device's group.
  - With O(resources_path) it also reads the host's memory, online cores and the free space at that path, so that
    one SSH round trip covers the readings of the pre-flight phase (no fact gathering).
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  idempotent:
    support: full
    description: The module never changes anything.
options:
  device:
    description:
      - Path of the KVM device.
    type: path
    default: /dev/kvm
  fail_on_unusable:
    description:
      - Fail the task when KVM is not usable. When V(false), the task succeeds and RV(kvm.usable) tells.
    type: bool
    default: true
  check_device:
    description:
      - V(false) leaves the device alone (RV(kvm.checked) is false, RV(kvm.usable) null); useful with
        O(resources_path) when the KVM check is switched off.
    type: bool
    default: true
  resources_path:
    description:
      - Also report RV(resources), with the free space at this path or, when it does not exist yet, at its nearest
        existing parent directory (for Docker's data root, V(/var/lib/docker)).
    type: path
  imds_url:
    description:
      - Azure's instance metadata service as the VM reaches it (V(http://169.254.169.254)); when set, the VM's size
        is read from it (RV(azure_vm_size)) for the cost estimate, with a 1 s bound so that a VM outside Azure
        loses no more than that. Empty - not asked.
    type: str
    default: ''
notes:
  - Creating a VM with C(KVM_CREATE_VM) allocates nothing lasting; the VM file descriptor is closed at once.
"""

EXAMPLES = r"""
- name: Check KVM before creating the WAA container
  openadapt.waa.kvm_check:
  register: kvm

- name: Only report
  openadapt.waa.kvm_check:
    device: /dev/kvm
    fail_on_unusable: false
  register: kvm_report
"""

RETURN = r"""
kvm:
  description: What was found.
  returned: always
  type: dict
  contains:
    device:
      description: The device checked.
      type: str
      sample: /dev/kvm
    exists:
      description: Whether the path exists.
      type: bool
    is_char_device:
      description: Whether it is a character device.
      type: bool
    read_write:
      description: Whether it could be opened read-write.
      type: bool
    api_version:
      description: The answer to C(KVM_GET_API_VERSION); 12 on every working KVM; null when not asked or failed.
      type: int
      sample: 12
    create_vm:
      description: Whether C(KVM_CREATE_VM) succeeded.
      type: bool
    checked:
      description: Whether the device was checked (false with O(check_device=false)).
      type: bool
    usable:
      description: Whether KVM is usable for the WAA container.
      type: bool
    group:
      description: Owner group of the device, null when it does not exist.
      type: str
      sample: kvm
    mode:
      description: Permission bits of the device in octal, null when it does not exist.
      type: str
      sample: '0660'
    error:
      description: The first failed check's error, null when usable.
      type: str
    cpu_flags:
      description: CPU flags from /proc/cpuinfo (informational only).
      type: dict
      contains:
        vmx:
          description: Intel VT-x flag shown.
          type: bool
        svm:
          description: AMD-V flag shown.
          type: bool
        hypervisor:
          description: Running under a hypervisor.
          type: bool
resources:
  description: The host's resources; empty unless O(resources_path) is set.
  returned: always
  type: dict
  contains:
    path:
      description: The directory whose free space was read (O(resources_path) or its nearest existing parent).
      type: str
    free_bytes:
      description: Bytes available to unprivileged users at RV(resources.path).
      type: int
    mem_mb:
      description: Total memory in MB (MemTotal of /proc/meminfo).
      type: int
    cores:
      description: Online CPU cores.
      type: int
    python_requests:
      description: Whether the module's Python can import C(requests), which community.docker's modules need.
      type: bool
azure_vm_size:
  description: The VM's size from Azure's instance metadata service (e.g. C(Standard_D8s_v3)); empty when not asked,
    not on Azure, or the answer was not a size.
  returned: always
  type: str
msg:
  description: Human-readable outcome.
  returned: always
  type: str
fix:
  description: How to make KVM usable; null when it is usable.
  returned: always
  type: str
waa_exit_code:
  description: The setup exit code (1, pre-flight) when KVM is unusable; 0 otherwise.
  returned: always
  type: int
"""

import errno
import fcntl
import grp
import os
import re
import stat
from importlib.util import find_spec

from ansible.module_utils.basic import AnsibleModule

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12

AZURE_FIX = ('On Azure, use a VM size with nested virtualization (Dv5, Ddsv5, Ev5 or Edsv5 series) created with '
             'the Standard security type, not Trusted Launch (which can disable nested virtualization).')


def cpu_flags(path='/proc/cpuinfo'):
    """vmx/svm/hypervisor flags from cpuinfo; informational only."""
    flags = set()
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith('flags'):
                    flags.update(line.split(':', 1)[1].split())
    except (IOError, OSError):
        pass
    return {'vmx': 'vmx' in flags, 'svm': 'svm' in flags, 'hypervisor': 'hypervisor' in flags}


def host_resources(path, meminfo='/proc/meminfo'):
    """Free bytes at ``path`` (or its nearest existing parent), total memory in MB and online cores."""
    while not os.path.isdir(path):
        path = os.path.dirname(path) or '/'
    st = os.statvfs(path)
    mem_kb = 0
    with open(meminfo) as handle:
        for line in handle:
            if line.startswith('MemTotal:'):
                mem_kb = int(line.split()[1])
                break
    return {'path': path, 'free_bytes': st.f_bavail * st.f_frsize, 'mem_mb': mem_kb // 1024, 'cores': os.cpu_count(),
            'python_requests': _importable('requests')}


def _importable(name):
    """Whether this Python finds module ``name``, without importing it."""
    return find_spec(name) is not None


def check_kvm(device):
    """Run the checks in order; stop at the first failure. Returns (kvm dict, msg, fix)."""
    kvm = {'device': device, 'exists': False, 'is_char_device': False, 'read_write': False, 'api_version': None,
           'create_vm': False, 'usable': False, 'group': None, 'mode': None, 'error': None, 'checked': True,
           'cpu_flags': cpu_flags()}
    try:
        st = os.stat(device)
    except OSError as exc:
        kvm['error'] = str(exc)
        return kvm, '%s does not exist: this host has no KVM (no nested virtualization).' % device, (
            'Use a host with hardware virtualization and load the kvm module (kvm_intel or kvm_amd). ' + AZURE_FIX)
    kvm['exists'] = True
    kvm['mode'] = '%04o' % stat.S_IMODE(st.st_mode)
    try:
        kvm['group'] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        kvm['group'] = str(st.st_gid)
    if not stat.S_ISCHR(st.st_mode):
        kvm['error'] = 'not a character device'
        return kvm, '%s is not a character device, so it is not a KVM device.' % device, (
            'Point device at the real KVM device (/dev/kvm); load the kvm module on a host with hardware '
            'virtualization. ' + AZURE_FIX)
    kvm['is_char_device'] = True
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        kvm['error'] = str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return kvm, '%s cannot be opened read-write by this user: %s.' % (device, exc.strerror), (
                'Run as root (become: true) or add the user to the group "%s" that owns %s (mode %s), e.g. '
                'usermod -aG %s USER, then log in again. If permissions are not the cause: ' % (kvm['group'], device, kvm['mode'], kvm['group'])
                + AZURE_FIX)
        return kvm, '%s cannot be opened read-write: %s.' % (device, exc.strerror), (
            'Check that the kvm module is loaded and the device is healthy. ' + AZURE_FIX)
    kvm['read_write'] = True
    try:
        try:
            kvm['api_version'] = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
        except OSError as exc:
            kvm['error'] = str(exc)
            return kvm, '%s does not answer KVM_GET_API_VERSION (%s): it is not a KVM device.' % (device, exc.strerror), (
                'Point device at /dev/kvm on a host with hardware virtualization. ' + AZURE_FIX)
        if kvm['api_version'] != KVM_API_VERSION:
            kvm['error'] = 'unexpected KVM API version %s' % kvm['api_version']
            return kvm, '%s reports KVM API version %s, not %s.' % (device, kvm['api_version'], KVM_API_VERSION), (
                'Use a Linux kernel with the standard KVM API. ' + AZURE_FIX)
        try:
            vm_fd = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as exc:
            kvm['error'] = str(exc)
            return kvm, 'KVM_CREATE_VM on %s failed (%s): virtualization is not usable here.' % (device, exc.strerror), (
                'Enable nested virtualization (vmx/svm) for this VM. ' + AZURE_FIX)
        os.close(vm_fd)
        kvm['create_vm'] = True
    finally:
        os.close(fd)
    kvm['usable'] = True
    return kvm, '%s is usable: KVM API version %s, a VM can be created.' % (device, kvm['api_version']), None


def azure_vm_size(imds_url, timeout=1.0):
    """The VM's size from the instance metadata service, or '' (not on Azure, no answer, not a size)."""
    if not imds_url:
        return ''
    try:
        from ansible.module_utils.urls import open_url
        response = open_url(imds_url.rstrip('/') + '/metadata/instance/compute/vmSize?api-version=2021-02-01&format=text',
                            headers={'Metadata': 'true'}, timeout=timeout, use_proxy=False)
        size = response.read(200).decode('ascii', 'replace').strip()
    except Exception:  # any failure means "unknown": the estimate says so, the setup goes on
        return ''
    # Untrusted text that ends up in the result document: only a size's shape passes.
    return size if re.match(r'^[A-Za-z][A-Za-z0-9_\-]{1,63}$', size) else ''


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path', default='/dev/kvm'),
            fail_on_unusable=dict(type='bool', default=True),
            check_device=dict(type='bool', default=True),
            resources_path=dict(type='path'),
            imds_url=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for key in ('device', 'resources_path'):
        if p[key] and ('\x00' in p[key] or '\n' in p[key] or not p[key].startswith('/')):
            module.fail_json(msg='%s must be an absolute path such as /dev/kvm (no newline or NUL).' % key,
                             waa_exit_code=1)
    resources = {}
    if p['resources_path']:
        try:
            resources = host_resources(p['resources_path'])
        except (IOError, OSError, ValueError) as exc:
            module.fail_json(msg='Cannot read the host resources at %s: %s' % (p['resources_path'], exc), waa_exit_code=1)
    vm_size = azure_vm_size(p['imds_url'])
    if not p['check_device']:
        kvm = {'device': p['device'], 'checked': False, 'usable': None, 'cpu_flags': cpu_flags()}
        module.exit_json(changed=False, kvm=kvm, resources=resources, msg='KVM check skipped.', fix=None, waa_exit_code=0,
                         azure_vm_size=vm_size)
    kvm, msg, fix = check_kvm(p['device'])
    if not kvm['usable']:
        # The message alone must tell the user what to do (it is what most output shows).
        msg = '%s Fix: %s' % (msg, fix)
    result = dict(changed=False, kvm=kvm, resources=resources, msg=msg, fix=fix, waa_exit_code=0 if kvm['usable'] else 1,
                  azure_vm_size=vm_size)
    if not kvm['usable'] and p['fail_on_unusable']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
