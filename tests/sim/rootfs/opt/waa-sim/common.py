"""Knobs shared by the simulator's processes: environment parsing, the fault list, the event
log that benchmarks read, and the helper that ends the whole container.

Everything the simulator records goes to /var/log/waa-sim, never to docker logs: the real
image prints nothing of the kind, and log parsers under test must see the real lines only.
"""
import os
import subprocess
import time

LOG_DIR = "/var/log/waa-sim"
RUN_DIR = "/run/waa-sim"

KNOWN_FAULTS = {"server_500", "empty_at", "bare_at", "crash_after_boot", "never_boot",
                "slow_boot", "stop_answering_after", "tiny_screenshot", "qemu_init_fail_once",
                "qemu_init_fail", "recoverable_error"}
# The Windows disk dockur installs into /storage; without it (and WAA_SIM_INSTALL_SECONDS > 0) a
# start takes the first-install path. dockur writes windows.boot once Windows' setup has finished.
WINDOWS_DISK = "/storage/data.img"
BOOT_MARKER = "/storage/windows.boot"
# WAA's scripts bind the user's setup.iso here for --prepare-image true (dockur's detectCustom).
CUSTOM_ISO = "/custom.iso"


def env_float(name, default):
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def faults():
    """WAA_SIM_FAULT="never_boot,stop_answering_after=3req" -> {"never_boot": None, ...}."""
    out = {}
    for item in os.environ.get("WAA_SIM_FAULT", "").split(","):
        name, _, value = item.strip().partition("=")
        if name:
            out[name.strip()] = value.strip() or None
    return out


def boot_seconds():
    """Seconds from QEMU start to dockur's "Windows started" line (and to Windows' boot end)."""
    f = faults()
    seconds = env_float("WAA_SIM_BOOT_SECONDS", 2.0)
    if "slow_boot" in f:
        seconds = float(f["slow_boot"] or 30)  # 30 s is real dockur's fixed timer
    if os.environ.get("KVM", "").upper().startswith("N"):
        seconds *= env_float("WAA_SIM_NOKVM_FACTOR", 10.0)  # dockur: "about 10 times slower"
    return seconds


def install_seconds():
    """Seconds a first start spends installing Windows (0: /storage is taken as a prepared image)."""
    return env_float("WAA_SIM_INSTALL_SECONDS", 0.0)


def prepare_seconds():
    """Seconds a start with /custom.iso spends preparing the golden disk (30 % dockur, 70 % Windows setup)."""
    return env_float("WAA_SIM_PREPARE_SECONDS", 6.0)


OVERLAY_DISK = "/storage/data.qcow2"


def qcow2_backing(path):
    """The backing file in a qcow2 header ('' for none), None when ``path`` is no qcow2 file."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
            if header[:4] != b"QFI\xfb":
                return None
            offset, size = int.from_bytes(header[8:16], "big"), int.from_bytes(header[16:20], "big")
            if not offset or not size:
                return ""
            handle.seek(offset)
            return handle.read(size).decode("utf-8", "replace")
    except OSError:
        return None


def boot_disk():
    """The disk dockur boots: /storage/data.qcow2 with DISK_FMT=qcow2 (an overlay over the golden disk),
    else /storage/data.img; None when there is none."""
    if os.environ.get("DISK_FMT", "").lower() == "qcow2" and os.path.exists(OVERLAY_DISK):
        return OVERLAY_DISK
    return WINDOWS_DISK if os.path.exists(WINDOWS_DISK) else None


def disk_prepared():
    """Whether /storage holds a Windows to boot (WAA_SIM_ASSUME_PREPARED=1: taken as such without one)."""
    return boot_disk() is not None or os.environ.get("WAA_SIM_ASSUME_PREPARED") == "1"


def windows_writes(what, size=64 * 1024):
    """Windows changes its disk (a boot's logs, a task's files): the bytes land in the disk it boots. On
    the raw golden disk they overwrite a block inside it (as a guest write does); on a qcow2 overlay
    they are appended to the overlay file (the simulator does not allocate qcow2 clusters; nothing
    reads them back)."""
    disk = boot_disk()
    if disk is None:
        return
    data = (what.encode() + b"\n") * (size // (len(what) + 1) + 1)
    if disk == OVERLAY_DISK:
        with open(disk, "ab") as handle:
            handle.write(data[:size])
        return
    with open(disk, "r+b") as handle:
        handle.seek(64 * 1024 * 1024)  # a block of the system disk Windows rewrites on every boot
        handle.write(data[:size])


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def event(name, when=None):
    """Append "<epoch> <name>" to events.log and write the epoch alone to a file named <name>."""
    when = time.time() if when is None else when
    os.makedirs(LOG_DIR, exist_ok=True)
    with open(os.path.join(LOG_DIR, "events.log"), "a") as f:
        f.write(f"{when:.6f} {name}\n")
    _write_atomic(os.path.join(LOG_DIR, name), f"{when:.6f}\n")


def end_container(code):
    """Make the container exit with `code` (see die.sh): the real image has no such path, but
    crashes and WAA_SIM_EXIT_ON_ERROR need one because bash as PID 1 never exits on its own."""
    subprocess.run(["/opt/waa-sim/die.sh", str(int(code))], check=False)
