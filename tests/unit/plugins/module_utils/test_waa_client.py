import json
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._waa_client import (
    WaaClient, WaaError, find_named, local_name, parse_at, png_info)
import re


def make_png(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + b"\x80" * (w * 3) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_png_info():
    assert png_info(make_png(1280, 800)) == (1280, 800)
    for bad in (b"", b"GIF89a" + b"\x00" * 40, make_png(4, 4)[:20]):
        with pytest.raises(ValueError):
            png_info(bad)
    broken = bytearray(make_png(4, 4))
    broken[20] ^= 0xFF
    with pytest.raises(ValueError):
        png_info(bytes(broken))


AT = ('<desktop xmlns:st="urn:st" xmlns:cp="urn:cp"><pane name="Taskbar"><button name="Notepad - 1 running window"/>'
      '</pane><window name="Untitled - Notepad" st:enabled="True" cp:screencoord="(0, 0)"/></desktop>')


def test_parse_at_and_find_windows():
    root = parse_at(AT)
    assert local_name(root.tag) == "desktop"
    title = re.compile(r"(?i)^.* - notepad$")
    assert find_named(root, title) == ["Untitled - Notepad"]
    # Undeclared prefixes are declared on the fly.
    root = parse_at('<desktop><window name="x" st:visible="True" win:class="Notepad"/></desktop>')
    assert local_name(root.tag) == "desktop"
    for bad in ("", "   ", "<desktop>", '<!DOCTYPE x [<!ENTITY a "b">]><desktop/>'):
        with pytest.raises(ValueError):
            parse_at(bad)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/probe":
            return self.reply(200, {"status": "Probe successful", "message": "Service is operational"})
        if self.path == "/accessibility?backend=uia":
            return self.reply(200, {"AT": AT})
        if self.path == "/screenshot":
            return self.reply(200, make_png(8, 8), "image/png")
        if self.path == "/platform":
            return self.reply(200, b"Windows", "text/plain")
        return self.reply(500, {"status": "error", "message": "boom"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/execute":
            return self.reply(200, {"status": "success", "output": "Point(x=1, y=2)", "error": "", "returncode": 0,
                                    "echo": body})
        if self.path == "/setup/launch":
            return self.reply(200, ("%s launched successfully" % body["command"]).encode(), "text/plain")
        if self.path == "/screen_size":
            return self.reply(200, {"width": 1280, "height": 800})
        if self.path == "/setup/close_all":
            return self.reply(200, b"closed", "text/plain")
        return self.reply(500, {"status": "error", "message": "no route"})


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_client_routes(server, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # must be ignored
    waa = WaaClient(server, timeout=5)
    assert waa.probe()["status"] == "Probe successful"
    assert waa.accessibility("uia") == AT
    assert png_info(waa.screenshot()) == (8, 8)
    res = waa.execute(["python", "-c", "print(1)"])
    assert "Point" in res["output"] and res["echo"] == {"command": ["python", "-c", "print(1)"], "shell": False}
    assert waa.launch("notepad") == "notepad launched successfully"
    assert waa.screen_size() == {"width": 1280, "height": 800}
    assert waa.platform() == "Windows" and waa.close_all() == "closed"
    with pytest.raises(WaaError) as err:
        waa.accessibility("win32")
    assert err.value.status == 500 and "boom" in err.value.message


def test_client_unreachable_and_bad_url():
    with pytest.raises(WaaError) as err:
        WaaClient("http://127.0.0.1:9", timeout=2).probe()
    assert err.value.status is None
    with pytest.raises(ValueError):
        WaaClient("ftp://x")
