"""Run a playbook the way `waa` does (ansible-runner, the CLI's environment) and print its wall time.

    python bench/noop.py PLAYBOOK INVENTORY RUN_DIR [--collections DIR] [--extravars JSON]

Used for the no-op baselines and for experiments on a patched copy of the collection: the
process starts, imports and runs like `waa vm-setup`, so start-up costs compare fairly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

T0 = time.monotonic()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("playbook")
    ap.add_argument("inventory")
    ap.add_argument("run_dir")
    ap.add_argument("--collections", help="ANSIBLE_COLLECTIONS_PATH to use instead of the repository's")
    ap.add_argument("--extravars", default="{}")
    ap.add_argument("--env", default="{}", help="extra environment (JSON)")
    args = ap.parse_args()
    import ansible_runner

    from openadapt_waa.runner import _environment

    run_dir = Path(args.run_dir)
    (run_dir / "runner").mkdir(parents=True, exist_ok=True)
    env = _environment(run_dir)
    if args.collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = args.collections
    env.update(json.loads(args.env))
    extravars = json.loads(args.extravars)
    extravars.setdefault("waa_run_dir", str(run_dir))
    extravars.setdefault("waa_run_deadline", time.time() + 1800)
    extravars.setdefault("waa_timeout", 1800)
    r = ansible_runner.run(private_data_dir=str(run_dir / "runner"), playbook=str(Path(args.playbook).resolve()),
                           inventory=str(Path(args.inventory).resolve()), extravars=extravars, envvars=env,
                           quiet=True, settings={"suppress_env_files": True}, timeout=1800)
    print(json.dumps({"status": r.status, "rc": r.rc, "wall": time.monotonic() - T0}))
    return 0 if r.rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
