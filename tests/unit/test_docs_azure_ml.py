"""docs/azure-ml.md: the Azure ML pre-step really ends with waa's exit code.

prestep.sh from the page runs with a stand-in `waa` (records its arguments and environment,
prints a result document, exits with a chosen code). Azure is not reachable here: the Key Vault
read and the Azure SDK install are switched off with the script's own knobs."""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from openadapt_waa import cli

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "azure-ml.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

FAKE_WAA = """#!/usr/bin/env python3
import json, os, sys
record = {"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in
          ("ANSIBLE_AZURE_AUTH_SOURCE", "AZURE_CLIENT_ID", "ANSIBLE_PRIVATE_KEY_FILE")}}
with open(os.environ["FAKE_WAA_RECORD"], "w") as f:
    json.dump(record, f)
rc = int(os.environ["FAKE_WAA_RC"])
print(json.dumps({"exit_code": rc, "success": rc == 0, "host": "waa-vm-1"}))
sys.exit(rc)
"""


def _block(lang: str, marker: str) -> str:
    found = [body for kind, body in FENCE.findall(DOC) if kind == lang and marker in body]
    assert len(found) == 1, f"expected one {lang} block with {marker!r} in docs/azure-ml.md, found {len(found)}"
    return found[0]


def _subparser(name: str) -> argparse.ArgumentParser:
    for action in cli.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("no subcommands")


def test_job_definitions_parse():
    job = yaml.safe_load(_block("yaml", "commandJob.schema.json"))
    assert job["type"] == "command" and job["command"] == "bash prestep.sh"
    assert job["identity"] == {"type": "managed"}
    assert {"WAA_VM_NAME", "WAA_KEY_VAULT_URL", "WAA_SSH_KEY_SECRET"} <= set(job["environment_variables"])
    assert all(isinstance(v, str) for v in job["environment_variables"].values())
    assert job["environment"]["conda_file"] == "conda.yml"
    conda = yaml.safe_load(_block("yaml", "channels: [conda-forge]"))
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert any(p.startswith("openadapt-waa") for p in pip) and "azure-identity" in pip
    pipeline = yaml.safe_load(_block("yaml", "pipelineJob.schema.json"))
    assert pipeline["jobs"]["evaluate"]["inputs"]["setup"] == "${{parent.jobs.vm_setup.outputs.setup}}"
    assert pipeline["jobs"]["vm_setup"]["command"] == "bash prestep.sh"


def test_waa_options_in_the_page_exist():
    script = _block("bash", "waa vm-setup")
    pipeline = yaml.safe_load(_block("yaml", "pipelineJob.schema.json"))
    for command, text in (("vm-setup", script), ("run", pipeline["jobs"]["evaluate"]["command"])):
        line = next(ln for ln in text.replace("\\\n", " ").splitlines() if f"waa {command}" in ln)
        known = {o for a in _subparser(command)._actions for o in a.option_strings}
        rest = re.sub(r'"[^"]*"', '""', line.split(f"waa {command}", 1)[1])  # quoted words are values
        used = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rest))
        assert used <= known, (command, sorted(used - known))


@pytest.fixture
def prestep(tmp_path):
    script = tmp_path / "prestep.sh"
    script.write_text(_block("bash", "waa vm-setup"))
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "waa").write_text(FAKE_WAA)
    (fakebin / "waa").chmod(0o755)
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr

    calls = []

    def run(rc: int, **env) -> tuple[subprocess.CompletedProcess, dict, Path]:
        calls.append(rc)
        out = tmp_path / f"outputs-{len(calls)}"
        record = tmp_path / f"record-{len(calls)}.json"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "WAA_"))}
        base.update(
            PATH=f"{fakebin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
            FAKE_WAA_RC=str(rc), FAKE_WAA_RECORD=str(record), WAA_VM_NAME="waa-vm-1",
            WAA_OUTPUT_DIR=str(out), WAA_SSH_KEY_FILE=str(key), WAA_SKIP_AZURE_SDK="1",
            WAA_INVENTORY="/opt/waa/inventories/azure/waa.azure_rm.yml", DEFAULT_IDENTITY_CLIENT_ID="client-123",
        )
        base.update(env)
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, env=base,
                              cwd=tmp_path, stdin=subprocess.DEVNULL, check=False)
        return proc, json.loads(record.read_text()) if record.exists() else {}, out

    return run


@pytest.mark.parametrize("rc", [0, 3, 8])
def test_prestep_ends_with_waas_exit_code(prestep, rc):
    proc, record, out = prestep(rc)
    assert proc.returncode == rc, proc.stdout + proc.stderr
    assert json.loads((out / "waa_vm_setup.json").read_text())["exit_code"] == rc
    assert f"exit code {rc}" in proc.stdout
    argv = record["argv"]
    assert argv[:1] == ["vm-setup"] and "--json" in argv
    assert argv[argv.index("--limit") + 1] == "waa-vm-1"
    assert argv[argv.index("-i") + 1] == "/opt/waa/inventories/azure/waa.azure_rm.yml"
    assert argv[argv.index("--timeout") + 1] == "1800"
    assert argv[argv.index("--run-dir") + 1] == str(out / "waa-run")
    assert record["env"]["ANSIBLE_AZURE_AUTH_SOURCE"] == "msi"
    assert record["env"]["AZURE_CLIENT_ID"] == "client-123"
    assert record["env"]["ANSIBLE_PRIVATE_KEY_FILE"].endswith("id_ed25519")


def test_prestep_keeps_an_explicit_client_id_and_needs_the_vm(prestep):
    proc, record, _out = prestep(0, AZURE_CLIENT_ID="explicit-456", WAA_TIMEOUT="2400")
    assert proc.returncode == 0
    assert record["env"]["AZURE_CLIENT_ID"] == "explicit-456"
    assert record["argv"][record["argv"].index("--timeout") + 1] == "2400"
    proc, record, _out = prestep(0, WAA_VM_NAME="")
    assert proc.returncode != 0 and not record and "WAA_VM_NAME" in proc.stderr, shlex.quote(proc.stderr)
