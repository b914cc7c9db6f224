"""The CLI's options as playbook variables: each one validated (bad input is exit 1 with a message
that names the fix, never a traceback) and mapped to the variable it sets. Only the options a user
gave are passed, so that inventory variables (group_vars, host_vars) keep working for the rest."""

from __future__ import annotations

import os
from pathlib import Path

# The collection is an installed package: its validators and the VM-size pattern are imported as such.
from ansible_collections.openadapt.waa.plugins.module_utils import _validate as v
from ansible_collections.openadapt.waa.plugins.module_utils._iso import local_iso_problem
from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import VM_SIZE_RE


class UsageError(Exception):
    """Bad input: exit 1 with a message that names the fix."""


def _check(func, value, what):
    try:
        func(value)
    except ValueError as err:
        raise UsageError(f"{what}: {err}") from None


def _task_list(value: str) -> str:
    # An argv word of the client inside the container: refuse what could be read as another flag.
    if not value or value.startswith("-") or any(c in value for c in "\n\r\x00 "):
        raise ValueError(f"{value!r} is not valid: give a path in the container without spaces, newlines or a "
                         "leading '-', e.g. evaluation_examples_windows/test_all.json.")
    return value


def _domain(value: str) -> str:
    if not v.TASK_DOMAIN_RE.match(value or ""):
        raise ValueError(f"{value!r} is not a WAA domain: give a name such as notepad or libreoffice_calc.")
    return value


# Option -> (variable, check). The model and agent checks are the benchmark module's own, so
# that a name the CLI passes is one the module takes.
BENCHMARK_TEXT = {
    "task_list": ("waa_benchmark_task_list", _task_list),
    "domain": ("waa_benchmark_domain", _domain),
    "model": ("waa_benchmark_model", lambda value: v.validate_plain_name(value, "model name")),
    "agent": ("waa_benchmark_agent", lambda value: v.validate_plain_name(value, "agent name")),
}


def refuse_templates(args) -> None:
    """No option value may hold a template marker ({{, {%, {#): values are data, and Ansible would
    render one as a template on the controller."""
    for name, value in sorted(vars(args).items()):
        for item in value if isinstance(value, list) else [value]:
            marker = v.template_marker(item)
            if marker:
                option = {"tasks": "--task", "inventory": "--inventory"}.get(name, "--" + name.replace("_", "-"))
                raise UsageError(f"{option} {item!r} contains the template marker {marker}: give the value itself; "
                                 "openadapt.waa never evaluates templates in its input.")


def benchmark_vars(args) -> dict:
    extravars = common_vars(args)
    if args.num_tasks is not None:
        if args.num_tasks < 1:
            raise UsageError("--num-tasks must be at least 1.")
        extravars["waa_benchmark_num_tasks"] = args.num_tasks
    if args.sample_seed is not None:
        if args.num_tasks is None:
            raise UsageError("--sample-seed chooses the --num-tasks sample: add --num-tasks N.")
        if args.sample_seed < 0:
            raise UsageError("--sample-seed must be 0 or more.")
        extravars["waa_benchmark_sample_seed"] = args.sample_seed
    if args.shard_by is not None:
        extravars["waa_benchmark_shard_by"] = args.shard_by
    if args.max_cost is not None:
        if not args.max_cost > 0:
            raise UsageError("--max-cost must be more than 0 (USD for the whole run).")
        extravars["waa_benchmark_max_cost"] = args.max_cost
    for option, (var, check) in BENCHMARK_TEXT.items():
        value = getattr(args, option)
        if value is not None:
            _check(check, value, "--" + option.replace("_", "-"))
            extravars[var] = value
    if args.tasks:
        for task in args.tasks:
            _check(v.validate_task_ref, task, "--task")
        extravars["waa_benchmark_tasks"] = list(args.tasks)
    if args.result_dir is not None:
        _check(lambda p: v.validate_abs_path(p, "--result-dir"), args.result_dir, "--result-dir")
        if args.clean_results:  # the container's mounts are checked on the VM, before anything is removed
            _check(v.validate_cleanable_result_dir, args.result_dir, "--result-dir")
        extravars["waa_benchmark_result_dir"] = args.result_dir
    if args.clean_results:
        extravars["waa_benchmark_clean_results"] = True
    if args.reset_between_tasks:
        extravars["waa_benchmark_reset_between_tasks"] = True
    return extravars


# What a `waa run` keeps in <run>/request.json for a later --resume: the options that name its tasks'
# results (task list, agent, model, results folder) and how it split them.
RESUMED_OPTIONS = ("task_list", "model", "agent", "result_dir", "shard_by", "reset_between_tasks")
# Options that choose the tasks: --resume takes the earlier run's instead.
SELECTION_OPTIONS = ("tasks", "num_tasks", "sample_seed", "domain", "clean_results") + RESUMED_OPTIONS


def run_request(args) -> dict:
    """The options of a `waa run` that its --resume repeats."""
    return {name: getattr(args, name) for name in RESUMED_OPTIONS if getattr(args, name) is not None}


def resume_args(args, request: dict, tasks: list[str]) -> None:
    """Make ``args`` the earlier run's (``request``, its request.json) for ``tasks``, the tasks it left without
    a result; the values are checked again as the options they came from."""
    given = [name for name in SELECTION_OPTIONS if getattr(args, name) not in (None, False, [])]
    if given:
        raise UsageError(f"--resume runs the earlier run's tasks with its options: leave out --{given[0].replace('_', '-')}.")
    for name in RESUMED_OPTIONS:
        value = request.get(name)
        if name == "reset_between_tasks":
            value = True if value is True else None
        elif name == "shard_by":
            value = value if value in ("host", "none") else None
        elif value is not None and not isinstance(value, str):
            raise UsageError(f"The earlier run's request.json holds a bad {name}: run `waa run` again without --resume.")
        setattr(args, name, value)
    args.tasks = list(tasks)


def run_vars(args) -> dict:
    """`waa run`: the benchmark's variables, and with --setup the setup's too."""
    if args.max_host_failures is not None and args.max_host_failures < 1:
        raise UsageError("--max-host-failures must be at least 1.")
    if not args.setup:
        # The setup options only act through --setup: refuse them rather than ignore them.
        env_default = {"image": os.environ.get("WAA_IMAGE"), "azure_cr": os.environ.get("WAA_AZURE_CR")}
        given = [o for o in SETUP_VARS if o != "container_name" and getattr(args, o) not in (None, env_default.get(o))]
        if given:
            option = "--" + given[0].replace("_", "-")
            raise UsageError(f"{option} is a setup option: add --setup (waa run --setup {option} ...) to set the host "
                             "up with it before the benchmark, or run `waa vm-setup` first.")
        return benchmark_vars(args)
    extravars = setup_vars(args)
    extravars.update(benchmark_vars(args), waa_run_setup=True)
    return extravars


def target(args) -> tuple[str | dict, str | None]:
    """The inventory and limit for ansible-runner, from --host / -i / --limit."""
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
    "storage_path": "waa_storage_path", "results_path": "waa_results_path",
}


def common_vars(args) -> dict:
    """Validate the options every command shares and map the given ones to variables."""
    if args.container_name is not None:
        _check(v.validate_container_name, args.container_name, "--container-name")
    extravars = {}
    if args.timeout is None:
        # A full benchmark runs for hours; preparing Windows takes ~20 min after the image's pull. The roles
        # add time to a default timeout when the run may install Windows or restore the golden disk.
        args.timeout = {"run": 86400, "prepare-image": 7200}.get(args.command, 1800)
        extravars["waa_timeout_auto"] = True
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds, e.g. --timeout 1800.")
    if args.container_name is not None:
        extravars["waa_container_name"] = args.container_name
    if args.vm_size is not None:
        if not VM_SIZE_RE.match(args.vm_size):
            raise UsageError(f"--vm-size {args.vm_size!r} is not an Azure VM size: give a name such as Standard_D8s_v3.")
        extravars["waa_vm_size"] = args.vm_size
    if args.hourly_rate is not None:
        if not 0 < args.hourly_rate < 1000:
            raise UsageError("--hourly-rate is US dollars per hour of the VM, e.g. --hourly-rate 0.384.")
        extravars["waa_hourly_rate"] = args.hourly_rate
    return extravars


def setup_vars(args) -> dict:
    checks = {
        "image": v.validate_image_reference,
        "log_file": lambda p: v.validate_abs_path(p, "--log-file"),
        "storage_path": v.validate_storage_path,
        "results_path": v.validate_results_path,
        "ram_size": v.validate_ram_size,
        "azure_cr": v.validate_registry,
        "publish_address": v.validate_publish_address,
    }
    for option, check in checks.items():
        value = getattr(args, option)
        if value is not None:
            _check(check, value, "--" + option.replace("_", "-"))
    if args.cpu_cores is not None:
        if args.cpu_cores.lower() == "auto":
            args.cpu_cores = "auto"
        elif not args.cpu_cores.isdigit() or int(args.cpu_cores) < 1:
            raise UsageError(f"--cpu-cores {args.cpu_cores!r}: give a whole number of at least 1, or auto.")
        else:
            args.cpu_cores = int(args.cpu_cores)
    extravars = common_vars(args)
    if getattr(args, "golden", None):
        extravars.update(golden_vars(args.golden, push=False))
    for option, var in SETUP_VARS.items():
        value = getattr(args, option)
        if value is not None:
            extravars[var] = v.validate_ram_size(value) if option == "ram_size" else value
    return extravars


def prepare_vars(args) -> dict:
    """`waa prepare-image`: the setup's variables and the ISO (checked here, before anything runs)."""
    if bool(args.iso) == bool(args.iso_url):
        raise UsageError("Give the Windows ISO once: --iso PATH (a file on this machine) or --iso-url URL (the VM "
                         "downloads it).")
    extravars = setup_vars(args)
    if args.iso:
        path = Path(args.iso).expanduser().resolve()
        problem = local_iso_problem(str(path))
        if problem:
            raise UsageError(f"--iso: {problem} Pass the Windows 11 x64 installation ISO (e.g. Windows 11 Enterprise "
                             "Evaluation from Microsoft's Evaluation Center).")
        extravars["waa_golden_iso"] = str(path)
    if args.iso_url:
        _check(v.validate_download_url, args.iso_url, "--iso-url")
        extravars["waa_golden_iso_url"] = args.iso_url
    if args.iso_sha256:
        _check(v.validate_sha256, args.iso_sha256, "--iso-sha256")
        extravars["waa_golden_iso_sha256"] = args.iso_sha256.lower()
    if args.force:
        extravars["waa_golden_force"] = True
    return extravars


def golden_vars(url: str, push: bool) -> dict:
    """A golden disk URL checked, and a short-lived SAS for it handed to the run (WAA_GOLDEN_SAS, which the
    runner moves into a private file): read and list to restore, write and create too to push."""
    from openadapt_waa.golden_sas import GoldenSasError, container_sas, locate

    option = "--to" if push else "--golden"
    if v.template_marker(url):
        raise UsageError(f"{option} must not contain a template marker")
    try:
        location = locate(url)
        os.environ["WAA_GOLDEN_SAS"] = container_sas(location, write=push, create_container=push)
    except ValueError as err:
        raise UsageError(f"{option}: {err}") from None
    except GoldenSasError as err:
        raise UsageError(f"{option}: {err}") from None
    return {"waa_golden_url": url}


def golden_push_vars(args) -> dict:
    """`waa golden push --to URL`."""
    extravars = common_vars(args)
    if args.storage_path is not None:
        _check(v.validate_storage_path, args.storage_path, "--storage-path")
        extravars["waa_storage_path"] = args.storage_path
    extravars.update(golden_vars(args.to, push=True))
    return extravars
