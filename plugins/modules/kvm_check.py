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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._host import bad_path, read_host


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
    if bad_path(p):
        module.fail_json(msg=bad_path(p), waa_exit_code=1)
    try:
        result = read_host(p['device'], p['check_device'], p['resources_path'], p['imds_url'])
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg='Cannot read the host resources at %s: %s' % (p['resources_path'], exc), waa_exit_code=1)
    if result['kvm']['usable'] is False and p['fail_on_unusable']:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
