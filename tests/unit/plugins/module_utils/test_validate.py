import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._validate import (
    fallback_reference, image_registry, image_without_registry, pull_arguments, repo_digest, split_image_reference,
    validate_abs_path, validate_container_name, validate_image_reference, validate_registry)

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("ref,expected", [
    ("windowsarena/winarena:latest", (None, "windowsarena/winarena", "latest", None)),
    ("ubuntu", (None, "ubuntu", None, None)),
    ("127.0.0.1:5001/windowsarena/winarena:latest", ("127.0.0.1:5001", "windowsarena/winarena", "latest", None)),
    ("myacr.azurecr.io/winarena@" + DIGEST, ("myacr.azurecr.io", "winarena", None, DIGEST)),
    ("localhost/a/b:v1.2-x_y", ("localhost", "a/b", "v1.2-x_y", None)),
    ("reg.example.com:443/a__b/c-d.e:t@" + DIGEST, ("reg.example.com:443", "a__b/c-d.e", "t", DIGEST)),
])
def test_split_valid(ref, expected):
    parts = split_image_reference(ref)
    assert (parts["registry"], parts["path"], parts["tag"], parts["digest"]) == expected
    assert validate_image_reference(ref) == ref


@pytest.mark.parametrize("ref", [
    "", " windowsarena/winarena", "bad;rm -rf /", "x; rm -rf /", "$(reboot)", "a/$(id):1", "a/b:`id`", "`id`",
    "a/b:latest\n", "a/b\nc", "../etc/passwd", "a/../b", "UPPER/case", "Upper", "a//b", "a/b:", "a/b:-tag",
    "a/b@sha256:short", "a b", "a/b:t\x00", "http://reg/a", "-a/b", "a/b:" + "t" * 129,
])
def test_split_rejects_with_a_fix(ref):
    with pytest.raises(ValueError) as err:
        split_image_reference(ref)
    assert "e.g." in str(err.value) or "write it" in str(err.value) or "must" in str(err.value) or "longer" in str(err.value)


def test_registry_and_pull_arguments():
    assert image_registry("windowsarena/winarena:latest") == "docker.io"
    assert image_registry("docker.io/windowsarena/winarena") == "docker.io"
    assert image_registry("127.0.0.1:5001/a/b:1") == "127.0.0.1:5001"
    assert image_without_registry("127.0.0.1:5001/a/b:1@" + DIGEST) == "a/b:1@" + DIGEST
    assert pull_arguments("a/b") == ("a/b", "latest")
    assert pull_arguments("127.0.0.1:5001/a/b:1") == ("127.0.0.1:5001/a/b", "1")
    assert pull_arguments("a/b:1@" + DIGEST) == ("a/b", DIGEST)


@pytest.mark.parametrize("image,registry,expected", [
    ("windowsarena/winarena:latest", "myacr.azurecr.io", "myacr.azurecr.io/windowsarena/winarena:latest"),
    ("127.0.0.1:5001/windowsarena/winarena:latest", "127.0.0.1:5002", "127.0.0.1:5002/windowsarena/winarena:latest"),
    ("docker.io/windowsarena/winarena", "acr.io", "acr.io/windowsarena/winarena"),
])
def test_fallback_reference(image, registry, expected):
    assert fallback_reference(image, registry) == expected


@pytest.mark.parametrize("value", ["https://myacr.azurecr.io", "acr.io/path", "acr.io:99999", "acr io", "", "a;b",
                                   "$(id)", "acr.io\n"])
def test_registry_rejects(value):
    with pytest.raises(ValueError):
        validate_registry(value)


def test_registry_accepts():
    for value in ("myacr.azurecr.io", "127.0.0.1:5002", "localhost:5000", "[::1]:5000"):
        assert validate_registry(value) == value


@pytest.mark.parametrize("name", ["winarena", "waa-1", "a.b_c-d", "W1"])
def test_container_name_ok(name):
    assert validate_container_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", ".x", "_x", "a b", "a;rm -rf /", "$(id)", "`id`", "a\nb", "../x", "a/b",
                                  "x" * 129])
def test_container_name_rejected(name):
    with pytest.raises(ValueError) as err:
        validate_container_name(name)
    assert "winarena" in str(err.value)


@pytest.mark.parametrize("path", ["relative/p.json", "", "/tmp/../etc/passwd", "/tmp/a\nb", "/tmp/a\x00b", "../x",
                                  "/a/..", "/tmp/a\rb"])
def test_abs_path_rejected(path):
    with pytest.raises(ValueError):
        validate_abs_path(path)


def test_abs_path_ok():
    assert validate_abs_path("/tmp/waa..progress.json") == "/tmp/waa..progress.json"
    assert validate_abs_path("/tmp/$(id);x") == "/tmp/$(id);x"  # never reaches a shell: a plain file name


def test_validate_has_no_ansible_import():
    import ansible_collections.openadapt.waa.plugins.module_utils._validate as mod
    source = open(mod.__file__).read()
    assert "import ansible" not in source and "from ansible" not in source


@pytest.mark.parametrize("value", ["winarena\n", "a/b\n", "a/b:latest\n"])
def test_trailing_newline_is_rejected(value):
    # Python's "$" also matches before a final newline: the validators must not.
    with pytest.raises(ValueError):
        if "/" in value:
            split_image_reference(value)
        else:
            validate_container_name(value)


@pytest.mark.parametrize("path", ["/", "/tmp", "/var/lib", "/home/azureuser", "/etc/", "relative/results", "/a/../etc"])
def test_results_path_refuses_system_and_home_dirs(path):
    from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_results_path
    with pytest.raises(ValueError) as err:
        validate_results_path(path)
    assert "results path" in str(err.value)


def test_results_path_accepts_a_directory_of_its_own():
    from ansible_collections.openadapt.waa.plugins.module_utils._validate import validate_results_path
    assert validate_results_path("/var/lib/openadapt-waa/client-results/winarena/") == "/var/lib/openadapt-waa/client-results/winarena"


def test_repo_digest():
    inspect = {"RepoDigests": ["127.0.0.1:5001/a/b@sha256:1", "windowsarena/winarena@sha256:2"]}
    assert repo_digest(inspect, "127.0.0.1:5001/a/b:latest") == "sha256:1"
    assert repo_digest(inspect, "windowsarena/winarena:latest") == "sha256:2"
    assert repo_digest(inspect, "other/x") is None and repo_digest(None, "a/b") is None
