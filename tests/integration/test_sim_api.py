"""The simulator's WAA server API, against a real container (tests/sim, docker, no mocks).

Shapes follow the real WAA server (Flask in debug mode): JSON pretty-printed with indent 2,
sorted keys and a trailing newline; every error, routing errors included, is HTTP 500 JSON.
"""
import base64
import json
import struct
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
import waasim_harness as h  # noqa: E402

IMAGE = "waa-sim:test"
JSON_HEADERS = {"Content-Type": "application/json"}
NS_CP = "uri:deskat:component.at-spi.gnome.org"
NS_ST = "uri:deskat:state.at-spi.gnome.org"
NS_WIN = "uri:deskat:uia.windows.microsoft.org"


def flask_json(obj):
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


@pytest.fixture(scope="module")
def sim(client):
    h.build_image(client, IMAGE)
    s = h.Sim(client, IMAGE, env={"WAA_SIM_PROBE_INTERVAL": "1", "WAA_SIM_EXEC_TIMEOUT": "3",
                                  "WAA_SIM_ACTION_SLEEP_SCALE": "0"}).start()
    try:
        s.wait_log("^Keeping container alive$", timeout=90)
        yield s
    finally:
        s.remove()


@pytest.fixture
def api(sim):
    """Request helper; closes every window after the test so tests stay independent."""
    def call(method, path, **kw):
        kw.setdefault("timeout", 20)
        return requests.request(method, sim.url(path), **kw)
    yield call
    requests.post(sim.url("/setup/close_all"), timeout=20)


def post_json(api, path, body):
    return api("POST", path, data=json.dumps(body), headers=JSON_HEADERS)


def tree(api, backend="uia"):
    r = api("GET", f"/accessibility?backend={backend}")
    assert r.status_code == 200
    return ET.fromstring(r.json()["AT"])


def notepads(api):
    return [e for e in tree(api) if e.tag == "notepad"]


def test_probe_exact_bytes(api):
    r = api("GET", "/probe")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == b'{\n  "message": "Service is operational",\n  "status": "Probe successful"\n}\n'


def test_screenshot_is_a_valid_png(api):
    r = api("GET", "/screenshot")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    png = r.content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(png):  # walk the chunks, checking each CRC
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + data)
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    assert size == (1440, 900)
    assert len(zlib.decompress(idat)) == (1 + 1440 * 3) * 900


@pytest.mark.parametrize("query", ["", "?backend=win32", "?backend=uia"])
def test_accessibility_tree_shape(api, query):
    r = api("GET", f"/accessibility{query}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert list(body) == ["AT"]
    at = body["AT"]
    assert at.startswith("<desktop xmlns:st=") and at.endswith("</desktop>")
    for prefix, uri in (("st", NS_ST), ("cp", NS_CP), ("win", NS_WIN)):
        assert f'xmlns:{prefix}="{uri}"' in at
    root = ET.fromstring(at)
    assert root.tag == "desktop"  # local name, no namespace on the root
    progman = next(e for e in root if e.get("name") == "Program Manager")
    assert progman.tag == "progman"
    assert progman.get(f"{{{NS_ST}}}enabled") == "true" and progman.get(f"{{{NS_ST}}}visible") == "true"
    assert progman.get(f"{{{NS_CP}}}screencoord") == "(0, 0)"
    assert progman.get(f"{{{NS_CP}}}size") == "(1440, 900)"
    assert progman.get(f"{{{NS_WIN}}}class").startswith("<class 'pywinauto.controls.")
    assert all(e.tag == e.tag.lower() for e in root.iter())


@pytest.mark.parametrize("query", ["?backend=foo", "?backend="])
def test_accessibility_bad_backend_is_400(api, query):
    r = api("GET", f"/accessibility{query}")
    assert r.status_code == 400
    assert r.text == "Invalid backend specified"


def test_unknown_route_wrong_method_and_bad_body_are_500_json(api):
    r = api("GET", "/no/such/route")
    assert r.status_code == 500 and r.headers["Content-Type"] == "application/json"
    assert r.content == flask_json({"status": "error", "message": (
        "404 Not Found: The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again.")})
    r = api("GET", "/execute")
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "405 Method Not Allowed: The method is not allowed for "
                                                      "the requested URL."}
    r = api("POST", "/execute", data='{"command": "ver"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 500
    assert r.json()["message"].startswith("415 Unsupported Media Type")
    r = api("POST", "/execute", data="{not json", headers=JSON_HEADERS)
    assert r.status_code == 500 and r.json()["message"].startswith("400 Bad Request: Failed to decode JSON object")


@pytest.mark.parametrize("path", ["/execute", "/setup/execute"])
@pytest.mark.parametrize("command", [
    'python -c "import pyautogui; print(pyautogui.position())"',
    ["python", "-c", "import pyautogui; print(pyautogui.position())"],
])
def test_execute_pyautogui_position(api, path, command):
    r = post_json(api, path, {"command": command, "shell": False})
    assert r.status_code == 200
    body = r.json()
    assert r.content == flask_json(body)  # indent 2, sorted keys, newline
    assert list(body) == ["error", "output", "returncode", "status"]
    assert body["status"] == "success" and body["returncode"] == 0 and body["error"] == ""
    assert body["output"].startswith("Point(x=") and body["output"].endswith(")\n")


def test_execute_moves_the_mouse_and_reports_errors_like_windows(api):
    r = post_json(api, "/execute", {"command": ["python", "-c", "import pyautogui; pyautogui.moveTo(100, 200); "
                                                "print(pyautogui.position()); print(pyautogui.size())"]})
    assert r.json()["output"] == "Point(x=100, y=200)\nSize(width=1440, height=900)\n"
    r = post_json(api, "/execute", {"command": ["python", "-c", "1/0"]})
    body = r.json()
    assert body["returncode"] == 1 and body["error"].endswith("ZeroDivisionError: division by zero\n")
    r = post_json(api, "/execute", {"command": "frobnicate --now", "shell": True})
    assert r.json() == {"status": "success", "returncode": 1, "output": "", "error": (
        "'frobnicate' is not recognized as an internal or external command,\noperable program or batch file.\n")}
    r = post_json(api, "/execute", {"command": "frobnicate --now"})
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "[WinError 2] The system cannot find the file specified"}


def test_screen_size_and_platform(api):
    r = api("POST", "/screen_size")
    assert r.status_code == 200 and r.content == b'{\n  "height": 900,\n  "width": 1440\n}\n'
    assert api("GET", "/screen_size").status_code == 500  # POST only, as in WAA
    r = api("GET", "/platform")
    assert r.status_code == 200 and r.text == "Windows" and r.headers["Content-Type"].startswith("text/html")


def test_notepad_via_setup_launch_and_close_all(api):
    empty = api("GET", "/screenshot").content
    r = post_json(api, "/setup/launch", {"command": "notepad"})
    assert r.status_code == 200 and r.text == "notepad launched successfully"
    [win] = notepads(api)
    assert win.get("name") == "Untitled - Notepad"
    assert win.get(f"{{{NS_ST}}}active") == "true"
    assert api("GET", "/screenshot").content != empty  # the window is drawn
    r = api("POST", "/setup/close_all")
    assert r.status_code == 200 and r.text == "All windows closed successfully."
    assert notepads(api) == []
    assert api("GET", "/screenshot").content == empty


def test_notepad_via_execute_and_taskkill(api):
    r = post_json(api, "/execute", {"command": "start notepad", "shell": True})
    assert r.json() == {"status": "success", "returncode": 0, "output": "", "error": ""}
    assert [w.get("name") for w in notepads(api)] == ["Untitled - Notepad"]
    r = post_json(api, "/execute", {"command": "taskkill /IM notepad.exe /F", "shell": False})
    body = r.json()
    assert body["returncode"] == 0
    assert body["output"].startswith('SUCCESS: The process "notepad.exe" with PID ')
    assert notepads(api) == []
    r = post_json(api, "/execute", {"command": ["taskkill", "/IM", "notepad.exe", "/F"]})
    assert r.json()["returncode"] == 128
    assert r.json()["error"] == 'ERROR: The process "notepad.exe" not found.\n'


def test_notepad_via_execute_windows_and_close_window(api):
    # WAA's `computer` has no parts until /update_computer, exactly like the real server.
    r = post_json(api, "/execute_windows", {"command": 'computer.os.open_program("notepad")'})
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "'NoneType' object has no attribute 'open_program'"}

    r = post_json(api, "/execute_windows", {"command": 'import subprocess\nsubprocess.Popen("notepad")'})
    assert r.status_code == 200 and r.content == flask_json({"status": "success"})
    r = post_json(api, "/execute_windows", {"command": 'import pyautogui\npyautogui.write("hello agent")'})
    assert r.json() == {"status": "success"}
    [win] = notepads(api)
    assert win.find("edit").text == "hello agent"
    r = post_json(api, "/setup/close_window", {"window_name": "Notepad"})
    assert r.status_code == 200 and r.text == "Window closed successfully."
    assert notepads(api) == []
    r = post_json(api, "/setup/close_window", {"window_name": "Notepad"})
    assert r.status_code == 404 and r.text == "Window Notepad not found (empty results)"

    shot = base64.b64encode(api("GET", "/screenshot").content).decode()
    r = post_json(api, "/update_computer", {"rects": [[0, 0, 10, 10]], "window_rect": [0, 0, 1440, 900],
                                            "screenshot": shot, "scale": [1.0, 1.0]})
    assert r.json() == {"success": True}
    r = post_json(api, "/execute_windows", {"command": 'computer.os.open_program("notepad")'})
    assert r.json() == {"status": "success"}
    [win] = notepads(api)
    assert win.get(f"{{{NS_CP}}}size") == "(1440, 852)"  # open_program maximises the window
    r = post_json(api, "/execute_windows", {"command": 'computer.os.open_program("mspaint")'})
    assert r.status_code == 500  # WAA: output containing "error" turns into a 500
    assert r.json() == {"status": "error", "message": "error: Program mspaint is not installed\n"}


def test_bare_notepad_in_execute_blocks_like_windows(api, sim):
    # subprocess.run(["notepad"]) waits for Notepad to exit: the 120 s timeout (3 s here) hits.
    t0 = time.monotonic()
    r = post_json(api, "/execute", {"command": "notepad"})
    assert time.monotonic() - t0 >= 2.9
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "Command '['notepad']' timed out after 3 seconds"}
    assert notepads(api) == []  # the timed-out process was killed

    # Closing the window ends the waiting request: taskkill /F gives exit code 1.
    result = {}
    t = threading.Thread(target=lambda: result.update(r=post_json(api, "/execute", {"command": "notepad"})))
    t.start()
    deadline = time.monotonic() + 2.5
    while not notepads(api) and time.monotonic() < deadline:
        time.sleep(0.1)
    post_json(api, "/execute", {"command": "taskkill /IM notepad.exe /F"})
    t.join(10)
    assert result["r"].json() == {"status": "success", "returncode": 1, "output": "", "error": ""}


def test_server_ready_instant_and_process_names(sim):
    events = sim.exec("cat", "/var/log/waa-sim/events.log")[1].split()
    names = events[1::2]
    assert names[:3] == ["qemu_started", "windows_started", "server_ready"]
    qemu, started, ready = (float(events[2 * names.index(n)]) for n in names[:3])
    assert sim.started_at - 1 < qemu < started < ready < time.time()
    assert sim.instant("server_ready") == pytest.approx(ready, abs=1e-5)
    # The configured delays are floors; a loaded machine (xdist workers) only adds to them.
    assert 1.9 <= started - qemu < 2.0 + 5  # WAA_SIM_BOOT_SECONDS default
    assert 2.9 <= ready - started < 3.0 + 5  # WAA_SIM_SERVER_DELAY default
    rc, ps = sim.exec("ps", "-eo", "pid,comm,args")
    assert rc == 0 and "qemu-system-x86 qemu-system-x86_64" in ps
    assert "\n      1 entry.sh" in ps  # the WAA entry script is PID 1


def test_novnc_page_on_8006(sim):
    r = requests.get(sim.url("/", 8006), timeout=10)
    assert r.status_code == 200 and "<title>Windows</title>" in r.text
