"""The "QEMU" process dockur starts: the Windows guest. It boots for the same time dockur's
"Windows started" timer waits, then WAA_SIM_SERVER_DELAY more seconds until the WAA server
(on_logon.ps1 starting main.py in real Windows) listens on port 5000.

With usermode networking (no NET_ADMIN) the guest runs but dockur's NAT rule that publishes
the guest's port 5000 does not exist, so nothing ever listens; never_boot does the same.
"""
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def install_into_disk():
    """Windows' setup writes the system into the disk (a few MB of data at spread offsets, so that the
    sparse disk has allocated ranges), then dockur's windows.boot says the install finished."""
    size = os.path.getsize(common.WINDOWS_DISK)
    with open(common.WINDOWS_DISK, "r+b") as disk:
        for i, offset in enumerate((0, size // 3, size // 2, size - (1 << 20))):
            disk.seek(max(0, offset) // 4096 * 4096)
            disk.write(os.urandom(256 * 1024) + bytes([i + 1]) * (256 * 1024))
    with open(common.BOOT_MARKER, "w") as marker:
        marker.write("")
    common.event("windows_installed")


def main():
    try:  # ps/pgrep show QEMU's process name (truncated to 15 characters like the real one)
        ctypes.CDLL(None).prctl(15, b"qemu-system-x86", 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass
    faults = common.faults()
    boot = float(os.environ.get("WAA_SIM_BOOT_TOTAL") or common.boot_seconds())
    if "never_boot" in faults or os.environ.get("WAA_SIM_NAT") == "0" or os.environ.get("WAA_SIM_NO_WINDOWS") == "1":
        while True:
            time.sleep(3600)
    t0 = float(os.environ.get("WAA_SIM_T0") or time.time())  # when dockur started "QEMU"
    # On the first-install path, Windows setup (and the OEM scripts that install the WAA server)
    # runs inside the VM before the server can answer.
    setup = common.env_float("WAA_SIM_SETUP_SECONDS", 0.0)
    if os.environ.get("WAA_SIM_INSTALLING") == "1":
        time.sleep(max(0.0, t0 + boot + setup - time.time()))
        install_into_disk()
    common.windows_writes("boot")  # Windows writes its logs, registry and pagefile on every boot
    time.sleep(max(0.0, t0 + boot + setup + common.env_float("WAA_SIM_SERVER_DELAY", 3.0) - time.time()))
    import server
    server.run(faults)


if __name__ == "__main__":
    main()
