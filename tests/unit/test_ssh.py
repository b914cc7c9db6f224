"""How the user's ssh_args and ours combine (src/openadapt_waa/ssh.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from openadapt_waa import ssh  # noqa: E402


def test_ours_alone_include_a_dead_link_detection():
    args = ssh.ssh_args("")
    assert "-o ServerAliveInterval=5" in args and "-o ServerAliveCountMax=3" in args
    assert "-o ControlMaster=auto" in args and "-o StrictHostKeyChecking=accept-new" in args


def test_the_users_ssh_args_are_kept_first_and_win():
    user = "-o ProxyJump=bastion.example -o ControlPersist=300s -oServerAliveInterval=30"
    args = ssh.ssh_args(user)
    assert args.startswith(user), "ssh takes the first value: the user's options come first"
    assert "ControlPersist=60s" not in args and "ServerAliveInterval=5" not in args
    assert "-o ServerAliveCountMax=3" in args and "-o ControlMaster=auto" in args


def test_user_ssh_args_come_from_the_environment_or_ansible_cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-o ProxyJump=j1")
    assert ssh.ssh_args().startswith("-o ProxyJump=j1")
    monkeypatch.delenv("ANSIBLE_SSH_ARGS")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[ssh_connection]\nssh_args = -o ProxyJump=j2 -o ControlMaster=no\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    args = ssh.ssh_args()
    assert args.startswith("-o ProxyJump=j2 -o ControlMaster=no") and "ControlMaster=auto" not in args
