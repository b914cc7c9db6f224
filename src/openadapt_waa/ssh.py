"""The ssh arguments of every run: the user's own (bastion, ProxyJump...) first, then ours for each option
they do not set (ssh takes an option's first value, so theirs win)."""

from __future__ import annotations

import configparser
import os
import shlex

# Ours: connection reuse, first-contact host keys, and a dead link noticed within
# ServerAliveInterval x ServerAliveCountMax = 15 s instead of TCP's ~2 h.
OUR_SSH_OPTIONS = (("ControlMaster", "auto"), ("ControlPersist", "60s"), ("StrictHostKeyChecking", "accept-new"),
                   ("ServerAliveInterval", "5"), ("ServerAliveCountMax", "3"))


def _user_ssh_args() -> str:
    """The user's own ssh_args: $ANSIBLE_SSH_ARGS, else [ssh_connection] ssh_args of the
    ansible.cfg that Ansible would read ($ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc)."""
    if os.environ.get("ANSIBLE_SSH_ARGS"):
        return os.environ["ANSIBLE_SSH_ARGS"]
    for candidate in (os.environ.get("ANSIBLE_CONFIG"), "ansible.cfg", os.path.expanduser("~/.ansible.cfg"),
                      "/etc/ansible/ansible.cfg"):
        if candidate and os.path.isfile(candidate):
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(candidate)
            except configparser.Error:
                return ""
            return parser.get("ssh_connection", "ssh_args", fallback="")
    return ""


def ssh_args(user: str | None = None) -> str:
    """The user's ssh_args (bastion, ProxyJump...) with ours added for each option they do not set:
    ssh takes the first value of an option, so theirs win."""
    user = _user_ssh_args() if user is None else user
    words = shlex.split(user) if user else []
    named = set()
    for i, word in enumerate(words):
        if word == "-o" and i + 1 < len(words):
            named.add(words[i + 1].split("=", 1)[0].strip().lower())
        elif word.startswith("-o") and len(word) > 2:
            named.add(word[2:].split("=", 1)[0].strip().lower())
    ours = ["-o %s=%s" % (key, value) for key, value in OUR_SSH_OPTIONS if key.lower() not in named]
    return " ".join(([user] if user else []) + ours)
