"""The Azure side of `waa up` / `waa down` (module_utils/_azure_arm.py) without Azure: which credential each
auth_source gives, what a missing setting says, the power module's result, and the SDK's errors explained.
The calls themselves run against a loopback ARM in tests/integration/test_azure_up.py and test_fleet.py."""

from __future__ import annotations

import pytest
from azure import identity
from azure.core import exceptions as sdk

from ansible_collections.openadapt.waa.plugins.module_utils import _azure_arm
from ansible_collections.openadapt.waa.plugins.module_utils._azure_arm import AzureError, credential, power_result

SP = {"AZURE_CLIENT_ID": "app", "AZURE_SECRET": "s3cret-value", "AZURE_TENANT": "tenant-0"}


@pytest.mark.parametrize("auth,env,kind", [
    ("msi", {}, identity.ManagedIdentityCredential),
    ("credentials", SP, identity.ClientSecretCredential),
    ("auto", SP, identity.ClientSecretCredential),  # a service principal's secret is set: that one
    ("auto", {}, identity.DefaultAzureCredential),  # else the default chain (identity, az login...)
    ("cli", {}, identity.AzureCliCredential),
])
def test_each_auth_source_gives_its_credential(auth, env, kind):
    assert isinstance(credential(auth, env=env), kind)


def test_a_secret_file_stands_for_the_secret_and_a_missing_part_is_named(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    env = dict(SP, AZURE_SECRET="", AZURE_SECRET_FILE=str(secret))
    assert isinstance(credential("credentials", env=env), identity.ClientSecretCredential)
    with pytest.raises(AzureError, match="auth_source credentials needs AZURE_SECRET, AZURE_TENANT in the environment"):
        credential("credentials", env={"AZURE_CLIENT_ID": "app"})


def test_a_vm_needs_a_subscription():
    params = dict(name="vm", resource_group="rg", subscription_id=None, auth_source="msi",
                  login_endpoint=_azure_arm.LOGIN_ENDPOINT, imds_endpoint=_azure_arm.IMDS_ENDPOINT, ca_file=None,
                  arm_endpoint=_azure_arm.ARM_ENDPOINT)
    with pytest.raises(AzureError, match="No Azure subscription: set AZURE_SUBSCRIPTION_ID"):
        _azure_arm.vm_from_params(params, env={})
    assert _azure_arm.vm_from_params(params, env={"AZURE_SUBSCRIPTION_ID": "sub-1"}).name == "vm"


def test_the_power_result_is_changed_only_when_the_vm_was_not_in_the_target_state():
    started = power_result("vm-1", "deallocated", "running", "running", "Started", check_mode=False)
    assert started == {"changed": True, "power_state_before": "deallocated", "power_state": "running",
                       "msg": "Started the VM vm-1 (it was deallocated)"}
    assert power_result("vm-1", "running", "running", "running", "Started", False)["changed"] is False
    asked = power_result("vm-1", "running", "running", "deallocated", "Deallocated", check_mode=True)
    assert asked["changed"] is True and asked["msg"] == "The VM vm-1 is running"  # check mode: nothing done


def test_the_sdk_s_errors_say_what_to_do():
    refused = sdk.HttpResponseError(message="AuthorizationFailed")
    refused.status_code = 403
    assert "needs the Virtual Machine Contributor role" in str(_azure_arm._explain(refused, "the start of VM v"))
    missing = sdk.ResourceNotFoundError(message="nope")
    missing.status_code = 404
    assert "Check the VM name, resource group and subscription" in str(_azure_arm._explain(missing, "reading"))
    token = sdk.ClientAuthenticationError(message="AADSTS7000215: Invalid client secret provided.")
    assert str(_azure_arm._explain(token, "the start")).startswith(
        "No Azure token for the start: AADSTS7000215: Invalid client secret provided")
    offline = sdk.ServiceRequestError(message="connection refused")
    assert str(_azure_arm._explain(offline, "the start")).startswith("Cannot reach Azure for the start")
