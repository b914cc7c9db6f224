"""Stand-in for dockur/windows' /run/entry.sh, the boot script WAA's start_vm.sh runs in the
background.

It prints dockur's lines in dockur's order and with dockur's colouring: plain `echo "❯ ..."`
for the banner and the CPU line, info() (colour codes between the arrow and the text) for
"Booting ..." and "Windows started ...", error()/warn() (colour code before the arrow, on
stderr) for failures. Its checks and exit codes follow dockur: RAM (17), network (falls back
to usermode networking), KVM (88). Then it starts the "QEMU" process (guest.py, the Windows
guest with the WAA server), prints "Windows started" on a timer exactly like dockur (not a
readiness signal) and serves the noVNC page on 8006 from that moment.
"""
import fcntl
import http.server
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

APP = "Windows"
SUPPORT = "https://github.com/dockur/windows"
DOCKUR_VERSION = "3.11"  # arbitrary release of the dockur 2024 line the WAA base image used
QEMU_VERSION = "8.2.2"
GIB = 1073741824
KVM_GET_API_VERSION = 0xAE00
GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest.py")


def _out(stream, text):
    stream.buffer.write(text.encode())
    stream.flush()  # docker logs must see each line at once


def echo(text=""):
    _out(sys.stdout, text + "\n")


def info(text):
    _out(sys.stdout, f"\x1b[1;34m❯ \x1b[1;36m{text}\x1b[0m\n")


def error(text):
    _out(sys.stderr, f"\x1b[1;31m❯ ERROR: {text}\x1b[0m\n")


def warn(text):
    _out(sys.stderr, f"\x1b[1;31m❯ Warning: {text}\x1b[0m\n")


def cpu_name():
    """The model name, cleaned the way dockur's reset.sh cleans lscpu's output."""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1] for line in f if line.lower().startswith("model name")), "")
    except OSError:
        name = ""
    name = re.sub(r" @.*", "", name.strip()).replace("(R)", "")
    name = re.sub(r" +", " ", re.sub(r"[^0-9A-Za-z ]+", " ", name)).strip()
    for noise in (" CPU", " 16 Core", " Processor", " Quad core", " with Radeon Graphics"):
        name = name.replace(noise, "")
    return name or "Unknown"


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


def memory():
    """(available, total) bytes. dockur reads `free` (host-wide /proc/meminfo); the simulator
    also honours the container's cgroup limit (v2 memory.max or v1 memory.limit_in_bytes), so
    `--memory 1g` reproduces the RAM error on any host."""
    meminfo = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            meminfo[key] = int(rest.split()[0]) * 1024
    avail, total = meminfo.get("MemAvailable", meminfo["MemFree"]), meminfo["MemTotal"]
    limit = _read_int("/sys/fs/cgroup/memory.max") or _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if limit and limit < total:
        avail, total = min(avail, limit), limit
    return avail, total


def parse_size(text):
    """numfmt --from=iec as dockur uses it on RAM_SIZE ("8G", "8GB", "512M")."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)B?\s*", text.upper())
    if not m:
        raise ValueError(f"numfmt: invalid suffix in input: '{text}'")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " "))


def has_net_admin():
    with open("/proc/self/status") as f:
        cap = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    return bool(int(cap, 16) & (1 << 12))  # CAP_NET_ADMIN


def kvm_problem():
    """dockur's KVM_ERR. Usability is checked by opening /dev/kvm read-write and asking for the
    API version. dockur's third test, grepping /proc/cpuinfo for vmx/svm, is left out: it fails on
    hosts (like nested VMs) whose KVM works without that flag. A device that opens but is no
    working KVM gets dockur's third message."""
    if not os.path.exists("/dev/kvm"):
        return "(device file missing)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return "(no write access)"
    try:
        fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError:
        return "(vmx/svm disabled)"
    finally:
        os.close(fd)
    return ""


NOVNC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Windows</title></head>
<body style="margin:0;background:#000;color:#ccc;font-family:sans-serif">
<div id="noVNC_container"><canvas id="noVNC_canvas" width="{w}" height="{h}"></canvas></div>
<p style="position:fixed;bottom:4px;left:8px;font-size:12px">noVNC - {app} for Docker v{version}</p>
</body>
</html>
"""


class NoVNC(http.server.BaseHTTPRequestHandler):
    """The web viewer dockur serves on 8006 (nginx + noVNC in the real image)."""
    server_version = "nginx"
    sys_version = ""

    def do_GET(self):
        if self.path.split("?")[0] in ("/", "/index.html", "/vnc.html", "/vnc_lite.html"):
            body = NOVNC_PAGE.format(w=os.environ.get("XRES", "1440"), h=os.environ.get("YRES", "900"),
                                     app=APP, version=DOCKUR_VERSION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            body = b"<html><body><h1>404 Not Found</h1></body></html>\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_novnc():
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 8006), NoVNC)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def windows_started_timer(t0, boot, guest, never_boot):
    """dockur's `( sleep 30; boot ) &`: a timer, not a readiness check."""
    time.sleep(max(0.0, t0 + boot - time.time()))
    if never_boot or guest.poll() is not None:
        return
    info(f"{APP} started succesfully, visit http://localhost:8006/ to view the screen...")
    common.event("windows_started")
    serve_novnc()


VERSION_NAME = "Windows 11 Enterprise (Evaluation)"  # dockur's printVersion of win11x64-enterprise-eval
ISO = "win11x64-enterprise-eval.iso"
ISO_BYTES = 5_876_000_000


def install_windows(seconds):
    """dockur's install.sh on an empty /storage: download the ISO (wget's progress lines), extract
    it, add the drivers and the answer file, build the install image. Takes 40 % of ``seconds``;
    Windows setup inside the VM takes the rest (guest.py), before the WAA server answers."""
    common.event("install_started")
    share = seconds * 0.4
    info(f"Downloading {VERSION_NAME}...")
    steps = 10
    for i in range(1, steps + 1):
        time.sleep(share * 0.6 / steps)
        done = ISO_BYTES * i // steps
        bar = ("=" * (i * 2 - 1) + ">").ljust(20)
        _out(sys.stderr, f"{ISO:<32} {i * 100 // steps:3d}%[{bar}]   {done / GIB:.2f}G  {ISO_BYTES / GIB / (share * 0.6 or 1):.1f}GB/s"
                         f"    eta {max(0, int(share * 0.6 * (steps - i) / steps))}s\n")
    for text in (f"Extracting {VERSION_NAME} image...", "Adding drivers to image...",
                 "Adding win11x64-enterprise-eval.xml for automatic installation...", f"Building {VERSION_NAME} image..."):
        info(text)
        time.sleep(share * 0.1)
    with open(common.WINDOWS_DISK, "wb") as disk:
        disk.truncate(disk_bytes())  # sparse: the disk Windows' setup installs into (guest.py)
    common.event("install_image_built")


ISO_MIN_BYTES = 100_000_000  # dockur's extractImage: "Size is smaller than 100 MB"
ISO9660_MAGIC_OFFSET = 0x8001  # "CD001" in the primary volume descriptor


def disk_bytes():
    try:
        return parse_size(os.environ.get("DISK_SIZE", "30G"))
    except ValueError:
        return 30 * GIB


def prepare_from_iso(seconds):
    """dockur's install.sh on an empty /storage with the user's ISO at /custom.iso (WAA's
    --prepare-image true): check and extract the ISO, detect the version, add the drivers and the
    answer file, build the install image (30 % of ``seconds``), then create the sparse disk that
    Windows' setup (guest.py, the other 70 %) installs into. Returns dockur's exit code on failure."""
    common.event("prepare_started")
    share = seconds * 0.3 / 6
    size = os.path.getsize(common.CUSTOM_ISO)
    info("Extracting local ISO image...")
    time.sleep(share)
    if size < ISO_MIN_BYTES:
        error("Invalid ISO file: Size is smaller than 100 MB")
        return 1
    with open(common.CUSTOM_ISO, "rb") as iso:
        iso.seek(ISO9660_MAGIC_OFFSET)
        magic = iso.read(5)
    if magic != b"CD001":
        error(f"Failed to extract ISO file: {common.CUSTOM_ISO}")
        return 1
    for text in ("Detecting version from ISO image...", "Detected: Windows 11 Enterprise",
                 "Adding drivers to image...", "Adding win11x64-enterprise-eval.xml for automatic installation...",
                 "Building local ISO image..."):
        time.sleep(share)
        info(text)
    with open(common.WINDOWS_DISK, "wb") as disk:
        disk.truncate(disk_bytes())  # sparse, like dockur's default allocation
    common.event("prepare_image_built")
    return 0


def step():
    """dockur spends a while between its phases (network setup, disk checks, ...); the pause
    also keeps docker logs' order of its stdout and stderr lines the same as the real one's."""
    time.sleep(common.env_float("WAA_SIM_DOCKUR_STEP_SECONDS", 0.2))


def main():
    faults = common.faults()
    for name in sorted(set(faults) - common.KNOWN_FAULTS):
        _out(sys.stderr, f"waa-sim: unknown fault {name!r} in WAA_SIM_FAULT ignored\n")

    echo(f"❯ Starting {APP} for Docker v{DOCKUR_VERSION}...")
    echo(f"❯ For support visit {SUPPORT}")

    os.makedirs("/storage", exist_ok=True)
    avail, total = memory()
    st = os.statvfs("/storage")
    fs = subprocess.run(["stat", "-f", "-c", "%T", "/storage"], capture_output=True, text=True).stdout.strip()
    fs = re.sub(r"[)(]", "", fs.replace("UNKNOWN ", "").replace("ext2/ext3", "ext4"))
    space_gb = math.ceil(st.f_bavail * st.f_frsize / GIB)
    host = platform.release().replace("-generic", "")
    echo(f"❯ CPU: {cpu_name()} | RAM: {avail // GIB}/{math.ceil(total / GIB)} GB | "
         f"DISK: {space_gb} GB ({fs}) | HOST: {host}...")
    echo()
    step()

    ram_size = os.environ.get("RAM_SIZE", "8G")
    try:
        wanted = parse_size(ram_size)
    except ValueError as exc:
        _out(sys.stderr, f"{exc}\n")
        return 1
    if os.environ.get("RAM_CHECK", "Y")[:1].upper() != "N" and wanted + 500000000 > avail:
        error(f"Your configured RAM_SIZE of {math.ceil(wanted / GIB)} GB is too high for the "
              f"{avail // GIB} GB of memory available, please set a lower value.")
        return 17

    step()
    nat = has_net_admin()
    if not nat:
        error("Failed to create bridge. Please add the following setting to your container: --cap-add NET_ADMIN")
        warn("falling back to usermode networking (slow)!")

    step()
    if not os.environ.get("KVM", "Y").upper().startswith("N"):
        problem = kvm_problem()
        if problem:
            error(f"KVM acceleration not available {problem}, this will cause a major loss of performance.")
            error("See the FAQ on how to diagnose the cause, or continue without KVM by setting KVM=N "
                  "(not recommended).")
            return 88

    disk = common.boot_disk()
    if disk == common.OVERLAY_DISK:
        backing = common.qcow2_backing(disk)
        if backing and not os.path.exists(backing):
            step()
            info(f"Booting {APP} using QEMU v{QEMU_VERSION}...")
            _out(sys.stderr, f"qemu-system-x86_64: -drive file={disk},if=none,id=drive-userdata,format=qcow2: "
                             f"Could not open backing file: Could not open '{backing}': No such file or directory\n")
            return 1
    prepared = common.disk_prepared()
    custom = not prepared and os.path.isfile(common.CUSTOM_ISO) and os.path.getsize(common.CUSTOM_ISO) > 0
    install = common.install_seconds() if not prepared and not custom else 0.0
    setup = install * 0.6
    if custom:
        code = prepare_from_iso(common.prepare_seconds())
        if code:
            return code
        setup = common.prepare_seconds() * 0.7
    elif install > 0:
        install_windows(install)
    # WAA's own dockur cannot fetch Windows: with no disk, no ISO and no install, QEMU boots an empty
    # disk and no server ever answers (what the real one prints then is not documented: nothing more).
    no_windows = not prepared and not custom and install <= 0

    if "recoverable_error" in faults:
        # Newer dockur prints some errors and then goes on (another mirror, a fallback).
        error("Microsoft blocked the automated download request based on your IP address.")
        info("Trying another mirror...")
    step()
    info(f"Booting {APP} using QEMU v{QEMU_VERSION}...")
    marker = "/storage/.waa-sim-qemu-failed-once"
    if "qemu_init_fail" in faults or ("qemu_init_fail_once" in faults and not os.path.exists(marker)):
        # QEMU's own stderr line when KVM cannot be initialised (e.g. the device is busy); dockur's
        # QEMU process is gone and WAA's entry script keeps waiting for the server forever.
        open(marker, "w").close()
        _out(sys.stderr, "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Device or resource busy\n")
        return 1
    t0 = time.time()
    common.event("qemu_started", t0)
    boot = common.boot_seconds()
    # Both timers count from t0, so process start-up on a busy host does not shift them.
    env = dict(os.environ, WAA_SIM_NAT="1" if nat else "0", WAA_SIM_BOOT_TOTAL=str(boot), WAA_SIM_T0=repr(t0),
               WAA_SIM_SETUP_SECONDS=str(setup), WAA_SIM_NO_WINDOWS="1" if no_windows else "0",
               WAA_SIM_INSTALLING="1" if custom or install > 0 else "0")
    # Whatever "Windows" prints goes to a file: QEMU's guest never writes to docker logs.
    os.makedirs(common.LOG_DIR, exist_ok=True)
    with open(os.path.join(common.LOG_DIR, "guest.log"), "ab") as log:
        # argv[0] reads as QEMU's, for tools that look for it with ps/pgrep.
        guest = subprocess.Popen(["qemu-system-x86_64", GUEST, "-name", "windows", "-m", ram_size,
                                  "-smp", os.environ.get("CPU_CORES", "8")],
                                 executable=sys.executable, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log)
    threading.Thread(target=windows_started_timer, args=(t0, boot, guest, "never_boot" in faults or no_windows),
                     daemon=True).start()
    return guest.wait()


if __name__ == "__main__":
    sys.exit(main())
