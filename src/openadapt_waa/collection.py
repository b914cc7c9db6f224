"""Find the openadapt.waa collection that ships with this package.

Installed from a wheel, the collection sits in ``openadapt_waa/collection``. In a source
checkout the repository root is the collection, linked into ``.collections`` so that Ansible
resolves ``openadapt.waa.*`` names.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Collection:
    """Where the collection is, as Ansible needs to be told."""

    root: Path  # .../ansible_collections/openadapt/waa
    collections_path: Path  # the directory that holds ansible_collections/

    def playbook(self, name: str) -> Path:
        return self.root / "playbooks" / name


def _repo_root() -> Path | None:
    for parent in PACKAGE_DIR.parents:
        if (parent / "galaxy.yml").is_file() and (parent / "roles").is_dir():
            return parent
    return None


def locate() -> Collection:
    shipped = PACKAGE_DIR / "collection"
    if (shipped / "ansible_collections" / "openadapt" / "waa" / "galaxy.yml").is_file():
        return Collection(shipped / "ansible_collections" / "openadapt" / "waa", shipped)
    repo = _repo_root()
    if repo is None:
        raise RuntimeError("The openadapt.waa collection is missing from this installation; reinstall with `pip install openadapt-waa`.")
    link_parent = repo / ".collections" / "ansible_collections" / "openadapt"
    link = link_parent / "waa"
    if not link.exists():
        link_parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(repo, link_parent))
    return Collection(repo, repo / ".collections")


def import_path() -> None:
    """Make ``ansible_collections.openadapt.waa`` importable for the CLI's own use."""
    path = str(locate().collections_path)
    if path not in sys.path:
        sys.path.insert(0, path)
