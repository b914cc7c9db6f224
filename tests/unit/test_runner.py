"""Pure logic of the runner: how the user's ssh_args and ours combine, and signal exit codes."""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from openadapt_waa import runner  # noqa: E402


def test_ours_alone_include_a_dead_link_detection():
    args = runner.ssh_args("")
    assert "-o ServerAliveInterval=5" in args and "-o ServerAliveCountMax=3" in args
    assert "-o ControlMaster=auto" in args and "-o StrictHostKeyChecking=accept-new" in args


def test_the_users_ssh_args_are_kept_first_and_win():
    user = "-o ProxyJump=bastion.example -o ControlPersist=300s -oServerAliveInterval=30"
    args = runner.ssh_args(user)
    assert args.startswith(user), "ssh takes the first value: the user's options come first"
    assert "ControlPersist=60s" not in args and "ServerAliveInterval=5" not in args
    assert "-o ServerAliveCountMax=3" in args and "-o ControlMaster=auto" in args


def test_user_ssh_args_come_from_the_environment_or_ansible_cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-o ProxyJump=j1")
    assert runner.ssh_args().startswith("-o ProxyJump=j1")
    monkeypatch.delenv("ANSIBLE_SSH_ARGS")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[ssh_connection]\nssh_args = -o ProxyJump=j2 -o ControlMaster=no\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    args = runner.ssh_args()
    assert args.startswith("-o ProxyJump=j2 -o ControlMaster=no") and "ControlMaster=auto" not in args


def test_signal_exit_codes_follow_the_shell():
    assert runner.signal_exit_code(signal.SIGINT) == 130
    assert runner.signal_exit_code(signal.SIGTERM) == 143
    assert runner.signal_exit_code(signal.SIGHUP) == 129


def test_only_allowed_or_runner_set_variables_reach_ansible_playbook():
    inherited = {"PATH": "/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x", "GITHUB_TOKEN": "y",
                 "AZURE_SECRET": "z", "AZURE_CLIENT_ID": "id", "LC_ALL": "C", "ANSIBLE_CONFIG": "/a.cfg",
                 "OPENAI_API_KEY": "k", "SSH_AUTH_SOCK": "/s"}
    # What runner hands the child: the inherited environment plus its own and the CLI's variables.
    child = dict(inherited, AWX_ISOLATED_DATA_DIR="/r/artifacts", ANSIBLE_FORKS="50", WAA_RUN_DIR="/run")
    kept = runner.allowed_environment(child, inherited)
    assert set(kept) == {"PATH", "HOME", "AZURE_CLIENT_ID", "LC_ALL", "ANSIBLE_CONFIG", "SSH_AUTH_SOCK",
                         "AWX_ISOLATED_DATA_DIR", "ANSIBLE_FORKS", "WAA_RUN_DIR"}
    # A secret never, even when something set it anew.
    assert "OPENAI_API_KEY" not in runner.allowed_environment(dict(child, OPENAI_API_KEY="new"), inherited)


def test_interrupts_count_signals_for_each_cancel_callback():
    with runner.Interrupts() as interrupts:
        playbook = interrupts.since()
        assert not playbook() and interrupts.first is None
        interrupts._on_signal(signal.SIGINT, None)
        release = interrupts.since()
        assert playbook() and not release() and interrupts.first == signal.SIGINT
        interrupts._on_signal(signal.SIGHUP, None)
        assert release() and interrupts.first == signal.SIGINT
    assert signal.getsignal(signal.SIGHUP) != interrupts._on_signal, "the handlers are given back"
