# -*- coding: utf-8 -*-
# Copyright (c) OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's files on the controller: where runs live, a whole-or-nothing write, the events' JSON. Pure Python."""

from __future__ import annotations

import json
import os

from ansible_collections.openadapt.waa.plugins.module_utils._progress import replace_atomically


def runs_home() -> str:
    """Where run directories go by default: ``$WAA_STATE_HOME/runs`` or ``~/.local/state/openadapt-waa/runs``
    (the CLI, the viewer and the callback under plain ansible-playbook alike)."""
    return os.path.join(os.environ.get("WAA_STATE_HOME") or os.path.expanduser("~/.local/state/openadapt-waa"), "runs")


def atomic_write(path: str, text, mode: int = 0o600) -> None:
    """Write a whole file (text, or bytes) or nothing (module_utils/_progress.replace_atomically), creating
    its directory. Private by default (run files hold logs and screenshots). No fsync: the run's files
    are rewritten at every event and read while the run lasts."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    replace_atomically(path, lambda handle: handle.write(data), mode, fsync=False)


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
