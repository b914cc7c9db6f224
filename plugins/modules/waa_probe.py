#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: waa_probe
short_description: Check, or wait for, the health layers of a Windows Agent Arena container
version_added: 0.1.0
description:
  - Checks the health layers in order and stops at the first unhealthy one -
    C(docker_daemon) (the Engine answers C(/_ping)), C(container) (exists, running, not restarting),
    C(windows_boot) (the log shows QEMU booting and C(Windows started), and the noVNC page answers),
    C(waa_server) (C(GET /probe) answers C(Probe successful)) and C(accessibility) (C(/accessibility) returns a
    non-empty XML tree rooted at C(desktop)).
  - With O(wait_timeout) it polls until all requested layers are healthy, a fatal signal appears, or time runs
    out. A dockur error in the container log (no KVM, RAM_SIZE too high, no NET_ADMIN) is fatal at once, because
    the real container keeps running forever when QEMU cannot start.
  - Reads only new container log lines on each poll, so polling a long-running container stays cheap.
  - Optionally runs detailed checks (screenshot, accessibility tree, C(/execute)) and a smoke test that really
    opens Notepad through the WAA API, finds its window in the accessibility tree, takes a screenshot and closes it.
  - Standard library only on the host; Docker is reached over its unix socket.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: partial
    description: Can run in check mode.
    details:
      - All checks run in check mode; the smoke test (which opens and closes Notepad) and saving the screenshot are
        skipped.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  idempotent:
    support: full
    description: The module does not change the host (the smoke test closes the window it opened).
options:
  container_name:
    description:
      - Name of the WAA container.
    type: str
    default: winarena
  server_url:
    description:
      - Base URL of the WAA server as seen from the host.
    type: str
    default: http://127.0.0.1:5000
  vnc_url:
    description:
      - URL of the noVNC web viewer; it must answer HTTP 200 for C(windows_boot) to be healthy.
    type: str
    default: http://127.0.0.1:8006
  layers:
    description:
      - Layers to check, always in the order of the list of choices; checking stops at the first unhealthy one.
    type: list
    elements: str
    choices: [docker_daemon, container, windows_boot, waa_server, accessibility]
    default: [docker_daemon, container, windows_boot, waa_server, accessibility]
  wait_timeout:
    description:
      - V(0) checks once. Above 0, polls every O(poll_interval) seconds until every requested layer is healthy, a
        fatal signal is seen, or this many seconds pass.
    type: float
    default: 0
  wait_total:
    description:
      - The whole wait this call is one round of, in seconds, when a task repeats the module with C(until) (a
        synchronous long-poll, one SSH round trip per round). Only names the limit in the timeout message;
        defaults to O(wait_timeout).
    type: float
  deadline_in:
    description:
      - Seconds left until the overall run deadline. The module never waits past it; when the deadline, not
        O(wait_timeout), ends the wait, RV(deadline_exceeded) is true and RV(waa_exit_code) is 8.
    type: float
  poll_interval:
    description:
      - Seconds between polls while waiting, at most 1.
    type: float
    default: 0.5
  request_timeout:
    description:
      - Timeout of each HTTP request in seconds (WAA's own client uses 7).
    type: float
    default: 7
  accessibility_backend:
    description:
      - Backend of the accessibility tree.
    type: str
    choices: [uia, win32]
    default: uia
  detailed:
    description:
      - Also check that C(/screenshot) returns a valid PNG, the accessibility tree is not empty, and C(/execute) runs
        C(python -c "import pyautogui; print(pyautogui.position())") with C(Point) in its output.
    type: bool
    default: false
  smoke:
    description:
      - Run the smoke test - launch Notepad through C(/setup/launch), wait for a window named like
        C(Untitled - Notepad) in the accessibility tree, take a screenshot (valid PNG, sane size, over 1 KB), close it
        with C(/setup/close_all) and check that it is gone. Its failure fails the task (C(waa_exit_code) 7); the
        calling role decides whether that is only a warning.
    type: bool
    default: false
  screenshot_dest:
    description:
      - Absolute path on the host where the last screenshot taken (smoke, detailed, or one taken for this) is saved
        atomically. A missing parent directory is created (mode 0700).
    type: path
  return_screenshot:
    description:
      - Also return the last screenshot taken (smoke, detailed, or one taken for this) base64-encoded in
        RV(screenshot.data_b64), so that the controller gets it in the same round trip instead of a C(fetch). The
        C(openadapt.waa.waa_events) callback writes it to the run directory and leaves it out of its events.
    type: bool
    default: false
  install_timeout:
    description:
      - The whole wait's length once the container's log shows the first-install path (no prepared Windows disk -
        dockur downloads and installs Windows); named in the timeout message instead of O(wait_total). The caller's
        clock ends the wait.
    type: float
  restart_marker:
    description:
      - While waiting (O(wait_timeout)), a fatal signature that a second start may clear (QEMU failed to initialise)
        restarts the container once - killed and started, as nothing runs in it yet - and the wait goes on. This file
        on the host records the restart, so later rounds and calls with the same path (one run) do not restart
        again; a second failure then fails with a message saying so. Without it nothing is restarted.
    type: path
  progress_file:
    description:
      - Absolute path of a JSON progress file rewritten atomically while the module waits, for
        M(openadapt.waa.progress_watch).
    type: path
notes:
  - "Progress file format: a JSON object with C(kind) (V(boot) while waiting, else V(probe)), C(state) (V(running),
    V(done) or V(failed)), C(seq), C(updated), C(stage), C(log_tail), C(layers), C(message), C(elapsed), C(boot) and,
    at the end, C(result)."
  - There are no uptime heuristics; only log lines, the VNC page and the WAA API decide.
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Wait for Windows to boot, failing at once on a dockur error
  openadapt.waa.waa_probe:
    layers: [docker_daemon, container, windows_boot]
    wait_timeout: 1200
    deadline_in: "{{ waa_deadline_in }}"
    progress_file: /tmp/waa_progress/windows_boot.json
  async: 1260
  poll: 0
  register: boot_job

- name: Final validation of all layers with the detailed checks
  openadapt.waa.waa_probe:
    detailed: true
  register: health

- name: Smoke test, saving the screenshot
  openadapt.waa.waa_probe:
    layers: [waa_server]
    smoke: true
    screenshot_dest: /var/lib/waa/smoke.png
  register: smoke
"""

RETURN = r"""
wait_over:
  description:
    - Whether a wait on these layers is over as far as the VM can tell - the layers are healthy, a fatal
      signal appeared (a crashed container, a fatal boot log line), the run's deadline passed, or the input
      was bad. Only the caller's clock ends a wait otherwise (the collection's wait loops C(until) it).
  returned: always
  type: bool
healthy:
  description: Whether every requested layer (and the detailed checks and smoke test when asked) passed.
  returned: always
  type: bool
layers:
  description: One result per layer checked, in order, up to the first unhealthy one.
  returned: always
  type: list
  elements: dict
  contains:
    layer:
      description: Layer name.
      type: str
    healthy:
      description: Whether it is healthy.
      type: bool
    message:
      description: What was found.
      type: str
    duration:
      description: Seconds the last check took.
      type: float
    details:
      description: Layer-specific facts (container state, boot stages, HTTP status, tree size...).
      type: dict
    fatal:
      description: Whether waiting longer cannot help.
      type: bool
    diagnosis:
      description: Why it failed, when known.
      type: str
    fix:
      description: What to do, when known.
      type: str
    exit_code:
      description: The layer's exit code when unhealthy, else 0.
      type: int
failed_layer:
  description: The first unhealthy layer, V(smoke) when only the smoke test failed; null when healthy.
  returned: always
  type: str
waa_exit_code:
  description: 0 when healthy; the failed layer's code (2, 4, 5, 6, 7), 7 for the smoke test, 8 when the deadline ended the wait.
  returned: always
  type: int
msg:
  description: Human-readable outcome; on failure it names the fix.
  returned: always
  type: str
fix:
  description: What to do about the failure; null when healthy.
  returned: always
  type: str
diagnosis:
  description: Why the failed layer failed (from dockur log signatures, container state...), null when unknown.
  returned: always
  type: str
elapsed:
  description: Seconds the module took.
  returned: always
  type: float
deadline_exceeded:
  description: Whether O(deadline_in) ended the wait.
  returned: always
  type: bool
timed_out:
  description: Whether the wait ended because time ran out (O(wait_timeout) or O(deadline_in)).
  returned: always
  type: bool
polls:
  description: How many times the layers were checked.
  returned: always
  type: int
log_tail:
  description: The last (up to 20) container log lines read, ANSI codes stripped.
  returned: always
  type: list
  elements: str
boot:
  description: Boot stages seen (container_started, qemu_started, windows_started, vnc_ready, server_ready), each
    with C(elapsed) seconds into this module and the log line and time when it came from the log.
  returned: always
  type: dict
detailed:
  description: Results of the detailed checks (V(ok), C(screenshot), C(accessibility), C(execute)); empty when not run.
  returned: always
  type: dict
smoke:
  description: Result of the smoke test (C(ok), C(steps), C(window), C(error)); empty when not run.
  returned: always
  type: dict
checked:
  description: One line of what a passed check did, for the human summary (all five layers, or the smoke test).
  returned: when every layer was checked and healthy, or the smoke test passed
  type: str
  sample: 'Smoke test passed: Notepad opened, window "Untitled - Notepad" found, screenshot 52 KB (1440x900), closed.'
restarted:
  description: The restart made under O(restart_marker) (C(signature), C(line), C(at)), or null.
  returned: always
  type: dict
layers_checked:
  description: When all five layers were checked and are healthy, the one-line account of them ("5 layers healthy - ...").
  returned: when every layer was checked and healthy
  type: str
screenshot:
  description:
    - The screenshot taken - C(bytes), C(width), C(height); C(path) when it was saved (O(screenshot_dest)), C(data_b64)
      (the PNG, base64) with O(return_screenshot). Empty when none was taken.
  returned: always
  type: dict
  contains:
    path:
      description: Where the screenshot was saved on the host.
      returned: with O(screenshot_dest)
      type: str
    bytes:
      description: The PNG's size.
      returned: when a screenshot was taken
      type: int
    width:
      description: The screen's width in pixels.
      returned: when a screenshot was taken
      type: int
    height:
      description: The screen's height in pixels.
      returned: when a screenshot was taken
      type: int
    data_b64:
      description: The PNG, base64-encoded.
      returned: with O(return_screenshot)
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, ProgressWriter
from ansible_collections.openadapt.waa.plugins.module_utils._probe_run import (
    PROBE_ARGS,
    ProbeRun,
    check_params,
    clients,
    empty_result,
    progress_kind,
)
from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_abs_path


def _bad_input(module, msg):
    """Fail with exit 9; a watcher of the progress file still sees the end."""
    result = empty_result()
    result.update(waa_exit_code=9, msg=msg)
    path = module.params['progress_file']
    if path and not module.check_mode:
        try:
            validate_abs_path(path, 'progress_file')
            ProgressWriter(path, progress_kind(module.params)).final(
                {'stage': None, 'log_tail': [], 'layers': [], 'message': msg, 'result': result}, failed=True)
        except (ValueError, OSError, ProgressFileError):
            pass
    module.fail_json(**result)


def main():
    module = AnsibleModule(argument_spec=PROBE_ARGS, supports_check_mode=True)
    p = module.params
    try:
        check_params(p)
        engine, waa = clients(p)
        progress = ProgressWriter(p['progress_file'] if not module.check_mode else None, progress_kind(p))
    except (ValueError, ProgressFileError) as exc:
        _bad_input(module, str(exc) if isinstance(exc, ValueError) else 'The progress file cannot be written: %s' % exc)
    result, healthy = ProbeRun(p, engine, waa, progress, module.check_mode, module.warn).run()
    if not healthy:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
