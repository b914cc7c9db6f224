# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM's own readings behind kvm_check and waa_survey: whether KVM is usable (the same ioctls QEMU
makes), free space, memory, cores, and the VM size from Azure's metadata service."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import grp
import os
import re
import stat
from importlib.util import find_spec


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
            'python_requests': _importable('requests'),
            # The overlay over the golden disk needs it (roles/container installs qemu-utils when it is missing).
            'qemu_img': any(os.access(os.path.join(d, 'qemu-img'), os.X_OK)
                            for d in (os.environ.get('PATH') or '/usr/bin:/bin').split(os.pathsep) + ['/usr/bin'])}


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


def bad_path(params):
    """The message for a device or resources path that is not absolute (or carries a newline or NUL), or None."""
    for key in ('device', 'resources_path'):
        value = params.get(key)
        if value and ('\x00' in value or '\n' in value or not value.startswith('/')):
            return '%s must be an absolute path such as /dev/kvm (no newline or NUL).' % key
    return None


def read_host(device='/dev/kvm', check_device=True, resources_path=None, imds_url=''):
    """kvm_check's result (without ``changed``): ``kvm``, ``resources``, ``msg``, ``fix``, ``waa_exit_code``,
    ``azure_vm_size``. Raises OSError/ValueError when the resources cannot be read."""
    resources = host_resources(resources_path) if resources_path else {}
    vm_size = azure_vm_size(imds_url)
    if not check_device:
        kvm = {'device': device, 'checked': False, 'usable': None, 'cpu_flags': cpu_flags()}
        return dict(kvm=kvm, resources=resources, msg='KVM check skipped.', fix=None, waa_exit_code=0, azure_vm_size=vm_size)
    kvm, msg, fix = check_kvm(device)
    if not kvm['usable']:
        # The message alone must tell the user what to do (it is what most output shows).
        msg = '%s Fix: %s' % (msg, fix)
    return dict(kvm=kvm, resources=resources, msg=msg, fix=fix, waa_exit_code=0 if kvm['usable'] else 1,
                azure_vm_size=vm_size)
