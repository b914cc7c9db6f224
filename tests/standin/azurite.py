"""Azurite, Microsoft's Blob Storage emulator (npm package `azurite`), on 127.0.0.1 for the stand-in:
the Azure Blob Storage that `waa golden push` and `--golden URL` talk to. Installed with the
machine's node and npm into .standin/azurite (once), started detached by `local_vm.py up`, stopped by
`down`. Its account and key are Azurite's documented, public development ones."""

from __future__ import annotations

import local_vm as vm

PORT = 10000
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (published in its README; it protects nothing).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOME = vm.STATE / "azurite"
DATA = HOME / "data"
PIDFILE = vm.RUN_DIR / "azurite.pid"
BIN = HOME / "node_modules" / ".bin" / "azurite-blob"
VERSION = "3.35.0"
URL = f"http://{vm.LOOPBACK}:{PORT}/{ACCOUNT}"
CONNECTION_STRING = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                     f"BlobEndpoint={URL};")


def ensure() -> None:
    """Install (once) and start Azurite's blob service on 127.0.0.1:10000."""
    if not BIN.exists():
        vm.say(f"azurite {VERSION}: npm install ...")
        HOME.mkdir(parents=True, exist_ok=True)
        vm._run(["npm", "install", "--prefix", str(HOME), "--no-audit", "--no-fund", "--silent", f"azurite@{VERSION}"],
                timeout=600, log=vm.LOG_DIR / "azurite-npm.log")
    marker = str(BIN)
    pid = vm._our_pid(PIDFILE, "azurite")
    if pid and vm._port_open(PORT):
        vm.say(f"azurite blob on {vm.LOOPBACK}:{PORT} ... ok (running, pid {pid})")
        return
    vm._free_port(PORT, "azurite")
    DATA.mkdir(parents=True, exist_ok=True)
    log = vm.LOG_DIR / "azurite.log"
    pid = vm._spawn([str(BIN), "--blobHost", vm.LOOPBACK, "--blobPort", str(PORT), "--location", str(DATA),
                     "--skipApiVersionCheck", "--silent", "--loose"], PIDFILE, log)
    vm._wait(f"azurite on port {PORT}", lambda: vm._port_open(PORT), 60, log=log, pid=pid)
    vm.say(f"azurite blob on {vm.LOOPBACK}:{PORT} ... ok (started, pid {pid}; {marker})")


def stop() -> str:
    return vm._stop(PIDFILE, "azurite", PORT)
