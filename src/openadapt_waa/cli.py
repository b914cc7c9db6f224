"""`waa`: the thin command line over the openadapt.waa playbooks.

Each command validates its options, runs one playbook through ansible-runner, prints the
events as they arrive (or one JSON document with --json) and exits with the spec's code:

0 success, 1 pre-flight, 2 Docker daemon, 3 image pull, 4 container, 5 Windows boot,
6 WAA server, 7 accessibility / smoke test, 8 timeout, 9 unexpected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from openadapt_waa import __version__

EXIT_BAD_ARGS = 1  # bad input is a pre-flight failure, never 2 (2 means the Docker daemon failed)


class UsageError(Exception):
    """Bad input: exit 1 with a message that names the fix."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit 2, which means "Docker daemon failure" here
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_BAD_ARGS)


def _validators():
    from openadapt_waa.collection import import_path

    import_path()
    from ansible_collections.openadapt.waa.plugins.module_utils import _validate

    return _validate


def _check(func, value, what):
    try:
        func(value)
    except ValueError as err:
        raise UsageError(f"{what}: {err}") from None


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


def add_output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print one JSON document (per host) instead of human output")
    g.add_argument("--verbose", action="store_true", help="also show ansible-playbook's own output")
    g.add_argument("--run-dir", help="where the run's events, state, logs and screenshots go "
                                     "(default ~/.local/state/openadapt-waa/runs/<time>-<command>)")
    g.add_argument("--timeout", type=int, default=1800, help="overall timeout in seconds (default 1800); exit 8 when reached")


def add_setup_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("setup")
    g.add_argument("--image", default=os.environ.get("WAA_IMAGE"),
                   help="image to run (default windowsarena/winarena:latest, or $WAA_IMAGE)")
    g.add_argument("--azure-cr", default=os.environ.get("WAA_AZURE_CR"),
                   help="Azure Container Registry to fall back to on a Docker Hub rate limit, e.g. myacr.azurecr.io; "
                        "credentials from $WAA_REGISTRY_USERNAME / $WAA_REGISTRY_PASSWORD")
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
    g.add_argument("--ram-size", help="RAM_SIZE for Windows, e.g. 8G (default 8G)")
    g.add_argument("--cpu-cores", type=int, help="CPU_CORES for Windows (default 8)")
    g.add_argument("--storage-path", help="host directory for Windows' disk (default /var/lib/openadapt-waa/storage)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="waa", description="Turn a VM into a ready Windows Agent Arena host, and run the benchmark on it.")
    parser.add_argument("--version", action="version", version=f"waa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("vm-setup", help="set up the WAA container on a VM, phase by phase",
                       description="Set up the WAA container on a VM: pre-flight, Docker, image, container, boot, "
                                   "server, accessibility, smoke test, persist, final validation.")
    add_target_options(p)
    add_setup_options(p)
    add_output_options(p)
    return parser


# -- running ---------------------------------------------------------------------------------
def target(args) -> tuple[str | dict, str | None]:
    """The inventory and limit for ansible-runner, from --host / -i / --limit."""
    v = _validators()
    if args.inventory:
        path = Path(args.inventory).expanduser()
        if not path.exists():
            raise UsageError(f"Inventory {args.inventory} does not exist. Pass an existing inventory file or directory.")
        limit = args.limit or args.host
        if limit:
            _check(v.validate_host_pattern, limit, "--limit/--host")
        return str(path.resolve()), limit
    if not args.host:
        raise UsageError("No VM given. Pass --host HOST (or set $WAA_VM_HOST), or -i INVENTORY.")
    _check(v.validate_host, args.host, "--host")
    hostvars = {"ansible_host": args.host, "ansible_user": args.ssh_user}
    _check(v.validate_user, args.ssh_user, "--ssh-user")
    if args.ssh_key:
        key = Path(args.ssh_key).expanduser()
        if not key.is_file():
            raise UsageError(f"SSH key {args.ssh_key} does not exist. Pass the private key file with --ssh-key.")
        hostvars["ansible_ssh_private_key_file"] = str(key.resolve())
    return {"all": {"hosts": {args.host: hostvars}}}, args.limit


# CLI option -> playbook variable. Only options the user gave are passed, so that inventory
# variables (group_vars, host_vars) keep working for everything left unset.
SETUP_VARS = {
    "image": "waa_image", "container_name": "waa_container_name", "rebuild": "waa_rebuild",
    "verify_nested_virt": "waa_verify_nested_virt", "skip_smoke_test": "waa_skip_smoke_test",
    "strict_smoke": "waa_strict_smoke", "log_file": "waa_log_file", "publish_address": "waa_publish_address",
    "azure_cr": "waa_azure_cr", "ram_size": "waa_ram_size", "cpu_cores": "waa_cpu_cores",
    "storage_path": "waa_storage_path",
}


def common_vars(args) -> dict:
    """Validate the options every command shares and map the given ones to variables."""
    v = _validators()
    if args.container_name is not None:
        _check(v.validate_container_name, args.container_name, "--container-name")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds, e.g. --timeout 1800.")
    return {"waa_container_name": args.container_name} if args.container_name is not None else {}


def setup_vars(args) -> dict:
    v = _validators()
    checks = {
        "image": v.validate_image_reference,
        "log_file": lambda p: v.validate_abs_path(p, "--log-file"),
        "storage_path": lambda p: v.validate_abs_path(p, "--storage-path"),
        "azure_cr": v.validate_registry,
        "publish_address": v.validate_publish_address,
    }
    for option, check in checks.items():
        value = getattr(args, option)
        if value is not None:
            _check(check, value, "--" + option.replace("_", "-"))
    if args.ram_size is not None and not args.ram_size.upper().rstrip("G").isdigit():
        raise UsageError("--ram-size takes a whole number of GB such as 8G.")
    if args.cpu_cores is not None and args.cpu_cores < 1:
        raise UsageError("--cpu-cores must be at least 1.")
    extravars = common_vars(args)
    for option, var in SETUP_VARS.items():
        value = getattr(args, option)
        if value is not None:
            extravars[var] = value.upper() if option == "ram_size" else value
    return extravars


def execute(command: str, playbook: str, args, extravars: dict) -> int:
    from openadapt_waa.output import Printer, summary
    from openadapt_waa.runner import default_run_dir, run_playbook

    inventory, limit = target(args)
    run_dir = Path(args.run_dir).expanduser().resolve() if args.run_dir else default_run_dir(command)
    run_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + args.timeout
    extravars = dict(extravars, waa_deadline=deadline, waa_timeout=args.timeout, waa_run_dir=str(run_dir))
    printer = None if args.json else Printer(command, verbose=args.verbose)
    if printer and not args.json:
        printer.line(f"[{command}] Run directory: {run_dir}")
    result = run_playbook(
        playbook, inventory=inventory, extravars=extravars, run_dir=run_dir, limit=limit,
        hard_timeout=args.timeout + 30,  # the backstop: waits on the VM stop at the deadline itself
        on_event=printer.event if printer else None,
        on_output=printer.output if printer else None,
    )
    if args.json:
        if len(result.hosts) == 1 and not result.message:
            doc = next(iter(result.hosts.values()))
        else:
            doc = result.overall()
            if result.message:
                doc["message"] = result.message
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        summary(printer, result, command)
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_ARGS
    try:
        if args.command == "vm-setup":
            return execute("vm-setup", "vm_setup.yml", args, setup_vars(args))
    except UsageError as err:
        sys.stderr.write(f"waa {args.command}: {err}\n")
        return EXIT_BAD_ARGS
    except KeyboardInterrupt:
        sys.stderr.write(f"waa {args.command}: interrupted\n")
        return 9
    parser.print_help()
    return EXIT_BAD_ARGS


if __name__ == "__main__":
    sys.exit(main())
