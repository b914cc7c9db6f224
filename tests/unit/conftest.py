"""Make `ansible_collections.openadapt.waa` importable for plain pytest.

The repository root is the collection root; `.collections/ansible_collections/openadapt/waa`
links back to it (created here when missing, as the Makefile does).
"""
from __future__ import annotations

import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTIONS = os.path.join(_REPO, ".collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "openadapt", "waa")

if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink("../../..", _LINK)
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
