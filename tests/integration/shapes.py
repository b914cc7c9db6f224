"""The shape of a run's `--json` document and of its events, kept in `tests/integration/data/shapes.json`,
so that a change inside the house that moves a field, renames one or changes its type is caught.

A shape keeps the keys and the JSON type of every value, not the values themselves: a dict's
shape maps each key to its value's shape, a list's is the merged shape of its items, a number is
"number" (15 and 15.9 are one type here), and a recorded null matches anything (a cost estimate is
null on the stand-in, a number on Azure). In the document, a null where the recorded run had a value
is a difference: the values must be there, not only the keys.

    WAA_RECORD_SHAPES=1 pytest tests/integration/test_vm_setup.py -k idempotent   # record again
"""

from __future__ import annotations

import json
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "data" / "shapes.json"


def shape(value):
    """The keys and JSON types of ``value``."""
    if isinstance(value, dict):
        return {str(key): shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        merged = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [merged] if merged is not None else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "str"


def _merge(left, right):
    if left is None or left == "null":
        return right
    if right == "null":
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        return {key: _merge(left.get(key), right.get(key)) for key in sorted(set(left) | set(right))}
    if isinstance(left, list) and isinstance(right, list):
        return [_merge(left[0] if left else None, right[0] if right else None)] if (left or right) else []
    return left


def differences(actual, golden, where: str = "$", values: bool = False) -> list[str]:
    """Where ``actual`` and ``golden`` (two shapes) differ; a recorded null and an empty list match anything.
    With ``values``, a null where the recorded run had a value is a difference too (a value went missing)."""
    if golden == "null" or [] in (actual, golden):
        return []
    if actual == "null":
        return ["%s: null, was %s" % (where, _kind(golden))] if values else []
    if isinstance(golden, dict) and isinstance(actual, dict):
        found = ["%s.%s: missing" % (where, key) for key in sorted(set(golden) - set(actual))]
        found += ["%s.%s: new" % (where, key) for key in sorted(set(actual) - set(golden))]
        for key in sorted(set(golden) & set(actual)):
            found += differences(actual[key], golden[key], "%s.%s" % (where, key), values)
        return found
    if isinstance(golden, list) and isinstance(actual, list):
        return differences(actual[0], golden[0], where + "[]", values)
    return [] if actual == golden else ["%s: %s, was %s" % (where, _kind(actual), _kind(golden))]


def _kind(value) -> str:
    return type(value).__name__ if isinstance(value, (dict, list)) else str(value)


def event_shapes(events: list[dict]) -> dict:
    """Each event type's merged shape."""
    merged: dict = {}
    for event in events:
        merged[event["type"]] = _merge(merged.get(event["type"]), shape(event))
    return merged


def check(name: str, document: dict, events: list[dict]) -> list[str]:
    """The differences between this run's shapes and the recorded ones under ``name`` (recorded
    instead when WAA_RECORD_SHAPES is set)."""
    recorded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    now = {"document": shape(document), "events": event_shapes(events)}
    if os.environ.get("WAA_RECORD_SHAPES"):
        recorded[name] = now
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        return []
    assert name in recorded, "no recorded shapes for %r in %s" % (name, GOLDEN)
    golden = recorded[name]
    # The document's values too: a field the recorded run filled (the image's size on a ready host) stays filled.
    found = differences(now["document"], golden["document"], "document", values=True)
    for kind, kind_shape in sorted(now["events"].items()):
        if kind not in golden["events"]:
            found.append("event %s: new" % kind)
        else:
            found += differences(kind_shape, golden["events"][kind], "event " + kind)
    return found
