"""The cost estimate's arithmetic and its refusals (pure logic)."""

from ansible_collections.openadapt.waa.plugins.plugin_utils._costs import HOURLY_USD, describe, estimate


def test_a_known_size_costs_its_list_price_per_second():
    costs = estimate("Standard_D8s_v3", 1800, None)
    assert costs == {"vm_size": "Standard_D8s_v3", "hourly_rate_usd": 0.384, "rate_source": costs["rate_source"],
                     "vm_runtime_seconds": 1800.0, "estimated_cost_usd": 0.192}
    assert "list price" in costs["rate_source"]
    assert estimate("d8s_v3", 3600, "")["hourly_rate_usd"] == HOURLY_USD["Standard_D8s_v3"]  # case, no prefix


def test_a_given_rate_wins_and_an_unknown_size_without_a_rate_has_no_estimate():
    assert estimate("Standard_D8s_v3", 3600, 1.25)["estimated_cost_usd"] == 1.25
    assert estimate("Standard_NC24", 3600, 2)["vm_size"] == "Standard_NC24"
    assert estimate("Standard_NC24", 3600, None) is None
    assert estimate("", 3600, None) is None
    assert estimate("$(reboot)", 3600, None) is None  # not a size: never echoed
    assert estimate("Standard_D8s_v3", "n/a", None) is None


def test_the_summary_line_says_size_time_rate_and_source():
    line = describe(estimate("Standard_D8s_v3", 1122, None))
    assert line.startswith("\u2248 $0.12 (19 min of Standard_D8s_v3 at $0.384/h, Azure list price")
    assert describe(None) == ""
