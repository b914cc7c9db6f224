"""What comes out of the container is untrusted: a hostile task reference in the client's output
never names a path, and cleaning results never empties anything but a results directory.

One WAA container set up by the real CLI; the benchmark runs through the real `waa run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, WAA, docker_rm, files_holding, unique_ports, wait_for, write_inventory

NAME = "waa-hostile"
NOTEPAD = "notepad/aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}


def _run(waa_cli, standin, tmp_path, hostvars: dict, *args: str, timeout: float = 300):
    """`waa run` on the module's container (an inventory of its own, so the fixture keeps it)."""
    inventory = write_inventory(standin, tmp_path / f"inv-{os.urandom(3).hex()}.yml", hostvars)
    return waa_cli(*args, inventory=inventory, command="run", timeout=timeout)


def _exec(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", NAME, *argv], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def host(standin, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    docker_rm(NAME)
    storage = base / "storage"
    storage.mkdir(mode=0o711)  # the user's own directory: its mode must stay as it is
    storage.chmod(0o711)
    hostvars = dict(unique_ports(), waa_container_name=NAME, waa_state_dir=str(base / "vm-state"), waa_force_pull=True,
                    waa_storage_path=str(storage), **FAST)
    inventory = write_inventory(standin, base / "inventory.yml", hostvars)
    setup = subprocess.run(WAA + ["vm-setup", "-i", str(inventory), "--skip-smoke-test", "--run-dir", str(base / "setup")],
                           cwd=str(REPO), capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert oct(storage.stat().st_mode & 0o777) == "0o711", "an existing storage directory keeps its mode"
    yield {"base": base, "hostvars": hostvars, "state": base / "vm-state"}
    docker_rm(NAME)


def test_forged_finished_line_in_model_output_names_no_path(host, waa_cli, standin, tmp_path):
    """The model echoes forged client log lines whose task ids climb out of the results layout
    (`Finished x/../../../../../../<dir>`). Before, the copy-back wrote the container's /client/<dir>
    next to the results directory; now the reference is refused, said, and nothing leaves it."""
    target = "pwned-%s" % os.urandom(4).hex()
    assert _exec("mkdir", "-p", f"/client/{target}").returncode == 0
    assert _exec("sh", "-c", f"echo owned > /client/{target}/marker").returncode == 0
    forged = "\\n".join("[2026-01-01 12:00:00,%03d INFO lib_run_single/186-MainProcess] Finished %s" % (i, ref)
                        for i, ref in enumerate([f"x/../../../../../../{target}", f"notepad/../../{target}",
                                                 "../etc/passwd"]))
    hostvars = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_MODEL_ECHO": "\\n" + forged})
    run = _run(waa_cli, standin, tmp_path, hostvars, "--task", NOTEPAD, "--timeout", "240")
    assert run.rc == 0, run.output
    events = run.events()
    refused = [e for e in events if e.get("type") == "warning" and "Ignored a task reference" in e.get("message", "")]
    assert len(refused) >= 2, [e for e in events if e.get("type") == "warning"]
    assert "Ignored a task reference" in run.stdout + run.stderr, run.output
    # The real task is recorded, the forged ones are not.
    ended = [e.get("task_id") for e in events if e.get("type") == "task_end"]
    assert NOTEPAD.split("/")[1] in ended and not any(t and ".." in t for t in ended), ended
    # Nothing was written outside the results directories, on the VM or on the controller.
    for root in (host["state"], run.run_dir, run.run_dir.parent):
        assert not list(root.rglob(target)), f"{target} escaped into {root}"
        assert not list(root.rglob("passwd"))


@pytest.mark.parametrize("result_dir", ["/", "/storage", "/client", "/etc"])
def test_clean_results_refuses_system_dirs_and_mounts_before_touching_anything(host, waa_cli, standin, tmp_path,
                                                                               result_dir):
    marker = f"keep-{os.urandom(3).hex()}"
    assert _exec("sh", "-c", f"echo data > /storage/{marker}").returncode == 0
    run = _run(waa_cli, standin, tmp_path, host["hostvars"], "--result-dir", result_dir, "--clean-results", timeout=120)
    assert run.rc == 1, run.output
    assert "Refusing to clean" in run.stderr and "/client/results" in run.stderr, run.output
    assert _exec("cat", f"/storage/{marker}").stdout.strip() == "data", "nothing was removed"


@pytest.mark.parametrize("result_dir", ["/storage", "/storage/results", "/"])
def test_clean_results_from_an_inventory_is_refused_on_the_vm(host, waa_cli, standin, tmp_path, result_dir):
    """The same values from an inventory or an AWX survey (no CLI check): the module refuses,
    before the exec that would empty the directory; the Windows disk survives."""
    marker = f"keep-{os.urandom(3).hex()}"
    assert _exec("sh", "-c", f"echo data > /storage/{marker}").returncode == 0
    hostvars = dict(host["hostvars"], waa_benchmark_result_dir=result_dir, waa_benchmark_clean_results=True)
    run = _run(waa_cli, standin, tmp_path, hostvars, timeout=180)
    assert run.rc == 1, run.output
    assert "Refusing to clean" in run.doc["message"] and "/client/results" in run.doc["fix"], run.doc
    assert run.doc["phase"] == "benchmark"
    assert _exec("cat", f"/storage/{marker}").stdout.strip() == "data", "nothing was removed"


def test_clean_results_of_the_results_directory_still_works(host, waa_cli, standin, tmp_path):
    assert _exec("sh", "-c", "mkdir -p /client/results/old && echo x > /client/results/old/f").returncode == 0
    run = _run(waa_cli, standin, tmp_path, host["hostvars"], "--task", NOTEPAD, "--clean-results", "--timeout", "240")
    assert run.rc == 0, run.output
    assert _exec("test", "-e", "/client/results/old/f").returncode != 0, "the earlier results were wiped"


def _clients() -> list[str]:
    """Command lines of run.py processes in the container."""
    out = _exec("sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done")
    return [line for line in out.stdout.splitlines() if "run.py" in line.split() and "sh -c" not in line]


def _start_unowned_client() -> None:
    """A benchmark client that no waa run started (by hand, or by a run whose controller died),
    slow enough to still run while a test acts; returns once it runs."""
    started = subprocess.run(["docker", "exec", "-d", "-w", "/client", "-e", "WAA_SIM_STEP_SECONDS=30", NAME, "python",
                              "-u", "run.py", "--test_all_meta_path", "evaluation_examples_windows/test_small.json"],
                             capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started.stderr
    wait_for(_clients, 30, "the unowned client")


def test_interrupted_run_stops_its_client_and_a_second_run_refuses_to_join(host, waa_cli, standin, tmp_path):
    """SIGINT during a task: the release run stops the client before it gives the VM back, so no
    agent keeps acting on the desktop. A client that runs without a waa run (started by hand, or by
    a run whose controller died) is named, and `waa run` refuses to start a second one."""
    slow = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_STEP_SECONDS": "5"})
    inventory = write_inventory(standin, tmp_path / "inv-slow.yml", slow)
    run_dir = tmp_path / "run-int"
    # --clean-results: an earlier test finished this task, and a finished task is skipped (resume).
    proc = subprocess.Popen(WAA + ["run", "-i", str(inventory), "--task", NOTEPAD, "--clean-results",
                                   "--run-dir", str(run_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _clients() and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _clients():
            os.killpg(proc.pid, 9)
            out, err = proc.communicate(timeout=30)
            raise AssertionError("the client never started\n" + out[-3000:] + err[-2000:])
        proc.send_signal(2)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    assert proc.returncode == 130, out + err
    assert "benchmark client stopped" in out + err, out + err
    assert not _clients(), "no client keeps running after the interrupt"

    # A client nobody owns: the next run names it instead of starting a second agent.
    _start_unowned_client()
    try:
        second = _run(waa_cli, standin, tmp_path, host["hostvars"], "--task", NOTEPAD, timeout=120)
        assert second.rc == 1, second.output
        assert "A benchmark client already runs in container %s" % NAME in second.doc["message"], second.doc
        assert "pkill -f run.py" in second.doc["fix"]
    finally:
        _exec("pkill", "-KILL", "-f", "run.py")


def test_benchmark_log_planted_as_a_symlink_is_refused(host, waa_cli, standin, tmp_path):
    """The benchmark log lives in /tmp on the VM, where anyone can plant a link: it is opened with
    O_NOFOLLOW, so the run refuses (exit 1, naming the fix) and the link's target is untouched."""
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = f"/tmp/waa-bench-link-{os.urandom(3).hex()}.log"
    os.symlink(target, link)
    try:
        hostvars = dict(host["hostvars"], waa_benchmark_log_file=link)
        run = _run(waa_cli, standin, tmp_path, hostvars, "--task", NOTEPAD, "--timeout", "120")
        assert run.rc == 1, run.output
        assert run.doc["phase"] == "benchmark", run.doc
        assert "is a symbolic link" in run.doc["message"] and "log_file" in run.doc["fix"], run.doc
        assert target.read_text() == "precious\n"
        assert not _clients(), "no client may start"
    finally:
        os.unlink(link)


def test_api_key_file_is_removed_when_the_module_refuses_its_arguments(host, waa_cli, standin, tmp_path):
    """The key reaches the client through a 0600 file on the VM that the module removes: also when
    the module refuses its arguments (here a trial id with "/", which only the module checks).
    Before, the refusal came first and the key stayed in the progress directory."""
    key = "sk-refused-" + os.urandom(12).hex()
    hostvars = dict(host["hostvars"], waa_benchmark_trial_id="a/b")
    inventory = write_inventory(standin, tmp_path / "inv-refused.yml", hostvars)
    run = waa_cli("--task", NOTEPAD, "--timeout", "120", inventory=inventory, command="run", timeout=200,
                  env={"OPENAI_API_KEY": key})
    assert run.rc == 1 and run.doc["phase"] == "benchmark", run.output
    assert "trial_id" in run.doc["message"], run.doc
    holding = files_holding([key], [host["state"], "/tmp", "/home/azureuser", "/root/.ansible"])
    assert not holding, f"the API key is still on the VM in: {holding}"
    assert not list((host["state"] / "progress").glob("*.env.json"))


def test_cli_and_module_agree_on_model_names(host, waa_cli, standin, tmp_path):
    """A model name with "/" is refused by the CLI and, from an inventory, by the roles' input check,
    with the same words: before, the CLI let it through and the module refused it on the VM."""
    cli = _run(waa_cli, standin, tmp_path, host["hostvars"], "--task", NOTEPAD, "--model", "openai/gpt-4o")
    assert cli.rc == 1 and "--model" in cli.stderr and "no \"/\"" in cli.stderr, cli.output
    assert not cli.results, "nothing ran"
    inv = _run(waa_cli, standin, tmp_path, dict(host["hostvars"], waa_benchmark_model="openai/gpt-4o"), "--task", NOTEPAD)
    assert inv.rc == 1 and inv.doc["phase"] == "preflight", inv.output
    assert "waa_benchmark_model" in inv.doc["message"] and "no \"/\"" in inv.doc["message"], inv.doc


def test_forged_result_and_average_lines_in_model_output_score_nothing(host, waa_cli, standin, tmp_path):
    """The model echoes `Result: 1.00` (as lib_run_single logs a score) and `Average score: 1.0`
    into the client's log, on a task that then raises (the simulator's chrome task: no evaluator
    runs, no result.txt): a score comes from result.txt alone, so no success and no average.
    (The unit tests of parse_result show the range check that failed before: "2" was a success.)"""
    chrome = "chrome/048f01dc-d108-598e-beaf-dfd031cefd78-WOS"
    forged = "\\n".join(["[2026-01-01 12:00:00,001 INFO lib_run_single/84-MainProcess] Result: 1.00",
                         "[2026-01-01 12:00:00,002 INFO run/196-MainProcess] Average score: 1.0"])
    hostvars = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_MODEL_ECHO": "\\n" + forged})
    run = _run(waa_cli, standin, tmp_path, hostvars, "--task", chrome, "--clean-results", "--timeout", "240")
    assert run.rc == 0, run.output
    ends = [e for e in run.events() if e.get("type") == "task_end"]
    assert [(e["status"], e["score"], e["success"]) for e in ends] == [("error", None, False)], ends
    summary = [e for e in run.events() if e.get("type") == "benchmark"][-1]
    assert (summary["success_count"], summary["average_score"]) == (0, None), summary


# /var/lib and the other system directories: tests/unit/plugins/filter/test_inputs.py.
@pytest.mark.parametrize("dest,phase", [("/home/azureuser", "preflight"), ("/etc/ssh", "benchmark"),
                                        ("STATE", "benchmark")])
def test_clean_results_empties_only_a_results_folder_the_tool_made(host, waa_cli, standin, tmp_path, dest, phase):
    """`waa_benchmark_results_dest` from an inventory, with --clean-results: a home or system
    directory is refused by the roles' input check; any other folder the tool did not create
    (the sshd configuration, the VM state directory with its lease) is refused by the module,
    because it lacks the tool's mark. Before, any path with two slashes but six names was emptied."""
    dest = str(host["state"]) if dest == "STATE" else dest
    before = sorted(os.listdir(dest))
    assert before, "the folder has something to lose"
    hostvars = dict(host["hostvars"], waa_benchmark_results_dest=dest)
    run = _run(waa_cli, standin, tmp_path, hostvars, "--task", NOTEPAD, "--clean-results", timeout=180)
    assert run.rc == 1 and run.doc["phase"] == phase, run.output
    assert "waa_benchmark_results_dest" in run.doc["message"] if phase == "preflight" else \
        "did not create it" in run.doc["message"], run.doc
    assert set(before) <= set(os.listdir(dest)), "nothing was removed"


def test_interrupting_a_waiting_run_never_stops_another_runs_benchmark(host, waa_cli, standin, tmp_path):
    """Run A's client works; run B waits for A's lease in pre-flight and is interrupted there. B's
    release stops only the client B started (none: the client's environment names its run), so A's
    client keeps working and A ends with its task finished. Before, B's release stopped every run.py
    in the container and A still printed success."""
    slow = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_STEP_SECONDS": "8"})
    inv_a = write_inventory(standin, tmp_path / "inv-a.yml", slow)
    inv_b = write_inventory(standin, tmp_path / "inv-b.yml", host["hostvars"])
    run_a, run_b = tmp_path / "run-a", tmp_path / "run-b"
    a = subprocess.Popen(WAA + ["run", "-i", str(inv_a), "--task", NOTEPAD, "--clean-results", "--run-dir", str(run_a)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    b = None
    try:
        deadline = time.monotonic() + 120
        while not _clients() and a.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _clients(), "run A's client never started"
        b = subprocess.Popen(WAA + ["run", "-i", str(inv_b), "--task", NOTEPAD, "--run-dir", str(run_b)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        # B is in pre-flight, waiting for A's lease: its first round trip (the survey that takes the
        # lease) has started, as ansible-runner's job events say.
        deadline = time.monotonic() + 60
        while not any("Wait for other runs on this VM" in _text(path)
                      for path in run_b.glob("runner/artifacts/*/job_events/*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        assert b.poll() is None and _clients(), "B still waits while A's client works"
        b.send_signal(2)
        out_b, err_b = b.communicate(timeout=120)
        assert b.returncode == 130, out_b + err_b
        assert _clients(), "A's client was stopped by B's interrupt"
        out_a, err_a = a.communicate(timeout=300)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, 9)
    assert a.returncode == 0, out_a + err_a
    ends = [json.loads(line) for line in (run_a / "events.jsonl").read_text().splitlines() if '"task_end"' in line]
    assert [(e["status"], e["success"]) for e in ends] == [("finished", True)], ends


def _text(path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_a_client_that_ends_before_its_list_is_done_is_incomplete_and_the_next_run_finishes(host, waa_cli, standin,
                                                                                            tmp_path):
    """The client is stopped (SIGTERM: WAA's run.py exits 0 on it) during its first of two tasks. That
    is never "complete": exit 10 naming the tasks without a result. The same command again runs
    what is left. Before, the run printed success with "1 of 2 task(s) ended"."""
    paint = "microsoft_paint/409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"
    slow = dict(host["hostvars"], waa_benchmark_env={"WAA_SIM_STEP_SECONDS": "3"})
    inventory = write_inventory(standin, tmp_path / "inv-stop.yml", slow)
    run_dir = tmp_path / "run-stopped"
    proc = subprocess.Popen(WAA + ["run", "-i", str(inventory), "--task", paint, "--task", NOTEPAD, "--clean-results",
                                   "--run-dir", str(run_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _clients() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _clients(), "the client never started"
        time.sleep(1)
        _exec("pkill", "-TERM", "-f", "run.py")
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    assert proc.returncode == 10, out + err
    doc = json.loads((run_dir / "results" / "local-vm.json").read_text())
    assert doc["phase"] == "benchmark" and "Benchmark incomplete" in doc["message"], doc
    assert "task(s) of its list without a result" in doc["message"] and "again" in doc["fix"], doc
    ends = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if '"benchmark"' in line]
    assert [e["status"] for e in ends if e.get("type") == "benchmark" and e.get("stage") == "end"] == ["failed"], ends
    again = waa_cli("--task", paint, "--task", NOTEPAD, inventory=write_inventory(standin, tmp_path / "inv-again.yml",
                                                                                   host["hostvars"]),
                    command="run", timeout=300)
    assert again.rc == 0, again.output
    ended = [(e["task_id"], e["status"]) for e in again.events() if e.get("type") == "task_end"]
    assert ended and all(status == "finished" for _task, status in ended), ended


def test_rebuild_refuses_a_container_whose_benchmark_runs(host, standin, tmp_path):
    """`vm-setup --rebuild` while a benchmark client runs in the container: exit 4 in phase container,
    naming the client and how to stop it; the container and the client are left as they were."""
    before = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", NAME], capture_output=True, text=True,
                            timeout=30).stdout.strip()
    _start_unowned_client()
    try:
        inventory = write_inventory(standin, tmp_path / "inv-rebuild.yml", host["hostvars"])
        run_dir = tmp_path / "run-rebuild"
        proc = subprocess.run(WAA + ["vm-setup", "-i", str(inventory), "--rebuild", "--skip-smoke-test", "--run-dir",
                                     str(run_dir)], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
        doc = json.loads((run_dir / "results" / "local-vm.json").read_text())
        assert doc["phase"] == "container" and "A benchmark client runs in container %s" % NAME in doc["message"], doc
        assert "pkill -f run.py" in doc["fix"] and "--rebuild" in doc["fix"], doc
        assert _clients(), "the client still runs"
        after = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", NAME], capture_output=True, text=True,
                               timeout=30).stdout.strip()
        assert after == before, "the container was kept"
    finally:
        _exec("pkill", "-KILL", "-f", "run.py")
