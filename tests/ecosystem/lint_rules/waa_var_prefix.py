"""ansible-lint rule `waa-var-prefix`: the collection's one variable namespace.

The phases of openadapt.waa are roles that share one set of variables: `common` defines them
(defaults and argument specs), every phase role depends on it, the CLI passes them as extra
vars and inventories set them per host (`waa_image`, `waa_container_name`, ...). A per-role
prefix (`image_`, `container_`, ... as var-naming[no-role-prefix] asks) would split that one
interface into eleven, so `.ansible-lint` skips that sub-rule and this rule enforces the
collection-wide prefix in its place:

- every variable a role task sets (`set_fact` keys, `register`) starts with `waa_`
  (`_waa_` for values private to the role);
- every key of a role's `defaults/` and `vars/` files, and every option of its
  `meta/argument_specs.yml`, starts with `waa_`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansiblelint.rules import AnsibleLintRule

if TYPE_CHECKING:
    from ansiblelint.errors import MatchError
    from ansiblelint.file_utils import Lintable
    from ansiblelint.utils import Task

TASK_VAR = re.compile(r"^_?waa_[a-z0-9_]+$")
ROLE_VAR = re.compile(r"^waa_[a-z0-9_]+$")


class WaaVarPrefixRule(AnsibleLintRule):
    """Variables of the openadapt.waa roles use the collection prefix waa_."""

    id = "waa-var-prefix"
    description = (
        "Role variables of openadapt.waa share one namespace: set_fact keys and registered "
        "variables start with waa_ (or _waa_ when private), defaults, vars and argument spec "
        "options with waa_."
    )
    severity = "MEDIUM"
    tags = ["idiom", "openadapt"]
    version_changed = "0.1.0"

    def matchtask(self, task: Task, file: Lintable | None = None) -> list[MatchError]:
        if not file or not file.role:
            return []
        names: list[tuple[str, str]] = []
        action = task["action"]
        if action["__ansible_module__"] == "set_fact":
            names += [("set_fact", k) for k in action if isinstance(k, str)
                      and not k.startswith("__") and k != "cacheable"]
        registered = task.get("register")
        if isinstance(registered, str):
            names.append(("register", registered))
        return [
            self.create_matcherror(
                message=f"Role variables use the collection prefix waa_ ({kind}: {name})",
                lineno=task.line, filename=file, tag=f"{self.id}[task]",
            )
            for kind, name in names if not TASK_VAR.match(name)
        ]

    def matchyaml(self, file: Lintable) -> list[MatchError]:
        results: list[MatchError] = []
        if not file.role:
            return results
        parts = Path(str(file.path)).parts
        data: Any = file.data
        keys: list[str] = []
        if str(file.kind) == "vars" and isinstance(data, dict) and {"defaults", "vars"} & set(parts):
            # ansible-lint adds annotation keys such as __file__ and __skipped_rules__.
            keys = [k for k in data if isinstance(k, str) and not k.startswith("__")]
        elif str(file.kind) in ("role-arg-spec", "arg_specs") and isinstance(data, dict):
            for entry, spec in (data.get("argument_specs") or {}).items():
                if isinstance(spec, dict) and not str(entry).startswith("__"):
                    keys += [k for k in spec.get("options") or {} if isinstance(k, str) and not k.startswith("__")]
        for key in keys:
            if not ROLE_VAR.match(key):
                results.append(self.create_matcherror(
                    message=f"Role variables use the collection prefix waa_ ({key})",
                    filename=file, tag=f"{self.id}[role]",
                ))
        return results
