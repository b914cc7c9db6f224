"""Generate docs/variables.md from the roles' meta/argument_specs.yml and defaults/main.yml.

Each role's defaults/main.yml is its interface (the values); its argument spec documents the
variables it reads (type, description) and repeats no value. A variable's default is the one of
the role that defines it (a role's own, else common's, which every role depends on).

    python tests/ecosystem/variables_doc.py          # rewrite docs/variables.md
    python tests/ecosystem/variables_doc.py --check  # exit 1 when it is out of date

tests/unit/test_docs.py checks that the file is in sync.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "docs" / "variables.md"

HEADER = """\
# Role variables

<!-- Generated from roles/*/meta/argument_specs.yml by tests/ecosystem/variables_doc.py: do not edit. -->

The phases of `openadapt.waa` are roles whose variables are all prefixed `waa_`. Each role's
`defaults/main.yml` is its interface: the values of the variables only it reads; the role
`common`, which every phase role depends on, holds the ones they share. Each role's
`meta/argument_specs.yml` documents the variables it reads (type and meaning, no value: the
default below is the defaults file's), and Ansible validates them before the role runs. Set them as extra vars (`-e`), in inventories
(`host_vars`, `group_vars`), as AWX survey answers, or through the `waa` CLI's options.
"""


def _text(value) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return re.sub(r"\s+", " ", str(value or "")).strip().replace("|", "\\|")


def load_defaults(repo: Path = REPO) -> dict:
    """{variable: value} of every role's defaults/main.yml (a variable is defined by one role only)."""
    values: dict = {}
    for path in sorted(repo.glob("roles/*/defaults/main.yml")):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            values[name] = value
    return values


def _default(name: str, defaults: dict) -> str:
    if name not in defaults:
        return ""
    value = defaults[name]
    if isinstance(value, str):
        if "lookup(" in value:
            return ""  # read from the controller's environment: the description says from where
        value = " ".join(value.split())
        return f"`{value}`" if value else "`''`"
    return f"`{json.dumps(value)}`"


def _type(opt: dict) -> str:
    kind = opt.get("type", "str")
    if kind == "list" and opt.get("elements"):
        kind = f"list of {opt['elements']}"
    if opt.get("choices"):
        kind += " (" + ", ".join(f"`{c}`" for c in opt["choices"]) + ")"
    if opt.get("required"):
        kind += ", required"
    return kind


def load_specs(repo: Path = REPO) -> dict:
    """{role: {entry_point: {"short_description": str, "options": {name: spec}}}}"""
    specs = {}
    for path in sorted(repo.glob("roles/*/meta/argument_specs.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        specs[path.parent.parent.name] = {
            entry: {"short_description": _text(spec.get("short_description")), "options": spec.get("options") or {}}
            for entry, spec in (data.get("argument_specs") or {}).items()
        }
    return specs


def variables(specs: dict) -> dict:
    """{name: {"spec": spec (common's first), "roles": [role, ...]}}, names sorted."""
    out: dict = {}
    order = sorted(specs, key=lambda r: (r != "common", r))
    for role in order:
        for entry, spec in specs[role].items():
            for name, opt in spec["options"].items():
                item = out.setdefault(name, {"spec": opt or {}, "roles": []})
                label = role if entry == "main" else f"{role} ({entry})"
                if label not in item["roles"]:
                    item["roles"].append(label)
    return dict(sorted(out.items()))


def render(repo: Path = REPO) -> str:
    specs = load_specs(repo)
    lines = [HEADER, "## Roles", "", "| role | entry point | what it does | variables it reads |", "|---|---|---|---|"]
    for role in sorted(specs, key=lambda r: (r != "common", r)):
        for entry, spec in specs[role].items():
            names = ", ".join(f"`{n}`" for n in sorted(spec["options"])) or "-"
            lines.append(f"| `{role}` | `{entry}` | {spec['short_description']} | {names} |")
    defaults = load_defaults(repo)
    lines += ["", "## Variables", "", "| variable | type | default | description | read by |", "|---|---|---|---|---|"]
    for name, item in variables(specs).items():
        opt = item["spec"]
        roles = ", ".join(item["roles"])
        lines.append(f"| `{name}` | {_type(opt)} | {_default(name, defaults)} | {_text(opt.get('description'))} | {roles} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 when docs/variables.md is out of date")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(REPO)} is out of date: run python tests/ecosystem/variables_doc.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
