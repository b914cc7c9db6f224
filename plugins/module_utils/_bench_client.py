# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting, stopping and cleaning up WAA's benchmark client, and the module's whole run
(benchmark()), which ends by raising Finished with the module's result."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import codecs
import hashlib
import json
import os
import posixpath
import shutil
import tarfile
import time

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    DockerConnectionError,
    DockerEngine,
    DockerError,
    DockerNotFound,
)
from ansible_collections.openadapt.waa.plugins.module_utils import _overlay
from ansible_collections.openadapt.waa.plugins.module_utils._container import running_clients
from ansible_collections.openadapt.waa.plugins.module_utils._phases import EXIT_BENCHMARK_INCOMPLETE
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressFileError, take_private_file
from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    RESULTS_MARK, validate_abs_path, validate_cleanable_result_dir, validate_plain_name)
from ansible_collections.openadapt.waa.plugins.module_utils._finish import Finished
from ansible_collections.openadapt.waa.plugins.module_utils._waa_client import WaaClient, WaaError
from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import WaaLogParser
from ansible_collections.openadapt.waa.plugins.module_utils._bench import (
    TICK,
    IDLE_FLUSH,
    KILL_GRACE,
    TAIL_LINES,
    BenchmarkError,
    Run,
    build_argv,
)
from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import (
    MAX_SELECTION,
    copy_out,
    read_container_file,
    task_list_json,
    select_tasks,
    share_of,
    as_task_list,
    tar_one_file,
)


# Run in the container by its Python: TERM every process of this run's client (its environment
# holds WAA_RUN_ID=<run id>: the client, the coreutils timeout around it and their children),
# then KILL what is left after the grace. Another run's client is never touched.
_STOP_CODE = r"""
import os, signal, sys, time
me = os.getpid()
mark = ('WAA_RUN_ID=' + sys.argv[2]).encode()
def clients():
    out = []
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != me:
            try:
                env = open('/proc/%s/environ' % pid, 'rb').read().split(b'\0')
            except OSError:
                continue
            if mark in env:
                out.append(int(pid))
    return out
for sig, wait in ((signal.SIGTERM, float(sys.argv[1])), (signal.SIGKILL, 2.0)):
    for pid in clients():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.time() + wait
    while clients() and time.time() < end:
        time.sleep(0.2)
print(len(clients()))
"""


def stop_clients(engine, run, p):
    """Stop the running clients; returns (stopped, left) lists of what running_clients saw."""
    info = engine.container_inspect(run.container)
    if info is None or not (info.get('State') or {}).get('Running'):
        return [], []
    before = running_clients(engine, info)
    if not before:
        return [], []
    exec_id = engine.exec_create(run.container, [p['python'], '-c', _STOP_CODE, str(KILL_GRACE), p['run_id']])
    for _frame in engine.exec_start(exec_id, tick=1.0, connect_timeout=60):
        pass
    left = running_clients(engine, engine.container_inspect(run.container) or {})
    still = set(client['exec_id'] for client in left)
    return [client for client in before if client['exec_id'] not in still], left


def run_module(p, run, check_mode=False, warn=None):
    warn = warn or (lambda msg: None)
    engine = run.engine

    # Container and task list.
    try:
        info = engine.container_inspect(run.container)
    except DockerConnectionError as exc:
        raise BenchmarkError('Cannot reach the Docker daemon: %s' % exc.message, 2,
                             'Start Docker on the VM (waa vm-setup does), then run again.')
    if info is None:
        raise BenchmarkError('Container %s does not exist.' % run.container, 4,
                             'Run waa vm-setup first (or pass the right container name).')
    if not (info.get('State') or {}).get('Running'):
        raise BenchmarkError('Container %s is not running (%s).' % (run.container, (info.get('State') or {}).get('Status')), 4,
                             'Start it with waa vm-setup (or docker start %s) and wait for the server.' % run.container)

    # One agent at a time on the desktop: a client that still runs (a run of another controller,
    # or one whose controller died) is named, not joined.
    others = running_clients(engine, info)
    if others:
        raise BenchmarkError('A benchmark client already runs in container %s (exec %s, pid %s: %s).' % (
            run.container, others[0]['exec_id'], others[0]['pid'], others[0]['command']), 1,
            'Wait for that run to end, or stop it: docker exec %s pkill -f run.py (or interrupt the waa run that '
            'started it).' % run.container)

    list_path = p['task_list'] if p['task_list'].startswith('/') else posixpath.join(p['client_dir'], p['task_list'])
    raw = read_container_file(engine, run.container, list_path)
    if raw is None:
        raise BenchmarkError('The task list %s does not exist in container %s.' % (list_path, run.container), 1,
                             'Pass a task list that exists in the container, e.g. evaluation_examples_windows/test_all.json.')
    try:
        base = task_list_json(json.loads(raw.decode('utf-8')))
    except ValueError as exc:
        raise BenchmarkError('The task list %s is not valid: %s' % (list_path, exc), 1)
    pairs = select_tasks(base, p['domain'], p['tasks'], p['num_tasks'], p['sample_seed'])
    if p['num_tasks'] is not None:
        run.sample = {'seed': p['sample_seed'], 'tasks': len(pairs)}
    run.selection = ['%s/%s' % pair for pair in pairs] if len(pairs) <= MAX_SELECTION else None
    if p['shard'] and p['shard']['count'] > 1:
        selected = len(pairs)
        pairs = share_of(pairs, p['shard']['index'], p['shard']['count'])
        run.share = {'index': p['shard']['index'], 'count': p['shard']['count'], 'of': selected,
                     'domains': dict((d, len(ids)) for d, ids in as_task_list(pairs).items())}
    run.tasks_in_list = len(pairs)
    if not pairs:
        run.total_override = 0
        result = run.result()
        result.update(changed=False, msg='No task in this host\'s share (shard %d of %d: %d task(s) for %d hosts).' % (
            run.share['index'] + 1, run.share['count'], run.share['of'], run.share['count']) if run.share
            else 'No task selected.')
        run.status = 'complete'
        run.benchmark_event()
        if run.progress is not None:
            run.progress.final(dict(run.record(), result=result, message=result['msg']), failed=False)
        return result
    selection = as_task_list(pairs)
    meta_path = p['task_list']
    custom = None
    if selection != base:
        data = (json.dumps(selection, indent=2) + '\n').encode('utf-8')
        name = 'openadapt-waa-%s.json' % hashlib.sha256(data).hexdigest()[:12]
        custom = (posixpath.dirname(list_path), name, data)
        meta_path = posixpath.join(posixpath.dirname(list_path), name)

    if p['budget'] and p['budget'].get('seconds') is None:
        raise BenchmarkError(p['budget'].get('problem') or '--max-cost needs the VM\'s hourly rate.', 1,
                             'Give --hourly-rate USD or --vm-size SIZE with --max-cost.')

    # Time limit: the smaller of timeout and the run deadline.
    limit = p['timeout'] if p['timeout'] and p['timeout'] > 0 else None
    if p['deadline_in'] is not None:
        if p['deadline_in'] <= 0:
            run.deadline_exceeded = True
            raise BenchmarkError('The overall deadline has passed before the benchmark started.', 8,
                                 'Increase --timeout.')
        run.limit_is_deadline = limit is None or p['deadline_in'] <= limit
        limit = p['deadline_in'] if limit is None else min(limit, p['deadline_in'])
    run.argv = build_argv(p, meta_path, limit)

    if check_mode:
        result = run.result()
        result.update(changed=True, msg='Would run %d task(s) of %s in %s.' % (len(pairs), p['task_list'], run.container))
        return result

    mark_results_dest(p['results_dest'])
    if p['clean_results']:
        clean(engine, run, p)
    if run.next_task_past_budget(time.monotonic()):
        run.budget_stopped = True  # the setup spent this host's share of --max-cost: no task starts
    elif p['reset_between_tasks']:
        _run_isolated(p, run, pairs, posixpath.dirname(list_path), limit)
    else:
        if custom is not None:
            engine.put_archive(run.container, custom[0], tar_one_file(custom[1], custom[2]), timeout=60)
        run.open_log()
        run.write_progress(force=True)
        _stream_client(p, run, run.argv, limit)

    # Final sync: the whole result directory, then success from the copied result.txt files.
    run.status = 'syncing'
    run.write_progress(force=True)
    try:
        copy_out(engine, run.container, p['result_dir'], p['results_dest'])
    except (DockerError, tarfile.TarError, OSError) as exc:
        warn('The final copy of %s from the container failed: %s' % (p['result_dir'], exc))
    for task in run.tasks:
        run.finish_steps(task)
        if task.get('status') == 'finished':
            task['success'] = run.task_success(task)
    verdict = _verdict(run, run.summary(), p, limit)
    run.status = 'failed' if verdict.get('failed') else 'complete'
    run.benchmark_event()
    result = run.result()
    result.update(verdict, changed=True)
    if run.progress is not None:
        run.progress.final(dict(run.record(), result=result, message=result['msg']), failed=bool(result.get('failed')))
    if run.log is not None:
        run.log.close()
    return result


def _stream_client(p, run, argv, limit):
    """Run the client (``argv``) in the container to its end or ``limit`` seconds, feeding its output to the
    parser and the run's events, result copies and progress; sets run.exit_code and run.timed_out."""
    engine = run.engine
    started = time.monotonic()
    # The run's id in the client's environment: an interrupted run stops its own client only.
    env = dict(p['env'] or {}, WAA_RUN_ID=p['run_id']) if p['run_id'] else p['env']
    exec_id = engine.exec_create(run.container, argv, workdir=p['client_dir'], env=env or None)
    decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
    err_decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
    hard_stop = time.monotonic() + limit + KILL_GRACE + 30 if limit is not None else None
    last_data = time.monotonic()
    pending_idle = False
    stream = engine.exec_start(exec_id, tick=TICK, connect_timeout=60)
    try:
        for frame in stream:
            now = time.monotonic()
            events = []
            if frame is None:
                if pending_idle and now - last_data >= IDLE_FLUSH:
                    events = run.parser.idle()
                    pending_idle = False
            else:
                which, data = frame
                last_data = now
                run.log_write(data)
                if which == 2:
                    _tail(run.stderr_tail, err_decoder.decode(data))
                else:
                    text = decoder.decode(data)
                    _tail(run.stdout_tail, text)
                    events = run.parser.feed(text)
                    pending_idle = True
                    run.copy_pending = True
            for event in events:
                run.on_parsed(event)
            if any(e['type'] == 'task_end' for e in events) and _stop_for_budget(run, now):
                stop_clients(engine, run, p)
            if run.task is not None and run.copy_pending:
                run.copy_task(run.task)
            run.copy_logs()
            run.write_progress()
            if hard_stop is not None and now > hard_stop:
                run.timed_out = True
                break
    finally:
        stream.close()

    for event in run.parser.feed(decoder.decode(b'', final=True)) + run.parser.close():
        run.on_parsed(event)
    run.exit_code = wait_exit(engine, exec_id)
    if limit is not None and run.exit_code in (124, 137) and time.monotonic() - started >= limit - 1:
        run.timed_out = True
    run.deadline_exceeded = run.timed_out and run.limit_is_deadline


def _stop_for_budget(run, now):
    """After a task's end: whether to stop the client because the next task would pass the budget (and
    tasks are left). Marks the run stopped for it."""
    ended = run.summary()['tasks_completed']
    left = run.total - ended if run.total is not None else 1
    if run.budget_stopped or left <= 0 or not run.next_task_past_budget(now):
        return False
    run.budget_stopped = True
    return True


def _reset_windows(run, p, ends):
    """Windows back to the golden disk before a task: the container stopped (ACPI shutdown first), its overlay
    replaced by an empty one, the container started, and the WAA server waited for (until ``ends``)."""
    opts = p['reset_between_tasks']
    t0 = time.monotonic()
    run.status = 'resetting'
    run.write_progress(force=True)
    run.engine.container_stop(run.container, stop_timeout=opts['stop_timeout'])
    try:
        _overlay.create(opts['golden_path'], opts['overlay_path'], opts['qemu_img'])
    except (_overlay.OverlayError, IOError, OSError) as exc:
        raise BenchmarkError('Cannot reset Windows to the golden disk: %s' % exc, 4,
                             'Check the golden disk (waa prepare-image) and qemu-img on the VM; waa reset does the same.')
    run.engine.container_start(run.container, timeout=60)
    client = WaaClient(opts['server_url'], timeout=5)
    while True:
        try:
            client.probe()
            break
        except (WaaError, IOError, OSError) as exc:
            if time.monotonic() >= ends:
                raise BenchmarkError('Windows did not come back from the golden disk within %ds: %s'
                                     % (opts['boot_timeout'], exc), 6,
                                     'Check the container (docker logs %s); waa reset shows the boot.' % run.container)
        time.sleep(1)
    run.last_reset = round(time.monotonic() - t0, 2)


def _run_isolated(p, run, pairs, list_dir, limit):
    """--reset-between-tasks: one client per task, each on Windows fresh from the golden disk (the WAA paper's
    per-task isolation). A task with a result already is skipped (resume); one that ends without a result
    does not stop the others."""
    ends = time.monotonic() + limit if limit is not None else None
    todo = [pair for pair in pairs if read_container_file(
        run.engine, run.container, run.container_path(run.result_root(), pair[0], pair[1], 'result.txt')) is None]
    run.total_override = len(todo)
    run.open_log()
    run.write_progress(force=True)
    for domain, task_id in todo:
        left = (ends - time.monotonic()) if ends is not None else None
        if left is not None and left <= 0:
            run.timed_out = True
            break
        if run.next_task_past_budget(time.monotonic()):
            run.budget_stopped = True
            break
        boot_ends = time.monotonic() + p['reset_between_tasks']['boot_timeout']
        _reset_windows(run, p, min(boot_ends, ends) if ends is not None else boot_ends)
        data = (json.dumps({domain: [task_id]}, indent=2) + '\n').encode('utf-8')
        name = 'openadapt-waa-%s.json' % hashlib.sha256(data).hexdigest()[:12]
        run.engine.put_archive(run.container, list_dir, tar_one_file(name, data), timeout=60)
        left = (ends - time.monotonic()) if ends is not None else None
        run.parser = WaaLogParser()
        _stream_client(p, run, build_argv(p, posixpath.join(list_dir, name), left), left)
        if run.timed_out:
            break


def _verdict(run, s, p, limit):
    """How the client's run ended, from its summary ``s``: the result's msg and, for a failure,
    failed, waa_exit_code and fix. A client that ended before every task of its list had a result
    (killed, crashed, its container restarted) is never complete, whatever its exit code says."""
    score = '' if s['average_score'] is None else ', average score %.2f' % s['average_score']
    done = '%d of %d task(s) ended: %d succeeded, %d failed, %d error(s)%s' % (
        s['tasks_completed'], s['total_tasks'] or 0, s['success_count'],
        s['tasks_completed'] - s['success_count'] - s['error_count'], s['error_count'], score)
    if s['already_done']:
        done += '; %d already done earlier (kept)' % s['already_done']
    expected = run.total if run.total is not None else run.tasks_in_list
    missing = max(0, (expected or 0) - s['tasks_completed'])
    if run.timed_out:
        what = 'the run deadline' if run.deadline_exceeded else 'its time limit'
        return dict(failed=True, waa_exit_code=8, fix='Increase --timeout, or run again: finished tasks are kept and skipped.',
                    msg='Benchmark stopped at %s (%ss): %s.' % (what, int(limit or 0), done))
    if run.budget_stopped:
        return dict(failed=True, waa_exit_code=EXIT_BENCHMARK_INCOMPLETE, tasks_without_result=missing,
                    fix='Resume with a larger budget: waa run --resume RUN_DIR --max-cost USD (only the tasks without a '
                        'result run).',
                    msg='Stopped handing out tasks at --max-cost: this host\'s share of the budget would be spent '
                        'before another task ended; %d task(s) not run; %s.' % (missing, done))
    if missing:
        return dict(failed=True, waa_exit_code=EXIT_BENCHMARK_INCOMPLETE, tasks_without_result=missing,
                    fix='Run the same waa run again: finished tasks are kept and skipped, the rest run.',
                    msg='Benchmark incomplete: the client ended (exit code %s) with %d task(s) of its list without a '
                        'result; %s.' % (run.exit_code, missing, done))
    if run.exit_code != 0:
        tail = ' | '.join((run.stderr_tail or run.stdout_tail)[-5:])
        return dict(failed=True, waa_exit_code=9, fix='See the client output in %s on the VM.' % (p['log_file'] or 'the log file'),
                    msg='The benchmark client exited with %s: %s. Last output: %s' % (run.exit_code, done, tail[-800:]))
    return dict(msg='Benchmark complete: %s.' % done)


def _tail(lines, text):
    for line in text.splitlines():
        line = line.strip()
        if line:
            lines.append(line[:300])
    del lines[:-TAIL_LINES]


def wait_exit(engine, exec_id, timeout=30):
    end = time.monotonic() + timeout
    while True:
        try:
            info = engine.exec_inspect(exec_id, timeout=10)
        except DockerError:
            return None
        if not info.get('Running') or time.monotonic() > end:
            return info.get('ExitCode')
        time.sleep(0.2)


def clean(engine, run, p):
    """Empty the result directory in the container and its copy on the host. Both are checked
    before anything is removed: a refusal leaves everything as it was."""
    info = engine.container_inspect(run.container) or {}
    mounts = [m.get('Destination') for m in info.get('Mounts') or [] if m.get('Destination')]
    try:
        result_dir = validate_cleanable_result_dir(p['result_dir'], mounts)
        if result_dir == (p['client_dir'].rstrip('/') or '/'):
            raise ValueError('Refusing to clean %s: it is the benchmark client itself.' % result_dir)
    except ValueError as exc:
        raise BenchmarkError(str(exc), 1, 'Pass --result-dir /client/results (or a directory of its own under it).')
    dest = os.path.realpath(p['results_dest'])
    mark = os.path.join(dest, RESULTS_MARK)
    if not os.path.isfile(mark) or os.path.islink(mark):
        raise BenchmarkError('Refusing to clean results_dest %s: openadapt.waa did not create it (it has no %s '
                             'file).' % (p['results_dest'], RESULTS_MARK), 1,
                             'Use a directory of its own for results (the default, <waa_state_dir>/results, is made '
                             'by the tool), or, if this one holds only benchmark results, create %s in it.' % mark)
    # A directory the container mounts (its /client/results on the VM, say) is never removed
    # from under it, even when it lies in results_dest.
    sources = set(os.path.realpath(m['Source']) for m in info.get('Mounts') or [] if m.get('Source'))
    exec_id = engine.exec_create(run.container, ['find', result_dir, '-mindepth', '1', '-delete'])
    for _frame in engine.exec_start(exec_id, tick=1.0, connect_timeout=60):
        pass
    for name in os.listdir(dest):
        if name == RESULTS_MARK:
            continue
        path = os.path.join(dest, name)
        real = os.path.realpath(path)
        if any(src == real or src.startswith(real + '/') for src in sources):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def mark_results_dest(path):
    """Create the results directory on the VM, marked as the tool's own (RESULTS_MARK): only a marked
    directory is ever emptied. An existing empty one is marked too; one with content is left as it is."""
    if not os.path.isdir(path):
        os.makedirs(path, 0o750)
    elif os.listdir(path):
        return
    with open(os.path.join(path, RESULTS_MARK), 'a'):
        pass


def read_env_file(path, keep=False):
    """The JSON object of strings in ``path`` (take_private_file: removed unless ``keep``)."""
    data = take_private_file(path, keep)
    try:
        env = json.loads(data.decode('utf-8'))
    except ValueError:
        raise ValueError('env_file %s is not a JSON object' % path)
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError('env_file %s must hold a JSON object of strings' % path)
    return env


# The shortest value of the client's environment that is masked as a secret (API keys are far longer).
MIN_SECRET_CHARS = 8


def benchmark(p, check_mode=False, warn=None, no_log_values=None):
    """Run waa_benchmark for its parameters ``p``; always ends by raising Finished.

    ``no_log_values`` (the module's set) takes the values read from env_file, so that they are masked
    in every result."""
    no_log_values = set() if no_log_values is None else no_log_values
    run = None
    try:
        # First of all: the file holds the API key, and must not outlive a refused call.
        secret_env = read_env_file(p['env_file'], check_mode) if p['env_file'] else {}
        # Masked in every result: the values long enough to be a key. A short one is a setting ("0", "true"), and
        # masking it would blank that text everywhere in the result: every 0 of every task id and score.
        no_log_values.update(v for v in secret_env.values() if v and len(v) >= MIN_SECRET_CHARS)
        for key in ('results_dest', 'progress_file', 'log_file'):
            if p[key]:
                validate_abs_path(p[key], key)
        for key in ('result_dir', 'client_dir'):
            if not p[key].startswith('/') or '\0' in p[key] or '..' in p[key].split('/'):
                raise ValueError('%s must be an absolute path in the container without "..", got %r' % (key, p[key]))
        for key in ('model', 'agent', 'som_origin', 'trial_id', 'domain', 'python', 'task_list'):
            if not p[key] or '\0' in p[key] or '\n' in p[key]:
                raise ValueError('%s must be a non-empty single-line string' % key)
        validate_plain_name(p['model'], 'model name')  # the CLI's own rule
        validate_plain_name(p['agent'], 'agent name')
        if '/' in p['trial_id'] or p['trial_id'] in ('.', '..'):
            raise ValueError('trial_id names a directory of the results layout: no "/", "." or ".."')
        if p['num_workers'] < 1 or not 0 <= p['worker_id'] < p['num_workers']:
            raise ValueError('worker_id must be between 0 and num_workers - 1 (num_workers >= 1)')
        if p['copy_interval'] < 0.2:
            raise ValueError('copy_interval must be at least 0.2 seconds')
        if p['events_window'] < 10:
            raise ValueError('events_window must be at least 10')
        if secret_env:
            p['env'] = dict(p['env'] or {}, **secret_env)
        if p['env'] and not all(isinstance(k, str) and k and '=' not in k for k in p['env']):
            raise ValueError('env keys must be non-empty names without "="')
    except (ValueError, OSError) as exc:
        raise Finished(dict(msg=str(exc), waa_exit_code=1), failed=True)
    try:
        run = Run(p, DockerEngine(p['docker_host'], timeout=60), check_mode, warn)
        if p['stop']:
            if not p['run_id']:
                raise Finished(dict(msg='stop needs the run_id of the run whose client it stops', waa_exit_code=1),
                               failed=True)
            if check_mode:
                raise Finished(dict(changed=False, stopped=[], left=[]), failed=False)
            stopped, left = stop_clients(run.engine, run, p)
            raise Finished(dict(changed=bool(stopped), stopped=stopped, left=left,
                                msg='Stopped %d benchmark client(s)' % len(stopped) if stopped else 'No benchmark client ran'),
                           failed=False)
        result = run_module(p, run, check_mode, warn)
    except (BenchmarkError, DockerError, ProgressFileError, IOError, OSError) as exc:
        if isinstance(exc, BenchmarkError):
            code, fix, msg = exc.code, exc.fix, exc.message
        elif isinstance(exc, DockerConnectionError):
            code, fix, msg = 2, 'Check that Docker runs on the VM.', 'Docker daemon: %s' % exc
        elif isinstance(exc, DockerNotFound):
            code, fix, msg = 4, 'Run waa vm-setup first.', 'Container %s: %s' % (p['container_name'], exc)
        elif isinstance(exc, DockerError):
            code, fix, msg = 9, 'Check the container (docker logs %s).' % p['container_name'], 'Docker: %s' % exc
        else:
            code, fix, msg = 1, 'Choose writable paths on the VM.', str(exc)
        out = dict(msg=msg, fix=fix, waa_exit_code=code, changed=False, deadline_exceeded=code == 8)
        if run is not None:
            out.update({k: v for k, v in run.result().items() if k not in out})
            out['changed'] = run.exit_code is not None
            if run.progress is not None:
                run.status = 'failed'
                try:
                    run.progress.final(dict(run.record(), message=msg, result=dict(out, failed=True)), failed=True)
                except (ProgressFileError, IOError, OSError):
                    pass
        raise Finished(out, failed=True)
    if result.get('failed'):
        result.pop('failed')
        msg = result.pop('msg')
        raise Finished(dict(result, msg=msg), failed=True)
    raise Finished(result, failed=False)
