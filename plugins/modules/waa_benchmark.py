#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: waa_benchmark
short_description: Run the Windows Agent Arena benchmark client in the WAA container, with live progress
version_added: 0.1.0
description:
  - Runs WAA's benchmark client (C(python -u run.py) in C(/client)) inside the running WAA container through the
    Docker Engine API (exec), as an argument list - nothing from the options is ever given to a shell.
  - Streams the client's output, appends it to O(log_file), parses it (task starts, steps, the
    C(lib_run_single) score, C(Finished) and C(Exception in) lines) and keeps O(progress_file) up to date for
    M(openadapt.waa.progress_watch), with the recent task events and the totals.
  - Copies the results the client writes in the container (O(result_dir)) to O(results_dest) on the host as
    they appear (the task directory being worked on, about every O(copy_interval) seconds and at each task end;
    the run logs), and the whole O(result_dir) once more at the end, so that nothing written in the container is
    missed. The host copy keeps the container's layout and file times.
  - Resume works as in WAA - tasks that have a C(result.txt) are skipped by the client. Earlier results are kept
    unless O(clean_results) is true.
  - Designed to run with C(async) and C(poll=0), followed by M(openadapt.waa.progress_watch) with its C(ship_dir) set
    to O(results_dest), which brings the new result files to the controller in the same round trips.
  - Standard library only on the host; Docker is reached over its unix socket.
author:
  - OpenAdapt.AI (@OpenAdaptAI)
attributes:
  check_mode:
    support: full
    description: In check mode the container and the task list are checked and the command is returned; nothing runs.
  diff_mode:
    support: none
    description: No diff is shown.
  idempotent:
    support: partial
    description: With the default resume behaviour, finished tasks are not run again; the remaining ones are.
options:
  container_name:
    description: Name of the running WAA container.
    type: str
    default: winarena
  client_dir:
    description: The client's directory in the container (the working directory of C(run.py)).
    type: str
    default: /client
  python:
    description: The Python interpreter in the container that runs C(run.py).
    type: str
    default: python
  task_list:
    description:
      - The task list in the container (a JSON object mapping each domain to its example ids), relative to
        O(client_dir) or absolute.
        WAA ships C(evaluation_examples_windows/test_all.json) (154 tasks) and C(test_small.json).
    type: str
    default: evaluation_examples_windows/test_all.json
  tasks:
    description:
      - Run only these tasks, each C(<domain>/<example id>), in the order of O(task_list). Every one must be in
        O(task_list).
    type: list
    elements: str
  num_tasks:
    description:
      - Run only this many tasks of O(task_list) (after O(domain) and O(tasks)), sampled across the domains in
        proportion to their sizes (stratified), the tasks of each domain chosen by O(sample_seed).
      - The same seed gives the same sample on every host, so the sample is split across a fleet (O(shard)).
    type: int
  sample_seed:
    description: The seed of the O(num_tasks) sample.
    type: int
    default: 0
  shard:
    description:
      - This host's share of the selected tasks when a fleet splits them, as O(shard.index) of O(shard.count).
        The tasks are dealt out one by one across the shards, domain after domain, so each shard holds every
        domain's tasks in proportion; sizes differ by one at most.
      - A share with no task (more hosts than tasks) runs nothing and succeeds.
    type: dict
    suboptions:
      index:
        description: This host's shard, from 0.
        type: int
        required: true
      count:
        description: The number of shards (hosts) the tasks are split over.
        type: int
        required: true
  budget:
    description:
      - This host's share of the run's cost limit (C(waa run --max-cost)), as the C(openadapt.waa.benchmark_budget)
        filter gives it. After each task the client is stopped when the next task would end past O(budget.seconds)
        from now (at the mean duration of the tasks so far), so no new task is handed out; the task it had just
        begun is reported as V(not_run). Zero or less means no task starts. The result is then RV(budget_stopped)
        with exit code 10.
    type: dict
    suboptions:
      seconds:
        description: Seconds from now until the share is spent; V(None) when the VM's hourly rate is unknown.
        type: float
      problem:
        description: Why the seconds are unknown; the module fails with it (exit code 1).
        type: str
        default: ''
  domain:
    description: Run only the tasks of this domain (V(all) for every domain).
    type: str
    default: all
  model:
    description: The model the agent uses (C(--model)); also a level of the results layout.
    type: str
    default: gpt-4o-mini
  agent:
    description: The agent (C(--agent_name)).
    type: str
    default: navi
  som_origin:
    description: Where the set-of-marks come from (C(--som_origin)).
    type: str
    default: oss
  a11y_backend:
    description: Accessibility backend (C(--a11y_backend)).
    type: str
    choices: [uia, win32]
    default: uia
  result_dir:
    description: The client's C(--result_dir) in the container (absolute).
    type: str
    default: /client/results
  clean_results:
    description:
      - Delete earlier results (in the container and in O(results_dest)) before the run. By default they are kept
        and finished tasks are skipped (resume); C(--clean-results false) is passed, as WAA's own default would
        wipe them.
    type: bool
    default: false
  trial_id:
    description: The client's C(--trial_id) (a level of the results layout).
    type: str
    default: '0'
  max_steps:
    description: The client's C(--max_steps) (steps per task). The client's default (15) when not set.
    type: int
  worker_id:
    description: This worker's id (C(--worker_id)) when the tasks are split over several workers.
    type: int
    default: 0
  num_workers:
    description: Number of workers the tasks are split over (C(--num_workers)).
    type: int
    default: 1
  extra_args:
    description: More arguments for C(run.py), appended as given (one list element per argument).
    type: list
    elements: str
    default: []
  env:
    description: Extra environment of the client process (for example C(OPENAI_API_KEY)). Never logged.
    type: dict
    default: {}
  env_file:
    description:
      - A private JSON file on the VM with more environment for the client (merged over O(env)), read and removed
        when the module starts.
      - For secrets of a background (C(async)) run, whose module arguments stay in a file on the VM for as long as
        the run lasts.
    type: path
  results_dest:
    description:
      - Host directory that mirrors O(result_dir) (absolute). Created (mode 0750) when missing.
    type: path
    default: /var/lib/openadapt-waa/results
  copy_interval:
    description: Seconds between copies of the running task's results from the container to O(results_dest).
    type: float
    default: 2
  progress_file:
    description: Absolute path of the JSON progress file (kind V(benchmark)) for M(openadapt.waa.progress_watch).
    type: path
  log_file:
    description: Host file the client's output (stdout and stderr, as printed) is appended to.
    type: path
  timeout:
    description:
      - Seconds the client may run; V(0) means no limit of its own. The client is stopped (C(timeout) in the
        container) when this or O(deadline_in) is reached.
    type: float
    default: 0
  deadline_in:
    description:
      - Seconds left until the overall run deadline. When it ends the run, RV(deadline_exceeded) is true and
        C(waa_exit_code) is 8.
    type: float
  events_window:
    description: Number of recent task events kept in the progress file.
    type: int
    default: 500
  reset_between_tasks:
    description:
      - Return Windows to the golden disk before each task (the WAA paper's per-task isolation) - the container is
        stopped, its copy-on-write overlay replaced by an empty one (as M(openadapt.waa.golden_overlay) V(reset)
        does), the container started and its WAA server waited for, then the client runs that one task. Tasks
        with a result already are skipped. Without it, one client runs the whole list on one Windows.
    type: dict
    version_added: 0.2.0
    suboptions:
      golden_path:
        description: The folder of the golden disk.
        type: path
        required: true
      overlay_path:
        description: The overlay folder (the container's C(/storage)).
        type: path
        required: true
      server_url:
        description: The WAA server as the VM reaches it, waited for after each reset.
        type: str
        default: http://127.0.0.1:5000
      stop_timeout:
        description: Seconds the container gets to stop (Windows' ACPI shutdown).
        type: int
        default: 120
      boot_timeout:
        description: Seconds Windows may take to answer again after a reset.
        type: float
        default: 600
      qemu_img:
        description: The qemu-img program.
        type: path
        default: qemu-img
  stop:
    description:
      - Only stop the benchmark clients that run in the container (SIGTERM, then SIGKILL after a grace) and report
        them; start nothing. The C(waa) CLI does this when a C(waa run) is interrupted, so that no agent keeps acting
        on the desktop after its run gave the VM back.
    type: bool
    default: false
  run_id:
    description:
      - The run this client belongs to. It reaches the client's environment as C(WAA_RUN_ID), and with O(stop) only
        the clients of this run are stopped, so that an interrupted run never stops another run's benchmark.
    type: str
    version_added: 0.2.0
notes:
  - "Progress file (kind V(benchmark)): C(state) (V(running), V(done), V(failed)), C(status), C(total_tasks),
    C(tasks_started), C(tasks_completed), C(success_count), C(error_count), C(average_score), C(current),
    C(events) (the last O(events_window) events, each with a rising C(seq): C(task_start), C(task_step),
    C(task_end), C(benchmark)), C(event_seq), C(results_dir), C(result_root), C(ship_since), C(log_file) and, at
    the end, C(result)."
  - A step event's C(screenshot) is the screenshot's path relative to O(results_dest) once the file has been
    copied; C(settled) is true when nothing more will be known about the step.
  - A task is a success when its C(result.txt) holds 1 in any of the spellings Python writes (C(1), C(1.0),
    C(True)); the score is the C(Result) line of C(lib_run_single), never an evaluator's own C(Result:) lines or
    C(Reward).
extends_documentation_fragment:
  - openadapt.waa.docker
"""

EXAMPLES = r"""
- name: Start the benchmark (first 10 tasks, keep earlier results)
  openadapt.waa.waa_benchmark:
    container_name: winarena
    model: gpt-4o-mini
    num_tasks: 10
    results_dest: /var/lib/openadapt-waa/results
    progress_file: /var/lib/openadapt-waa/progress/benchmark.json
    log_file: /tmp/waa_benchmark.log
    env:
      OPENAI_API_KEY: "{{ lookup('ansible.builtin.env', 'OPENAI_API_KEY') }}"
  async: 86400
  poll: 0
  register: bench_job

- name: Follow it, shipping new result files to the controller on each round trip
  openadapt.waa.progress_watch:
    path: /var/lib/openadapt-waa/progress/benchmark.json
    job_id: "{{ bench_job.ansible_job_id }}"
    wait: 5
    ship_dir: /var/lib/openadapt-waa/results
  register: bench
  until: bench.finished
  retries: 17280
  delay: 0
"""

RETURN = r"""
stopped:
  description: With O(stop), the clients that ran (exec_id, pid, command) and were stopped.
  returned: when O(stop)
  type: list
  elements: dict
left:
  description: With O(stop), the clients still running after TERM and KILL (normally none).
  returned: when O(stop)
  type: list
  elements: dict
exit_code:
  description: The client's exit code; null when it did not run (check mode, early failure).
  returned: always
  type: int
argv:
  description: The command run in the container.
  returned: always
  type: list
  elements: str
total_tasks:
  description: Tasks this run had to do (this worker's share of the tasks not yet finished).
  returned: always
  type: int
tasks_in_list:
  description: Tasks selected from the task list (before resume and the worker split).
  returned: always
  type: int
budget_stopped:
  description: True when the client was stopped because the next task would have passed O(budget.seconds).
  returned: always
  type: bool
tasks_completed:
  description: Tasks that ended (finished or raised) in this run.
  returned: always
  type: int
success_count:
  description: Finished tasks whose result.txt holds 1 (C(1), C(1.0), C(True)).
  returned: always
  type: int
error_count:
  description: Tasks that raised (C(Exception in ...)) or ended without a result.
  returned: always
  type: int
average_score:
  description: The client's C(Average score), else the mean score of the finished tasks; null when none finished.
  returned: always
  type: float
tasks:
  description: One entry per task of this run - C(domain), C(task_id), C(status) (V(finished), V(error),
    V(incomplete)), C(score), C(success), C(steps), C(error), C(duration), C(result_dir) (relative to RV(results_dir)).
  returned: always
  type: list
  elements: dict
results_dir:
  description: The host directory holding the copied results (O(results_dest)).
  returned: always
  type: str
result_root:
  description: The results of this model and trial, relative to RV(results_dir) (C(<action>/<observation>/<model>/<trial>)).
  returned: always
  type: str
log_file:
  description: The host log file of the client's output.
  returned: always
  type: str
deadline_exceeded:
  description:
    - Whether the overall run deadline (O(deadline_in)) stopped the client. A stop by O(timeout) alone fails with
      C(waa_exit_code) 8 and its own message, and leaves this false.
  returned: always
  type: bool
timed_out:
  description: Whether the client was stopped by O(timeout) or O(deadline_in).
  returned: always
  type: bool
waa_exit_code:
  description: On failure, the exit code of the openadapt.waa scheme (2 Docker, 4 container, 8 timeout, 9 client failure).
  returned: failure
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openadapt.waa.plugins.module_utils._bench_client import benchmark
from ansible_collections.openadapt.waa.plugins.module_utils._finish import finish


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_name=dict(type='str', default='winarena'),
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
            client_dir=dict(type='str', default='/client'),
            python=dict(type='str', default='python'),
            task_list=dict(type='str', default='evaluation_examples_windows/test_all.json'),
            tasks=dict(type='list', elements='str'),
            num_tasks=dict(type='int'),
            sample_seed=dict(type='int', default=0),
            budget=dict(type='dict', options=dict(seconds=dict(type='float'), problem=dict(type='str', default=''))),
            shard=dict(type='dict', options=dict(index=dict(type='int', required=True),
                                                 count=dict(type='int', required=True))),
            domain=dict(type='str', default='all'),
            model=dict(type='str', default='gpt-4o-mini'),
            agent=dict(type='str', default='navi'),
            som_origin=dict(type='str', default='oss'),
            a11y_backend=dict(type='str', default='uia', choices=['uia', 'win32']),
            result_dir=dict(type='str', default='/client/results'),
            clean_results=dict(type='bool', default=False),
            trial_id=dict(type='str', default='0'),
            max_steps=dict(type='int'),
            worker_id=dict(type='int', default=0),
            num_workers=dict(type='int', default=1),
            extra_args=dict(type='list', elements='str', default=[]),
            env=dict(type='dict', default={}, no_log=True),
            env_file=dict(type='path'),
            results_dest=dict(type='path', default='/var/lib/openadapt-waa/results'),
            copy_interval=dict(type='float', default=2.0),
            progress_file=dict(type='path'),
            log_file=dict(type='path'),
            timeout=dict(type='float', default=0),
            deadline_in=dict(type='float'),
            events_window=dict(type='int', default=500),
            stop=dict(type='bool', default=False),
            run_id=dict(type='str'),
            reset_between_tasks=dict(type='dict', options=dict(
                golden_path=dict(type='path', required=True), overlay_path=dict(type='path', required=True),
                server_url=dict(type='str', default='http://127.0.0.1:5000'), stop_timeout=dict(type='int', default=120),
                boot_timeout=dict(type='float', default=600), qemu_img=dict(type='path', default='qemu-img'))),
        ),
        supports_check_mode=True,
    )
    finish(module, benchmark, module.params, module.check_mode, module.warn, module.no_log_values)


if __name__ == '__main__':
    main()
