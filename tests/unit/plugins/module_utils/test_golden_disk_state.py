"""The golden disk's state, pre-flight check, manifest and fingerprint (pure logic on real files)."""

import os

from ansible_collections.openadapt.waa.plugins.module_utils import _golden

GIB = 1024 ** 3


def _disk(folder, size=2 * GIB, chunks=((0, b"\x01" * 4096), (GIB, b"\x02" * 8192)), boot=True):
    folder.mkdir(exist_ok=True)
    with open(folder / "data.img", "wb") as handle:
        handle.truncate(size)
        for offset, data in chunks:
            handle.seek(offset)
            handle.write(data)
    if boot:
        (folder / "windows.boot").touch()
    return folder / "data.img"


def test_a_prepared_disk_passes_and_is_described(tmp_path):
    _disk(tmp_path / "s")
    state = _golden.disk_state(str(tmp_path / "s"))
    assert state["prepared"] and not state["incomplete"] and state["size_bytes"] == 2 * GIB
    assert 0 < state["allocated_bytes"] < 1024 * 1024, "a sparse disk: only what was written is allocated"
    check = _golden.windows_check(state, False, "windowsarena/winarena:latest")
    assert check["ok"] and check["message"].startswith("Golden disk %s/s/data.img 2.0 GB (0.0 GB allocated)" % tmp_path)


def test_no_disk_on_an_image_that_cannot_install_fails_naming_prepare_image(tmp_path):
    (tmp_path / "empty").mkdir()
    check = _golden.windows_check(_golden.disk_state(str(tmp_path / "empty")), False, "windowsarena/winarena:latest")
    assert not check["ok"]
    assert "No golden Windows disk (data.img) in %s/empty" % tmp_path in check["message"]
    assert "windowsarena/winarena:latest does not install Windows by itself" in check["message"]
    assert "waa prepare-image --iso" in check["fix"] and "waa_image_installs_windows" in check["fix"]


def test_no_disk_on_an_image_that_installs_passes_and_says_the_first_start_installs(tmp_path):
    check = _golden.windows_check(_golden.disk_state(str(tmp_path / "missing")), True, "me/waa-auto:1")
    assert check["ok"] and "me/waa-auto:1 installs Windows on its first start" in check["message"]


def test_a_disk_without_windows_boot_is_an_unfinished_preparation(tmp_path):
    _disk(tmp_path / "s", boot=False)
    state = _golden.disk_state(str(tmp_path / "s"))
    assert state["incomplete"] and not state["prepared"]
    check = _golden.windows_check(state, False, "img")
    assert not check["ok"] and "preparation never finished" in check["message"] and "--force" in check["fix"]


def test_the_fingerprint_reads_content_not_layout(tmp_path):
    """Zeros written where a hole was give the same fingerprint; one changed byte does not."""
    a = _disk(tmp_path / "a")
    b = _disk(tmp_path / "b", chunks=((0, b"\x01" * 4096), (GIB, b"\x02" * 8192), (GIB // 2, bytes(1 << 20))))
    assert os.stat(b).st_blocks > os.stat(a).st_blocks
    assert _golden.fingerprint(str(a)) == _golden.fingerprint(str(b))
    c = _disk(tmp_path / "c", chunks=((0, b"\x01" * 4096), (GIB, b"\x02" * 8191 + b"\x03")))
    assert _golden.fingerprint(str(c)) != _golden.fingerprint(str(a))
    d = _disk(tmp_path / "d", size=3 * GIB)
    assert _golden.fingerprint(str(d)) != _golden.fingerprint(str(a)), "the size is part of the disk"


def test_allocated_ranges_cover_the_written_data_only(tmp_path):
    disk = _disk(tmp_path / "s")
    fd = os.open(disk, os.O_RDONLY)
    try:
        ranges = _golden.allocated_ranges(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    assert ranges[0][0] == 0 and any(start <= GIB < end for start, end in ranges)
    assert sum(end - start for start, end in ranges) < 1024 * 1024


def test_the_manifest_is_written_whole_and_read_back(tmp_path):
    _golden.write_manifest(str(tmp_path), {"fingerprint": "ab", "size_bytes": 3})
    assert _golden.read_manifest(str(tmp_path)) == {"fingerprint": "ab", "size_bytes": 3}
    assert not (tmp_path / (_golden.MANIFEST + ".tmp")).exists()
    (tmp_path / _golden.MANIFEST).write_text("{half")
    assert _golden.read_manifest(str(tmp_path)) is None
