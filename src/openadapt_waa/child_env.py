"""What the ansible-playbook child gets of the controller's environment, and how the secrets it
needs reach it: ansible-runner records the child's whole environment in artifacts/<id>/command,
so the child gets an allow-list, and each secret travels in a private file named by another
variable."""

from __future__ import annotations

import os

# Secrets the playbooks read, each moved into a private file named by another variable: the
# registry password (image role), the model API key that the benchmark client gets (benchmark
# role) and a service principal's secret (`waa up`'s azure_vm_start reads AZURE_SECRET_FILE).
SECRET_ENV = {"WAA_REGISTRY_PASSWORD": "WAA_REGISTRY_PASSWORD_FILE", "OPENAI_API_KEY": "OPENAI_API_KEY_FILE",
              "WAA_GOLDEN_SAS": "WAA_GOLDEN_SAS_FILE",
              "AZURE_SECRET": "AZURE_SECRET_FILE", "AZURE_CLIENT_SECRET": "AZURE_SECRET_FILE"}

# What ansible-playbook gets of the controller's environment: ansible-runner writes the child's
# whole environment into artifacts/<id>/command, so anything else (cloud keys, tokens) stays out.
ENV_ALLOWED = frozenset((
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR", "TMP", "TEMP", "PWD",
    "NO_COLOR", "COLUMNS", "LINES", "VIRTUAL_ENV", "PYTHONPATH",
    "SSH_AUTH_SOCK", "SSH_AGENT_PID",  # keys in the user's agent
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    # Azure identities without their secrets (az login's directory, a service principal's names)
    "AZURE_CLIENT_ID", "AZURE_TENANT", "AZURE_SUBSCRIPTION_ID", "AZURE_CLOUD_ENVIRONMENT", "AZURE_PROFILE",
    "AZURE_CONFIG_DIR", "AZURE_SECRET_FILE",
    "WAA_REGISTRY_USERNAME", "WAA_REGISTRY_PASSWORD_FILE", "OPENAI_API_KEY_FILE", "WAA_STATE_HOME", "WAA_RUN_DIR",
    "WAA_DISPLAY_PROGRESS", "WAA_GOLDEN_SAS_FILE",
))
# ARA_*: the ARA callback (docs/ara.md) records where these say.
ENV_ALLOWED_PREFIXES = ("LC_", "ANSIBLE_", "ARA_")


def allowed_environment(env: dict, inherited: dict) -> dict:
    """The part of ``env`` (what ansible-runner would give ansible-playbook) that it may see: what
    runner or the CLI set (not ``inherited`` from the controller unchanged), and of the inherited
    rest ENV_ALLOWED and ENV_ALLOWED_PREFIXES; the secrets of SECRET_ENV never."""
    return {key: value for key, value in env.items()
            if key not in SECRET_ENV and (inherited.get(key) != value or key in ENV_ALLOWED
                                          or key.startswith(ENV_ALLOWED_PREFIXES))}


class SecretFiles:
    """Move secrets out of the environment into private files for the length of a run.

    ansible-runner records the child's whole environment in ``artifacts/<id>/command`` whatever
    its settings say; a secret must not be there. The playbook reads ``<NAME>_FILE`` instead
    (see roles/common/defaults/main.yml). The context must enclose every ansible-runner call
    of the run, the lease release after an interrupt included.
    """

    def __init__(self):
        self.saved: dict[str, str] = {}
        self.paths: list[str] = []
        self.made: list[str] = []  # the *_FILE variables this context set

    def __enter__(self) -> "SecretFiles":
        import tempfile

        for name, file_var in SECRET_ENV.items():
            value = os.environ.pop(name, None)
            if value:
                self.saved[name] = value
                if file_var in os.environ:  # the user's own file, or AZURE_SECRET's before AZURE_CLIENT_SECRET
                    continue
                fd, path = tempfile.mkstemp(prefix="waa-secret-")
                with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
                    handle.write(value)
                os.environ[file_var] = path
                self.paths.append(path)
                self.made.append(file_var)
        return self

    def __exit__(self, *_exc) -> None:
        for path in self.paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        for file_var in self.made:
            os.environ.pop(file_var, None)
        for name, value in self.saved.items():
            os.environ[name] = value
