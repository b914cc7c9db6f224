# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of the setup: its phases (role, number, title, exit code), the exit codes and what
they mean, the health layers and their exit codes, and the boot stages in order. Modules (on the VM),
the callback, the filters, the CLI and the viewer read it; nothing else lists them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

EXIT_OK = 0
EXIT_PREFLIGHT = 1
EXIT_DOCKER = 2
EXIT_PULL = 3
EXIT_CONTAINER = 4
EXIT_BOOT = 5
EXIT_SERVER = 6
EXIT_SMOKE = 7
EXIT_DEADLINE = 8
EXIT_UNKNOWN = 9
# The benchmark's own class, after the setup's 0-9: its client ended before every task of its list
# had a result (killed, crashed, container restarted). Running `waa run` again finishes the rest.
EXIT_BENCHMARK_INCOMPLETE = 10

EXIT_MEANING = {
    EXIT_OK: 'Success', EXIT_PREFLIGHT: 'Pre-flight check failed', EXIT_DOCKER: 'Docker daemon failure',
    EXIT_PULL: 'Image pull failed', EXIT_CONTAINER: 'Container creation failed', EXIT_BOOT: 'Windows boot failed',
    EXIT_SERVER: 'WAA server failure', EXIT_SMOKE: 'Accessibility tree or smoke test failed', EXIT_DEADLINE: 'Timeout exceeded',
    EXIT_UNKNOWN: 'Unknown error', EXIT_BENCHMARK_INCOMPLETE: 'Benchmark incomplete',
}

# (role, number in the human output, title, exit code when the phase fails). The docker role is the
# second half of phase 1 with an exit code of its own; the benchmark (run_waa) follows the nine.
PHASES = (
    ('preflight', 1, 'Pre-flight checks', EXIT_PREFLIGHT),
    ('docker', 1, 'Docker daemon', EXIT_DOCKER),
    ('image', 2, 'Image pull', EXIT_PULL),
    ('container', 3, 'Container creation', EXIT_CONTAINER),
    ('windows_boot', 4, 'Windows VM boot', EXIT_BOOT),
    ('waa_server', 5, 'WAA server initialization', EXIT_SERVER),
    ('accessibility', 6, 'Accessibility tree verification', EXIT_SMOKE),
    ('smoke', 7, 'End-to-end smoke test', EXIT_SMOKE),
    ('persist', 8, 'Persist results', EXIT_UNKNOWN),
    ('validate', 9, 'Final validation', EXIT_UNKNOWN),
)
BENCHMARK = ('benchmark', 10, 'Benchmark run', EXIT_UNKNOWN)
# The golden Windows disk: made from an ISO (`waa prepare-image`), pushed to Blob Storage (`waa golden push`)
# or restored from it (--golden URL).
GOLDEN = ('golden', 11, 'Golden disk', EXIT_BOOT)
# `waa reset`: Windows back to the golden disk (a fresh overlay), before the container is created again.
RESET = ('reset', 12, 'Reset to the golden disk', EXIT_CONTAINER)
# `waa down` (and `waa run --deallocate-after`): the Azure VM deallocated, unless another run holds it.
DEALLOCATE = ('deallocate', 13, 'Deallocate the Azure VM', EXIT_PREFLIGHT)
# The phases outside the setup's nine: shown by their title, without "Phase N/9".
UNNUMBERED = (BENCHMARK, GOLDEN, RESET, DEALLOCATE)
UNNUMBERED_PHASES = tuple(role for role, _number, _title, _code in UNNUMBERED)
PHASE_NUMBER = dict((role, number) for role, number, _title, _code in PHASES + UNNUMBERED)
PHASE_TITLE = dict((role, title) for role, _number, title, _code in PHASES + UNNUMBERED)
PHASE_EXIT_CODE = dict((role, code) for role, _number, _title, code in PHASES + UNNUMBERED)

# The spec's JSON names the phases and health checks differently from the roles and layers.
SPEC_PHASE_NAME = {
    "preflight": "pre_flight_checks", "docker": "docker_daemon", "image": "image_pull",
    "container": "container_creation", "windows_boot": "windows_boot", "waa_server": "waa_server_init",
    "accessibility": "accessibility_tree", "smoke": "smoke_test", "persist": "persist_results",
    "validate": "final_validation", "golden": "golden_image_preparation", "reset": "reset_to_golden",
    "deallocate": "deallocate_vm",
}
SPEC_HEALTH_NAME = {
    "docker_daemon": "docker_daemon", "container": "container_status", "windows_boot": "windows_vm_boot",
    "waa_server": "waa_server_ready", "accessibility": "accessibility_tree",
}

# The health layers in the order they are checked, and the exit code of each.
LAYERS = ('docker_daemon', 'container', 'windows_boot', 'waa_server', 'accessibility')
LAYER_EXIT_CODE = {'docker_daemon': EXIT_DOCKER, 'container': EXIT_CONTAINER, 'windows_boot': EXIT_BOOT,
                   'waa_server': EXIT_SERVER, 'accessibility': EXIT_SMOKE}

# Every boot stage in the order a boot passes them. container_started comes from Docker, vnc_ready
# from the noVNC page, the others from the container's log (_health.BOOT_STAGES).
BOOT_STAGE_ORDER = ('container_started', 'installing_windows', 'qemu_started', 'windows_started', 'vnc_ready',
                    'server_ready')


# How several hosts' codes become one: the smallest non-zero code, i.e. the earliest failure class.
OVERALL_RULE = '0 when every host exits 0; otherwise the smallest non-zero exit code among the hosts'


def overall_exit_code(codes):
    """The run's one exit code for its hosts' codes (OVERALL_RULE)."""
    failed = sorted(int(code) for code in codes if code)
    return failed[0] if failed else EXIT_OK


# The tag that makes a role's tasks a phase: the playbooks' phase lists put it on each phase role's
# import (tasks inherit it, a failed task carries it), so the callback and the failure's
# classification learn the phase from the task itself. No other task says which phase runs.
PHASE_TAG_PREFIX = 'waa_phase_'


def phase_of_tags(tags):
    """The phase a task belongs to, from its tags (``waa_phase_<role>``), or None."""
    for tag in tags or ():
        tag = str(tag)
        if tag.startswith(PHASE_TAG_PREFIX) and tag[len(PHASE_TAG_PREFIX):] in PHASE_NUMBER:
            return tag[len(PHASE_TAG_PREFIX):]
    return None


def phase_info(role):
    """{role, number, title, exit_code} of a phase (the preflight phase's for an unknown one)."""
    role = role if role in PHASE_NUMBER else 'preflight'
    return {'role': role, 'number': PHASE_NUMBER[role], 'title': PHASE_TITLE[role], 'exit_code': PHASE_EXIT_CODE[role]}
