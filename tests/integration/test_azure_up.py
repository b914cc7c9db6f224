"""`waa up` on a deallocated Azure VM, for real against a loopback stand-in of Azure
(tests/standin/fake_azure.py): ARM over TLS from a test CA, a managed identity's token from the
metadata service, and a "VM" whose sshd only runs once ARM has started it. `waa down` and
--deallocate-after over the stand-in's fleet are in test_standin_fleet.py."""
from __future__ import annotations

import pytest

from conftest import docker_rm, unique_ports
from fake_azure import FakeAzure


FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1,
        "waa_skip_smoke_test": True}


@pytest.fixture
def azure(tmp_path, request):
    fake = FakeAzure(tmp_path, **getattr(request, "param", {}))
    try:
        yield fake
    finally:
        fake.close()


def _hostvars(azure: FakeAzure, name: str, **extra) -> dict:
    return dict(dict(
        unique_ports(), waa_container_name=name, **FAST,
        # The inventory's address is the one the VM had before it was deallocated: nothing answers there.
        ansible_host="127.0.0.3", ansible_port=azure.vm_port,
        waa_azure_vm_name=azure.name, waa_azure_resource_group=azure.resource_group,
        waa_azure_subscription_id=azure.subscription, waa_azure_arm_endpoint=azure.arm_endpoint,
        waa_azure_login_endpoint=azure.arm_endpoint, waa_azure_imds_endpoint=azure.imds_endpoint,
        waa_azure_ca_file=str(azure.ca)), **extra)


def test_up_starts_a_deallocated_vm_connects_to_its_new_address_then_sets_it_up(azure, waa_cli):
    name = "waa-az-up"
    docker_rm(name)
    hv = _hostvars(azure, name, waa_azure_auth_source="msi")
    assert azure.sshd is None  # deallocated: no SSH
    up = waa_cli(hostvars=hv, command="up")
    assert up.rc == 0, up.output
    started = "Started the Azure VM waa-vm-1 (it was deallocated); its address is 127.0.0.1."
    assert started in up.doc["warnings"], up.doc["warnings"]
    assert set(up.doc["health_checks"].values()) == {"healthy"}, up.doc["health_checks"]
    assert up.doc["connection"]["address"] == "127.0.0.1", up.doc["connection"]  # the refreshed address
    assert up.doc["tunnel_command"].endswith("azureuser@127.0.0.1"), up.doc["tunnel_command"]
    # The calls were ARM's: the token from the identity (Metadata header), one start, bearer auth.
    assert [r["metadata"] for r in azure.calls("GET", "/metadata/identity/oauth2/token")] == ["true"]
    assert len(azure.calls("POST", "/start")) == 1
    assert all(r["auth"] == f"Bearer {azure.token}" for r in azure.calls("GET", "/instanceView"))
    # Started before the lock, the first task on the VM: the start came first in the run's events.
    checks = [e.get("name") or "" for e in up.events() if e["type"] == "check"]
    assert checks and checks[0].startswith("Azure VM running: waa-vm-1"), checks

    # Running now: `up` again starts nothing and finds the container ready.
    again = waa_cli(hostvars=hv, command="up")
    assert again.rc == 0, again.output
    assert len(azure.calls("POST", "/start")) == 1
    assert not any("Started the Azure VM" in w for w in again.doc["warnings"])

    docker_rm(name)


def test_up_with_a_refused_service_principal_exits_1_naming_the_variables(azure, waa_cli, tmp_path):
    secret = tmp_path / "azure-secret"
    secret.write_text("not-the-secret")
    secret.chmod(0o600)
    hv = _hostvars(azure, "waa-az-refused", waa_azure_auth_source="credentials")
    run = waa_cli(hostvars=hv, command="up", env={"AZURE_CLIENT_ID": azure.client_id, "AZURE_TENANT": azure.tenant,
                                                  "AZURE_SECRET_FILE": str(secret)})
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "preflight", run.doc
    assert "No Azure token" in run.doc["message"] and "AZURE_SECRET" in run.doc["message"], run.doc["message"]
    assert "Invalid client secret" in run.doc["message"]
    assert azure.calls("POST", "/start") == [] and azure.sshd is None  # nothing started


def test_cost_estimate_takes_the_vm_size_from_the_metadata_service(azure, waa_cli):
    """No inventory names the size: pre-flight asks Azure's instance metadata service on the VM
    (here a loopback stand-in), and the estimate uses that size's list price."""
    name = "waa-az-imds"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_imds_url=azure.imds_endpoint, **FAST)
    run = waa_cli(hostvars=hv)
    assert run.rc == 0, run.output
    costs = run.doc["costs"]
    assert costs["vm_size"] == "Standard_D8ds_v5" and costs["hourly_rate_usd"] > 0, costs
    assert [r["metadata"] for r in azure.calls("GET", "/metadata/instance/compute/vmSize")] == ["true"]
    # An answer that is not a size (untrusted text from the network) is not taken.
    azure.vm_size = "Standard_D8s_v3; rm -rf /"
    odd = waa_cli(hostvars=hv)
    assert odd.rc == 0, odd.output
    assert odd.doc["costs"] is None or odd.doc["costs"]["vm_size"] == "", odd.doc["costs"]
    docker_rm(name)


def test_down_on_a_host_that_names_no_azure_vm_exits_1_naming_the_inventory(waa_cli):
    run = waa_cli("--json", hostvars={}, command="down", golden=False)
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "deallocate" and "names no Azure VM (waa_azure_vm_name" in run.doc["message"], run.doc
