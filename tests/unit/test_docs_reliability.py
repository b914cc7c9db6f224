"""docs/reliability.md names, for each fault, the tests that provoke it: each must exist."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_test_named_in_the_reliability_table_exists():
    doc = (REPO / "docs" / "reliability.md").read_text()
    refs = sorted(set(re.findall(r"`((?:tests/[\w/]+/)?[\w/]*test_\w+\.py)::(\w+)", doc)))
    assert len(refs) >= 30, refs
    missing = []
    for name, function in refs:
        files = list((REPO / "tests").rglob(Path(name).name))
        if not any(re.search(r"^def %s\(" % re.escape(function), f.read_text(), re.M) for f in files):
            missing.append(f"{name}::{function}")
    assert not missing, f"named in docs/reliability.md but not found: {missing}"
