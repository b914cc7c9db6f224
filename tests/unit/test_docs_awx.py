"""docs/awx.md stays true: its survey mirrors the CLI's setup options and the roles' variables,
its workflow gate playbook branches as the page says (run here with ansible-playbook on
localhost), and its configuration-as-code playbook only uses options the awx.awx modules have."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from openadapt_waa import cli
from openadapt_waa.options import SETUP_VARS

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "awx.md").read_text()
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(DOC) if kind == lang]


def _block(lang: str, marker: str) -> str:
    found = [b for b in _blocks(lang) if marker in b]
    assert len(found) == 1, f"expected one {lang} block with {marker!r} in docs/awx.md, found {len(found)}"
    return found[0]


def _specs() -> dict:
    out = {}
    for path in REPO.glob("roles/*/meta/argument_specs.yml"):
        for spec in (yaml.safe_load(path.read_text())["argument_specs"] or {}).values():
            out.update(spec.get("options") or {})
    return out


def _vm_setup_parser() -> argparse.ArgumentParser:
    for action in cli.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["vm-setup"]
    raise AssertionError("no vm-setup subcommand")


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory):
    """An environment for Ansible tools with an empty configuration (not the repository's)."""
    cfg = tmp_path_factory.mktemp("cfg") / "ansible.cfg"
    cfg.write_text("[defaults]\nretry_files_enabled = False\n")

    def env(**extra) -> dict:
        e = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        e.update(PATH=f"{BIN}{os.pathsep}{e.get('PATH', '')}", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(cfg), **extra)
        return e

    return env


# -- survey ---------------------------------------------------------------------------------
SURVEY = json.loads(_block("json", '"spec"'))
QUESTIONS = {q["variable"]: q for q in SURVEY["spec"]}


def test_survey_covers_the_cli_setup_options():
    wanted = set(SETUP_VARS.values()) | {"waa_timeout"}
    assert set(QUESTIONS) == wanted, sorted(set(QUESTIONS) ^ wanted)


def test_survey_questions_match_the_argument_specs():
    specs = _specs()
    kinds = {"bool": "multiplechoice", "int": "integer", "str": "text", "path": "text", "raw": "text"}
    for name, q in QUESTIONS.items():
        assert name in specs, f"survey variable {name} is not a role variable"
        assert q["type"] == kinds[specs[name].get("type", "str")], (name, q["type"], specs[name].get("type"))
        if q["type"] == "multiplechoice":
            assert q["choices"] == ["true", "false"], name
        assert q["required"] is False and q.get("default", "") == "", f"{name}: empty answers must not be sent"
        assert q["question_name"] and q["question_description"], name


def test_every_vm_setup_option_has_a_place_in_awx():
    options = {o for a in _vm_setup_parser()._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
    table = DOC.split("### Survey: the CLI's options", 1)[1].split("Not in the survey", 1)
    surveyed = set(re.findall(r"`(--[\w-]+)`", table[0]))
    elsewhere = set(re.findall(r"`(--[\w-]+)`", table[1].split("```", 1)[0]))
    assert not (surveyed | elsewhere) - options, sorted((surveyed | elsewhere) - options)
    assert not options - surveyed - elsewhere, f"options docs/awx.md does not place: {sorted(options - surveyed - elsewhere)}"


# -- the gate playbook --------------------------------------------------------------------------
RESULTS = {
    "vm-a": {"exit_code": 3, "phase": "image", "success": False},
    "vm-b": {"exit_code": 0, "phase": "validate", "success": True},
    "vm-c": {"exit_code": 5, "phase": "windows_boot", "success": False},
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gate") / "workflow_gate.yml"
    path.write_text(_block("yaml", "name: Branch on the openadapt.waa results"))
    return path


def _run_gate(gate: Path, extravars: dict, env) -> tuple[int, dict]:
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(gate), "-e", json.dumps(extravars)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        env=env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_SHOW_CUSTOM_STATS="1",
                ANSIBLE_PYTHON_INTERPRETER=sys.executable),
    )
    doc = json.loads(proc.stdout[proc.stdout.index("{"):]) if "{" in proc.stdout else {}
    assert doc, proc.stdout + proc.stderr
    return proc.returncode, doc.get("global_custom_stats", {})


@pytest.mark.parametrize("extravars,hosts", [
    ({"waa_gate_codes": [3]}, "vm-a"),
    ({"waa_gate_codes": [5, 6]}, "vm-c"),
    ({"waa_gate_codes": ["3", "5"]}, "vm-a,vm-c"),
    ({"waa_gate_phases": ["windows_boot", "waa_server"]}, "vm-c"),
    ({"waa_gate_codes": [8]}, None),
    ({"waa_gate_phases": ["preflight"]}, None),
])
def test_gate_branches_on_exit_code_and_phase(gate, ansible_env, extravars, hosts):
    rc, stats = _run_gate(gate, dict(extravars, waa_results=RESULTS), ansible_env)
    if hosts is None:
        assert rc == 2 and "waa_hosts" not in stats, (rc, stats)
    else:
        assert rc == 0, (rc, stats)
        assert stats["waa_hosts"] == hosts


def test_gate_fails_without_artifacts(gate, ansible_env):
    rc, stats = _run_gate(gate, {"waa_gate_codes": [3]}, ansible_env)
    assert rc == 2 and not stats


def test_doc_playbooks_pass_syntax_check(gate, ansible_env, tmp_path):
    config = tmp_path / "awx_config.yml"
    config.write_text(_block("yaml", "awx.awx.workflow_job_template"))
    (tmp_path / "survey-vm-setup.json").write_text(json.dumps(SURVEY))
    for playbook in (gate, config):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check", str(playbook)],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
                              env=ansible_env())
        assert proc.returncode == 0, proc.stdout + proc.stderr


# -- configuration as code: only options the awx.awx modules have ------------------------------
def _check_args(args, options: dict, where: str) -> list[str]:
    problems = []
    if not isinstance(args, dict):
        return problems
    names = {}
    for name, opt in options.items():
        names[name] = opt
        for alias in opt.get("aliases") or []:
            names[alias] = opt
    for key, value in args.items():
        if key not in names:
            problems.append(f"{where}: unknown option {key!r}")
            continue
        opt = names[key]
        templated = isinstance(value, str) and "{{" in value
        if opt.get("choices") and not templated and value not in opt["choices"]:
            problems.append(f"{where}.{key}: {value!r} not in {opt['choices']}")
        sub = opt.get("suboptions")
        if sub and not templated:
            items = value if opt.get("type") == "list" else [value]
            for i, item in enumerate(items or []):
                problems += _check_args(item, sub, f"{where}.{key}[{i}]")
    for name, opt in options.items():
        if opt.get("required") and name not in args and not any(a in args for a in opt.get("aliases") or []):
            problems.append(f"{where}: required option {name!r} missing")
    return problems


def test_awx_config_uses_real_module_options(ansible_env):
    plays = yaml.safe_load(_block("yaml", "awx.awx.workflow_job_template"))
    tasks = [t for play in plays for t in play["tasks"]]
    modules = sorted({k for t in tasks for k in t if k.startswith("awx.awx.")})
    assert {"awx.awx.job_template", "awx.awx.workflow_job_template", "awx.awx.inventory_source"} <= set(modules)
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "--json", *modules], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=True, env=ansible_env())
    docs = json.loads(proc.stdout)
    problems = []
    for task in tasks:
        module = next(k for k in task if k.startswith("awx.awx."))
        problems += _check_args(task[module], docs[module]["doc"]["options"], f"{task['name']} ({module})")
    assert not problems, "\n".join(problems)
