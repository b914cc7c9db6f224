"""One preparation for a whole fleet: `waa golden push --to URL` uploads a host's golden disk to Blob
Storage (Azurite on 127.0.0.1, the Azure SDK making the SAS on the controller), and `vm-setup --golden
URL` restores it on a host whose storage folder is empty, instead of preparing. Only the disk's data
travels; a push or a restore that was interrupted goes on where it stopped; the restored disk is the
pushed one (fingerprint)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

import azurite
from ansible_collections.openadapt.waa.plugins.module_utils import _blob, _golden
from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressWriter
from conftest import docker_rm, unique_ports
from openadapt_waa.golden_sas import container_sas, locate

FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1}
BLOCK = _blob.BLOCK
ENV = {"AZURE_STORAGE_CONNECTION_STRING": azurite.CONNECTION_STRING}


def golden_disk(storage: Path, blocks: int = 8) -> Path:
    """A prepared golden disk of 8 GiB holding ``blocks`` blocks of 4 MiB of data, spread over it."""
    storage.mkdir(parents=True)
    disk = storage / "data.img"
    with open(disk, "wb") as handle:
        handle.truncate(8 * 1024**3)
        for i in range(blocks):
            handle.seek(i * 997 * BLOCK)
            handle.write(os.urandom(BLOCK))
    (storage / "windows.boot").touch()
    (storage / "windows.vars").write_bytes(b"uefi vars")
    return disk


def blob_client(folder: str) -> tuple:
    """The folder's location and a client with a SAS the CLI's way (the Azure SDK, Azurite's key)."""
    location = locate(folder)
    os.environ.update(ENV)
    try:
        return location, _blob.BlobClient(location.container_url, container_sas(location, write=True, create_container=True))
    finally:
        os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)


def _moved(run) -> int:
    return max(e.get("bytes_moved") or 0 for e in run.events() if e["type"] == "transfer_progress")


@pytest.fixture()
def folder() -> str:
    return f"{azurite.URL}/golden/{uuid.uuid4().hex[:12]}"


def test_push_then_restore_on_an_empty_host_each_resuming_an_interrupted_transfer(waa_cli, tmp_path, folder):
    source, target = tmp_path / "vm1-storage", tmp_path / "vm2-storage"
    disk = golden_disk(source)
    fingerprint = "sha256:" + _golden.fingerprint(str(disk))

    # An earlier push stopped after 3 of its 8 blocks (the page blob carries the disk's fingerprint).
    location, client = blob_client(folder)
    blob = location.prefix + "/data.img"
    client.create_page_blob(blob, disk.stat().st_size, {"fingerprint": fingerprint})
    with open(disk, "rb") as handle:
        for i in range(3):
            handle.seek(i * 997 * BLOCK)
            client.put_page(blob, i * 997 * BLOCK, handle.read(BLOCK))

    # `waa golden push`: the command word is "golden", its action "push".
    push = waa_cli("push", "--to", folder, "--storage-path", str(source), env=ENV, command="golden",
                   hostvars=dict(waa_storage_path=str(source)), golden=False)
    assert push.rc == 0, push.output
    assert _moved(push) == 5 * BLOCK, "only the blocks the blob lacked travelled"
    assert f"SUCCESS: Golden disk pushed to {folder}" in push.stdout and "resumed" in push.stdout, push.output
    assert f"waa vm-setup -i <inventory> --golden {folder}" in push.stdout, push.output
    pages = client.page_ranges(blob)
    assert sum(b - a for a, b in pages) == 8 * BLOCK, "the page blob holds the disk's data and nothing else"
    assert json.loads(client.get(location.prefix + "/openadapt-waa-golden.json"))["fingerprint"] == fingerprint

    # An earlier restore on the second host stopped after 2 blocks (its partial disk and journal are there).
    target.mkdir()
    with open(disk, "rb") as src, open(target / "data.img.restore", "wb") as dst:
        dst.truncate(disk.stat().st_size)
        for i in range(2):
            src.seek(i * 997 * BLOCK)
            dst.seek(i * 997 * BLOCK)
            dst.write(src.read(BLOCK))
    (target / "data.img.restore.done").write_text("".join(f"{i * 997 * BLOCK}\n" for i in range(2)))

    name = "waa-golden-blob"
    docker_rm(name)
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(target), **FAST)
    try:
        setup = waa_cli("--golden", folder, "--skip-smoke-test", hostvars=hv, env=ENV, golden=False)
        assert setup.rc == 0, setup.output
        assert f"No golden disk in {target} yet: restored from {folder}" in setup.stdout, setup.output
        assert _moved(setup) == 6 * BLOCK, "only the blocks the partial restore lacked travelled"
        assert "Golden disk restored" in setup.stdout, setup.output
        assert _golden.fingerprint(str(target / "data.img")) == fingerprint[len("sha256:"):]
        assert (target / "windows.boot").exists() and (target / "windows.vars").read_bytes() == b"uefi vars"
        assert not (target / "data.img.restore").exists() and not (target / "data.img.restore.done").exists()
        assert _golden.read_manifest(str(target))["restored_from"] == location.prefix
        phases = [p["role"] for p in setup.doc["phases"]] if setup.results else []
        assert phases.index("golden") < phases.index("container"), phases
    finally:
        docker_rm(name)


def test_a_folder_without_a_complete_push_is_exit_1_naming_the_push(waa_cli, tmp_path, folder):
    storage = tmp_path / "empty"
    storage.mkdir()
    hv = dict(unique_ports(), waa_container_name="waa-golden-nopush", waa_storage_path=str(storage), **FAST)
    run = waa_cli("--golden", folder, "--json", hostvars=hv, env=ENV, golden=False)
    assert run.rc == 1, run.output
    assert run.doc["phase"] == "golden", run.doc
    assert "no complete golden disk" in run.doc["message"] and "waa golden push" in run.doc["message"], run.doc
    assert not (storage / "data.img").exists()


@pytest.mark.parametrize("args, words", [
    (["--to", "https://acct.blob.core.windows.net/golden/x?sv=2021&sig=abc"], "no SAS"),
    (["--to", "https://acct.blob.core.windows.net/golden"], "names no folder"),
    (["--to", "ftp://acct/golden/x"], "is not a blob folder URL"),
])
def test_bad_golden_urls_exit_1_before_anything_runs(args, words, waa_cli):
    run = waa_cli("push", *args, command="golden", env=ENV)
    assert run.rc == 1, run.output
    assert words in run.stderr, run.output
    assert not run.results


def test_a_restore_that_does_not_match_the_manifest_is_refused(tmp_path, folder):
    """The restore checks the fingerprint before the disk takes its name (a blob replaced behind the
    manifest's back), and leaves nothing half made."""
    source = tmp_path / "src"
    disk = golden_disk(source, blocks=2)
    location, client = blob_client(folder)
    _blob.push(client, str(source), location.prefix, ProgressWriter(None, "transfer"))
    client.put_page(location.prefix + "/data.img", 0, b"\x07" * BLOCK)  # the blob changed since its manifest
    target = tmp_path / "dst"
    with pytest.raises(_blob.BlobError, match="the blob is not the disk that was pushed"):
        _blob.restore(client, str(target), location.prefix, ProgressWriter(None, "transfer"))
    assert sorted(p.name for p in target.iterdir()) == []
    assert disk.exists()
