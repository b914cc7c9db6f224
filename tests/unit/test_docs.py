"""The documentation keeps up with the code.

- Every option of the `waa` CLI (every subcommand, read from `openadapt_waa.cli.build_parser()`)
  appears in README.md, and every `--option` README.md shows for `waa` exists in the parser.
- Every role variable (roles/*/meta/argument_specs.yml) is documented: docs/variables.md is
  generated from the argument specs and must be in sync; every user-settable default has a spec.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from openadapt_waa.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")

_spec = importlib.util.spec_from_file_location("variables_doc", REPO / "tests" / "ecosystem" / "variables_doc.py")
variables_doc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(variables_doc)


def _commands(parser: argparse.ArgumentParser, path: tuple = ()):
    """(command path, parser) for the top-level parser and every subcommand, recursively."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, path + (name,))


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [opt for action in parser._actions if action.help != argparse.SUPPRESS
            and not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
            for opt in action.option_strings]


COMMANDS = list(_commands(build_parser()))
ALL_OPTIONS = {opt for _path, p in COMMANDS for opt in _options(p)} | {"-h", "--help"}


def _mentioned(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def _readme_waa_options() -> set[str]:
    """Options README shows for `waa`: in prose and tables all of them; in code blocks only on
    lines that run `waa` (other tools' options, e.g. ansible-galaxy's, are theirs)."""
    found, in_code = set(), False
    for line in README.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            command = line.strip().lstrip("$ ").split(" ", 1)[0]
            if command != "waa":
                continue
            line = line.split("#", 1)[0]  # a comment may mention anything
        for match in OPTION.finditer(line):
            token = match.group(1)
            if token.startswith("--") or re.fullmatch(r"-[A-Za-z]", token):
                found.add(token)
    return found


@pytest.mark.parametrize("path,parser", [(p, s) for p, s in COMMANDS if p], ids=[" ".join(p) for p, _s in COMMANDS if p])
def test_every_cli_option_is_in_readme(path, parser):
    command = "waa " + " ".join(path)
    problems = []
    if not (_mentioned(README, command) or _mentioned(README, f"`{' '.join(path)}`")):
        problems.append(f"README.md does not show the command `{command}`")
    missing = [opt for opt in _options(parser) if not _mentioned(README, opt)]
    if missing:
        problems.append(f"README.md does not mention these options of `{command}`: {missing}")
    assert not problems, "\n".join(problems)


def test_readme_options_exist_in_the_parser():
    unknown = sorted(_readme_waa_options() - ALL_OPTIONS)
    assert not unknown, f"README.md mentions options the CLI does not have: {unknown}"


def test_variables_doc_is_in_sync():
    current = (REPO / "docs" / "variables.md").read_text()
    assert current == variables_doc.render(REPO), \
        "docs/variables.md is out of date: run python tests/ecosystem/variables_doc.py"


def test_every_role_variable_is_documented():
    docs = README + (REPO / "docs" / "variables.md").read_text()
    specs = variables_doc.load_specs(REPO)
    names = {name for role in specs.values() for spec in role.values() for name in spec["options"]}
    assert names, "no argument specs found"
    undocumented = sorted(n for n in names if not _mentioned(docs, n))
    assert not undocumented, undocumented
    for role, entries in specs.items():
        for entry, spec in entries.items():
            for name, opt in spec["options"].items():
                assert (opt or {}).get("description"), f"{role} ({entry}): {name} has no description"


def test_user_settable_defaults_have_argument_specs():
    """A role default is either documented in an argument spec, or derived (a template, or a
    structure of templates) or internal bookkeeping."""
    specs = variables_doc.load_specs(REPO)
    names = {name for role in specs.values() for spec in role.values() for name in spec["options"]}
    internal = set()
    missing = []
    for path in sorted(REPO.glob("roles/*/defaults/main.yml")):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            # A template, or a structure built of templates (waa_container_spec).
            derived = "{{" in (value if isinstance(value, str) else yaml.safe_dump(value))
            if key not in names and key not in internal and not derived:
                missing.append(f"{path.relative_to(REPO)}: {key}")
    assert not missing, missing


def test_argument_specs_document_variables_without_repeating_their_values():
    """A role's defaults/main.yml holds the values, once; its argument spec only documents them."""
    for path in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        for entry, spec in ((yaml.safe_load(path.read_text()) or {}).get("argument_specs") or {}).items():
            repeated = sorted(name for name, opt in (spec.get("options") or {}).items() if "default" in (opt or {}))
            assert not repeated, f"{path.relative_to(REPO)} ({entry}) repeats the defaults of {repeated}"
    seen: dict = {}
    for path in sorted(REPO.glob("roles/*/defaults/main.yml")):
        for key in yaml.safe_load(path.read_text()) or {}:
            assert key not in seen, f"{key} is defined in {seen.get(key)} and {path.relative_to(REPO)}"
            seen[key] = path.relative_to(REPO)


def _option_table_rows() -> list[tuple[list[str], str]]:
    """(options, default cell) of every row of README's option tables (header `| option | default | ...`)."""
    rows, in_table = [], False
    for line in README.splitlines():
        if line.startswith("| option | default |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append((re.findall(r"`(--?[A-Za-z][\w-]*)", cells[0]), cells[1]))
    return rows


def _actions(option: str) -> list[argparse.Action]:
    return [action for _path, p in COMMANDS for action in p._actions if option in action.option_strings]


def _default_problem(option: str, stated: str) -> str | None:
    """What is wrong with README stating ``stated`` as the default of ``option``, or None. An option the user
    did not give is None in the parser (the inventory's or the role's value applies): then its help must
    begin its "default" with what README states. Subcommands that share the option's name may differ (`waa monitor
    --run-dir`): one of them must agree."""
    stated = stated.strip("` ")
    problems = []
    for action in _actions(option):
        default, helptext = action.default, " ".join((action.help or "").split())
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            on = bool(default) if default is not None else helptext.endswith("(default)")
            expected = {True: "on", False: "off"}[on if isinstance(action, argparse._StoreTrueAction) else not on]
            if stated != expected:
                problems.append(f"{option}: README says {stated!r}, the parser's default is {expected!r}")
        elif default is None or default == []:
            said = re.escape(stated)
            if re.fullmatch(r"[\w./:$<>~-]+", stated) and not re.search(
                    rf"default:?\s+{said}(?![\w.])|^{said} \(default\)", helptext, re.IGNORECASE):
                problems.append(f"{option}: README says {stated!r}, its help says {helptext!r}")
        else:
            text = f"{default:g}" if isinstance(default, float) else str(default)
            if text not in stated and not (default == 0 and "free" in stated):
                problems.append(f"{option}: README says {stated!r}, the parser's default is {text!r}")
    return "; ".join(problems) if len(problems) == len(_actions(option)) else None


def test_readme_option_tables_state_the_parsers_defaults():
    rows = _option_table_rows()
    assert len(rows) > 30, rows  # the three tables were found
    problems = []
    for options, defaults in rows:
        parts = re.split(r",\s*|;\s*", defaults)
        for index, option in enumerate(options):
            if option in ("-i", "-h", "--help") or option.replace("--no-", "--") in options[:index]:
                continue  # the negative form of the option before it: one switch
            if not _actions(option):
                problems.append(f"{option}: in README's table, not in the parser")
                continue
            stated = parts[index] if len(options) > 1 and len(parts) == len(options) else defaults
            problem = _default_problem(option, stated)
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)
