"""The words a refused container change is described in (the diff is community.docker's shape)."""

from ansible_collections.openadapt.waa.plugins.filter.containers import container_differences


def test_names_each_difference_and_hides_env_values():
    diff = {"differences": [
        {"env": {"parameter": ["RAM_SIZE=4G", "CPU_CORES=8", "OPENAI_API_KEY=sk-new"],
                 "container": ["RAM_SIZE=8G", "CPU_CORES=8", "OPENAI_API_KEY=sk-old", "PATH=/usr/bin"]}},
        {"published_ports": {"parameter": ["127.0.0.1:5001:5000"], "container": ["127.0.0.1:5000:5000"]}},
    ]}
    text = container_differences(diff)
    assert text == ("environment OPENAI_API_KEY, PATH, RAM_SIZE; "
                    "published_ports 127.0.0.1:5001:5000 instead of 127.0.0.1:5000:5000")
    assert "sk-" not in text and "4G" not in text


def test_a_new_image_is_named():
    diff = {"differences": [], "image_different": True, "after": {"image": "sha256:abc"}}
    assert container_differences(diff) == "image sha256:abc differs from the one it runs"


def test_an_unknown_diff_still_says_something():
    assert container_differences(None) == "the configuration differs"
    assert container_differences({}) == "the configuration differs"
