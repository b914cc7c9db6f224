"""execution-environment.yml (ansible-builder v3) for AWX: `ansible-builder create` accepts it
and lays out a build context with the collection artifact; the collection's own
meta/execution-environment.yml is what ansible-builder's introspection reads. No image is
built (no registry is reachable here)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402


def test_builder_create_accepts_the_definition(tmp_path):
    definition = yaml.safe_load((eco.REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    # The layout the definition expects next to it: the artifact in build/collection/.
    shutil.copy(eco.REPO / "execution-environment.yml", tmp_path / "execution-environment.yml")
    tarball = eco.build_collection(tmp_path / "build" / "collection")
    proc = eco.run([eco.VENV_BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context",
                    "--output-filename", "Containerfile", "-v", "2"], timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, eco.describe(proc)
    assert "No matches" not in proc.stdout + proc.stderr, eco.describe(proc)
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert (context / "_build" / "collections" / tarball.name).is_file()
    assert f"FROM {definition['images']['base_image']['name']}" in containerfile or \
        definition["images"]["base_image"]["name"] in containerfile
    assert "/build/collections/openadapt-waa-*.tar.gz" in containerfile
    # The artifact is installed in the galaxy stage, before introspection collects requirements.
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("FROM base AS builder", 1)[0]
    assert "openadapt-waa-*.tar.gz" in galaxy_stage
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = {c["name"] for c in requirements["collections"]}
    assert {"community.docker", "azure.azcollection"} <= names


def test_collection_ee_metadata_is_introspected(tmp_path):
    tarball = eco.build_collection(tmp_path / "build")
    collections = tmp_path / "collections"
    collections.mkdir()
    eco.install_collection(tarball, collections)
    import ansible_builder

    script = Path(ansible_builder.__file__).parent / "_target_scripts" / "introspect.py"
    proc = eco.run([sys.executable, script, "introspect", collections], timeout=60, check=True)
    found = yaml.safe_load(proc.stdout)
    assert any(line.startswith("openssh-client [platform:dpkg]") and "openadapt.waa" in line
               for line in found["system"]), found
    assert any(line.startswith("openssh-clients [platform:rpm]") for line in found["system"]), found
