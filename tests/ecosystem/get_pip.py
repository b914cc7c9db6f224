"""Offline stand-in for the pip bootstrap script ansible-test downloads (get-pip-X.Y.py).

ansible-test (`--venv`, `sanity`, `units`) fetches
https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py, a host that is not
reachable here, and caches it at ~/.ansible/test/cache/get_pip_<version>.py. This script,
saved at that path, does the same job with what Python already ships: it puts the pip wheel
bundled with `ensurepip` on sys.path and runs `pip install --upgrade --force-reinstall` with the
arguments ansible-test passes (e.g. `pip==24.2`), so the requested pip comes from PyPI.

`--no-setuptools` and `--no-wheel` are options of get-pip.py, not of pip: they are dropped.
"""
from __future__ import annotations

import glob
import os
import runpy
import sys


def main() -> None:
    import ensurepip

    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.exit("get_pip: no pip wheel bundled with ensurepip in %s" % bundled)
    sys.path.insert(0, wheels[-1])
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    sys.argv = ["pip", "install", "--upgrade", "--force-reinstall"] + args
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
