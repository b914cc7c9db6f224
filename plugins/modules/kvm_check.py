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
import stat

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


def check_kvm(device):
    """Run the checks in order; stop at the first failure. Returns (kvm dict, msg, fix)."""
    kvm = {'device': device, 'exists': False, 'is_char_device': False, 'read_write': False, 'api_version': None,
           'create_vm': False, 'usable': False, 'group': None, 'mode': None, 'error': None,
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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type='path', default='/dev/kvm'),
            fail_on_unusable=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    device = module.params['device']
    if '\x00' in device or '\n' in device:
        module.fail_json(msg='device must be a plain path such as /dev/kvm (no newline or NUL).')
    kvm, msg, fix = check_kvm(device)
    if not kvm['usable']:
        # The message alone must tell the user what to do (it is what most output shows).
        msg = '%s Fix: %s' % (msg, fix)
    result = dict(changed=False, kvm=kvm, msg=msg, fix=fix, waa_exit_code=0 if kvm['usable'] else 1)
    if not kvm['usable'] and module.params['fail_on_unusable']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
