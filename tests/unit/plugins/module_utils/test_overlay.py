"""The overlay over the golden disk: the qcow2 header's backing file, and what a reset removes."""

import shutil
import struct

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _overlay


def _qcow2(path, backing):
    name = backing.encode()
    header = b"QFI\xfb" + struct.pack(">IQI", 3, 512, len(name))
    with open(path, "wb") as handle:
        handle.write(header.ljust(512, b"\0") + name)


def test_the_backing_file_is_read_from_the_qcow2_header(tmp_path):
    _qcow2(tmp_path / "o.qcow2", "/golden/data.img")
    assert _overlay.backing_file(str(tmp_path / "o.qcow2")) == "/golden/data.img"
    (tmp_path / "raw").write_bytes(b"\0" * 64)
    assert _overlay.backing_file(str(tmp_path / "raw")) is None
    assert _overlay.backing_file(str(tmp_path / "missing")) is None


def test_an_overlay_matches_only_its_own_golden_disk(tmp_path):
    golden, overlay = tmp_path / "g", tmp_path / "o"
    golden.mkdir()
    overlay.mkdir()
    (golden / "data.img").write_bytes(b"")
    _qcow2(overlay / "data.qcow2", str(golden / "data.img"))
    assert _overlay.state(str(golden), str(overlay))["matches"]
    _qcow2(overlay / "data.qcow2", "/elsewhere/data.img")
    assert not _overlay.state(str(golden), str(overlay))["matches"]


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is part of the stand-in (make local-vm)")
def test_a_reset_replaces_only_the_overlay_and_dockurs_state_files(tmp_path):
    golden, overlay = tmp_path / "g", tmp_path / "o"
    golden.mkdir()
    with open(golden / "data.img", "wb") as handle:
        handle.truncate(1 << 30)
    (golden / "windows.boot").write_text("")
    overlay.mkdir()
    (overlay / "data.qcow2").write_bytes(b"windows wrote this")
    (overlay / "windows.vars").write_text("changed by Windows")
    (overlay / "notes.txt").write_text("the user's")
    removed = _overlay.create(str(golden), str(overlay))
    assert sorted(removed) == ["data.qcow2", "windows.vars"]
    assert (overlay / "notes.txt").read_text() == "the user's" and (overlay / "windows.boot").exists()
    assert _overlay.state(str(golden), str(overlay))["matches"]
