"""The shape comparison that guards the `--json` document and the events (tests/integration/shapes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from shapes import differences, event_shapes, shape  # noqa: E402


def test_a_shape_keeps_keys_and_types_not_values():
    assert shape({"a": 1, "b": [{"x": "s"}, {"y": True}], "c": None}) == {
        "a": "number", "b": [{"x": "str", "y": "bool"}], "c": "null"}


def test_a_missing_key_a_new_key_and_a_changed_type_are_found():
    golden = shape({"exit_code": 0, "phases": [{"name": "x", "status": "ok"}], "fix": ""})
    now = shape({"exit_code": "0", "phases": [{"name": "x"}], "fix": "", "extra": 1})
    assert differences(now, golden, "document") == [
        "document.extra: new", "document.exit_code: str, was number", "document.phases[].status: missing"]


def test_null_and_empty_lists_match_anything():
    assert differences(shape({"costs": None, "warnings": []}), shape({"costs": {"usd": 1}, "warnings": ["w"]})) == []


def test_events_are_merged_per_type():
    shapes = event_shapes([{"type": "check", "ok": True}, {"type": "check", "message": "m"}, {"type": "run_end"}])
    assert shapes == {"check": {"message": "str", "ok": "bool", "type": "str"}, "run_end": {"type": "str"}}


def test_with_values_a_null_where_the_recorded_run_had_a_value_is_found():
    golden = shape({"phases": [{"image_size_bytes": 5, "source": "docker.io"}], "costs": None})
    now = shape({"phases": [{"image_size_bytes": None, "source": "docker.io"}], "costs": {"usd": 1}})
    assert differences(now, golden, "document") == []  # keys and types only
    assert differences(now, golden, "document", values=True) == ["document.phases[].image_size_bytes: null, was number"]
