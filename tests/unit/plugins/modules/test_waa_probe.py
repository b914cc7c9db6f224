import struct
import zlib

from ansible_collections.openadapt.waa.plugins.module_utils._waa_client import WaaError
from ansible_collections.openadapt.waa.plugins.module_utils import _prober

E = "\x1b[1;34m\u276f \x1b[1;31m"
A = "\x1b[1;34m\u276f \x1b[1;36m"


def png(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"\x00" * 2000) + chunk(b"IEND", b""))


class FakeEngine:
    docker_host = "unix:///fake"

    def __init__(self, lines, state=None):
        self.lines = lines
        self.state = state or {"Status": "running", "Running": True, "StartedAt": "2024-01-01T12:00:00Z"}

    def ping(self, timeout=None):
        return True

    def container_inspect(self, name, timeout=None):
        return {"Id": "abc", "State": self.state, "RestartCount": 0, "Config": {"Tty": False, "Image": "img"}}

    def container_logs(self, name, **kw):
        return "".join("2024-01-01T12:00:%02d.000000000Z %s\n" % (i, line) for i, line in enumerate(self.lines))


class FakeWaa:
    def __init__(self):
        self.open = False
        self.calls = []

    def probe(self, timeout=None):
        return {"status": "Probe successful"}

    def accessibility(self, backend, timeout=None):
        win = '<window name="Untitled - Notepad"/>' if self.open else ""
        return '<desktop><button name="Notepad - 1 running window"/>%s</desktop>' % win

    def launch(self, command, shell=False, timeout=None):
        self.calls.append(("launch", command, shell))
        self.open = True
        return "notepad launched successfully"

    def close_all(self, timeout=None):
        self.calls.append(("close_all",))
        self.open = False
        return "closed"

    def screenshot(self, timeout=None):
        return png(1280, 800)

    def execute(self, command, shell=False, timeout=None):
        return {"status": "success", "output": "Point(x=1, y=2)", "returncode": 0}


PARAMS = dict(container_name="winarena", server_url="http://127.0.0.1:5000", vnc_url="http://127.0.0.1:9",
              layers=list(_prober.LAYERS), request_timeout=2, accessibility_backend="uia")


def test_kvm_error_in_log_is_fatal_before_any_http(monkeypatch):
    monkeypatch.setattr(_prober, "http_status", lambda url, timeout: 200)
    engine = FakeEngine(["Starting WinArena...", E + "ERROR: KVM acceleration not available (device file missing), x"])
    prober = _prober.Prober(dict(PARAMS), engine, FakeWaa())
    results = prober.run_once()
    assert [r.layer for r in results] == ["docker_daemon", "container", "windows_boot"]
    bad = results[-1]
    assert not bad.healthy and bad.fatal and bad.exit_code == 5 and "--device /dev/kvm" in bad.fix
    assert all("\x1b" not in line for line in prober.log_tail())


def test_all_layers_healthy_and_smoke(monkeypatch):
    monkeypatch.setattr(_prober, "http_status", lambda url, timeout: 200)
    monkeypatch.setattr(_prober, "SMOKE_WINDOW_TIMEOUT", 3)
    engine = FakeEngine([A + "Booting Windows using QEMU v8", A + "Windows started succesfully, visit"])
    waa = FakeWaa()
    prober = _prober.Prober(dict(PARAMS), engine, waa)
    results = prober.run_once()
    assert all(r.healthy for r in results) and len(results) == 5
    assert {"container_started", "qemu_started", "windows_started", "vnc_ready", "server_ready"} <= set(prober.boot)
    smoke = prober.run_smoke()
    assert smoke["ok"] and smoke["window"] == "Untitled - Notepad", smoke
    assert waa.calls == [("launch", "notepad", False), ("close_all",)]
    detail, layer, error = prober.run_detailed()
    assert detail["ok"] and layer is None and detail["screenshot"]["width"] == 1280


def test_smoke_failure_still_closes_windows(monkeypatch):
    monkeypatch.setattr(_prober, "SMOKE_WINDOW_TIMEOUT", 1.5)

    class NoWindow(FakeWaa):
        def accessibility(self, backend, timeout=None):
            return "<desktop/>"

    waa = NoWindow()
    prober = _prober.Prober(dict(PARAMS), FakeEngine([]), waa)
    smoke = prober.run_smoke()
    assert not smoke["ok"] and "Untitled - Notepad" in smoke["error"]
    assert waa.calls[-1] == ("close_all",)


def test_server_errors_are_not_fatal(monkeypatch):
    class Down(FakeWaa):
        def probe(self, timeout=None):
            raise WaaError("GET /probe answered HTTP 502", 502)

    prober = _prober.Prober(dict(PARAMS, layers=["waa_server"]), FakeEngine([]), Down())
    (result,) = prober.run_once()
    assert not result.healthy and not result.fatal and result.exit_code == 6 and "502" in result.message


def test_exited_and_restarting_containers(monkeypatch):
    ram = E + "ERROR: Your configured RAM_SIZE of 64 GB is too high for the 16 GB of memory available, please set a lower value."
    engine = FakeEngine(["Starting WinArena...", ram],
                        state={"Status": "exited", "Running": False, "ExitCode": 17, "StartedAt": "2024-01-01T12:00:00Z"})
    prober = _prober.Prober(dict(PARAMS), engine, FakeWaa())
    results = prober.run_once()
    bad = results[-1]
    assert bad.layer == "container" and bad.fatal and "RAM_SIZE" in bad.diagnosis and "waa_ram_size" in bad.fix
    engine.state = {"Status": "restarting", "Running": True, "Restarting": True, "ExitCode": 1,
                    "StartedAt": "2024-01-01T12:00:00Z"}
    bad = _prober.Prober(dict(PARAMS), engine, FakeWaa()).run_once()[-1]
    assert bad.layer == "container" and "restart loop" in bad.message


def test_notepad_title_pattern():
    rx = _prober.NOTEPAD_TITLE_RE
    assert rx.search("Untitled - Notepad") and rx.search("*notes.txt - Notepad")
    assert not rx.search("Notepad - 1 running window") and not rx.search("Notepad")


def _probe_run(engine, waa, **params):
    from ansible_collections.openadapt.waa.plugins.module_utils._probe_run import ProbeRun, probe_params, progress_kind
    from ansible_collections.openadapt.waa.plugins.module_utils._progress import ProgressWriter

    p = probe_params(**dict(PARAMS, **params))
    return ProbeRun(p, engine, waa, ProgressWriter(None, progress_kind(p))).run()


def test_a_wait_is_over_when_healthy_fatal_or_past_the_deadline_not_while_still_waiting(monkeypatch):
    monkeypatch.setattr(_prober, "http_status", lambda url, timeout: 200)
    booted = FakeEngine([A + "Booting Windows using QEMU v8", A + "Windows started succesfully, visit"])
    result, healthy = _probe_run(booted, FakeWaa(), layers=["container", "windows_boot", "waa_server"], wait_timeout=1)
    assert healthy and result["wait_over"] is True

    class Down(FakeWaa):
        def probe(self, timeout=None):
            raise WaaError("GET /probe answered HTTP 502", 502)

    # This round's own wait ran out, the server still booting: the caller's clock decides.
    result, healthy = _probe_run(booted, Down(), layers=["waa_server"], wait_timeout=0.3, poll_interval=0.1)
    assert not healthy and result["timed_out"] and result["wait_over"] is False
    # The run's deadline passed: over.
    result, healthy = _probe_run(booted, Down(), layers=["waa_server"], wait_timeout=5, deadline_in=0.3,
                                 poll_interval=0.1)
    assert not healthy and result["deadline_exceeded"] and result["wait_over"] is True
    # A fatal boot error: over at once.
    kvm = FakeEngine(["Starting WinArena...", E + "ERROR: KVM acceleration not available (device file missing), x"])
    result, healthy = _probe_run(kvm, FakeWaa(), layers=["container", "windows_boot"], wait_timeout=5)
    assert not healthy and result["wait_over"] is True and result["elapsed"] < 4
