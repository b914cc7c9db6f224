"""The controller that talks to the WAA server inside Windows (standard library here; the real
one uses requests). The simulator's server listens on 127.0.0.1:5000 inside the container: the
real client's emulator_ip 20.20.20.21 (the VM behind dockur's NAT) is mapped to it."""
import json
import logging
import urllib.error
import urllib.request

logger = logging.getLogger("desktopenv.pycontroller")
SIM_ADDRESS = {"20.20.20.21": "127.0.0.1"}


class ServerConnectionError(ConnectionError):
    pass


class PythonController:
    def __init__(self, vm_ip, server_port=5000):
        self.vm_ip = vm_ip
        self.http_server = "http://%s:%d" % (SIM_ADDRESS.get(vm_ip, vm_ip), server_port)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _request(self, method, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http_server + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise ServerConnectionError("HTTPConnectionPool(host='%s', port=5000): Max retries exceeded with url: %s (%s)"
                                        % (self.vm_ip, path, exc))

    def get_screenshot(self):
        return self._request("GET", "/screenshot")

    def get_accessibility_tree(self, backend="uia"):
        return json.loads(self._request("GET", "/accessibility?backend=" + backend)).get("AT")

    def execute_python_command(self, code):
        out = json.loads(self._request("POST", "/execute", {"command": ["python", "-c", code], "shell": False}))
        return out

    def read_timeout(self, path):
        raise ServerConnectionError("HTTPConnectionPool(host='%s', port=5000): Read timed out. (read timeout=120)"
                                    % self.vm_ip)
