"""inventories/azure/waa.azure_rm.yml: the azure.azcollection.azure_rm inventory the README
and docs/awx.md point to. Azure's SDK is not installed here, so the plugin itself is not run;
the file is checked field by field, and its expressions (hostvar_expressions, keyed_groups,
conditional_groups) are evaluated with ansible-core's Constructable machinery, which is what
azure_rm hands them to."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

try:  # ansible-core >= 2.19 templates only trusted strings (the plugin's config loader trusts them)
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover
    def trust_as_template(value):
        return value

REPO = Path(__file__).resolve().parents[2]
PATH = REPO / "inventories" / "azure" / "waa.azure_rm.yml"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(PATH.read_text())


class _Plugin(BaseInventoryPlugin, Constructable):
    NAME = "waa_test_constructable"


@pytest.fixture
def plugin():
    p = _Plugin()
    p.loader = DataLoader()
    p.inventory = InventoryData()
    return p


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def test_file_name_and_plugin(config):
    assert PATH.name.endswith(("azure_rm.yml", "azure_rm.yaml"))  # the plugin only accepts these names
    assert config["plugin"] == "azure.azcollection.azure_rm"


def test_auth_resource_groups_and_names(config):
    assert config["auth_source"] == "auto"
    groups = config["include_vm_resource_groups"]
    assert isinstance(groups, list) and groups and all(isinstance(g, str) and g for g in groups)
    # azure_rm does not template this option: a Jinja expression would be taken as a group name.
    assert not any("{{" in g or "{%" in g for g in groups), groups
    assert config["plain_host_names"] is True


def test_ansible_host_prefers_public_then_private_address(config, plugin):
    expr = _trusted(config["hostvar_expressions"]["ansible_host"])
    both = {"public_ipv4_address": ["20.1.2.3"], "private_ipv4_addresses": ["10.0.0.4", "10.0.0.5"]}
    assert plugin._compose(expr, both) == "20.1.2.3"
    assert plugin._compose(expr, dict(both, public_ipv4_address=[])) == "10.0.0.4"
    assert plugin._compose(expr, {"private_ipv4_addresses": ["10.0.0.4"]}) == "10.0.0.4"
    assert plugin._compose(expr, {"public_ipv4_address": None, "private_ipv4_addresses": ["10.0.0.9"]}) == "10.0.0.9"


def test_every_hostvar_expression_evaluates(config, plugin):
    host = {"public_ipv4_address": ["20.1.2.3"], "private_ipv4_addresses": ["10.0.0.4"], "name": "waa-vm-1",
            "resource_group": "openadapt-waa", "powerstate": "running", "tags": {"role": "waa"},
            "provisioning_state": "succeeded",
            "id": "/subscriptions/0000-sub/resourceGroups/openadapt-waa/providers/Microsoft.Compute/virtualMachines/waa-vm-1"}
    values = {k: plugin._compose(_trusted(v), host) for k, v in config["hostvar_expressions"].items()}
    assert values["ansible_host"] == "20.1.2.3"
    assert values.get("ansible_user") == "azureuser"
    assert values.get("waa_azure_vm_name") == "waa-vm-1"
    assert values.get("waa_azure_resource_group") == "openadapt-waa"
    assert values.get("waa_azure_subscription_id") == "0000-sub"


def test_groups_by_tag(config, plugin):
    assert any(g.get("key") == "tags" for g in config["keyed_groups"]), config["keyed_groups"]
    plugin.inventory.add_host("waa-vm-1")
    plugin.inventory.add_host("other-vm")
    plugin._add_host_to_keyed_groups(_trusted(config["keyed_groups"]), {"tags": {"role": "waa"}}, "waa-vm-1", strict=True)
    plugin._add_host_to_composed_groups(_trusted(config["conditional_groups"]), {"tags": {"role": "waa"}}, "waa-vm-1",
                                        strict=True)
    plugin._add_host_to_composed_groups(_trusted(config["conditional_groups"]), {"tags": {"role": "web"}}, "other-vm",
                                        strict=True)
    groups = plugin.inventory.groups
    assert "tag_role_waa" in groups and "waa-vm-1" in [h.name for h in groups["tag_role_waa"].get_hosts()]
    # The playbooks' group: VMs tagged role=waa, and only those.
    assert [h.name for h in groups["waa_vms"].get_hosts()] == ["waa-vm-1"]
