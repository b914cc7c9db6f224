"""The Galaxy artifact: `ansible-galaxy collection build`, install into an empty collections
path (offline), then `ansible-playbook openadapt.waa.vm_setup` by its fully qualified name
against the stand-in VM, from a directory with no project ansible.cfg."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402

# What the artifact carries at its top level; everything else (the CLI, tests, stand-in,
# molecule, local state) is kept out by build_ignore in galaxy.yml.
TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSES", "changelogs", "docs", "inventories", "meta",
             "playbooks", "plugins", "roles"}
OPTIONAL = {"tests"}  # tests/sanity only


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return eco.build_collection(tmp_path_factory.mktemp("galaxy-build"))


def test_artifact_carries_only_the_collection(artifact):
    names = eco.tar_members(artifact)
    top = {n.split("/", 1)[0] for n in names}
    assert TOP_LEVEL <= top <= TOP_LEVEL | OPTIONAL, sorted(top ^ TOP_LEVEL)
    for forbidden in (".venv", ".standin", ".collections", "src/", "molecule/", ".git/", "__pycache__"):
        assert not any(n.startswith(forbidden) or f"/{forbidden}" in n for n in names), forbidden
    # Of tests/, only ansible-test's ignore files may ship (and they are kept empty).
    assert all(n in ("tests", "tests/sanity") or n.startswith("tests/sanity/") for n in names if n.startswith("tests")), \
        [n for n in names if n.startswith("tests")]
    assert artifact.stat().st_size < 1_000_000, artifact.stat().st_size
    manifest = json.loads(eco.run(["tar", "-xzOf", artifact, "MANIFEST.json"], timeout=30, check=True).stdout)
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("openadapt", "waa")
    assert "community.docker" in info["dependencies"] and "azure.azcollection" in info["dependencies"]


def test_installed_collection_runs_vm_setup_by_fqcn(artifact, standin, tmp_path):
    collections = tmp_path / "collections"
    collections.mkdir()
    root = eco.install_collection(artifact, collections)
    assert (root / "playbooks" / "vm_setup.yml").is_file()
    # No project ansible.cfg: only the installed copy can provide openadapt.waa.
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ngathering = explicit\nretry_files_enabled = False\n")
    # The test venv's editable install puts the checkout's collection on sys.path, where Ansible also
    # looks for collections (as it finds a wheel-installed one): not here.
    env = eco.env(ANSIBLE_CONFIG=cfg, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False")
    listed = eco.run([eco.VENV_BIN / "ansible-galaxy", "collection", "list", "openadapt.waa", "--format", "json"],
                     timeout=60, cwd=tmp_path, env_=env, check=True)
    assert list(json.loads(listed.stdout)) == [str(collections / "ansible_collections")], listed.stdout

    name = eco.name("galaxy")
    eco.docker_rm(name)
    hostvars = dict(eco.ports(0), **eco.vm_dir(tmp_path), **eco.FAST, waa_container_name=name)
    inv = eco.inventory(tmp_path / "inventory.yml", standin, {})
    try:
        argv = [eco.VENV_BIN / "ansible-playbook", "openadapt.waa.vm_setup", "-i", inv]
        for key, value in hostvars.items():
            argv += ["-e", f"{key}={value}"]
        proc = eco.run(argv, timeout=600, cwd=tmp_path, env_=env)
        assert proc.returncode == 0, eco.describe(proc)
        assert "failed=0" in proc.stdout and "unreachable=0" in proc.stdout, eco.describe(proc)
        state = eco.run(["docker", "inspect", "-f", "{{.State.Running}} {{json .HostConfig.PortBindings}}", name],
                        timeout=30, check=True).stdout
        running, bindings = state.split(" ", 1)
        assert running == "true"
        assert json.loads(bindings)["5000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(hostvars["waa_server_port"])}]
    finally:
        eco.docker_rm(name)
