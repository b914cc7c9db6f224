"""Build hook: an editable install ships no copy of the collection.

The wheel force-includes the collection as ``ansible_collections/openadapt/waa``. An editable
install puts the checkout on the path instead (``dev-mode-dirs``); a copy in site-packages would
come first on ``sys.path`` and shadow the checkout's plugins with the ones of install time.
Hatchling takes ``force_include_editable`` in place of ``force-include`` when it is not empty.
"""

from __future__ import annotations

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            # Only the collection's metadata, under a name nothing imports or scans.
            build_data["force_include_editable"] = {"galaxy.yml": "openadapt_waa/checkout-galaxy.yml"}
