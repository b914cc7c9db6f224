"""The ISO on the VM: partial files by source, resumable appends, the checksum at the end."""

import hashlib

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _iso


def test_appends_resume_and_the_finish_checks_the_checksum(tmp_path):
    iso = _iso.IsoFile(str(tmp_path / "iso" / "setup.iso"))
    data = b"ab" * 5000
    sha = hashlib.sha256(data).hexdigest()
    for offset in (0, 4000):
        chunk = tmp_path / "chunk"
        chunk.write_bytes(data[offset:offset + 4000])
        assert iso.append(str(chunk), offset, sha) == offset + 4000
        assert not chunk.exists(), "the chunk is removed once appended"
    assert iso.part_size(sha) == 8000
    assert iso.part_size("another source") == 0, "a partial file of another ISO is dropped"
    with pytest.raises(_iso.IsoError, match="out of step"):
        chunk.write_bytes(b"x")
        iso.append(str(chunk), 10, sha)


def test_a_damaged_iso_is_removed_and_named(tmp_path):
    iso = _iso.IsoFile(str(tmp_path / "setup.iso"))
    chunk = tmp_path / "chunk"
    chunk.write_bytes(b"not what was sent")
    iso.append(str(chunk), 0, "s")
    with pytest.raises(_iso.IsoError, match="damaged on the way"):
        iso.finish("0" * 64)
    assert not (tmp_path / "setup.iso.part").exists()


def test_a_finished_iso_is_recorded_and_recognised(tmp_path):
    iso = _iso.IsoFile(str(tmp_path / "setup.iso"))
    chunk = tmp_path / "chunk"
    chunk.write_bytes(b"iso")
    iso.append(str(chunk), 0, "url")
    record = iso.finish(hashlib.sha256(b"iso").hexdigest(), "http://x/iso")
    assert iso.recorded() == record and record["source"] == "http://x/iso"
    (tmp_path / "setup.iso").write_bytes(b"changed")
    assert iso.recorded() is None, "a record whose size no longer matches is no record"


def test_local_isos_are_checked_for_size_and_iso9660(tmp_path):
    small = tmp_path / "small.iso"
    small.write_bytes(b"x")
    assert "several GB" in _iso.local_iso_problem(str(small))
    assert "does not exist" in _iso.local_iso_problem(str(tmp_path / "none.iso"))
    plain = tmp_path / "plain.iso"
    with open(plain, "wb") as handle:
        handle.truncate(_iso.MIN_ISO_BYTES)
    assert "not an ISO 9660 image" in _iso.local_iso_problem(str(plain))
    with open(plain, "r+b") as handle:
        handle.seek(_iso.ISO9660_MAGIC_OFFSET)
        handle.write(b"CD001")
    assert _iso.local_iso_problem(str(plain)) == ""
