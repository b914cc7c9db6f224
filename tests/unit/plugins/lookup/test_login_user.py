from ansible_collections.openadapt.waa.plugins.lookup import login_user as lu


def test_the_first_source_that_names_a_user_wins(monkeypatch):
    monkeypatch.setattr(lu, "_from_ssh_config", lambda host, port, options=(): "from-ssh-config")
    assert lu.login_user({"ansible_user": "a", "ansible_ssh_user": "b"}, "cli", "cfg") == "a"
    assert lu.login_user({"ansible_ssh_user": "b"}, "cli", "cfg") == "b"
    assert lu.login_user({}, "cli", "cfg") == "cli"
    assert lu.login_user({}, None, "cfg") == "cfg"
    assert lu.login_user({"ansible_host": "h"}, None, None) == "from-ssh-config"


def test_only_the_options_that_shape_ssh_configuration_are_passed_to_ssh_g():
    words = lu._config_options(["-F /x/cfg -o User=u -C -i key", None, "-oProxyJump=j -v"])
    assert words == ["-F", "/x/cfg", "-o", "User=u", "-oProxyJump=j"]
