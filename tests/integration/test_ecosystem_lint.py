"""ansible-lint, profile production, offline: the collection has 0 violations, and the
collection-prefix rule that replaces var-naming[no-role-prefix] really fires."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402

LINT = eco.VENV_BIN / "ansible-lint"


def test_config_is_production_and_offline():
    cfg = yaml.safe_load((eco.REPO / ".ansible-lint").read_text())
    assert cfg["profile"] == "production"
    assert cfg["offline"] is True
    # The only rule switched off is the per-role prefix, replaced by waa-var-prefix.
    assert cfg.get("skip_list", []) == ["var-naming[no-role-prefix]"]
    assert not cfg.get("warn_list")
    assert "waa-var-prefix" in cfg["enable_list"]
    # Ansible content is never excluded: only the Python package, environments and test harness.
    for path in ("roles", "playbooks", "plugins", "molecule", "inventories", "meta", "changelogs"):
        assert not any(str(p).rstrip("/") == path for p in cfg.get("exclude_paths", [])), path


def test_collection_has_no_violations():
    proc = eco.run([LINT, "--offline", "--nocolor", "-f", "pep8"], timeout=300, cwd=eco.REPO)
    assert proc.returncode == 0, eco.describe(proc)
    assert "Profile 'production' was required, and it passed." in proc.stderr + proc.stdout, eco.describe(proc)


def test_collection_prefix_rule_fires(tmp_path):
    role = tmp_path / "roles" / "demo"
    (role / "tasks").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta").mkdir()
    (role / "defaults" / "main.yml").write_text("---\ndemo_retries: 3\nwaa_ok: 1\n")
    (role / "meta" / "argument_specs.yml").write_text(
        "---\nargument_specs:\n  main:\n    short_description: Demo.\n    options:\n"
        "      demo_port:\n        type: int\n        description: Port.\n")
    (role / "tasks" / "main.yml").write_text(
        "---\n- name: Remember\n  ansible.builtin.set_fact:\n    demo_fact: 1\n    _waa_private: 2\n"
        "- name: Ping\n  ansible.builtin.ping:\n  register: ping_result\n")
    cfg = yaml.safe_load((eco.REPO / ".ansible-lint").read_text())
    cfg["rulesdir"] = [str(eco.REPO / d) for d in cfg["rulesdir"]]
    cfg["exclude_paths"] = []
    (tmp_path / ".ansible-lint").write_text(yaml.safe_dump(cfg))
    proc = eco.run([LINT, "--offline", "--nocolor", "-f", "pep8", "roles/demo"], timeout=300, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, eco.describe(proc)
    for bad in ("demo_retries", "demo_port", "set_fact: demo_fact", "register: ping_result"):
        assert f"Role variables use the collection prefix waa_ ({bad})" in out, (bad, eco.describe(proc))
    for good in ("waa_ok", "_waa_private"):
        assert f"({good})" not in out and f": {good})" not in out, (good, eco.describe(proc))
