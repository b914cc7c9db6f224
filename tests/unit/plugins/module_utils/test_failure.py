"""Why a run failed, in the user's words (module_utils/_failure.py): the classification every playbook's
rescue uses, and the fix for a host SSH cannot reach."""

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _failure


@pytest.mark.parametrize("result, kwargs, code, words", [
    ({"msg": "boom", "waa_exit_code": 5, "fix": "wait"}, {}, 5, ["boom"]),
    ({"msg": "docker said no"}, {"phase": "image"}, 3, ["docker said no"]),
    ({"msg": "port is already allocated"}, {"phase": "container"}, 4,
     ["Container creation failed: port is already allocated. Check logs: docker logs winarena"]),
    ({"msg": "Missing sudo password"}, {"phase": "preflight", "user": "bob"}, 1, ["The SSH user bob is not root"]),
    ({"msg": "x", "waa_exit_code": 5}, {"phase": "windows_boot", "deadline_passed": True}, 8,
     ["Timeout after 60s (--timeout). Reached phase: windows_boot"]),
    ({"msg": "MODULE FAILURE", "module_stderr": "Traceback ..."}, {"phase": "smoke", "task": "Open Notepad"}, 9,
     ["Unexpected error in phase smoke (Open Notepad): MODULE FAILURE"]),
    ({}, {"phase": "persist"}, 9, ["Phase persist failed"]),
])
def test_each_failure_gets_one_code_and_a_message(result, kwargs, code, words):
    args = dict(phase="preflight", container="winarena", timeout=60)
    args.update(kwargs)
    out = _failure.classify_failure(result, **args)
    assert out["exit_code"] == code
    for word in words:
        assert word in out["message"], out["message"]


def test_the_fix_comes_from_the_module_or_the_refusing_phase():
    assert _failure.classify_failure({"msg": "m", "fix": "do x"}, "image")["fix"] == "do x"
    refused = _failure.classify_failure({"msg": "kept it"}, "container", refusal_fix="use --rebuild")
    assert refused["fix"] == "use --rebuild" and refused["message"] == "kept it"
    assert _failure.classify_failure(None, None)["exit_code"] == 1


@pytest.mark.parametrize("detail, words", [
    ("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!", "ssh-keygen -R 10.0.0.4"),
    ("azureuser@10.0.0.4: Permission denied (publickey).", "--ssh-key"),
    ("ssh: connect to host 10.0.0.4 port 22: Connection refused", "network security group allows port 22"),
    ("something else", "Check the host address"),
])
def test_an_ssh_failure_gets_the_fix_its_words_call_for(detail, words):
    assert words in _failure.ssh_fix(detail, "10.0.0.4")
