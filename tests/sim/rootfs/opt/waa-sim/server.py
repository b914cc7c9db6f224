"""WAA's Flask server (src/win-arena-container/vm/setup/server/main.py) as the simulated
Windows runs it on port 5000, on the standard library.

Responses are shaped like Flask's in debug mode: jsonify() pretty-prints with indent 2 and
sorted keys plus a newline; plain strings are text/html. Like WAA's @app.errorhandler(Exception),
every exception, routing errors (404, 405) and JSON body errors (415, 400) included, becomes
HTTP 500 {"status": "error", "message": str(e)}. Route handlers mirror WAA's code line for line
where it matters (argument handling, error paths, quirks), with the emulated Windows of
wincmd.py in place of the real subprocess/pyautogui/pygetwindow.
"""
import base64
import json
import os
import re
import shlex
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import common
import desktop as desktop_mod
import wincmd

PORT = 5000
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM")


class HTTPError(Exception):
    """werkzeug.exceptions.HTTPException: str() is "<code> <name>: <description>"."""

    def __init__(self, code, name, description):
        super().__init__(f"{code} {name}: {description}")


def jsonify(obj, status=200):
    return status, [("Content-Type", "application/json")], (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def text(body, status=200):
    return status, [("Content-Type", "text/html; charset=utf-8")], body.encode()


class Request:
    def __init__(self, handler, body):
        url = urlsplit(handler.path)
        self.method, self.path, self.body = handler.command, url.path, body
        self.args = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.headers = handler.headers
        self.client = handler.client_address[0]

    def json(self):
        """Flask's request.json / get_json()."""
        mimetype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not (mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))):
            raise HTTPError(415, "Unsupported Media Type", "Did not attempt to load JSON data because the "
                            "request Content-Type was not 'application/json'.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as exc:
            raise HTTPError(400, "Bad Request", f"Failed to decode JSON object: {exc}")


def _expanduser(arg):
    return wincmd.HOME + arg[1:] if arg.startswith("~/") else arg  # os.path.expanduser on Windows


class App:
    def __init__(self, faults):
        self.faults = faults
        self.desktop = desktop_mod.Desktop(common.env_int("XRES", 1440), common.env_int("YRES", 900))
        self.win = wincmd.Windows(self.desktop, common.env_float("WAA_SIM_ACTION_SLEEP_SCALE", 1.0))
        self.subprocess = self.win.modules["subprocess"]
        self.computer = wincmd.Computer(self.win)
        self.exec_timeout = common.env_float("WAA_SIM_EXEC_TIMEOUT", 120)
        if self.exec_timeout == int(self.exec_timeout):
            self.exec_timeout = int(self.exec_timeout)  # TimeoutExpired prints "120 seconds", not "120.0"
        self.stopped = False
        self.answered_external = 0
        self.lock = threading.Lock()
        self.server = None
        self.routes = {
            "/probe": (("GET",), self.probe),
            "/screenshot": (("GET",), self.screenshot),
            "/accessibility": (("GET",), self.accessibility),
            "/execute": (("POST",), self.execute),
            "/setup/execute": (("POST",), self.execute),
            "/execute_windows": (("POST",), self.execute_windows),
            "/update_computer": (("POST",), self.update_computer),
            "/setup/launch": (("POST",), self.launch),
            "/setup/close_all": (("POST",), self.close_all),
            "/setup/close_window": (("POST",), self.close_window),
            "/setup/activate_window": (("POST",), self.activate_window),
            "/screen_size": (("POST",), self.screen_size),
            "/platform": (("GET",), lambda req: text("Windows")),
            "/cursor_position": (("GET",), self.cursor_position),
            "/shutdown": (("POST",), self.shutdown),
        }

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        req = Request(handler, handler.rfile.read(length) if length > 0 else b"")
        try:
            if "server_500" in self.faults:
                raise RuntimeError("Simulated server fault (WAA_SIM_FAULT=server_500)")
            status, headers, body = self.dispatch(req)
        except Exception as exc:  # WAA: @app.errorhandler(Exception)
            status, headers, body = jsonify({"status": "error", "message": str(exc)}, 500)
        # Counted before the answer goes out: a client that reads the Nth answer and asks again at
        # once must find the server already stopped (stop_answering_after=Nreq), not race its count.
        if req.client != "127.0.0.1":  # requests from outside the container, not the entry script's probe
            self.answered(req)
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if req.method != "HEAD":
            handler.wfile.write(body)
        handler.close_connection = True

    def dispatch(self, req):
        route = self.routes.get(req.path)
        if route is None:
            raise HTTPError(404, "Not Found", "The requested URL was not found on the server. If you entered "
                            "the URL manually please check your spelling and try again.")
        methods, view = route
        allowed = set(methods) | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"}
        if req.method not in allowed:
            raise HTTPError(405, "Method Not Allowed", "The method is not allowed for the requested URL.")
        if req.method == "OPTIONS":
            return 200, [("Content-Type", "text/html; charset=utf-8"), ("Allow", ", ".join(sorted(allowed)))], b""
        return view(req)

    # -- faults -----------------------------------------------------------------------------

    def answered(self, req):
        with self.lock:
            self.answered_external += 1
            first = self.answered_external == 1
        if first:
            common.event("first_answer")
        limit = self.faults.get("stop_answering_after")
        m = re.fullmatch(r"(\d+)(r|req|reqs|requests?)", limit or "")
        if m and self.answered_external >= int(m.group(1)):
            self.stop()

    def stop(self):
        """The server stops answering: by default connections are accepted and never answered
        (a hung VM: clients time out); WAA_SIM_STOP_MODE=refuse closes the port instead."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
        common.event("stopped_answering")
        if os.environ.get("WAA_SIM_STOP_MODE", "hang") == "refuse":
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def crash(self):
        common.event("crash")
        common.end_container(common.env_int("WAA_SIM_CRASH_CODE", 137))

    def arm_faults(self):
        limit = self.faults.get("stop_answering_after", "")
        if "stop_answering_after" in self.faults:
            m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|sec)?", limit or "10")
            if m:
                threading.Timer(float(m.group(1)), self.stop).start()
            elif not re.fullmatch(r"\d+(r|req|reqs|requests?)", limit):
                raise SystemExit(f"waa-sim: bad stop_answering_after value {limit!r}")
        if "crash_after_boot" in self.faults:
            threading.Timer(float(self.faults["crash_after_boot"] or 5), self.crash).start()

    # -- routes -----------------------------------------------------------------------------

    def probe(self, req):
        return jsonify({"status": "Probe successful", "message": "Service is operational"})

    def screenshot(self, req):
        if "tiny_screenshot" in common.faults():  # a display capture that comes back as one pixel
            return 200, [("Content-Type", "image/png"), ("Cache-Control", "no-cache")], desktop_mod.encode_png(1, 1, b"\0\0\0")
        return 200, [("Content-Type", "image/png"), ("Cache-Control", "no-cache")], self.desktop.screenshot_png()

    def accessibility(self, req):
        backend = req.args.get("backend", "win32")
        if backend not in {"win32", "uia"}:
            return text("Invalid backend specified", 400)
        if "empty_at" in self.faults:
            return jsonify({"AT": ""})
        return jsonify({"AT": self.desktop.accessibility_xml(backend, bare="bare_at" in self.faults)})

    def execute(self, req):
        common.windows_writes("execute")  # what a task runs changes Windows (files, settings, apps)
        data = req.json()
        shell = data.get("shell", False)
        command = data.get("command", "" if shell else [])
        if isinstance(command, str) and not shell:
            command = shlex.split(command)
        for i, arg in enumerate(command):
            if arg.startswith("~/"):
                command[i] = _expanduser(arg)
        try:
            result = self.subprocess.run(command, stdout=wincmd.PIPE, stderr=wincmd.PIPE, shell=shell, text=True,
                                         timeout=self.exec_timeout)
            return jsonify({"status": "success", "output": result.stdout, "error": result.stderr,
                            "returncode": result.returncode})
        except Exception as exc:
            return jsonify({"status": "error", "message": str(exc)}, 500)

    def execute_windows(self, req):
        command = req.json().get("command")
        if not isinstance(command, str):
            return jsonify({"status": "error", "message": "exec() arg 1 must be a string, bytes or code object"}, 500)
        try:
            rc, out, err = self.win.exec_code(command, {"computer": self.computer}, capture_exceptions=False)
            if "error" in out.lower():
                raise Exception(out)
            return jsonify({"status": "success"})
        except Exception as exc:
            return jsonify({"status": "error", "message": str(exc)}, 500)

    def update_computer(self, req):
        data = req.json()
        image = base64.b64decode(data.get("screenshot"))
        if not image.startswith(IMAGE_SIGNATURES):  # WAA opens it with PIL
            raise Exception(f"cannot identify image file <_io.BytesIO object at 0x{id(image):012x}>")
        self.computer.update(rects=data.get("rects"), window_rect=data.get("window_rect"),
                             scale=data.get("scale"), clipboard_content=data.get("clipboard_content"),
                             swap_ctrl_alt=data.get("swap_ctrl_alt", False))
        return jsonify({"success": True})

    def launch(self, req):
        data = req.json()
        shell = data.get("shell", False)
        command = data.get("command", "" if shell else [])
        if isinstance(command, str) and not shell:
            command = shlex.split(command)
        for i, arg in enumerate(command):
            if arg.startswith("~/"):
                command[i] = _expanduser(arg)
        try:
            self.subprocess.Popen(command, shell=shell)
            return text("{:} launched successfully".format(command if shell else " ".join(command)))
        except Exception as exc:
            return jsonify({"status": "error", "message": str(exc)}, 500)

    def close_all(self, req):
        with self.desktop.lock:
            windows = list(self.desktop.windows)
        for window in windows:  # WAA skips "Program Manager", untitled and PowerShell windows
            if window.title not in ("Program Manager", "") and "powershell" not in window.title.lower():
                self.desktop.close(window, 0)
        return text("All windows closed successfully.")

    def close_window(self, req):
        data = req.json()
        if "window_name" not in data:
            return text("window_name required", 400)
        name, strict = data["window_name"], data.get("strict", False)
        if data.get("by_class", False):
            return text("Get window by class name is not supported on Windows currently.", 500)
        windows = self.desktop.find(name)
        if not windows:
            return text("Window {:} not found (empty results)".format(name), 404)
        if strict:  # WAA compares each window with itself (`wnd.title == wnd`): strict never matches
            return text("Window {:} not found (strict mode).".format(name), 404)
        self.desktop.close(windows[0], 0)
        return text("Window closed successfully.")

    def activate_window(self, req):
        data = req.json()
        name = data.get("window_name", None)
        if not name:
            return text("window_name required", 400)
        if data.get("by_class", False):
            return text("Get window by class name is currently not supported on Windows.", 500)
        windows = self.desktop.find(name)
        if not windows:
            return text("Window {:} not found (empty results)".format(name), 404)
        if data.get("strict", False):  # the same self-comparison as in close_window
            return text("Window {:} not found (strict mode).".format(name), 404)
        self.desktop.activate(windows[0])
        return text("Window activated successfully")

    def screen_size(self, req):
        return jsonify({"width": self.desktop.width, "height": self.desktop.height})

    def cursor_position(self, req):
        # WAA returns a bare (x, y) tuple, which Flask rejects.
        raise TypeError("The view function did not return a valid response. The return type must be a string, "
                        "dict, list, tuple with headers or status, Response instance, or WSGI callable, but it "
                        "was a int.")

    def shutdown(self, req):
        threading.Timer(2.0, lambda: os._exit(0)).start()  # `shutdown /s /t 2`: Windows and QEMU end
        return jsonify({"status": "Shutdown started successfully", "message": "Shutdown started successfully"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.0.3"
    sys_version = "Python/" + wincmd.PYTHON_VERSION

    def _dispatch(self):
        self.server.app.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app):
        super().__init__(("0.0.0.0", PORT), Handler)
        self.app = app
        self.held = []

    def process_request(self, request, client_address):
        if self.app.stopped:
            self.held.append(request)  # accepted but never answered
            return
        super().process_request(request, client_address)


def run(faults):
    """Serve until the process ends. Records the instant the port starts answering."""
    wincmd.install_stdio_router()
    app = App(faults)
    server = app.server = Server(app)
    common.event("server_ready")
    app.arm_faults()
    server.serve_forever()
    server.server_close()  # WAA_SIM_STOP_MODE=refuse: the port is closed, the VM keeps running
    while True:
        time.sleep(3600)
