"""The live viewer without a browser: the tailer, the merged state (Hub) and the HTTP/SSE
endpoints on a real uvicorn server on 127.0.0.1 (httpx is not installed, so no TestClient)."""
from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from openadapt_waa import viewer as viewer_mod
from openadapt_waa.hub import Hub, screenshot_url
from openadapt_waa.tailer import Tailer
from openadapt_waa.viewer import Viewer, open_browser

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a0a3a6bc0000000049454e44ae426082"
)


class Writer:
    """Appends events to <run dir>/events.jsonl the way the callback plugin does."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.seq = 0

    def emit(self, kind: str, host: str | None = None, **fields) -> dict:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.seq += 1
        event = {"seq": self.seq, "ts": time.time(), "type": kind, "host": host, **fields}
        with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")
        return event


def get(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(req, timeout=5) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def get_json(url: str):
    status, body, _ = get(url)
    assert status == 200, body
    return json.loads(body)


class SSE:
    """A minimal SSE reader over http.client, with a deadline on every read."""

    def __init__(self, port: int, path: str = "/api/events", headers: dict | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("content-type").startswith("text/event-stream")

    def next(self, timeout: float = 5.0) -> dict:
        """The next event with data (comments and pings skipped)."""
        deadline = time.monotonic() + timeout
        frame: dict = {}
        while time.monotonic() < deadline:
            line = self.resp.fp.readline()
            if not line:
                raise EOFError("stream closed")
            line = line.decode().rstrip("\r\n")
            if not line:
                if "data" in frame:
                    frame["json"] = json.loads(frame["data"])
                    return frame
                frame = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            frame[key] = frame[key] + "\n" + value if key == "data" and key in frame else value
        raise TimeoutError("no SSE event within %.1f s" % timeout)

    def close(self) -> None:
        self.conn.close()


# -- Tailer ----------------------------------------------------------------------------------------
def test_tailer_missing_file_then_partial_lines(tmp_path):
    path = tmp_path / "run" / "events.jsonl"
    tailer = Tailer(path)
    assert tailer.read() == []  # neither the dir nor the file exists yet
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.write(b'{"seq": 1, "type": "run_start"}\n{"seq": 2, "ty')
        handle.flush()
        assert [e["seq"] for e in tailer.read()] == [1]
        assert tailer.read() == []  # the half line waits
        handle.write(b'pe": "warning", "message": "caf\xc3')  # a UTF-8 character split in two writes
        handle.flush()
        assert tailer.read() == []
        handle.write(b'\xa9"}\n\n{"seq": 3, "type": "x"}\n')
        handle.flush()
        events = tailer.read()
    assert [e["seq"] for e in events] == [2, 3]
    assert events[0]["message"] == "caf\u00e9"
    assert tailer.bad_lines == 0


def test_tailer_skips_bad_lines_and_restarts_on_truncation(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": 1}\nnot json\n[1, 2]\n{"seq": 2}\n')
    tailer = Tailer(path)
    assert [e["seq"] for e in tailer.read()] == [1, 2]
    assert tailer.bad_lines == 2
    path.write_text('{"seq": 9}\n')  # shorter: a new file
    assert [e["seq"] for e in tailer.read()] == [9]
    assert tailer.resets == 1


def test_tailer_reads_big_files_in_chunks(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"seq": i, "pad": "x" * 100}) + "\n" for i in range(1, 501)))
    tailer = Tailer(path, max_read=8192)
    seqs, rounds = [], 0
    while True:
        rounds += 1
        seqs += [e["seq"] for e in tailer.read()]
        if not tailer.pending:
            break
        assert rounds < 100
    assert seqs == list(range(1, 501))
    assert rounds > 1


# -- Hub (merged state) ------------------------------------------------------------------------------
def test_hub_folds_events_with_the_collection_reducer(tmp_path):
    run = tmp_path / "20260101T000000Z-vm-setup"
    hub = Hub([run])
    assert hub.poll() == []
    snap = hub.snapshot()
    assert snap["state"]["status"] == "initializing" and snap["id"] == 0
    assert snap["runs"][0]["exists"] is False
    assert [p[0] for p in snap["phases"]][:3] == ["preflight", "docker", "image"]

    w = Writer(run)
    w.emit("run_start", playbook="vm_setup", hosts=["vm1", "vm2"])
    w.emit("phase_start", "vm1", phase="image", number=2, title="Image pull")
    w.emit("pull_progress", "vm1", phase="image", bytes_done=50, bytes_total=200, layers_done=1, layers_total=4)
    w.emit("screenshot", "vm1", phase="smoke", path="screenshots/vm1-smoke.png")
    w.emit("phase_start", "vm2", phase="preflight", number=1, title="Pre-flight checks")
    records = hub.poll()
    assert [r.id for r in records] == [1, 2, 3, 4, 5]
    first = json.loads(records[0].data)
    assert first["run"] == run.name and set(first["hosts"]) == {"vm1", "vm2"}
    pull = json.loads(records[2].data)
    assert pull["hosts"]["vm1"]["pull"]["bytes_done"] == 50
    assert pull["lines"] and "50B / 200B (25%)" in pull["lines"][0]
    state = hub.snapshot()["state"]
    assert state["status"] == "running"
    assert state["hosts"]["vm1"]["screenshots"][0]["url"] == "/screenshots/%s/vm1-smoke.png" % run.name
    assert state["hosts"]["vm2"]["phase"] == "preflight"
    # During setup: the phase and what it is doing (OpenAdapt's viewer shows it), not "idle".
    live = hub.benchmark_live()
    assert {k: live[k] for k in ("status", "host", "phase", "phase_number")} == {
        "status": "setup", "host": "vm1", "phase": "image_pull", "phase_number": 2}, live
    assert live["detail"].startswith("Pulling 50B / 200B (25%) 1 of 4 layers"), live
    assert live["timestamp"].endswith("Z") and live["updated_at"] == state["updated"]
    # ?since= a time after the last change: nothing new, a small answer; before it: the whole one.
    assert hub.benchmark_live(since=state["updated"] + 1) == {"status": "setup", "changed": False,
                                                              "updated_at": state["updated"]}
    assert hub.benchmark_live(since=(state["updated"] - 1) * 1000)["detail"] == live["detail"]  # ms, as Date.now()


def test_hub_benchmark_events_and_completed_tasks_stay_out_of_event_messages(tmp_path):
    hub = Hub([tmp_path / "bench"])
    w = Writer(tmp_path / "bench")
    w.emit("run_start", playbook="run", hosts=["vm1"])
    for n in range(3):
        w.emit("task_start", "vm1", task_id="t%d" % n, domain="notepad", instruction="do %d" % n)
        w.emit("task_step", "vm1", task_id="t%d" % n, step_idx=1, action="click(1, 2)", screenshot="screenshots/t%d/1.png" % n)
        w.emit("task_end", "vm1", task_id="t%d" % n, success=n != 1, score=1.0 if n != 1 else 0.0, duration=2.5)
    records = hub.poll()
    last = json.loads(records[-1].data)
    bench = last["hosts"]["vm1"]["benchmark"]
    assert "completed" not in bench and bench["tasks_completed"] == 3
    assert bench["current_task"]["result"] == {"success": True, "score": 1.0, "num_steps": 1, "total_time_seconds": 2.5}
    live = hub.benchmark_live()
    assert live["status"] == "running" and live["tasks_completed"] == 3
    assert [t["task_id"] for t in live["completed"]] == ["t0", "t1", "t2"]
    assert live["current_task"]["steps"][0]["screenshot_url"] == "/screenshots/bench/t2/1.png"
    assert hub.snapshot()["state"]["hosts"]["vm1"]["benchmark"]["completed"][1]["result"]["success"] is False


def test_hub_replay_window(tmp_path):
    hub = Hub([tmp_path / "r"], history=3)
    w = Writer(tmp_path / "r")
    for i in range(5):
        w.emit("warning", "vm1", message="w%d" % i)
    hub.poll()
    assert hub.records_after(5) == []
    assert [r.id for r in hub.records_after(3)] == [4, 5]
    assert [r.id for r in hub.records_after(2)] == [3, 4, 5]
    assert hub.records_after(1) is None  # no longer held: the caller sends the snapshot
    assert hub.records_after(9) is None  # from another viewer process


def test_hub_survives_malformed_events(tmp_path):
    hub = Hub([tmp_path / "r"])
    w = Writer(tmp_path / "r")
    w.emit("phase_start", "vm1")  # no phase: apply_event raises KeyError
    with open(tmp_path / "r" / "events.jsonl", "a") as handle:
        handle.write('{"no": "type"}\n')
    w.emit("warning", "vm1", message="still here")
    records = hub.poll()
    assert len(records) == 1 and hub.bad_events == 2
    assert hub.snapshot()["state"]["hosts"]["vm1"]["warnings"] == ["still here"]


def test_several_run_dirs_merge_into_one_view(tmp_path):
    setup, bench = tmp_path / "a-setup", tmp_path / "b-bench"
    hub = Hub([setup])
    ws, wb = Writer(setup), Writer(bench)
    ws.emit("run_start", playbook="vm_setup", hosts=["vm1"])
    ws.emit("phase_start", "vm1", phase="validate", number=9, title="Final validation")
    ws.emit("phase_end", "vm1", phase="validate", number=9, status="ok", duration=1.0)
    ws.emit("run_end", status="successful", exit_code=0, hosts={"vm1": 0})
    hub.poll()
    assert hub.add_run_dir(bench) == "b-bench"
    assert hub.add_run_dir(bench) == "b-bench"  # once only
    wb.emit("run_start", playbook="run", hosts=["vm1"])
    wb.emit("task_start", "vm1", task_id="t1", domain="clock", instruction="x")
    records = hub.poll()
    assert [json.loads(r.data)["event"]["seq"] for r in records] == [1, 2]  # each run's own seq
    assert [r.id for r in records] == [5, 6]  # the viewer's sequence
    host = hub.snapshot()["state"]["hosts"]["vm1"]
    assert host["phases"]["validate"]["status"] == "ok"
    assert host["benchmark"]["current_task"]["task_id"] == "t1"
    assert [r["name"] for r in hub.snapshot()["runs"]] == ["a-setup", "b-bench"]


def test_watch_root_follows_newest_and_new_run_dirs(tmp_path):
    root = tmp_path / "runs"
    old, newest = root / "20260101T000000Z-vm-setup-1", root / "20260102T000000Z-vm-setup-2"
    Writer(old).emit("run_start", playbook="vm_setup", hosts=["old"])
    Writer(newest).emit("run_start", playbook="vm_setup", hosts=["vm1"])
    os.utime(old, (time.time() - 100, time.time() - 100))
    os.utime(old / "events.jsonl", (time.time() - 100, time.time() - 100))
    (root / "latest").symlink_to(newest.name)
    hub = Hub(watch_root=root, scan_interval=0)
    hub.poll()
    assert [r["name"] for r in hub.snapshot()["runs"]] == [newest.name]
    assert list(hub.snapshot()["state"]["hosts"]) == ["vm1"]
    Writer(newest).emit("run_end", status="successful", exit_code=0, hosts={"vm1": 0})
    # a benchmark run merges onto the setup view
    bench = Writer(root / "20260103T000000Z-run-3")
    bench.emit("run_start", playbook="run", hosts=["vm1"])
    hub.poll()
    assert len(hub.snapshot()["runs"]) == 2
    # a vm_setup run while another run is still going merges too
    busy = Writer(root / "20260103T000001Z-vm-setup-x")
    busy.emit("run_start", playbook="vm_setup", hosts=["vm2"])
    hub.poll()
    assert len(hub.snapshot()["runs"]) == 3
    bench.emit("run_end", status="successful", exit_code=0, hosts={"vm1": 0})
    busy.emit("run_end", status="successful", exit_code=0, hosts={"vm2": 0})
    hub.poll()
    # another vm_setup run starts a fresh view (no stale phases from the earlier one)
    again = Writer(root / "20260104T000000Z-vm-setup-4")
    again.emit("run_start", playbook="vm_setup", hosts=["vm9"])
    records = hub.poll()
    assert [r.kind for r in records] == ["reset", "event"]
    snap = hub.snapshot()
    assert [r["name"] for r in snap["runs"]] == ["20260104T000000Z-vm-setup-4"]
    assert list(snap["state"]["hosts"]) == ["vm9"]
    assert hub.records_after(1) is None


def test_screenshot_urls_and_no_path_traversal(tmp_path):
    assert screenshot_url("r 1", "screenshots/a b.png") == "/screenshots/r%201/a%20b.png"
    assert screenshot_url("r", "./screenshots/x/y.png") == "/screenshots/r/x/y.png"
    assert screenshot_url("r", "step_1.png") == "/screenshots/r/step_1.png"
    assert screenshot_url("r", "https://example.invalid/x.png") == "https://example.invalid/x.png"
    assert screenshot_url("r", None) is None
    run = tmp_path / "run"
    (run / "screenshots" / "sub").mkdir(parents=True)
    (run / "screenshots" / "sub" / "a.png").write_bytes(PNG_1X1)
    (run / "secret.txt").write_text("no")
    (run / "screenshots" / "link.txt").symlink_to(run / "secret.txt")
    hub = Hub([run])
    assert hub.screenshot_file("run", "sub/a.png") == (run / "screenshots" / "sub" / "a.png").resolve()
    for bad in ("../secret.txt", "sub/../../secret.txt", "/etc/passwd", "link.txt", "", "sub", "x\0y"):
        assert hub.screenshot_file("run", bad) is None, bad
    assert hub.screenshot_file("other", "sub/a.png") is None


# -- the server ------------------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    run = tmp_path / "run1"
    v = Viewer([run], poll_interval=0.05)
    url = v.start()
    try:
        yield v, url, run
    finally:
        v.stop()


def test_server_starts_before_the_run_and_serves_state(served):
    v, url, run = served
    assert url.startswith("http://127.0.0.1:") and v.port > 0
    status, body, headers = get(url)
    assert status == 200 and b"Initializing..." in body and "text/html" in headers["content-type"]
    assert get(url + "static/app.js")[0] == 200
    assert get(url + "static/style.css")[0] == 200
    assert get_json(url + "api/state")["state"]["status"] == "initializing"
    assert get_json(url + "api/benchmark-live") == {"status": "idle"}
    assert get(url + "api/benchmark-live?since=soon")[0] == 400
    assert get(url + "api/benchmark-live?since=nan")[0] == 400
    w = Writer(run)
    w.emit("run_start", playbook="run", hosts=["vm1"])
    w.emit("task_start", "vm1", task_id="t1", domain="notepad", instruction="Open Notepad")
    deadline = time.monotonic() + 5
    while get_json(url + "api/state")["id"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    live = get_json(url + "api/benchmark-live")
    assert live["status"] == "running" and live["tasks_completed"] == 0
    assert live["current_task"]["task_id"] == "t1" and live["current_task"]["steps"] == []
    assert set(live) >= {"status", "total_tasks", "tasks_completed", "current_task"}
    later = get_json(url + "api/benchmark-live?since=%d" % ((live["updated_at"] + 5) * 1000))
    assert later == {"status": "running", "changed": False, "updated_at": live["updated_at"]}


def test_screenshot_endpoint(served):
    _v, url, run = served
    (run / "screenshots").mkdir(parents=True)
    (run / "screenshots" / "vm1-smoke.png").write_bytes(PNG_1X1)
    (run / "state.json").write_text("{}")
    status, body, headers = get(url + "screenshots/run1/vm1-smoke.png")
    assert status == 200 and body == PNG_1X1 and headers["content-type"] == "image/png"
    for bad in ("screenshots/run1/../state.json", "screenshots/run1/%2e%2e/state.json",
                "screenshots/run1/..%2fstate.json", "screenshots/nope/vm1-smoke.png", "screenshots/run1/missing.png"):
        # raw request line: urllib would keep the dots, but be explicit
        conn = http.client.HTTPConnection("127.0.0.1", _v.port, timeout=5)
        conn.request("GET", "/" + bad)
        resp = conn.getresponse()
        assert resp.status == 404, bad
        assert b"{}" not in resp.read()
        conn.close()


def test_rejects_foreign_host_header(served):
    _v, url, _run = served
    assert get(url + "api/state", headers={"Host": "evil.example"})[0] == 400
    assert get(url.replace("127.0.0.1", "localhost") + "api/health")[0] == 200


def test_sse_snapshot_then_events_then_replay(served):
    v, url, run = served
    w = Writer(run)
    w.emit("run_start", playbook="vm_setup", hosts=["vm1"])
    w.emit("phase_start", "vm1", phase="preflight", number=1, title="Pre-flight checks")
    deadline = time.monotonic() + 5
    while get_json(url + "api/state")["id"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sse = SSE(v.port)
    try:
        snap = sse.next()
        assert snap["event"] == "state" and snap["id"] == "2" and snap.get("retry") == "1000"
        assert snap["json"]["state"]["hosts"]["vm1"]["phase"] == "preflight"
        written = w.emit("phase_end", "vm1", phase="preflight", number=1, status="ok", duration=0.5)
        msg = sse.next()
        assert msg["event"] == "waa" and msg["id"] == "3"
        assert msg["json"]["event"] == written
        assert msg["json"]["hosts"]["vm1"]["phases"]["preflight"]["status"] == "ok"
        assert msg["json"]["run_state"]["status"] == "running"
    finally:
        sse.close()
    w.emit("warning", "vm1", message="late")
    time.sleep(0.3)
    # a reconnecting EventSource sends Last-Event-ID: only what it missed, no snapshot
    sse = SSE(v.port, headers={"Last-Event-ID": "3"})
    try:
        msg = sse.next()
        assert msg["event"] == "waa" and msg["id"] == "4" and msg["json"]["event"]["message"] == "late"
    finally:
        sse.close()
    sse = SSE(v.port, path="/api/events?since=2")
    try:
        assert [sse.next()["id"], sse.next()["id"]] == ["3", "4"]
    finally:
        sse.close()


def test_stop_ends_open_streams_promptly(tmp_path):
    v = Viewer([tmp_path / "r"])
    v.start()
    port = v.port
    sse = SSE(port)
    assert sse.next()["event"] == "state"
    started = time.monotonic()
    v.stop()
    assert time.monotonic() - started < 5
    with pytest.raises((EOFError, OSError, http.client.HTTPException)):
        sse.next(timeout=3)
    sse.close()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the port is released


def test_explicit_port_and_add_run_dir(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Viewer([tmp_path / "a"], port=port) as v:
        assert v.url == "http://127.0.0.1:%d/" % port
        assert v.add_run_dir(tmp_path / "b") == "b"
        Writer(tmp_path / "b").emit("run_start", playbook="run", hosts=["vm1"])
        deadline = time.monotonic() + 5
        while get_json(v.url + "api/state")["state"]["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_viewer_needs_a_source():
    with pytest.raises(ValueError):
        Viewer()


def test_open_browser_prints_and_never_fails_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(viewer_mod.sys, "platform", "linux")
    assert open_browser("http://127.0.0.1:1/") is False
    assert "http://127.0.0.1:1/" in capsys.readouterr().err

    class Fake:
        def __init__(self):
            self.opened = []

        def open(self, url, new=0):
            self.opened.append(url)
            return True

    fake = Fake()
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(viewer_mod.webbrowser, "get", lambda: fake)
    assert open_browser("http://127.0.0.1:2/") is True and fake.opened == ["http://127.0.0.1:2/"]
    monkeypatch.setattr(viewer_mod.webbrowser, "get", lambda: viewer_mod.webbrowser.GenericBrowser("lynx"))
    assert open_browser("http://127.0.0.1:3/") is False  # never a terminal browser

    def boom():
        raise viewer_mod.webbrowser.Error("no browser")

    monkeypatch.setattr(viewer_mod.webbrowser, "get", boom)
    assert open_browser("http://127.0.0.1:4/") is False
    monkeypatch.setenv("WAA_NO_BROWSER", "1")
    monkeypatch.setattr(viewer_mod.webbrowser, "get", lambda: fake)
    assert open_browser("http://127.0.0.1:5/") is False and len(fake.opened) == 1


def test_viewer_beyond_loopback_needs_its_token_warns_and_bounds_connections(tmp_path):
    """Bound beyond loopback: a random token in the printed URL (without it every path answers 401;
    the page opened with it gets a cookie for its own requests), a warning, and at most 32
    connections at once: of 40 open event streams, the ones past the limit are refused."""
    import re as _re
    import socket as _socket
    import subprocess
    import sys as _sys
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    proc = subprocess.Popen([_sys.executable, "-m", "openadapt_waa.viewer", str(tmp_path), "--host", "127.0.0.2",
                             "--no-browser"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            stdin=subprocess.DEVNULL)
    held = []
    try:
        lines = []
        for _ in range(20):
            line = proc.stderr.readline()
            lines.append(line)
            if "Live viewer:" in line:
                break
        text = "".join(lines)
        assert "Warning: the viewer listens on 127.0.0.2, beyond loopback" in text, text
        assert "at most 32 connections" in text
        url = _re.search(r"Live viewer: (\S+)", text).group(1)
        base, token = url.split("?token=")
        assert len(token) >= 24
        for path in ("", "api/state", "api/events", "static/app.js", "screenshots/x/y.png"):
            with pytest.raises(HTTPError) as refused:
                urlopen(base + path, timeout=10)
            assert refused.value.code == 401, path
        with pytest.raises(HTTPError):
            urlopen(base + "api/state?token=" + "x" * len(token), timeout=10)
        page = urlopen(url, timeout=10)
        cookie = page.headers["Set-Cookie"].split(";")[0]
        assert page.status == 200 and cookie == "waa_viewer_token=" + token
        assert urlopen(Request(base + "api/state", headers={"Cookie": cookie}), timeout=10).status == 200

        port = int(base.rsplit(":", 1)[1].strip("/"))
        statuses = []
        for _ in range(40):
            sock = _socket.create_connection(("127.0.0.2", port), timeout=10)
            sock.sendall(("GET /api/events HTTP/1.1\r\nHost: 127.0.0.2\r\nCookie: %s\r\n\r\n" % cookie).encode())
            statuses.append(sock.recv(64).split(b"\r\n", 1)[0])
            held.append(sock)
        served = sum(1 for status in statuses if b" 200" in status)
        assert 1 <= served <= 32 and sum(1 for status in statuses if b" 503" in status) >= 8, statuses
    finally:
        for sock in held:
            sock.close()
        proc.terminate()
        proc.wait(timeout=10)
