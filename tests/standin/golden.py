"""The stand-in's golden Windows disk: what `waa prepare-image` (or WAA's run-local.sh --prepare-image
true) leaves in a storage folder - a sparse data.img holding a little data, and dockur's windows.boot.
The simulator boots from a folder like this on its normal path."""

from __future__ import annotations

import os
from pathlib import Path

DISK_BYTES = 30 * 1024**3  # DISK_SIZE 30G, sparse: nothing but a few MB is written


def make_golden(storage: Path, disk_bytes: int = DISK_BYTES) -> Path:
    """Give ``storage`` a prepared golden disk unless it has a data.img already. Returns the disk."""
    storage = Path(storage)
    storage.mkdir(parents=True, exist_ok=True)
    disk = storage / "data.img"
    if not disk.exists():
        with open(disk, "wb") as handle:
            handle.truncate(disk_bytes)
            for i, offset in enumerate((0, disk_bytes // 3, disk_bytes - (1 << 20))):
                handle.seek(offset)
                handle.write(bytes([i + 1]) * (256 * 1024) + os.urandom(64 * 1024))
    (storage / "windows.boot").touch()
    return disk


ISO_BYTES = 100_000_000 + 4096  # dockur refuses an ISO under 100 MB


def make_iso(path: Path, size: int = ISO_BYTES, seed: bytes = b"") -> Path:
    """A stand-in Windows ISO: sparse, ISO 9660's CD001 volume descriptor at 0x8001, a few MB of data
    (``seed`` makes two ISOs differ) so that its SHA-256 is a real one."""
    path = Path(path)
    with open(path, "wb") as handle:
        handle.truncate(size)
        handle.seek(0x8000)
        handle.write(b"\x01CD001\x01\x00" + b"STANDIN_WIN11_X64".ljust(32, b" "))
        handle.seek(1 << 20)
        handle.write((seed or b"waa") * (1 << 20) + os.urandom(1 << 20))
    return path
