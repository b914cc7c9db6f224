"""`waa prepare-image` end to end on the stand-in VM: the golden Windows disk made from a (stand-in)
ISO fetched by the VM over an interrupted download or sent from the controller with a resumed copy,
WAA's --prepare-image true path followed to Windows' shutdown, the disk booted once and recorded;
a prepared disk refused without --force; vm-setup booting from it; a bad ISO refused by dockur."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import docker_rm, unique_ports
from golden import ISO_BYTES, make_iso

# A 1 s stop: the simulator, like the real image, ignores SIGTERM, and nothing here needs Windows' shutdown.
FAST = {"waa_boot_timeout": 60, "waa_server_timeout": 60, "waa_accessibility_timeout": 30, "waa_stop_timeout": 1,
        "waa_golden_verify_timeout": 60, "waa_golden_prepare_timeout": 120, "waa_golden_iso_timeout": 120}


class FlakyIsoServer:
    """The ISO over HTTP on 127.0.0.1 with Range support; the first full GET breaks off after
    ``break_after`` bytes (a dropped connection), as a long download over a real network may."""

    def __init__(self, path: Path, break_after: int):
        self.path, self.break_after, self.requests = path, break_after, []
        data, outer = path.read_bytes(), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.headers.get("Range"))
                start = 0
                match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
                if match:
                    start = int(match.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                end = len(data)
                if len(outer.requests) == 1:
                    end = outer.break_after  # the first answer stops short and the connection closes
                self.wfile.write(data[start:end])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/isos/win11.iso"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def containers_left(name: str) -> list:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, timeout=30)
    return [n for n in out.stdout.split() if n in (name, f"{name}-prepare")]


def _manifest(storage: Path) -> dict:
    return json.loads((storage / "openadapt-waa-golden.json").read_text())


def test_prepare_image_makes_a_golden_disk_refuses_to_replace_it_and_vm_setup_boots_from_it(waa_cli, standin, tmp_path):
    name = "waa-golden"
    docker_rm(name)
    docker_rm(f"{name}-prepare")
    storage, iso_dir = tmp_path / "storage", tmp_path / "vm-iso"
    storage.mkdir()
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage),
              waa_golden_iso_dest=str(iso_dir / "setup.iso"), **FAST)
    hv["waa_container_env"] = dict(standin.sim_env, WAA_SIM_PREPARE_SECONDS="4", WAA_SIM_SHUTDOWN_WAIT="2")
    first_iso = make_iso(tmp_path / "first.iso", seed=b"first")
    server = FlakyIsoServer(first_iso, break_after=30_000_000)
    try:
        # 1. From nothing: the VM downloads the ISO (the first answer breaks off; the next round resumes
        # with a Range request), WAA prepares Windows from it, the disk boots once and is recorded.
        run = waa_cli("--iso-url", server.url, "--iso-sha256", _sha256(first_iso), hostvars=hv, golden=False,
                      command="prepare-image")
        assert run.rc == 0, run.output
        assert server.requests[0] is None and server.requests[1] == "bytes=30000000-", server.requests
        assert "retrying" in run.stdout and "broke off" in run.stdout, run.output
        assert re.search(r"→ ISO: \[#+\] 100\.0MB / 100\.0MB \(100%\)", run.stdout), run.output
        assert re.search(r"→ installing Windows: (Extracting|Detecting|Adding|Building) ", run.stdout), run.output
        for line in ("→ prepared", "Prepared disk boots to the WAA server",
                     f"SUCCESS: Golden disk prepared in {storage}/data.img", "Next steps:", "waa vm-setup -i"):
            assert line in run.stdout, (line, run.output)
        assert "Phase 3/9" not in run.stdout, "the golden phase is not one of the setup's nine"
        manifest = _manifest(storage)
        assert manifest["iso_sha256"] == _sha256(first_iso) and manifest["iso_source"] == server.url
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", manifest["fingerprint"]) and manifest["verified_boot"] is True
        assert manifest["image"] == standin.hub_image and manifest["image_digest"].startswith("sha256:")
        assert manifest["size_bytes"] == 30 * 1024**3 and 0 < manifest["allocated_bytes"] < 64 * 1024**2
        assert (storage / "windows.boot").exists() and not (storage / "openadapt-waa-preparing.json").exists()
        assert json.loads((iso_dir / "setup.iso.sha256").read_text())["sha256"] == _sha256(first_iso)
        events = run.events()
        assert any(e["type"] == "transfer_progress" and e.get("error") for e in events)
        assert [e["phase"] for e in events if e["type"] == "phase_start"][-1] == "golden"
        assert containers_left(name) == [], "the preparation and verification containers are gone"

        # 2. A second preparation is refused in pre-flight, before anything is pulled or started.
        again = waa_cli("--iso", str(first_iso), "--json", hostvars=hv, golden=False, command="prepare-image")
        assert again.rc == 1, again.output
        assert again.doc["phase"] == "preflight", again.doc
        assert "A golden Windows disk is already in" in again.doc["message"] and "--force" in again.doc["fix"]
        assert _manifest(storage) == manifest

        # 3. --force with another ISO from the controller: a copy interrupted halfway (its first half is on
        # the VM) resumes; only the rest travels; the disk is prepared anew.
        second_iso = make_iso(tmp_path / "second.iso", seed=b"second")
        half = ISO_BYTES // 2
        (iso_dir / "setup.iso.part").write_bytes(second_iso.read_bytes()[:half])
        (iso_dir / "setup.iso.part.source").write_text(_sha256(second_iso))
        # (The verification boot was proven in step 1: skipped here.)
        forced = waa_cli("--iso", str(second_iso), "--force", hostvars=dict(hv, waa_golden_verify=False), golden=False,
                         command="prepare-image")
        assert forced.rc == 0, forced.output
        moved = [e for e in forced.events() if e["type"] == "transfer_progress"]
        assert sum(e.get("bytes_moved") or 0 for e in moved) == ISO_BYTES - half, moved
        assert "from the controller" in forced.stdout, forced.output
        replaced = _manifest(storage)
        assert replaced["iso_sha256"] == _sha256(second_iso) and replaced["iso_source"] == "controller:second.iso"
        assert replaced["prepared_at"] >= manifest["prepared_at"] and replaced["fingerprint"] != manifest["fingerprint"]
        assert replaced["verified_boot"] is False

        # 4. vm-setup boots from the golden disk.
        setup = waa_cli("--skip-smoke-test", hostvars=hv, golden=False)
        assert setup.rc == 0, setup.output
        assert "Golden disk " + str(storage / "data.img") in setup.stdout, setup.output
    finally:
        server.close()
        docker_rm(name)
        docker_rm(f"{name}-prepare")


def test_an_iso_dockur_cannot_install_from_exits_1_naming_the_fix(waa_cli, standin, tmp_path):
    """A file the VM downloads that is no ISO: dockur's own refusal is read from the log, exit 1 in the
    golden phase, naming what to give instead; nothing is recorded."""
    name = "waa-golden-badiso"
    docker_rm(f"{name}-prepare")
    storage = tmp_path / "storage"
    storage.mkdir()
    not_iso = tmp_path / "notes.iso"
    with open(not_iso, "wb") as handle:
        handle.truncate(ISO_BYTES)
    server = FlakyIsoServer(not_iso, break_after=ISO_BYTES)
    hv = dict(unique_ports(), waa_container_name=name, waa_storage_path=str(storage),
              waa_golden_iso_dest=str(tmp_path / "vm-iso" / "setup.iso"), **FAST)
    hv["waa_container_env"] = dict(standin.sim_env, WAA_SIM_PREPARE_SECONDS="2")
    try:
        run = waa_cli("--iso-url", server.url, "--json", hostvars=hv, golden=False, command="prepare-image")
        assert run.rc == 1, run.output
        assert run.doc["phase"] == "golden", run.doc
        assert "dockur cannot install Windows from the ISO: Failed to extract ISO file" in run.doc["message"], run.doc
        assert "Windows 11 x64 installation ISO" in run.doc["fix"], run.doc
        assert not (storage / "openadapt-waa-golden.json").exists()
    finally:
        server.close()
        docker_rm(f"{name}-prepare")


@pytest.mark.parametrize("args, words", [
    ([], "Give the Windows ISO once"),
    (["--iso", "/nonexistent/win11.iso"], "does not exist on the controller"),
    (["--iso", "SMALL"], "a Windows ISO has several GB"),
    (["--iso", "NOTISO"], "is not an ISO 9660 image"),
    (["--iso", "GOOD", "--iso-url", "http://127.0.0.1:1/x.iso"], "Give the Windows ISO once"),
    (["--iso-url", "ftp://example/x.iso"], "is not an http(s) URL"),
    (["--iso-url", "http://127.0.0.1:1/x.iso", "--iso-sha256", "abc"], "is not a SHA-256"),
])
def test_bad_iso_options_exit_1_before_anything_runs(args, words, waa_cli, tmp_path):
    files = {"SMALL": tmp_path / "small.iso", "NOTISO": tmp_path / "zeros.iso", "GOOD": tmp_path / "good.iso"}
    files["SMALL"].write_bytes(b"x" * 1000)
    with open(files["NOTISO"], "wb") as handle:
        handle.truncate(ISO_BYTES)
    make_iso(files["GOOD"])
    args = [str(files.get(a, a)) for a in args]
    run = waa_cli(*args, command="prepare-image")
    assert run.rc == 1, run.output
    assert words in run.stderr, run.output
    assert not run.results, "nothing ran"
