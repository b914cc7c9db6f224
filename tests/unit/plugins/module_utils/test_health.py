import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._health import (
    EXIT_CODES, LAYERS, BootLogParser, ContainerLogFollower, LayerResult, diagnose_exit, diagnose_log, first_unhealthy,
    format_since, match_fatal, parse_docker_time, parse_timestamped_line, strip_ansi)

# As printed by the 2024 winarena image (dockur lines: arrow, colour codes, text).
A = "\x1b[1;34m\u276f \x1b[1;36m"
E = "\x1b[1;34m\u276f \x1b[1;31m"
Z = "\x1b[0m"
BOOT_LOG = "\n".join([
    "Starting WinArena...", "Starting VM...", "Starting WinArena VM...",
    A + "Starting Windows for Docker v4.00..." + Z,
    A + "For support visit https://github.com/dockur/windows" + Z,
    A + "CPU: Intel Xeon | RAM: 8/16 GB | DISK: 30 GB (ext4) | HOST: 6.5.0..." + Z,
    A + "Booting Windows using QEMU v8.1.5..." + Z,
    A + "Windows started succesfully, visit http://localhost:8006/ to view the screen..." + Z,
    "Waiting for a response from the windows server. This might take a while...",
    "VM is up and running, and the Windows Arena Server is ready to use!",
    "VM started, server ready", "Skipping image preparation...", "Keeping container alive",
])
KVM_LOG = "\n".join([
    "Starting WinArena...", A + "Starting Windows for Docker v4.00..." + Z,
    E + "ERROR: KVM acceleration not available (device file missing), this will cause a major loss of performance." + Z,
    E + "ERROR: See the FAQ on how to diagnose the cause, or continue without KVM by setting KVM=N (not recommended)." + Z,
] + ["Waiting for a response from the windows server. This might take a while..."] * 30)


def test_strip_ansi():
    assert strip_ansi(A + "Booting" + Z) == "\u276f Booting"
    assert strip_ansi("\x1b[2K\x1b[1Gx") == "x"


def test_boot_stages_from_real_log():
    parser = diagnose_log(BOOT_LOG)
    assert list(parser.stages) == ["qemu_started", "windows_started", "server_ready"]
    assert parser.fatal is None and parser.qemu_started and parser.windows_started
    assert all("\x1b" not in line for line in parser.tail) and len(parser.tail) <= 20


def test_newer_dockur_spelling_and_no_prefix_needed():
    parser = diagnose_log("Windows started successfully, visit http://127.0.0.1:8006/ to view the screen...")
    assert parser.windows_started
    assert not diagnose_log("Booting Windows").qemu_started


def test_kvm_signature_with_fix():
    parser = diagnose_log(KVM_LOG)
    assert parser.fatal["id"] == "kvm_unavailable"
    assert "device file missing" in parser.fatal["diagnosis"] and "--device /dev/kvm" in parser.fatal["diagnosis"]
    fix = parser.fatal["fix"]
    for part in ("--device /dev/kvm", "Dv5", "Ddsv5", "Ev5", "Edsv5", "Standard security type", "Trusted Launch"):
        assert part in fix
    assert len(parser.tail) == 20 and parser.tail[-1].startswith("Waiting for a response")


def test_kvm_variants_and_other_signatures():
    assert "write" in match_fatal("\u276f ERROR: KVM acceleration not available (no write access), x")["diagnosis"]
    assert "vmx/svm" in match_fatal("\u276f ERROR: KVM acceleration not available (vmx/svm disabled), x")["diagnosis"]
    ram_line = E + "ERROR: Your configured RAM_SIZE of 64 GB is too high for the 15 GB of memory available, please set a lower value." + Z
    ram = match_fatal(strip_ansi(ram_line))
    assert ram["id"] == "ram_too_high" and "64" in ram["diagnosis"] and "waa_ram_size" in ram["fix"]
    bridge_line = E + "ERROR: Failed to create bridge. Please add the following setting to your container: --cap-add NET_ADMIN" + Z
    bridge = match_fatal(strip_ansi(bridge_line))
    assert bridge["id"] == "no_net_admin" and "--cap-add NET_ADMIN" in bridge["fix"]
    assert match_fatal("\u276f Warning: falling back to usermode networking (slow)!")["id"] == "no_net_admin"
    other = match_fatal("\u276f ERROR: Not enough free space to create a 64 GB disk")
    assert other["id"] == "disk_too_small" and "Not enough free space" in other["diagnosis"]
    assert match_fatal("Waiting for a response from the windows server. This might take a while...") is None
    assert match_fatal("some app printed ERROR: in the middle") is None


def test_exit_diagnosis():
    assert diagnose_exit(88)[2] == "kvm_unavailable"
    assert diagnose_exit(17)[2] == "ram_too_high"
    assert diagnose_exit(137)[2] == "killed"
    assert diagnose_exit(0)[2] == "no_command" and "ONE string" in diagnose_exit(0)[1]
    assert diagnose_exit(1, oom_killed=True)[2] == "oom_killed"
    assert diagnose_exit(3, lines=KVM_LOG.split("\n"))[2] == "kvm_unavailable"
    assert diagnose_exit(5)[2] == "exited"


def test_layer_model():
    assert LAYERS == ("docker_daemon", "container", "windows_boot", "waa_server", "accessibility")
    assert [EXIT_CODES[name] for name in LAYERS] == [2, 4, 5, 6, 7]
    results = [LayerResult("container", True, "ok"), LayerResult("accessibility", False, "x"),
               LayerResult("waa_server", False, "down", fix="wait")]
    bad = first_unhealthy(results)
    assert bad.layer == "waa_server" and bad.exit_code == 6
    d = bad.to_dict()
    assert d["layer"] == "waa_server" and d["healthy"] is False and d["fix"] == "wait" and d["exit_code"] == 6
    assert first_unhealthy(results[:1]) is None and results[0].exit_code == 0


def test_timestamps():
    assert parse_timestamped_line("2024-01-01T12:00:00.5Z hi there") == ((1704110400, 500000000), "hi there")
    assert parse_timestamped_line("no stamp") == (None, "no stamp")
    assert format_since((1704110400, 5)) == "1704110400.000000005"
    assert parse_docker_time("2024-01-01T13:00:00.000000001+01:00") == (1704110400, 1)
    assert parse_docker_time("0001-01-01T00:00:00Z") is None


class FakeLogs:
    """Serves timestamped log lines like the Engine's logs endpoint with since (inclusive)."""

    def __init__(self, lines):
        self.lines = lines
        self.calls = []

    def container_logs(self, name, since=None, timestamps=False, tty=None, timeout=None, tail=None):
        self.calls.append(since)
        out = []
        for key, text in self.lines:
            if since is None or key >= tuple(int(x) for x in since.split(".")):
                out.append("%s %s" % (self.stamp(key), text))
        return "\n".join(out) + "\n"

    @staticmethod
    def stamp(key):
        import time as _t
        return _t.strftime("%Y-%m-%dT%H:%M:%S", _t.gmtime(key[0])) + ".%09dZ" % key[1]


def test_follower_reads_only_new_lines_and_resets_on_restart():
    base = 1704110400
    logs = FakeLogs([((base - 60, 0), E + "ERROR: KVM acceleration not available (device file missing)" + Z),
                     ((base + 1, 0), "Starting WinArena..."), ((base + 2, 7), A + "Booting Windows using QEMU v8" + Z),
                     ((base + 2, 7), "same-instant line")])
    follower = ContainerLogFollower(logs, "c")
    started = "2024-01-01T12:00:00Z"
    assert follower.poll(started_at=started) == 3
    assert follower.parser.fatal is None, "errors of an earlier run do not count"
    assert logs.calls[0] == format_since((base - 2, 0))
    assert follower.poll(started_at=started) == 0 and logs.calls[-1] == format_since((base + 2, 7))
    logs.lines.append(((base + 2, 7), "third at the same instant"))
    logs.lines.append(((base + 40, 0), A + "Windows started succesfully" + Z))
    assert follower.poll(started_at=started) == 2
    assert follower.parser.windows_started and follower.parser.lines_seen == 5
    # A restart (new StartedAt) starts over with a fresh parser.
    logs.lines.append(((base + 100, 0), "Starting WinArena..."))
    assert follower.poll(started_at="2024-01-01T12:01:39Z") == 1
    assert not follower.parser.qemu_started and follower.parser.lines_seen == 1


def test_follower_survives_unreadable_logs():
    from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import DockerError

    class NoLogs:
        def container_logs(self, *a, **k):
            raise DockerError("configured logging driver does not support reading", 501)

    follower = ContainerLogFollower(NoLogs(), "c")
    assert follower.poll() == 0 and follower.available is False and "logging driver" in follower.error
    assert isinstance(BootLogParser().tail.maxlen, int)


def test_a_quick_restart_does_not_read_the_old_start_s_last_lines_again():
    """QEMU's error 1 s before the restart's StartedAt lies inside the start slack: FinishedAt (the old
    start's end) excludes it, so a restart that helped is not taken for the same failure."""
    base = 1704110400
    logs = FakeLogs([((base - 1, 0), "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Device or resource busy"),
                     ((base + 1, 0), "Starting WinArena..."), ((base + 2, 0), A + "Booting Windows using QEMU v8" + Z)])
    follower = ContainerLogFollower(logs, "c")
    follower.poll(started_at="2024-01-01T12:00:00Z", finished_at="2024-01-01T11:59:59.500000000Z")
    assert follower.parser.fatal is None and follower.parser.qemu_started
    # Without FinishedAt the slack reads it, as before.
    other = ContainerLogFollower(FakeLogs(list(logs.lines)), "c")
    other.poll(started_at="2024-01-01T12:00:00Z")
    assert other.parser.fatal["id"] == "qemu_init_failed"


def test_the_first_install_path_and_qemu_s_init_failure_are_read_from_the_log():
    parser = diagnose_log("\n".join([
        A + "Downloading Windows 11 Enterprise (Evaluation)..." + Z,
        "win11x64-enterprise-eval.iso      40%[=======>            ]   2.19G  41.0MB/s    eta 80s",
        A + "Extracting Windows 11 Enterprise (Evaluation) image..." + Z,
        A + "Building Windows 11 Enterprise (Evaluation) image..." + Z,
        A + "Booting Windows using QEMU v8.2.2..." + Z,
        "win11x64-enterprise-eval.iso      90%[=================>  ]   4.93G  41.0MB/s    eta 9s",
    ]))
    assert list(parser.stages)[:2] == ["installing_windows", "qemu_started"]
    # The step before QEMU started, the download's last percent before it; nothing after it counts.
    assert parser.install == {"step": "Building Windows 11 Enterprise (Evaluation) image...", "download_percent": 40}
    found = match_fatal("qemu-system-x86_64: -accel kvm: failed to initialize kvm: Device or resource busy")
    assert found["id"] == "qemu_init_failed" and "Device or resource busy" in found["diagnosis"]
    assert match_fatal("qemu-system-x86_64: warning: host doesn't support requested feature") is None
    assert diagnose_log(BOOT_LOG).install == {}


@pytest.mark.parametrize("hostile,shown", [
    ("a\x1b]0;owned title\x1b\\b", "ab"),                       # OSC ended by ESC \ (ST)
    ("a\x1b]8;;http://evil\x07link\x1b]8;;\x07b", "alinkb"),    # OSC 8 hyperlink ended by BEL
    ("x\x1bP1$r0m\x1b\\y", "xy"),                               # DCS
    ("x\x1b_apc\x1b\\y\x1b^pm\x1b\\z\x1bXsos\x1b\\!", "xyz!"),  # APC, PM, SOS
    ("c\x9b2Jd\x9d0;t\x9ce", "cde"),                            # 8-bit CSI and OSC ... ST
    ("e\x1b7f\x1b(Bg\x1bch", "efgh"),                           # two- and three-byte ESC sequences
    ("fake\rreal", "fakereal"),                                 # a carriage return overwrites the line
    ("bell\x07 bs\x08 del\x7f nul\x00 c1\x85", "bell bs del nul c1"),
    ("keeps\nnewline\tand tab", "keeps\nnewline\tand tab"),
    ("unterminated \x1b]0;swallows the rest", "unterminated "),
])
def test_every_escape_and_control_is_removed_from_untrusted_text(hostile, shown):
    assert strip_ansi(hostile) == shown


def test_human_lines_never_carry_a_control_character():
    from ansible_collections.openadapt.waa.plugins.plugin_utils._human_lines import human_lines

    event = {"type": "check", "host": "h", "ok": False, "name": "Task \x1b]0;pwn\x07x",
             "message": "model said \x1b[2J\x1b[H\rSUCCESS\x1bP+q\x1b\\"}
    text = "\n".join(human_lines(event))
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in text), repr(text)
    assert "model said SUCCESS" in text


def test_an_unknown_dockur_error_is_a_warning_and_the_wait_goes_on():
    """Newer dockur prints errors it recovers from (another mirror, a fallback): only the known
    signatures are fatal; the others are kept, once each, to be shown as warnings."""
    line = "\u276f ERROR: Microsoft blocked the automated download request based on your IP address."
    assert match_fatal(line) is None
    parser = BootLogParser()
    for text in (line, line, "\u276f Downloading Windows 11 from a mirror...", "\u276f Booting Windows using QEMU v9"):
        parser.feed(text)
    assert parser.fatal is None and parser.qemu_started
    assert parser.errors == ["Microsoft blocked the automated download request based on your IP address."]
