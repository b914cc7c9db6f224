"""The playbooks as AWX runs them, and as ARA records them.

AWX hands ansible-runner a private data directory: the project (an SCM checkout, with its
ansible.cfg), the inventory, env/extravars (the survey answers), env/envvars, env/ssh_key (the
machine credential, loaded into an ssh-agent), and the collections of its execution
environment. The job's artifacts are the playbook's set_stats data; workflows branch on them.
Here: a successful vm_setup (artifacts exit_code 0, phase validate), a failing one (exit code 3,
phase image), and a probe of the ready container recorded by ARA's callback (offline client,
SQLite).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402

SURVEY_FAST = dict(eco.FAST)


def _private_data_dir(root: Path, standin, collections: Path, extravars: dict) -> Path:
    """The directory layout AWX builds for a job."""
    project = root / "project"
    shutil.copytree(eco.REPO / "playbooks", project / "playbooks")
    shutil.copy(eco.REPO / "ansible.cfg", project / "ansible.cfg")  # AWX honours the project's config
    (root / "inventory").mkdir()
    eco.inventory(root / "inventory" / "hosts.yml", standin, {}, with_key=False)
    (root / "env").mkdir()
    (root / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (root / "env" / "envvars").write_text(yaml.safe_dump({
        # The execution environment's collections (AWX: /usr/share/ansible/collections).
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "WAA_RUN_DIR": str(root / "waa-run"),
        "PATH": eco.env()["PATH"],
    }))
    (root / "env" / "ssh_key").write_text(Path(standin.ssh_key).read_text())
    (root / "env" / "ssh_key").chmod(0o600)
    return root


def _run(pdd: Path, playbook: str) -> ansible_runner.Runner:
    return ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, quiet=True, timeout=600)


def _artifacts(r: ansible_runner.Runner) -> dict:
    stats = [e for e in r.events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, [e.get("event") for e in r.events][-5:]
    return stats[0]["event_data"].get("artifact_data") or {}


@pytest.fixture(scope="module")
def collections(tmp_path_factory) -> Path:
    """openadapt.waa as an execution environment carries it: the Galaxy artifact, installed."""
    root = tmp_path_factory.mktemp("ee")
    tarball = eco.build_collection(root / "build")
    path = root / "collections"
    path.mkdir()
    eco.install_collection(tarball, path)
    return path


@pytest.fixture(scope="module")
def ready(standin, collections, tmp_path_factory):
    """A successful vm_setup job; the container stays for the probe and ARA tests."""
    name = eco.name("runner")
    eco.docker_rm(name)
    root = tmp_path_factory.mktemp("awx-job")
    extravars = dict(eco.ports(30), **eco.vm_dir(root), **SURVEY_FAST, waa_container_name=name)
    pdd = _private_data_dir(root / "pdd", standin, collections, extravars)
    r = _run(pdd, "playbooks/vm_setup.yml")
    try:
        yield r, pdd, extravars
    finally:
        eco.docker_rm(name)


def test_successful_job_artifacts(ready, standin):
    r, pdd, extravars = ready
    stdout = r.stdout.read()
    assert (r.status, r.rc) == ("successful", 0), stdout[-8000:]
    result = _artifacts(r)["waa_results"][standin.host]
    assert result["exit_code"] == 0 and result["success"] is True, result
    assert (result["phase"], result["phase_number"]) == ("validate", 9), result
    assert result["container_name"] == extravars["waa_container_name"]
    assert len(result["container_id"]) == 64
    assert result["fix"] == ""
    # ansible-runner keeps the artifacts on disk as AWX does (job events, status, rc).
    ident = Path(r.config.artifact_dir)
    assert (ident / "status").read_text() == "successful"
    assert (ident / "rc").read_text() == "0"
    # The collection's callback ran under ansible-runner too (enabled by the project's ansible.cfg).
    events = [json.loads(line) for line in (pdd / "waa-run" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "run_end" and events[-1]["exit_code"] == 0, events[-1]


def test_failed_job_artifacts_name_exit_code_and_phase(standin, collections, tmp_path):
    name = eco.name("runner-fail")
    extravars = dict(eco.ports(33), **eco.vm_dir(tmp_path), **SURVEY_FAST, waa_container_name=name,
                     waa_image="127.0.0.1:5001/windowsarena/no-such-image:latest", waa_pull_attempts=1)
    pdd = _private_data_dir(tmp_path / "pdd", standin, collections, extravars)
    try:
        r = _run(pdd, "playbooks/vm_setup.yml")
    finally:
        eco.docker_rm(name)
    assert (r.status, r.rc) == ("failed", 2), r.stdout.read()[-8000:]
    result = _artifacts(r)["waa_results"][standin.host]
    assert result["exit_code"] == 3 and result["success"] is False, result
    assert (result["phase"], result["phase_number"]) == ("image", 2), result
    assert result["message"], result


@pytest.mark.parametrize("via", ["ansible-playbook", "waa"])
def test_ara_records_a_probe(ready, standin, tmp_path, via):
    r, _pdd, extravars = ready
    assert r.status == "successful"
    ara_dir = tmp_path / "ara"
    plugins = eco.run([sys.executable, "-m", "ara.setup.callback_plugins"], timeout=60, check=True).stdout.strip()
    ara_env = {"ARA_API_CLIENT": "offline", "ARA_BASE_DIR": ara_dir,
               "ARA_DATABASE_NAME": ara_dir / "ansible.sqlite", "ARA_DEBUG": "false"}
    inv = eco.inventory(tmp_path / "inventory.yml", standin, extravars)
    if via == "ansible-playbook":
        env = eco.env(ANSIBLE_CALLBACK_PLUGINS=plugins, ANSIBLE_COLLECTIONS_PATH=eco.REPO / ".collections",
                      ANSIBLE_CONFIG=eco.REPO / "ansible.cfg", WAA_RUN_DIR=tmp_path / "run", **ara_env)
        argv = [eco.VENV_BIN / "ansible-playbook", eco.REPO / "playbooks" / "probe.yml", "-i", inv]
    else:  # the CLI runs the playbook through ansible-runner, which passes the environment on
        env = eco.env(ANSIBLE_CALLBACK_PLUGINS=plugins, **ara_env)
        argv = [eco.VENV_BIN / "waa", "probe", "-i", inv, "--json", "--run-dir", tmp_path / "run"]
    proc = eco.run(argv, timeout=300, cwd=tmp_path, env_=env)
    assert proc.returncode == 0, eco.describe(proc)

    query = (
        "import json\n"
        "from ara.clients.offline import AraOfflineClient\n"
        "c = AraOfflineClient(run_sql_migrations=False)\n"
        "pbs = c.get('/api/v1/playbooks')['results']\n"
        "pb = pbs[0]\n"
        "out = {'count': len(pbs), 'path': pb['path'], 'status': pb['status'],\n"
        "       'hosts': c.get('/api/v1/hosts', playbook=pb['id'])['results'],\n"
        "       'tasks': [t['name'] for t in c.get('/api/v1/tasks', playbook=pb['id'], limit=500)['results']]}\n"
        "print(json.dumps(out))\n"
    )
    got = eco.run([sys.executable, "-c", query], timeout=120, env_=eco.env(**ara_env), check=True)
    data = json.loads(got.stdout.strip().splitlines()[-1])
    assert data["count"] == 1
    assert data["path"].endswith("playbooks/probe.yml") and data["status"] == "completed", data
    (host,) = data["hosts"]
    assert host["name"] == standin.host
    assert host["failed"] == 0 and host["unreachable"] == 0 and host["ok"] > 0, host
    assert "openadapt.waa.validate : All health checks passing" in data["tasks"], data["tasks"]


def test_a_sliced_benchmark_and_its_merge_step_give_one_summary(ready, standin, collections, tmp_path):
    """docs/awx.md's workflow: a sliced job template runs run_waa.yml (two slices: two ansible-runner jobs with
    disjoint limits on one inventory), then playbooks/benchmark_summary.yml gets the slices' artifacts, merged
    key by key as AWX merges them, and records one summary. The slices' tasks are disjoint and cover the sample."""
    r, _pdd, extravars = ready
    assert r.status == "successful"
    from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import select_tasks

    # (The client's environment holds "0": a short value is a setting, not a secret, and must not be masked in the
    # results, or every 0 of every task id would be.)
    bench = dict(extravars, waa_benchmark_task_list="evaluation_examples_windows/test_small.json",
                 waa_benchmark_num_tasks=4, waa_benchmark_sample_seed=2, waa_benchmark_clean_results=True,
                 waa_benchmark_env={"WAA_SIM_STEP_SECONDS": "0", "WAA_SIM_RAISE_TASKS": ""})
    combined, ran = {}, {}
    for index, host in enumerate(("slice-a", "slice-b")):
        pdd = _private_data_dir(tmp_path / host, standin, collections, bench)
        inv = pdd / "inventory" / "hosts.yml"
        data = yaml.safe_load(inv.read_text())
        hosts = data["all"]["children"]["waa_vms"]["hosts"]
        vm = hosts.pop(standin.host)
        hosts.update({"slice-a": dict(vm), "slice-b": dict(vm)})  # one VM twice: the slices run one after the other
        inv.write_text(yaml.safe_dump(data))
        job = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/run_waa.yml", limit=host, quiet=True,
                                 timeout=600)
        assert (job.status, job.rc) == ("successful", 0), job.stdout.read()[-6000:]
        combined.update(_artifacts(job))  # AWX's merge of a sliced job's artifacts: key by key
        events = [json.loads(line) for line in (pdd / "waa-run" / "events.jsonl").read_text().splitlines()]
        ran[host] = [(e["domain"], e["task_id"]) for e in events if e["type"] == "task_start"]
        assert len(ran[host]) == 2, (index, ran)
    small = json.loads((eco.REPO / "tests/sim/rootfs/client/evaluation_examples_windows/test_small.json").read_text())
    assert not set(ran["slice-a"]) & set(ran["slice-b"])
    assert sorted(ran["slice-a"] + ran["slice-b"]) == sorted(select_tasks(small, "all", None, 4, 2))
    assert list(combined["waa_results"]) == ["slice-b"]  # the last slice's: why each host has a key of its own

    merge = _private_data_dir(tmp_path / "merge", standin, collections, combined)
    job = ansible_runner.run(private_data_dir=str(merge), playbook="playbooks/benchmark_summary.yml", quiet=True,
                             timeout=300)
    stdout = job.stdout.read()
    assert (job.status, job.rc) == ("successful", 0), stdout[-6000:]
    summary = _artifacts(job)["waa_benchmark_summary"]
    assert summary["tasks"] == 4 and summary["duplicates"] == [] and summary["without_result"] == [], summary
    assert {h: v["tasks"] for h, v in summary["hosts"].items()} == {"slice-a": 2, "slice-b": 2}, summary["hosts"]
    assert "Benchmark summary: 4 task(s) with a result" in stdout, stdout[-3000:]
