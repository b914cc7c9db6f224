"""The playbooks' phase lists: each phase role comes in with its phase tag, the one way the callback
and the failure's classification learn which phase a task belongs to."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.openadapt.waa.plugins.module_utils._phases import PHASE_NUMBER, PHASE_TAG_PREFIX

REPO = Path(__file__).resolve().parents[2]


def _tasks(path: Path):
    for task in yaml.safe_load(path.read_text()) or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from (task.get(key) or [])


def test_every_phase_role_is_imported_with_its_phase_tag():
    seen = set()
    for path in sorted((REPO / "playbooks").rglob("*.yml")):
        for task in _tasks(path):
            for action in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
                role = str((task.get(action) or {}).get("name", "")).rsplit(".", 1)[-1]
                if role not in PHASE_NUMBER:
                    continue
                tags = task.get("tags") if action.endswith("import_role") else (task[action].get("apply") or {}).get("tags")
                assert PHASE_TAG_PREFIX + role in (tags or []), (path.name, role, tags)
                seen.add(role)
    assert seen == set(PHASE_NUMBER), set(PHASE_NUMBER) - seen


def test_no_phase_role_says_which_phase_runs_by_a_fact():
    # (common's failure.yml records the failed phase it read from the failed task's tag)
    for path in sorted(p for p in (REPO / "roles").rglob("tasks/*.yml") if p.parts[-3] != "common"):
        for task in _tasks(path):
            assert "waa_phase" not in (task.get("ansible.builtin.set_fact") or {}), (path, task.get("name"))


JINJA_LIMIT = 150  # characters of one {{ ... }}: past it, a decision belongs in a Python filter or in named vars


def test_no_jinja_expression_is_longer_than_the_limit():
    """Each long expression was a decision hidden in a template; they are split into named vars or filters."""
    long = []
    for path in sorted([*(REPO / "roles").rglob("*.yml"), *(REPO / "playbooks").rglob("*.yml")]):
        text = path.read_text()
        for match in re.finditer(r"\{\{.*?\}\}(?!\})", text, re.S):
            if len(match.group(0)) > JINJA_LIMIT:
                long.append(f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1} "
                            f"({len(match.group(0))} characters)")
    assert not long, long
