"""The roles' input check (filter input_problems): the CLI's validators on values from an inventory,
group_vars or a survey, every problem named at once. The integration tests drive two of these values
through a real run (tests/integration/test_faults.py); the rest are checked here."""
import pytest

from ansible_collections.openadapt.waa.plugins.filter.inputs import input_problems


@pytest.mark.parametrize("variable, value, words", [
    ("waa_storage_path", "/tmp", "system or home directory"),
    ("waa_ram_size", "8GGG", "not a size"),
    ("waa_container_name", "x;rm -rf /", "container name"),
    ("waa_image", "$(touch /tmp/pwned)", "image"),
    ("waa_publish_address", "0.0.0.0; id", "publish address"),
    ("waa_benchmark_results_dest", "/var/lib", "system or home directory"),
    ("waa_benchmark_shard", "8/8", "INDEX/COUNT"),
    ("waa_cpu_cores", "0", "at least 1"),
])
def test_a_bad_value_is_named_with_the_fix(variable, value, words):
    problems = input_problems({variable: value, "waa_image": "127.0.0.1:5001/windowsarena/winarena:latest"}
                              if variable != "waa_image" else {variable: value})
    assert len(problems) == 1 and problems[0].startswith(variable + ": "), problems
    assert words in problems[0] or words in problems[0].lower(), problems


def test_every_problem_at_once_and_none_for_good_or_unset_values():
    assert input_problems({"waa_ram_size": "8GGG", "waa_container_name": "a b", "waa_image": None}) == [
        p for p in input_problems({"waa_container_name": "a b"}) + input_problems({"waa_ram_size": "8GGG"})]
    assert input_problems({"waa_ram_size": "8G", "waa_cpu_cores": "auto", "waa_benchmark_shard": "",
                           "waa_benchmark_shard_by": "anything: not checked here", "waa_golden_url": ""}) == []
