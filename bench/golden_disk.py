"""Benchmark 8: the golden disk stays pristine and a reset is O(1) in its size.

a) The overlay's reset (`_overlay.create`, what `golden_overlay state=reset` runs) over golden disks of
   1, 16 and 256 GiB (sparse, 64 MiB of data each), 5 times each, beside the physical alternative a
   reset would otherwise need: a sparse copy of the golden disk (`cp --sparse=always`, which still
   reads the whole apparent size on ext4 without reflinks). The O(1) claim: reset(256 GiB) ÷ reset(1 GiB).
b) The fingerprint (`_golden.fingerprint`) of those disks beside the physical limit: SHA-256 of the same
   bytes from memory (the fingerprint reads only the allocated ranges).
c) The restore from Blob Storage (Azurite on 127.0.0.1, the stand-in's) of a 16 GiB disk holding 512 MiB
   of data, beside a plain parallel download of the same page blob (the same 8 threads and ranged GETs,
   written to a file, nothing else): restore throughput ÷ plain throughput, alternating runs. The
   restore also lists the page ranges, keeps its journal and checks the fingerprint.
d) `waa reset` end to end on the stand-in: its reset phase (container stop + new overlay), and the whole
   command beyond the boot and server waits; the golden fingerprint before and after a setup + reset.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import PORTS, REPO, WORK, docker_rm, log, make_golden, new_run_dir, run_waa, standin_host, write_inventory

sys.path.insert(0, str(REPO / ".collections"))
from ansible_collections.openadapt.waa.plugins.module_utils import _golden, _overlay  # noqa: E402

NAME = "waa-bench7-golden"
GIB = 1024 ** 3
DATA = 64 * 1024 * 1024


def sparse_disk(folder: Path, size: int) -> Path:
    """A golden disk of ``size`` apparent bytes holding DATA bytes in 16 runs spread over it."""
    folder.mkdir(parents=True, exist_ok=True)
    disk = folder / "data.img"
    if not disk.exists() or disk.stat().st_size != size:
        chunk = os.urandom(DATA // 16)
        with open(disk, "wb") as handle:
            handle.truncate(size)
            for i in range(16):
                handle.seek(size // 16 * i)
                handle.write(chunk)
    (folder / "windows.boot").touch()
    return disk


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def overlay_sizes(quick: bool) -> dict:
    rows = {}
    repeat = 3 if quick else 5
    for gib in (1, 16, 256):
        golden = WORK / "golden" / f"g{gib}"
        overlay = WORK / "golden" / f"o{gib}"
        disk = sparse_disk(golden, gib * GIB)
        resets = _timed(lambda: _overlay.create(str(golden), str(overlay)), repeat)
        copy_target = WORK / "golden" / f"copy{gib}.img"
        copies = _timed(lambda: subprocess.run(["cp", "--sparse=always", "--reflink=auto", str(disk), str(copy_target)],
                                               check=True, timeout=1800), 1)
        copy_target.unlink(missing_ok=True)
        fp = _timed(lambda: _golden.fingerprint(str(disk)), 1)
        rows[str(gib)] = {"reset_s": statistics.median(resets), "resets": resets, "copy_s": copies[0],
                          "fingerprint_s": fp[0], "allocated": disk.stat().st_blocks * 512}
        log(f"golden {gib} GiB: reset {rows[str(gib)]['reset_s'] * 1000:.1f} ms, copy {copies[0]:.2f} s, "
            f"fingerprint {fp[0]:.2f} s")
    data = os.urandom(DATA)
    sha = _timed(lambda: hashlib.sha256(data).hexdigest(), 3)
    return {"sizes": rows, "reset_ratio_256_1": rows["256"]["reset_s"] / rows["1"]["reset_s"],
            "sha256_memory_s": min(sha), "data_bytes": DATA}


def blob_restore(quick: bool) -> dict:
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    import azurite
    from ansible_collections.openadapt.waa.plugins.module_utils import _blob
    from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressWriter
    from openadapt_waa.golden_sas import container_sas, locate

    source = WORK / "golden" / "blob-src"
    disk = source / "data.img"
    if not disk.exists():
        source.mkdir(parents=True, exist_ok=True)
        with open(disk, "wb") as handle:
            handle.truncate(16 * GIB)
            for i in range(128):
                handle.seek(i * 31 * _blob.BLOCK)
                handle.write(os.urandom(_blob.BLOCK))
        (source / "windows.boot").touch()
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.CONNECTION_STRING
    try:
        location = locate(f"{azurite.URL}/bench/golden-{int(time.time())}")
        client = _blob.BlobClient(location.container_url, container_sas(location, write=True, create_container=True))
    finally:
        os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    t0 = time.perf_counter()
    pushed = _blob.push(client, str(source), location.prefix, ProgressWriter(None, "transfer"))
    push_s = time.perf_counter() - t0
    blob = location.prefix + "/data.img"

    def plain(target: Path) -> float:
        t = time.perf_counter()
        ranges = client.page_ranges(blob)
        pieces = [(a, min(a + _blob.BLOCK, e)) for s, e in ranges for a in range(s, e, _blob.BLOCK)]
        with open(target, "wb") as handle:
            handle.truncate(16 * GIB)
        fd = os.open(target, os.O_WRONLY)
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda p: os.pwrite(fd, client.get(blob, p[0], p[1]), p[0]), pieces))
        finally:
            os.close(fd)
        return time.perf_counter() - t

    def restore(target: Path) -> float:
        t = time.perf_counter()
        _blob.restore(client, str(target), location.prefix, ProgressWriter(None, "transfer"))
        return time.perf_counter() - t

    plains, restores = [], []
    for i in range(2 if quick else 4):
        out = WORK / "golden" / "blob-dst"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        plains.append(plain(out / "plain.img"))
        (out / "plain.img").unlink()
        restores.append(restore(out / "restored"))
        shutil.rmtree(out, ignore_errors=True)
    data = pushed["bytes_total"]
    plain_s, restore_s = statistics.median(plains), statistics.median(restores)
    log(f"golden blob: {data / 2**20:.0f} MiB, push {push_s:.2f} s, plain {plain_s:.2f} s, restore {restore_s:.2f} s")
    return {"bytes": data, "push_s": push_s, "plain_s": plain_s, "restore_s": restore_s, "plains": plains,
            "restores": restores, "ratio": plain_s / restore_s}


def end_to_end() -> dict:
    tag = "golden"
    hv = standin_host(tag, NAME, PORTS["golden"], waa_stop_timeout=2)
    storage = Path(hv["waa_storage_path"])
    disk = make_golden(storage)
    before = _golden.fingerprint(str(disk))
    inventory = write_inventory(WORK / "golden" / "inventory.yml", {"local-vm": hv})
    docker_rm(NAME)
    try:
        setup = run_waa(inventory, new_run_dir("golden-setup"), "--skip-smoke-test")
        assert setup.rc == 0, setup.stdout[-3000:]
        resets = []
        for _ in range(3):
            run = run_waa(inventory, new_run_dir("golden-reset"), "--json", command="reset")
            assert run.rc == 0, run.stdout[-3000:]
            doc = next(iter(run.results.values()))
            phases = {p["role"]: p["duration_seconds"] or 0.0 for p in doc["phases"]}
            waits = phases.get("windows_boot", 0.0) + phases.get("waa_server", 0.0)
            resets.append({"wall": run.wall, "reset_phase": phases.get("reset"), "waits": waits,
                           "beyond_boot": run.wall - waits, "stop_timeout": 2})
        after = _golden.fingerprint(str(disk))
    finally:
        docker_rm(NAME)
    return {"runs": resets, "golden_unchanged": before == after,
            "reset_phase_p50": statistics.median(r["reset_phase"] for r in resets),
            "beyond_boot_p50": statistics.median(r["beyond_boot"] for r in resets)}


def bench(quick: bool = False) -> dict:
    data = overlay_sizes(quick)
    data["blob"] = blob_restore(quick)
    data["end_to_end"] = end_to_end()
    return data


if __name__ == "__main__":
    print(json.dumps(bench(quick="--quick" in sys.argv), indent=2))
