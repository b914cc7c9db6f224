"""The one table of phases, exit codes and layers (module_utils/_phases.py)."""

from ansible_collections.openadapt.waa.plugins.module_utils import _phases


def test_the_table():
    assert [p[0] for p in _phases.PHASES] == ["preflight", "docker", "image", "container", "windows_boot",
                                              "waa_server", "accessibility", "smoke", "persist", "validate"]
    assert _phases.phase_info("container") == {"role": "container", "number": 3, "title": "Container creation",
                                               "exit_code": 4}
    assert _phases.phase_info("benchmark")["number"] == 10 and _phases.phase_info("nonsense")["role"] == "preflight"
    assert sorted(_phases.EXIT_MEANING) == list(range(11))  # 0-9 the setup's, 10 the benchmark's
    assert set(_phases.LAYER_EXIT_CODE) == set(_phases.LAYERS)


def test_a_task_s_phase_comes_from_its_phase_tag():
    assert _phases.phase_of_tags(["waa_internal", "waa_phase_windows_boot"]) == "windows_boot"
    assert _phases.phase_of_tags(["waa_phase_benchmark"]) == "benchmark"
    assert _phases.phase_of_tags(["waa_phase_nonsense", "other"]) is None
    assert _phases.phase_of_tags([]) is None and _phases.phase_of_tags(None) is None


def test_exit_7_is_named_for_both_of_its_causes():
    """Exit 7 is an empty accessibility tree as often as a strict smoke test: its name says both."""
    assert _phases.EXIT_MEANING[_phases.EXIT_SMOKE] == 'Accessibility tree or smoke test failed'
