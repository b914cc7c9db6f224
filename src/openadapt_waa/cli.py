"""`waa`: the thin command line over the openadapt.waa playbooks.

Each command validates its options, runs one playbook through ansible-runner, prints the
events as they arrive (or one JSON document with --json) and exits with the spec's code:

0 success, 1 pre-flight, 2 Docker daemon, 3 image pull, 4 container, 5 Windows boot,
6 WAA server, 7 accessibility / smoke test, 8 timeout, 9 unexpected; `waa run` adds 10, benchmark
incomplete.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from openadapt_waa import __version__
from openadapt_waa.fleet import DEFAULT_MAX_FAILURES
from openadapt_waa.options import (UsageError, common_vars, golden_push_vars, prepare_vars, refuse_templates, run_vars,
                                  setup_vars, target)

EXIT_BAD_ARGS = 1  # bad input is a pre-flight failure, never 2 (2 means the Docker daemon failed)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit 2, which means "Docker daemon failure" here
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_BAD_ARGS)


# -- options ---------------------------------------------------------------------------------
def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target")
    g.add_argument("--host", default=os.environ.get("WAA_VM_HOST"),
                   help="VM host name or IP (default $WAA_VM_HOST). Alone: SSH with default settings; "
                        "with -i: the inventory host to run on")
    g.add_argument("-i", "--inventory", help="any Ansible inventory (e.g. inventories/azure/waa.azure_rm.yml)")
    g.add_argument("--limit", help="Ansible host pattern to limit the inventory to")
    g.add_argument("--ssh-user", default=os.environ.get("WAA_VM_USER", "azureuser"),
                   help="SSH user with --host alone (default $WAA_VM_USER or azureuser)")
    g.add_argument("--ssh-key", default=os.environ.get("WAA_VM_SSH_KEY"),
                   help="SSH private key with --host alone (default $WAA_VM_SSH_KEY or your SSH agent/config)")
    g.add_argument("--container-name", help="name of the WAA container (default winarena)")
    g.add_argument("--vm-size", help="the VM's Azure size for the cost estimate, e.g. Standard_D8s_v3 "
                                     "(default: the azure_rm inventory's virtual_machine_size)")
    g.add_argument("--hourly-rate", type=float, metavar="USD",
                   help="what an hour of the VM costs, for the cost estimate (default: the size's list price)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print one JSON document (per host) instead of human output")
    g.add_argument("--verbose", action="store_true", help="also show ansible-playbook's own output")
    g.add_argument("--run-dir", help="where the run's events, state, logs and screenshots go "
                                     "(default ~/.local/state/openadapt-waa/runs/<time>-<command>)")
    g.add_argument("--timeout", type=int, default=None,
                   help="overall timeout in seconds (default 1800; 86400 for run; 7200 for prepare-image); exit 8 when reached")


def add_setup_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("setup")
    g.add_argument("--image", default=os.environ.get("WAA_IMAGE"),
                   help="image to run (default windowsarena/winarena:latest, or $WAA_IMAGE)")
    g.add_argument("--azure-cr", default=os.environ.get("WAA_AZURE_CR"),
                   help="Azure Container Registry to fall back to on a Docker Hub rate limit, e.g. myacr.azurecr.io; "
                        "credentials from $WAA_REGISTRY_USERNAME / $WAA_REGISTRY_PASSWORD (default $WAA_AZURE_CR)")
    g.add_argument("--rebuild", action="store_true", default=None, help="remove the existing container and create it again")
    g.add_argument("--verify-nested-virt", dest="verify_nested_virt", action="store_true", default=None,
                   help="check that /dev/kvm works (default)")
    g.add_argument("--no-verify-nested-virt", dest="verify_nested_virt", action="store_false",
                   help="skip the KVM check")
    g.add_argument("--skip-smoke-test", action="store_true", default=None, help="skip the Notepad smoke test")
    g.add_argument("--strict-smoke", action="store_true", default=None, help="a failed smoke test exits 7 instead of warning")
    g.add_argument("--log-file", help="setup log location on the VM (default /tmp/waa_setup.log)")
    g.add_argument("--publish-address",
                   help="VM address the WAA (5000), VNC (8006) and RDP (3389) ports are published on. "
                        "Default 127.0.0.1: the WAA server runs arbitrary commands without authentication")
    g.add_argument("--golden", metavar="URL",
                   help="restore the golden Windows disk from this Blob Storage folder (waa golden push put it there) "
                        "when the VM has none, instead of preparing one; credentials as for waa golden push")
    g.add_argument("--ram-size", help="RAM_SIZE for Windows, e.g. 8G (default auto: the VM's memory less 2 GB, at most 8G)")
    g.add_argument("--cpu-cores", help="CPU_CORES for Windows (default auto: the VM's cores, at most 8)")
    g.add_argument("--storage-path", help="host directory for Windows' disk (default /var/lib/openadapt-waa/storage)")
    g.add_argument("--results-path",
                   help="host directory mounted as the container's /client/results, so results outlive the container "
                        "(default /var/lib/openadapt-waa/client-results/<container name>)")


def add_monitor_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("live monitoring")
    g.add_argument("--monitor", action="store_true",
                   help="start the live viewer on 127.0.0.1 before the run, print its URL and open a browser if one is available")
    g.add_argument("--monitor-port", type=int, default=0, help="port of the live viewer (default: a free one)")
    g.add_argument("--monitor-keep", type=float, default=None, metavar="SECONDS",
                   help="keep the viewer up this long after the run (default: until Ctrl+C at a terminal, else 0)")


def add_benchmark_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("benchmark")
    g.add_argument("--task-list", help="task list inside the container (default evaluation_examples_windows/test_all.json)")
    g.add_argument("--task", action="append", dest="tasks", metavar="DOMAIN/ID",
                   help="run this task (repeatable), e.g. --task notepad/366de66e-cbae-4d72-b042-26390db2b145-WOS")
    g.add_argument("--num-tasks", type=int,
                   help="run this many tasks, sampled across the domains in proportion to their sizes (default all)")
    g.add_argument("--sample-seed", type=int, metavar="N",
                   help="seed of the --num-tasks sample (default 0: the same sample each time and on every host)")
    g.add_argument("--shard-by", choices=["host", "none"],
                   help="host (default): each host of the inventory runs its share of the tasks, each task once "
                        "across the fleet; none: every host runs the whole list")
    g.add_argument("--domain", help="only tasks of this domain (e.g. notepad)")
    g.add_argument("--model", help="model the agent uses (default gpt-4o-mini)")
    g.add_argument("--agent", help="agent (default navi)")
    g.add_argument("--result-dir", help="results directory inside the container (default /client/results)")
    g.add_argument("--clean-results", action="store_true", default=None,
                   help="wipe earlier results first (default: keep them, so finished tasks are skipped)")
    g.add_argument("--reset-between-tasks", action="store_true", default=None,
                   help="return Windows to the golden disk before each task (a fresh overlay and a boot per task: "
                        "the WAA paper's per-task isolation)")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="finish an earlier run: only its tasks without a result anywhere in the fleet run (with its task "
                        "list, agent and model); the summary covers both runs")
    g.add_argument("--max-host-failures", type=int, metavar="K",
                   help=f"leave out a host after K failed runs in a row (its circuit opens; default "
                        f"{DEFAULT_MAX_FAILURES}); a later run probes it first and gives it work again when it is healthy")
    g.add_argument("--max-cost", type=float, metavar="USD",
                   help="what the run may cost across its hosts (VM time at --hourly-rate or the size's list price, "
                        "setup included), split evenly: no task is handed out that would end past a host's share "
                        "(default none: no budget)")
    g.add_argument("--deallocate-after", action="store_true", default=None,
                   help="deallocate each Azure VM once the fleet no longer needs it (after the first pass for hosts the "
                        "second pass does not use, at the end for the others), as `waa down` does")
    g.add_argument("--setup", action="store_true", default=None,
                   help="set the host up first when it needs it (as `waa up`: the setup phases when the container is "
                        "missing, the start phases when it is stopped), then run; the setup options apply")


def add_golden_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("golden image")
    g.add_argument("--iso", metavar="PATH",
                   help="the Windows 11 x64 ISO on this machine (e.g. Windows 11 Enterprise Evaluation); copied to the "
                        "VM with progress, resumed after an interrupt, checked by SHA-256, not copied again when there")
    g.add_argument("--iso-url", metavar="URL", help="or an http(s) URL the VM downloads the ISO from (resumed, with progress)")
    g.add_argument("--iso-sha256", metavar="HEX", help="the ISO's SHA-256, checked before Windows is installed from it")
    g.add_argument("--force", action="store_true", default=None,
                   help="replace a golden disk that is already in the storage folder (never replaced otherwise)")


# The most roles/common/tasks/start.yml adds to a default --timeout (waa_install_timeout's default, 3600 s,
# and as much again for a user who raised it).
AUTO_TIMEOUT_EXTRA = 7200

COMMANDS = {
    # command: (playbook, help, option groups)
    "vm-setup": ("vm_setup.yml", "set up the WAA container on a VM, phase by phase", ("setup", "monitor")),
    "server-start": ("server_start.yml", "start (or restart) the WAA server of an existing container", ()),
    "up": ("up.yml", "start the Azure VM if stopped, set up or start the container, then probe", ("setup", "monitor")),
    "probe": ("probe.yml", "check the five health layers (exit code of the first unhealthy one)", ("detailed",)),
    "run": ("run_waa.yml", "run the WAA benchmark with live progress; results are copied back",
            ("benchmark", "setup", "monitor")),
    "prepare-image": ("prepare_image.yml", "prepare the golden Windows disk once from a Windows 11 ISO (~20 min)",
                      ("golden", "setup", "monitor")),
    "down": ("down.yml", "deallocate the Azure VMs (no compute billed; disks kept), refusing one another run holds",
             ()),
    "reset": ("reset.yml", "return Windows to the golden disk (a fresh overlay, O(1)), then wait for the WAA server",
              ("monitor",)),
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="waa", description="Turn a VM into a ready Windows Agent Arena host, and run the benchmark on it. "
                                            "Exit codes: 0 ok, 1 pre-flight, 2 Docker daemon, 3 image pull, 4 container, "
                                            "5 Windows boot, 6 WAA server, 7 accessibility/smoke, 8 timeout, 9 unexpected, "
                                            "10 benchmark incomplete (run).")
    parser.add_argument("--version", action="version", version=f"waa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (_playbook, text, groups) in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_target_options(p)
        if "golden" in groups:
            add_golden_options(p)
        if "setup" in groups:
            add_setup_options(p)
        if "benchmark" in groups:
            add_benchmark_options(p)
        if "detailed" in groups:
            p.add_argument("--detailed", action="store_true",
                           help="also check the screenshot, the accessibility tree and /execute")
        if "monitor" in groups:
            add_monitor_options(p)
        add_output_options(p)
    gp = sub.add_parser("golden", help="push this host's golden Windows disk to Azure Blob Storage, for every other VM",
                        description="Push the golden Windows disk of a host to an Azure Blob Storage folder (the VM moves "
                                    "the bytes: only the disk's data, in parallel blocks, resumable); vm-setup and up "
                                    "--golden URL restore it on VMs that have none.")
    gp.add_argument("action", choices=["push"], help="push")
    gp.add_argument("--to", metavar="URL", required=True,
                    help="the folder, e.g. https://ACCOUNT.blob.core.windows.net/CONTAINER/FOLDER (no SAS: one is made "
                         "from AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or your Azure login)")
    gp.add_argument("--storage-path", help="host directory of the golden disk (default /var/lib/openadapt-waa/storage)")
    add_target_options(gp)
    add_output_options(gp)
    m = sub.add_parser("monitor", help="open the live viewer on runs (the newest, and those started later)",
                       description="Serve the live viewer on 127.0.0.1 for run directories, or for every run "
                                   "started under ~/.local/state/openadapt-waa/runs.")
    r = sub.add_parser("results", help="merge the benchmark results of run directories into one summary",
                       description="Merge the results of `waa run` directories (a fleet's hosts, AWX slices, earlier runs) "
                                   "into one summary: per domain, overall, per host, the slowest tasks and the cost; a task "
                                   "with results in several places is reported and counted once (its newest result).")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run directory (with results/<host>/...)")
    r.add_argument("--output", metavar="FILE", help="also write the summary (JSON) to this file")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    m.add_argument("--run-dir", action="append", default=[], help="a run directory to show (repeatable)")
    m.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    m.add_argument("--no-browser", action="store_true", help="print the URL only")
    return parser


# -- running ---------------------------------------------------------------------------------
def start_viewer(run_dir: Path, port: int):
    """The live viewer, started before the run so the page is there from the first instant."""
    from openadapt_waa.viewer import Viewer, open_browser

    try:
        viewer = Viewer([run_dir], port=port)
        open_browser(viewer.start())
        return viewer
    except (OSError, RuntimeError) as err:  # a busy port must not cost the run
        sys.stderr.write(f"waa: live viewer not started: {err}\n")
        return None


def linger(viewer, interactive: bool, keep: float | None = None) -> None:
    """Keep the final page up for a person at a terminal; stop at once in scripts and CI."""
    sys.stdout.flush()  # the result must be out before a piped run waits here (and may be stopped)
    if keep is None and not interactive:
        viewer.stop()
        return

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)  # SIGTERM ends the wait, not the run's exit code
    try:
        if keep is not None:
            if keep > 0:
                sys.stderr.write(f"Live viewer still at {viewer.url} for {keep:.0f}s\n")
                time.sleep(keep)
        else:
            sys.stderr.write(f"Live viewer still at {viewer.url} (Ctrl+C to stop)\n")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    viewer.stop()


def execute(command: str, playbook: str, args, extravars: dict) -> int:
    from openadapt_waa import owners
    from openadapt_waa.runner import default_run_dir

    # Run files hold logs, screenshots and the inventory's host names: this user's only (0600/0700),
    # for the CLI and for the ansible-playbook it starts.
    os.umask(0o077)
    inventory, limit = target(args)
    run_dir = Path(args.run_dir).expanduser().resolve() if args.run_dir else default_run_dir(command)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.time() + args.timeout
    run_id = owners.new_run_id(run_dir)
    dead = owners.dead_owners()
    controller = owners.register(run_id)
    extravars = dict(extravars, waa_run_deadline=deadline, waa_timeout=args.timeout, waa_run_dir=str(run_dir),
                     waa_run_id=run_id, waa_lock_dead_owners=dead, waa_lock_controller=controller)
    if command == "run":
        _write_request(args, run_dir)
    try:
        return _execute(command, playbook, args, extravars, inventory, limit, run_dir)
    finally:
        owners.unregister(run_id)


def _write_request(args, run_dir: Path) -> None:
    """<run>/request.json (what --resume repeats) and, for a resumed run, resumes.json (the earlier run)."""
    from openadapt_waa.fleet import RESUMES_FILE
    from openadapt_waa.options import run_request

    from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import atomic_write

    atomic_write(str(run_dir / "request.json"), json.dumps(run_request(args), indent=2, sort_keys=True) + "\n")
    if args.resume:
        atomic_write(str(run_dir / RESUMES_FILE), json.dumps({"resumes": [str(args.resume)]}) + "\n")


def _execute(command: str, playbook: str, args, extravars: dict, inventory, limit, run_dir: Path) -> int:
    from openadapt_waa import fleet
    from openadapt_waa.output import Printer
    from openadapt_waa.runner import run_playbook

    printer = None if args.json else Printer(command, verbose=args.verbose)
    if printer:
        printer.line(f"[{command}] Run directory: {run_dir}")
    viewer = start_viewer(run_dir, args.monitor_port) if getattr(args, "monitor", False) else None
    notes: list[str] = []

    def play(playbook: str, variables: dict, where: Path, pattern: str | None):
        # The backstop: waits on the VM stop at the deadline itself, which the roles may extend for a default
        # timeout on the install or restore path (roles/common/tasks/start.yml).
        left = extravars["waa_run_deadline"] - time.time()
        return run_playbook(
            playbook, inventory=inventory, extravars=variables, run_dir=where, limit=pattern,
            hard_timeout=max(left, 1) + 30 + (AUTO_TIMEOUT_EXTRA if extravars.get("waa_timeout_auto") else 0),
            on_event=printer.event if printer else None,
            on_output=printer.output if printer else None,
        )

    def say(line: str) -> None:
        notes.append(line)
        if printer:
            printer.line(line)

    try:
        if command == "run":
            breaker = fleet.Breaker(inventory, args.max_host_failures or fleet.DEFAULT_MAX_FAILURES) \
                if isinstance(inventory, str) else None
            earlier = fleet.run_dirs_of(Path(args.resume)) if args.resume else []
            result = fleet.run_benchmark(play, extravars=extravars, run_dir=run_dir, limit=limit, breaker=breaker,
                                         say=say, earlier=earlier, deallocate_after=bool(args.deallocate_after))
            result.notes = notes
        else:
            result = play(playbook, extravars, run_dir, limit)
    except BaseException:
        if viewer:
            linger(viewer, interactive=False, keep=args.monitor_keep)
        raise
    report_result(args, printer, result, command, limit)
    if viewer:  # the result first; then the final page stays up for whoever watches it
        linger(viewer, interactive=sys.stdin.isatty() and not args.json, keep=args.monitor_keep)
    return result.exit_code


def report_result(args: argparse.Namespace, printer, result, command: str, limit: str | None) -> None:
    """The closing block (human) or the result document (--json)."""
    from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary as bench_summary
    from openadapt_waa.output import summary

    from openadapt_waa.fleet import run_dirs_of

    merged = None
    if command == "run":  # one score for the run's hosts (and the runs it resumes), on success and on failure
        merged = bench_summary.merge(run_dirs_of(result.run_dir))
        bench_summary.write(result.run_dir, merged)
    if args.json:
        if len(result.hosts) == 1 and not result.message:
            doc = dict(next(iter(result.hosts.values())))
        else:
            doc = result.overall()
            if result.message:
                doc["message"] = result.message
        if merged is not None:
            doc["summary"] = merged
        if result.notes:
            doc["notes"] = result.notes
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        if args.inventory:
            where = f"-i {shlex.quote(args.inventory)}" + (f" --limit {shlex.quote(limit)}" if limit else "")
        else:
            where = f"--host {shlex.quote(args.host)}"
        summary(printer, result, command, where)
        if merged is not None:
            for line in bench_summary.lines(merged):
                printer.line(line)
            printer.line(f"Summary: {result.run_dir / 'results' / bench_summary.SUMMARY_FILE}")


def merge_results(args: argparse.Namespace) -> int:
    """`waa results RUN_DIR...`: one summary of several run directories (exit 1 when one is no run directory)."""
    from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary as summary

    dirs = [Path(d).expanduser().resolve() for d in args.run_dirs]
    bad = [str(d) for d in dirs if not (d / "results").is_dir()]
    if bad:
        raise UsageError(f"{', '.join(bad)}: no results/ folder here; give the run directories of `waa run` "
                         "(printed as 'Run directory:' at its start).")
    merged = summary.merge(dirs)
    if args.output:
        out = Path(args.output).expanduser()
        out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(json.dumps(merged, indent=2, sort_keys=True) if args.json else "\n".join(summary.lines(merged)))
    return 0


def resume(args) -> int:
    """--resume RUN_DIR: make ``args`` that run's, for its tasks without a result; the number of those tasks
    (0: nothing to do, said and summarised)."""
    from openadapt_waa import fleet
    from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary as summary
    from openadapt_waa.options import resume_args

    from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_task_ref

    earlier = Path(args.resume).expanduser().resolve()
    if not (earlier / "request.json").is_file():
        raise UsageError(f"{args.resume} is no `waa run` directory (no request.json): give the run directory that "
                         "`waa run` printed as 'Run directory:'.")
    try:
        request = json.loads((earlier / "request.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"{earlier / 'request.json'} cannot be read ({err}): run `waa run` again without --resume.")
    chain = fleet.run_dirs_of(earlier)
    reading = fleet.read(chain)
    if not reading.selection:
        raise UsageError(f"{earlier} has no record of the tasks it selected (no host started the benchmark): "
                         "run `waa run` again without --resume.")
    todo = fleet.missing(reading)
    for ref in todo:
        try:
            validate_task_ref(ref)
        except ValueError as err:
            raise UsageError(f"{earlier}: {err}: run `waa run` again without --resume.")
    args.resume = str(earlier)
    if not todo:
        merged = summary.merge(chain)
        print(json.dumps({"exit_code": 0, "summary": merged, "notes": ["nothing to resume"]}, indent=2, sort_keys=True)
              if args.json else "\n".join([f"Nothing to resume: each of the {len(reading.selection)} task(s) of "
                                           f"{earlier} has a result."] + summary.lines(merged)))
        return 0
    resume_args(args, request if isinstance(request, dict) else {}, todo)
    if not args.json:
        print(f"Resuming {earlier}: {len(todo)} of its {len(reading.selection)} task(s) have no result.")
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_ARGS
    try:
        refuse_templates(args)
        if args.command == "results":
            return merge_results(args)
        if args.command == "monitor":
            from openadapt_waa import viewer

            forwarded = [str(Path(p).expanduser()) for p in args.run_dir] + ["--port", str(args.port)]
            return viewer.main(forwarded + (["--no-browser"] if args.no_browser else []))
        playbook = COMMANDS[args.command][0] if args.command in COMMANDS else "golden_push.yml"
        if args.command in ("vm-setup", "up"):
            extravars = setup_vars(args)
        elif args.command == "run":
            if args.resume:
                left = resume(args)
                if not left:
                    return 0
            extravars = run_vars(args)
        elif args.command == "prepare-image":
            extravars = prepare_vars(args)
        elif args.command == "golden":
            extravars = golden_push_vars(args)
        else:
            extravars = common_vars(args)
        if getattr(args, "detailed", False):
            extravars["waa_probe_detailed"] = True
        return execute(args.command, playbook, args, extravars)
    except UsageError as err:
        sys.stderr.write(f"waa {args.command}: {err}\n")
        return EXIT_BAD_ARGS
    except KeyboardInterrupt:
        sys.stderr.write(f"waa {args.command}: interrupted; run the same command again to continue\n")
        return 130  # the shell's code for Ctrl-C
    except Exception as err:  # never a traceback: say what happened and where the log is
        sys.stderr.write(f"waa {args.command}: unexpected error: {type(err).__name__}: {err}. Please report this issue.\n")
        return 9


if __name__ == "__main__":
    sys.exit(main())
