"""Find the openadapt.waa collection that this package runs.

The collection is the Python package ``ansible_collections.openadapt.waa``: a wheel installs it
into site-packages beside ``openadapt_waa``; an editable install (the Makefile's venv) puts
``.collections`` on the path, where ``ansible_collections/openadapt/waa`` links to the checkout.
Either way ``import ansible_collections.openadapt.waa...`` works without touching ``sys.path``,
and Ansible is told the same directory.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

NAME = "ansible_collections.openadapt.waa"


@dataclass(frozen=True)
class Collection:
    """Where the collection is, as Ansible needs to be told."""

    root: Path  # .../ansible_collections/openadapt/waa
    collections_path: Path  # the directory that holds ansible_collections/

    def playbook(self, name: str) -> Path:
        return self.root / "playbooks" / name


class CollectionMissing(RuntimeError):
    """The package was installed without its collection."""


def locate() -> Collection:
    """The collection this installation imports (the first with a galaxy.yml on the path)."""
    try:
        spec = importlib.util.find_spec(NAME)
    except ImportError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        root = Path(location)
        if (root / "galaxy.yml").is_file():
            return Collection(root, root.parents[2])
    raise CollectionMissing(
        "The openadapt.waa collection is missing from this installation: reinstall with `pip install openadapt-waa`, "
        "or in a checkout run `make venv`.")
