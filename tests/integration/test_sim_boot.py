"""The simulator's container contract: entrypoint, boot log, failure signatures, fault knobs,
docker stop and PAD_MB, against real containers (tests/sim, docker, no mocks).

All scenario containers start together at module start, so their boots overlap and the
module stays well under a minute and a half.
"""
import concurrent.futures
import re
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
import waasim_harness as h  # noqa: E402

IMAGE = "waa-sim:test"
FAST = {"WAA_SIM_PROBE_INTERVAL": "1"}
KVM_MISSING = ("❯ ERROR: KVM acceleration not available (device file missing), this will cause a major loss of "
               "performance.")
KVM_FAQ = ("❯ ERROR: See the FAQ on how to diagnose the cause, or continue without KVM by setting KVM=N "
           "(not recommended).")
BRIDGE = ("❯ ERROR: Failed to create bridge. Please add the following setting to your container: "
          "--cap-add NET_ADMIN")
USERMODE = "❯ Warning: falling back to usermode networking (slow)!"
WAITING = "Waiting for a response from the windows server. This might take a while..."
READY = "^Keeping container alive$"
# A sleep is never shorter than asked (log stamps are rounded, hence the 0.1 s), but a busy host can
# make it seconds longer: the bound above only catches a knob that was ignored.
LATE_BY_LOAD = 10.0

SCENARIOS = {
    "healthy": dict(env=FAST),
    "no_args": dict(command=None),
    "list_cmd": dict(env=FAST, command=("/entry.sh", "--prepare-image", "false", "--start-client", "false")),
    "prepare": dict(env=FAST, command=("/entry.sh --prepare-image true --start-client false",)),
    "stop": dict(env=FAST),
    "no_kvm": dict(kvm=None),  # default 5 s probe interval
    "kvm_ro": dict(kvm="ro", env={"WAA_SIM_PROBE_INTERVAL": "2"}),
    "kvm_null": dict(kvm="null", env={"WAA_SIM_PROBE_INTERVAL": "2"}),
    "ram": dict(memory="1g", env={"RAM_SIZE": "8G", "WAA_SIM_PROBE_INTERVAL": "2"}),
    "no_net_admin": dict(net_admin=False, env=FAST),
    "exit_88": dict(kvm=None, env={"WAA_SIM_EXIT_ON_ERROR": "1"}),
    "exit_17": dict(memory="1g", env={"WAA_SIM_EXIT_ON_ERROR": "1"}),
    "kvm_n": dict(kvm=None, env={**FAST, "KVM": "N", "WAA_SIM_NOKVM_FACTOR": "2"}),
    "server_500": dict(env={**FAST, "WAA_SIM_FAULT": "server_500"}),
    "empty_at": dict(env={**FAST, "WAA_SIM_FAULT": "empty_at"}),
    "bare_at": dict(env={**FAST, "WAA_SIM_FAULT": "bare_at"}),
    "crash": dict(env={**FAST, "WAA_SIM_FAULT": "crash_after_boot=4"}),
    "never_boot": dict(env={**FAST, "WAA_SIM_FAULT": "never_boot"}),
    "slow_boot": dict(env={**FAST, "WAA_SIM_FAULT": "slow_boot=6"}),
    "stop_req": dict(env={**FAST, "WAA_SIM_FAULT": "stop_answering_after=2req"}),
    "stop_time": dict(env={**FAST, "WAA_SIM_FAULT": "stop_answering_after=3,empty_at"}),
    "stop_refuse": dict(env={**FAST, "WAA_SIM_FAULT": "stop_answering_after=1req", "WAA_SIM_STOP_MODE": "refuse"}),
}


def assert_waited(seconds: float, asked: float) -> None:
    """The simulator waited `asked` seconds: not less, and not so much more that the knob was ignored."""
    assert asked - 0.1 <= seconds <= asked + LATE_BY_LOAD, (seconds, asked)


@pytest.fixture(scope="module")
def fleet(client):
    h.remove_stale(client)
    h.build_image(client, IMAGE)
    sims = {name: h.Sim(client, IMAGE, **kw) for name, kw in SCENARIOS.items()}
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda s: s.start(), sims.values()))
        yield sims
    finally:
        for s in sims.values():
            s.remove()


def get(sim, path, port=5000, timeout=2.0):
    """Status code, or None if nothing answers (refused, reset, timed out)."""
    try:
        return requests.get(sim.url(path, port), timeout=timeout).status_code
    except requests.RequestException:
        return None


def never_answers(sim, seconds, port=5000):
    """True if `port` gives no HTTP answer for `seconds` (polled about once a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if get(sim, "/probe", port, timeout=1.0) is not None:
            return False
        time.sleep(0.5)
    return True


def lines(sim):
    return sim.logs().splitlines()


def assert_in_order(actual, expected):
    """`expected` (regexes) occur in `actual` in this order, other lines allowed in between."""
    i = 0
    for line in actual:
        if i < len(expected) and re.fullmatch(expected[i], line):
            i += 1
    assert i == len(expected), f"missing {expected[i]!r} (in order) in:\n" + "\n".join(actual)


# -- image and entrypoint ------------------------------------------------------------------------

def test_image_contract(client, fleet):
    cfg = client.images.get(IMAGE).attrs["Config"]
    assert cfg["Entrypoint"] == ["/bin/bash", "-c"]
    assert not cfg.get("Cmd")
    assert set(cfg["ExposedPorts"]) == {"8006/tcp", "3389/tcp", "5000/tcp", "7200/tcp", "9222/tcp"}
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert (env["RAM_SIZE"], env["CPU_CORES"], env["DISK_SIZE"]) == ("8G", "8", "30G")


def test_entrypoint_without_argument_exits_at_once(fleet):
    sim = fleet["no_args"]
    assert sim.wait_exit(timeout=20) == 2
    assert "-c: option requires an argument" in sim.logs()


def test_command_as_list_drops_arguments_and_starts_the_client(fleet):
    # bash -c takes only the first word: --start-client defaults to true, so the benchmark client
    # starts (and, in the real image, runs every task) instead of the container just serving.
    sim = fleet["list_cmd"]
    sim.wait_log("Args: Namespace", timeout=90)
    assert_in_order(lines(sim), ["VM started, server ready", "Skipping image preparation...", "Starting client...",
                                 r".*Args: Namespace\(.*"])


def test_prepare_image_shuts_windows_down(fleet):
    sim = fleet["prepare"]
    sim.wait_log("^Windows VM is shutting down...$", timeout=60)
    assert_in_order(lines(sim), ["VM started, server ready",
                                 "Preparing Arena image by gracefully shutting down the Windows VM...",
                                 "Windows VM is shutting down..."])


# -- healthy boot ---------------------------------------------------------------------------------

def test_boot_log_sequence(fleet):
    sim = fleet["healthy"]
    sim.wait_log(READY, timeout=60)
    log = lines(sim)
    assert_in_order(log, [
        "Starting WinArena...", "Starting VM...", "Starting WinArena VM...",
        r"❯ Starting Windows for Docker v[0-9.]+\.\.\.",
        "❯ For support visit https://github.com/dockur/windows",
        r"❯ CPU: .+ \| RAM: \d+/\d+ GB \| DISK: \d+ GB \(.+\) \| HOST: .+\.\.\.",
        r"❯ Booting Windows using QEMU v[0-9.]+\.\.\.",
        re.escape("❯ Windows started succesfully, visit http://localhost:8006/ to view the screen..."),
        re.escape(WAITING),
        "VM is up and running, and the Windows Arena Server is ready to use!",
        "VM started, server ready", "Skipping image preparation...", "Keeping container alive",
    ])
    known = re.compile(r"(Starting WinArena(?: VM)?\.\.\.|Starting VM\.\.\.|❯ .+|" + re.escape(WAITING) +
                       r"|VM is up .+|VM started, server ready|Skipping image preparation\.\.\.|"
                       r"Keeping container alive|)")
    assert [line for line in log if not known.fullmatch(line)] == []  # nothing the real image would not print


def test_dockur_colour_codes(fleet):
    sim = fleet["healthy"]
    raw = sim.wait_log(READY, timeout=60, raw=True)
    # info(): colour codes between the arrow and the text; the banner lines are plain echo.
    assert "\x1b[1;34m❯ \x1b[1;36mBooting Windows using QEMU v" in raw
    assert "\x1b[1;34m❯ \x1b[1;36mWindows started succesfully, visit http://localhost:8006/" in raw
    assert "❯ Windows started" not in raw and "❯ Windows started" in h.strip_ansi(raw)
    assert "\n❯ Starting Windows for Docker v" in raw


def test_docker_stop_waits_the_timeout_and_exits_137(fleet):
    sim = fleet["stop"]
    sim.wait_log(READY, timeout=60)
    t0 = time.monotonic()
    sim.container.stop(timeout=2)  # bash as PID 1 ignores SIGTERM
    assert time.monotonic() - t0 >= 1.8
    assert sim.wait_exit(timeout=10) == 137


def test_novnc_answers_only_once_windows_started(fleet):
    sim = fleet["never_boot"]  # QEMU runs, "Windows started" never comes
    sim.wait_log("Booting Windows using QEMU", timeout=60)
    assert never_answers(sim, 3, port=8006)
    sim = fleet["healthy"]
    sim.wait_log("Windows started succesfully", timeout=60)
    r = requests.get(sim.url("/", 8006), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"


def test_fault_slow_boot(fleet):
    sim = fleet["slow_boot"]
    sim.wait_log(READY, timeout=60)
    qemu, windows, ready = (sim.instant(n) for n in ("qemu_started", "windows_started", "server_ready"))
    assert_waited(windows - qemu, 6.0)  # slow_boot=6
    assert_waited(ready - windows, 3.0)  # WAA_SIM_SERVER_DELAY default


def test_kvm_n_boots_slower_without_kvm_errors(fleet):
    sim = fleet["kvm_n"]
    log = sim.wait_log(READY, timeout=60)
    assert "KVM acceleration" not in log
    assert_waited(sim.instant("windows_started") - sim.instant("qemu_started"), 4.0)


# -- failure signatures ----------------------------------------------------------------------------

def test_no_kvm_device_keeps_the_container_running_with_port_5000_dead(fleet):
    sim = fleet["no_kvm"]
    sim.wait_log(re.escape(KVM_FAQ), timeout=30)
    assert never_answers(sim, 10)
    assert never_answers(sim, 1, port=8006)
    assert sim.status() == "running"
    log = lines(sim)
    assert_in_order(log, [r"❯ CPU: .+", re.escape(KVM_MISSING), re.escape(KVM_FAQ), re.escape(WAITING)])
    assert not any("Booting" in line or "Windows started" in line for line in log)
    # WAA's loop polls every 5 s by default, forever
    stamps = [line.split(" ", 1)[0] for line in sim.logs(timestamps=True).splitlines() if WAITING in line]
    assert len(stamps) >= 2
    t = [time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) + float("0." + s[20:29]) for s in stamps]
    for a, b in zip(t, t[1:]):
        assert_waited(b - a, 5.0)  # 5 s sleep + the probe's own time


@pytest.mark.parametrize("scenario,reason", [("kvm_ro", "(no write access)"), ("kvm_null", "(vmx/svm disabled)")])
def test_unusable_kvm_device_variants(fleet, scenario, reason):
    sim = fleet[scenario]
    log = sim.wait_log(re.escape(KVM_FAQ), timeout=30)
    assert f"❯ ERROR: KVM acceleration not available {reason}, this will cause a major loss of performance." in log
    assert never_answers(sim, 3)
    assert sim.status() == "running"


def test_ram_size_too_high(fleet):
    sim = fleet["ram"]
    log = sim.wait_log(r"RAM_SIZE", timeout=30)
    assert re.search(r"^❯ ERROR: Your configured RAM_SIZE of 8 GB is too high for the 1 GB of memory available, "
                     r"please set a lower value\.$", log, re.M)
    assert never_answers(sim, 3)
    assert sim.status() == "running" and "Booting" not in sim.logs()


def test_missing_net_admin_boots_but_port_5000_never_answers(fleet):
    sim = fleet["no_net_admin"]
    sim.wait_log("Windows started succesfully", timeout=60)
    assert_in_order(lines(sim), [re.escape(BRIDGE), re.escape(USERMODE), "❯ Booting Windows using QEMU.+",
                                 "❯ Windows started succesfully.+"])
    assert get(sim, "/", 8006) == 200
    assert never_answers(sim, 6)  # boot 2 s + server delay 3 s have long passed
    assert "VM is up" not in sim.logs() and sim.status() == "running"


@pytest.mark.parametrize("scenario,code", [("exit_88", 88), ("exit_17", 17)])
def test_exit_on_error_ends_the_container_with_dockurs_code(fleet, scenario, code):
    sim = fleet[scenario]
    assert sim.wait_exit(timeout=30) == code
    log = sim.logs()
    assert "ERROR:" in log and "Killed" not in log and "Terminated" not in log


# -- fault knobs ---------------------------------------------------------------------------------

def test_fault_server_500(fleet):
    sim = fleet["server_500"]
    sim.wait_log("Windows started", timeout=60)
    deadline = time.monotonic() + 20
    while get(sim, "/probe") is None:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    resp = requests.get(sim.url("/probe"), timeout=5)
    assert resp.status_code == 500 and resp.json()["status"] == "error"
    assert "VM is up" not in sim.logs()  # WAA's loop waits for a 200 forever


@pytest.mark.parametrize("scenario", ["empty_at", "bare_at"])
def test_fault_empty_accessibility_tree(fleet, scenario):
    sim = fleet[scenario]
    sim.wait_log(READY, timeout=60)
    at = requests.get(sim.url("/accessibility?backend=uia"), timeout=5).json()["AT"]
    assert requests.get(sim.url("/probe"), timeout=5).status_code == 200
    if scenario == "empty_at":
        assert at == ""
    else:
        assert at.startswith("<desktop xmlns:") and at.endswith("/>")


def test_fault_crash_after_boot(fleet):
    sim = fleet["crash"]
    sim.wait_log(READY, timeout=60)
    assert sim.wait_exit(timeout=20) == 137
    assert sim.logs().rstrip().endswith("Keeping container alive")  # dies silently, like an OOM kill


def test_fault_never_boot(fleet):
    sim = fleet["never_boot"]
    sim.wait_log("Booting Windows using QEMU", timeout=60)
    assert never_answers(sim, 7)  # default boot 2 s + server delay 3 s have passed
    assert "Windows started" not in sim.logs() and sim.status() == "running"


def test_fault_stop_answering_after_requests(fleet):
    sim = fleet["stop_req"]
    sim.wait_log(READY, timeout=60)  # the entry script's own probe does not count
    assert get(sim, "/probe") == 200
    assert get(sim, "/screenshot") == 200
    assert get(sim, "/probe", timeout=1.5) is None  # accepted, never answered
    assert sim.status() == "running"


def test_fault_stop_answering_after_seconds(fleet):
    sim = fleet["stop_time"]
    sim.wait_log(READY, timeout=60)
    ready = sim.instant("server_ready")
    deadline = time.monotonic() + 15
    while get(sim, "/probe", timeout=1.0) == 200:
        assert time.monotonic() < deadline, "the server kept answering"
        time.sleep(0.3)
    assert_waited(sim.instant("stopped_answering") - ready, 3.0)


def test_fault_stop_answering_refuse_mode(fleet):
    sim = fleet["stop_refuse"]
    sim.wait_log(READY, timeout=60)
    assert get(sim, "/probe") == 200
    time.sleep(0.5)
    t0 = time.monotonic()
    assert get(sim, "/probe", timeout=5) is None
    assert time.monotonic() - t0 < 3  # refused or reset at once, no timeout


# -- PAD_MB -------------------------------------------------------------------------------------

def test_pad_mb_adds_random_layers(client, fleet):
    tag = "waa-sim:test-pad5"
    try:
        padded = h.build_image(client, tag, pad_mb=5, pad_layer_mb=2)
        plain = client.images.get(IMAGE)
        # three pad layers of 2, 2 and 1 MB; the other five pad steps made no layer
        assert len(padded.attrs["RootFS"]["Layers"]) == len(plain.attrs["RootFS"]["Layers"]) + 3
        grown = padded.attrs["Size"] - plain.attrs["Size"]
        assert 5 * 2**20 <= grown < 5 * 2**20 + 2**20
        sizes = sorted(e["Size"] for e in padded.history() if "pad.sh" in e["CreatedBy"] and e["Size"])
        assert sizes == [1 * 2**20, 2 * 2**20, 2 * 2**20]  # split at PAD_LAYER_MB
    finally:
        try:
            client.images.remove(tag)
        except Exception:
            pass
