"""`ansible-test sanity --venv --python 3.11` on the collection as Galaxy ships it, with no
ignore entries.

ansible-test must run from a path ending in ansible_collections/<namespace>/<name>/. The
collection (the files of the Galaxy artifact, plus galaxy.yml) is laid out under a cache
directory outside the repository, keyed by ansible-core and Python versions, so that
ansible-test's own venvs (tests/output/.tmp/delegation there, and ~/.ansible/test/venv, keyed
by requirements) survive between runs: the first run builds them (~100 s), later runs take
seconds. The repository's test harness (stand-in VM, simulator, pytest suites) is not part of
the artifact and not Ansible content; tests/unit keeps running under plain pytest.

Two fixes make ansible-test work offline here:
1. its pip bootstrap script (downloaded from ci-files.testing.ansible.com, unreachable) is
   replaced by tests/ecosystem/get_pip.py at ~/.ansible/test/cache/get_pip_<version>.py;
2. tests/output/ is git-ignored (and not in the artifact), so sanity never checks its own venvs.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecosystem"))
import eco  # noqa: E402

ERROR = re.compile(r"^ERROR: (?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[\w-]+): (?P<msg>.*)$")
# validate-modules requires a GPLv3 header in every module and plugin; the collection is MIT.
LICENSE_CODE = "missing-gplv3-license"


def _ansible_test_pip_version() -> str:
    import ansible_test

    src = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"pip='([\d.]+)'", src.read_text())
    assert match, f"cannot find ansible-test's pip version in {src}"
    return match.group(1)


def install_get_pip() -> Path:
    """Fix 1: the offline pip bootstrap, where ansible-test looks for its cached download."""
    target = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{_ansible_test_pip_version().replace('.', '_')}.py"
    source = eco.REPO / "tests" / "ecosystem" / "get_pip.py"
    if not target.exists() or "Offline stand-in for the pip bootstrap" in target.read_text():
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
    return target


def collection_tree(tarball: Path) -> Path:
    """The artifact's files (and galaxy.yml) at <cache>/ansible_collections/openadapt/waa, with
    everything else there removed except tests/output (ansible-test's venvs and results)."""
    import ansible
    key = hashlib.sha256(f"{ansible.__version__}|{sys.version}".encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openadapt-waa-eco" / "ansible-test" / key
    root = cache / "ansible_collections" / "openadapt" / "waa"
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name == "tests":
            for sub in entry.iterdir():
                if sub.name != "output":
                    shutil.rmtree(sub) if sub.is_dir() and not sub.is_symlink() else sub.unlink()
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    with tarfile.open(tarball) as tf:
        tf.extractall(root, filter="data")
    for name in ("MANIFEST.json", "FILES.json"):
        (root / name).unlink()
    shutil.copyfile(eco.REPO / "galaxy.yml", root / "galaxy.yml")
    return root


@pytest.fixture(scope="module")
def sanity(tmp_path_factory):
    install_get_pip()
    tarball = eco.build_collection(tmp_path_factory.mktemp("sanity-build"))
    root = collection_tree(tarball)
    ignores = sorted((root / "tests" / "sanity").glob("ignore-*.txt"))
    assert all(not f.read_text().strip() for f in ignores), [f.name for f in ignores]  # kept empty
    proc = eco.run([eco.VENV_BIN / "ansible-test", "sanity", "--venv", "--python", "3.11", "--color", "no"],
                   timeout=900, cwd=root)
    errors = [m.groupdict() for m in map(ERROR.match, (proc.stdout + proc.stderr).splitlines()) if m]
    return proc, errors


def test_sanity_has_no_errors_except_the_license_header(sanity):
    proc, errors = sanity
    others = [e for e in errors if e["code"] != LICENSE_CODE]
    assert not others, "\n".join("%(path)s:%(line)s:%(col)s: %(code)s: %(msg)s" % e for e in others)
    failed = re.findall(r"^FATAL: The \d+ sanity test\(s\) listed below.*?\n((?:\S+\n)+)", proc.stdout + proc.stderr, re.M)
    failed_tests = set(failed[0].split()) if failed else set()
    assert failed_tests <= {"validate-modules"}, eco.describe(proc)
    if not any(e["code"] == LICENSE_CODE for e in errors):
        assert proc.returncode == 0, eco.describe(proc)
    assert "Running sanity test" in proc.stdout + proc.stderr, eco.describe(proc)


def test_sanity_license_headers(sanity):
    _proc, errors = sanity
    assert not [e for e in errors if e["code"] == LICENSE_CODE]
