"""A Docker Engine stand-in of another version, in front of the stand-in's real daemon.

The stand-in's dockerd is Debian's docker.io 20.10 (API 1.41). A new Azure VM that installs
docker-ce gets Engine 29, which speaks API 1.44 to 1.52 and refuses older clients with
HTTP 400 "client version 1.41 is too old. Minimum supported API version is 1.44, please
upgrade your client to a newer version". This proxy listens on a unix socket of its own and
plays such an engine: ``/version`` and ``/_ping`` report the configured versions, a request
for a version outside the range gets the real daemon's status and message, and every other
request is forwarded to the real daemon with its version rewritten to the one the daemon
speaks. With ``--api 1.41 --min-api 1.12`` it plays an old engine the same way.

    python tests/standin/engine_proxy.py --listen /tmp/e29.sock --api 1.52 --min-api 1.44
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import threading
from pathlib import Path

_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
ENGINE_29 = {"api": (1, 52), "min_api": (1, 44), "engine": "29.0.0"}
OLD_ENGINE = {"api": (1, 41), "min_api": (1, 12), "engine": "20.10.24"}


def _fmt(version: tuple[int, int]) -> str:
    return "%d.%d" % version


def _respond(conn: socket.socket, status: int, body: bytes, ctype: str = "application/json",
             extra: dict | None = None) -> None:
    reason = {200: "OK", 400: "Bad Request"}.get(status, "Error")
    headers = {"Content-Type": ctype, "Content-Length": str(len(body)), "Connection": "close"}
    headers.update(extra or {})
    head = "HTTP/1.1 %d %s\r\n" % (status, reason) + "".join("%s: %s\r\n" % kv for kv in headers.items())
    conn.sendall(head.encode("latin-1") + b"\r\n" + body)


class EngineProxy:
    """Plays a Docker Engine with API versions ``min_api``..``api`` on ``listen``."""

    def __init__(self, listen: str, backend: str = "/var/run/docker.sock", api=(1, 52), min_api=(1, 44),
                 engine: str = "29.0.0"):
        self.listen, self.backend = listen, backend
        self.api, self.min_api, self.engine = tuple(api), tuple(min_api), engine
        self.requests: list[str] = []  # request lines as the client sent them
        self.rejected: list[str] = []
        self._backend_version = None
        self._server = None
        self._stop = threading.Event()

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> "EngineProxy":
        if os.path.exists(self.listen):
            os.unlink(self.listen)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.listen)
        os.chmod(self.listen, 0o666)  # the VM's login user reaches it as it reaches docker.sock
        self._server.listen(64)
        self._server.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server:
            self._server.close()
        if os.path.exists(self.listen):
            os.unlink(self.listen)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- serving -----------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _backend_api(self) -> str:
        if self._backend_version is None:
            status, body = self._backend_call("GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            self._backend_version = json.loads(body)["ApiVersion"] if status == 200 else "1.41"
        return self._backend_version

    def _backend_call(self, request: str) -> tuple[int, bytes]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(self.backend)
            sock.sendall(request.encode("latin-1"))
            data = b""
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"chunked" in head.lower():
            out, rest = b"", body
            while rest:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    break
                out, rest = out + rest[:size], rest[size + 2:]
            body = out
        return status, body

    def _version_doc(self) -> bytes:
        _status, body = self._backend_call("GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        doc = json.loads(body)
        doc.update(ApiVersion=_fmt(self.api), MinAPIVersion=_fmt(self.min_api), Version=self.engine)
        return json.dumps(doc).encode()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(60)
            raw = b""
            while b"\r\n\r\n" not in raw:
                piece = conn.recv(65536)
                if not piece:
                    return
                raw += piece
                if len(raw) > 1024 * 1024:
                    return
            head, rest = raw.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, proto = lines[0].split(" ", 2)
            self.requests.append("%s %s" % (method, target))
            path, sep, query = target.partition("?")
            match = _VERSIONED.match(path)
            if match:
                version = (int(match.group(1)), int(match.group(2)))
                if version < self.min_api:
                    self.rejected.append(target)
                    return _respond(conn, 400, json.dumps({"message": (
                        "client version %s is too old. Minimum supported API version is %s, please upgrade "
                        "your client to a newer version" % (_fmt(version), _fmt(self.min_api)))}).encode())
                if version > self.api:
                    self.rejected.append(target)
                    return _respond(conn, 400, json.dumps({"message": "client version %s is too new. Maximum "
                                                           "supported API version is %s" % (_fmt(version), _fmt(self.api))}).encode())
                path = match.group(3)
            if path == "/version":
                return _respond(conn, 200, self._version_doc())
            if path == "/_ping":
                return _respond(conn, 200, b"OK", "text/plain", {"Api-Version": _fmt(self.api)})
            forwarded = ("/v%s%s" % (self._backend_api(), path) if match else path) + sep + query
            headers = [h for h in lines[1:] if not h.lower().startswith("connection:")]
            request = "\r\n".join(["%s %s %s" % (method, forwarded, proto)] + headers + ["Connection: close"])
            self._pipe(conn, request.encode("latin-1") + b"\r\n\r\n" + rest)
        except (OSError, ValueError):
            pass
        finally:
            # shutdown, not only close: the upstream thread still blocks in recv on this socket,
            # and a bare close() would leave the client without its end of stream.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _pipe(self, conn: socket.socket, first: bytes) -> None:
        """Forward ``first`` and the rest of the client's bytes to the daemon and its answer back,
        until the daemon closes (it does after one answer: Connection: close)."""
        backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        backend.connect(self.backend)
        backend.sendall(first)
        conn.settimeout(None)

        def upstream():
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    backend.sendall(data)
            except OSError:
                pass

        threading.Thread(target=upstream, daemon=True).start()
        try:
            while True:
                data = backend.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        finally:
            backend.close()


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="unix socket path to listen on")
    parser.add_argument("--backend", default="/var/run/docker.sock")
    parser.add_argument("--api", type=_version, default=ENGINE_29["api"])
    parser.add_argument("--min-api", type=_version, default=ENGINE_29["min_api"])
    parser.add_argument("--engine", default=ENGINE_29["engine"])
    args = parser.parse_args()
    proxy = EngineProxy(str(Path(args.listen)), args.backend, args.api, args.min_api, args.engine).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    main()
