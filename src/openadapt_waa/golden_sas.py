"""A short-lived SAS for the golden disk's blob container, made on the controller with the Azure SDK
(the `[azure]` extra): the VM moves the bytes itself and never sees an account key.

Credentials, in this order: ``AZURE_STORAGE_CONNECTION_STRING`` (an account key, as Azurite and many
scripts use), ``AZURE_STORAGE_KEY`` (the account key of the URL's account), else azure-identity's
``DefaultAzureCredential`` (a service principal's environment, managed identity as on Azure ML compute,
``az login``), which signs a user delegation SAS.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from ansible_collections.openadapt.waa.plugins.module_utils._blob import split_golden_url

# Long enough for a 30 GB disk over a slow link, short enough that a leaked token soon means nothing.
SAS_HOURS = 4


class GoldenSasError(Exception):
    """Why no SAS could be made, naming the fix."""


@dataclass
class GoldenLocation:
    """Where a golden disk lives: the container's URL (no SAS) and the folder in it."""

    url: str
    account: str
    container_url: str
    prefix: str

    @property
    def container(self) -> str:
        return self.container_url.rsplit("/", 1)[1]

    @property
    def account_url(self) -> str:
        return self.container_url.rsplit("/", 1)[0]


def locate(url: str) -> GoldenLocation:
    account, container_url, prefix = split_golden_url(url)
    return GoldenLocation(url, account, container_url, prefix)


def _sdk():
    try:
        from azure.storage import blob
    except ImportError:
        raise GoldenSasError("The Azure SDK is not installed: pip install 'openadapt-waa[azure]' (azure-storage-blob and "
                             "azure-identity) to push or restore a golden disk.") from None
    return blob


def _account_key(location: GoldenLocation) -> tuple[str | None, str | None]:
    """(account_key, blob endpoint) from the environment, or (None, None)."""
    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "")
    if conn:
        fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
        if fields.get("AccountName") and fields.get("AccountName") != location.account:
            raise GoldenSasError(f"AZURE_STORAGE_CONNECTION_STRING is for account {fields['AccountName']!r}, the URL names "
                                 f"{location.account!r}.")
        return fields.get("AccountKey"), fields.get("BlobEndpoint")
    return os.environ.get("AZURE_STORAGE_KEY") or None, None


def container_sas(location: GoldenLocation, write: bool, create_container: bool = False) -> str:
    """A SAS on the location's container: read and list (restore), plus create and write (push)."""
    blob = _sdk()
    key, _endpoint = _account_key(location)
    permission = blob.ContainerSasPermissions(read=True, list=True, write=write, create=write, add=write)
    now = dt.datetime.now(dt.timezone.utc)
    start, expiry = now - dt.timedelta(minutes=5), now + dt.timedelta(hours=SAS_HOURS)
    try:
        if key:
            service = blob.BlobServiceClient(location.account_url, credential={"account_name": location.account,
                                                                               "account_key": key})
            if create_container:
                _ensure_container(service, location)
            return blob.generate_container_sas(location.account, location.container, account_key=key,
                                               permission=permission, expiry=expiry, start=start)
        from azure.identity import DefaultAzureCredential

        service = blob.BlobServiceClient(location.account_url, credential=DefaultAzureCredential())
        if create_container:
            _ensure_container(service, location)
        delegation = service.get_user_delegation_key(start, expiry)
        return blob.generate_container_sas(location.account, location.container, user_delegation_key=delegation,
                                           permission=permission, expiry=expiry, start=start)
    except GoldenSasError:
        raise
    except Exception as exc:  # the SDK's errors: authentication, network, permissions
        raise GoldenSasError(f"Cannot make a SAS for {location.container_url}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}. Set AZURE_STORAGE_CONNECTION_STRING or "
                             "AZURE_STORAGE_KEY, or log in (az login, a service principal, managed identity) with a role "
                             "that may delegate (Storage Blob Data Contributor).") from None


def _ensure_container(service, location: GoldenLocation) -> None:
    from azure.core.exceptions import ResourceExistsError

    try:
        service.get_container_client(location.container).create_container()
    except ResourceExistsError:
        pass
