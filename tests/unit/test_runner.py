"""Pure logic of the runner: signal exit codes, the child's environment, interrupts."""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from openadapt_waa import runner  # noqa: E402


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
