"""`ansible-doc openadapt.waa.<name>` works for every plugin of the collection: the docs parse,
every module shows its examples and return values, and the shared docker_host option (the
doc fragment, the action group) is where it belongs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"


def _names(kind: str) -> list:
    return sorted(f"openadapt.waa.{p.stem}" for p in (REPO / "plugins" / kind).glob("*.py") if not p.stem.startswith("_"))


def _docs(plugin_type: str, names: list) -> dict:
    collections = REPO / ".collections"
    (collections / "ansible_collections" / "openadapt").mkdir(parents=True, exist_ok=True)
    link = collections / "ansible_collections" / "openadapt" / "waa"
    if not link.exists():
        link.symlink_to("../../..")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ANSIBLE_DOC), "-t", plugin_type, "--json", *names], capture_output=True, text=True,
                          env=env, timeout=120, cwd=str(REPO))
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_every_module_has_docs_examples_and_return_values():
    names = _names("modules")
    docs = _docs("module", names)
    assert sorted(docs) == names
    for name, entry in docs.items():
        assert entry["doc"].get("short_description"), name
        assert entry.get("examples", "").strip(), f"{name} has no EXAMPLES"
        assert entry.get("return"), f"{name} has no RETURN"


def test_every_callback_and_filter_has_docs():
    for plugin_type, kind in (("callback", "callback"), ("filter", "filter")):
        names = _names(kind)
        if kind == "filter":  # every filter a filter file defines has docs (in the file, or a YAML beside it)
            import importlib

            names = sorted("openadapt.waa." + name for stem in names for name in importlib.import_module(
                "ansible_collections.openadapt.waa.plugins.filter." + stem.rsplit(".", 1)[-1]).FilterModule().filters())
        docs = _docs(plugin_type, names)
        assert sorted(docs) == sorted(names), (plugin_type, sorted(docs))
        for name, entry in docs.items():
            assert entry["doc"].get("short_description"), name


def test_the_docker_modules_share_one_docker_host_option_and_an_action_group():
    group = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]["docker"]
    docs = _docs("module", [f"openadapt.waa.{m}" for m in group])
    for name, entry in docs.items():
        option = entry["doc"]["options"]["docker_host"]
        assert option["default"] == "unix:///var/run/docker.sock" and "group/openadapt.waa.docker" in " ".join(
            option["description"]), name
    # Every module with a top-level docker_host option (the shared doc fragment) is in the group.
    with_option = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                         if "  - openadapt.waa.docker\n" in p.read_text())
    assert sorted(group) == with_option
