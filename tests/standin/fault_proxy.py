#!/usr/bin/env python3
"""Fault-injecting reverse proxy in front of the stand-in "Docker Hub" registry.

Standard library only. Listens on 127.0.0.1:5001 (by default) and forwards every request to
the real registry (Distribution) on 127.0.0.1:5011, streaming bodies in chunks so that a pull
shows byte progress.

The fault is one JSON object, kept in a file (re-read on every request) and settable over HTTP:

    {"mode": "none" | "429" | "stall",
     "stall_after_bytes": 1048576,   # stall: body bytes sent per blob response before the hang
     "stall_seconds": 600,           # stall: how long to hang; afterwards the body continues
     "rate_bps": 0,                  # any mode: throttle body bytes per second (0 = unlimited)
     "targets": "all",               # 429/stall: "all", "manifests" or "blobs"
     "repository": ""}               # only requests of this repository get the fault ("" = all)

- mode 429: manifest and blob requests get Docker Hub's rate-limit answer (HTTP 429,
  `{"errors":[{"code":"TOOMANYREQUESTS",...}]}`). `/v2/` itself still answers.
  A 429 on the manifest makes the Engine API's POST /images/create fail as a whole (HTTP 500
  with "toomanyrequests: ..."); with "targets": "blobs" the manifest passes and the error
  arrives inside the pull's JSON stream instead.
- mode stall: GETs of blobs (and of manifests if "targets" is "all" or "manifests"; the
  default "all" only matters for manifests larger than stall_after_bytes) send
  `stall_after_bytes` body bytes, then nothing for
  `stall_seconds` (the client must notice the stall itself). A stalled response ends early
  (connection closed) when released with `POST /__release__`, or when the client goes away.

Control endpoints (never forwarded):
    GET  /__fault__          current fault
    POST /__fault__          set the fault (JSON as above; also written to the fault file)
    POST /__release__        close every currently stalled response; returns {"released": n}
    GET  /__stats__          counters per mode + the most recent requests
    POST /__stats__/reset    zero the counters
    GET  /__health__         {"ok": true}
"""
from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time

CHUNK = 64 * 1024
DEFAULT_FAULT = {"mode": "none", "stall_after_bytes": 1024 * 1024, "stall_seconds": 600, "rate_bps": 0,
                 "targets": "all", "repository": ""}
REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
MODES = ("none", "429", "stall")
TARGETS = ("all", "manifests", "blobs")
MAX_STALL_SECONDS = 3600
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
}
MANIFEST_RE = re.compile(r"^/v2/.+/manifests/[^/]+$")
BLOB_RE = re.compile(r"^/v2/.+/blobs/[^/]+$")
RATE_LIMIT_BODY = json.dumps({
    "errors": [{
        "code": "TOOMANYREQUESTS",
        "message": "You have reached your pull rate limit. You may increase the limit by "
                   "authenticating and upgrading: https://www.docker.com/increase-rate-limit",
    }]
}).encode()


def normalise_fault(raw: dict) -> dict:
    """Validate a fault document; raise ValueError on nonsense."""
    if not isinstance(raw, dict):
        raise ValueError("fault must be a JSON object")
    fault = dict(DEFAULT_FAULT)
    mode = str(raw.get("mode", "none"))
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    fault["mode"] = mode
    targets = str(raw.get("targets") or "all")
    if targets not in TARGETS:
        raise ValueError(f"unknown targets {targets!r}; expected one of {TARGETS}")
    fault["targets"] = targets
    repository = str(raw.get("repository") or "")
    if repository and not REPOSITORY_RE.match(repository):
        raise ValueError(f"bad repository {repository!r}; expected a name such as windowsarena/winarena")
    fault["repository"] = repository
    for key in ("stall_after_bytes", "stall_seconds", "rate_bps"):
        if raw.get(key) is not None:
            value = float(raw[key]) if key == "stall_seconds" else int(raw[key])
            if value < 0:
                raise ValueError(f"{key} must be >= 0")
            fault[key] = value
    fault["stall_seconds"] = min(fault["stall_seconds"], MAX_STALL_SECONDS)
    return fault


class State:
    """Fault configuration (file-backed) and counters, shared by all handler threads."""

    def __init__(self, fault_file: str | None):
        self.fault_file = fault_file
        self.lock = threading.Lock()
        self._cached = (None, dict(DEFAULT_FAULT))  # (file signature, fault)
        self._memory_fault = dict(DEFAULT_FAULT)     # used when no fault file is configured
        self.release_generation = 0
        self.active_stalls = 0
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.stats = {m: collections.Counter() for m in MODES}
            self.recent = collections.deque(maxlen=200)

    def fault(self) -> dict:
        if not self.fault_file:
            return dict(self._memory_fault)
        try:
            st = os.stat(self.fault_file)
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            return dict(DEFAULT_FAULT)
        with self.lock:
            if self._cached[0] == sig:
                return dict(self._cached[1])
        try:
            with open(self.fault_file, encoding="utf-8") as fh:
                fault = normalise_fault(json.load(fh))
        except (OSError, ValueError) as exc:
            log(f"bad fault file {self.fault_file}: {exc}; using mode none")
            fault = dict(DEFAULT_FAULT)
        with self.lock:
            self._cached = (sig, fault)
        return dict(fault)

    def set_fault(self, fault: dict) -> None:
        if not self.fault_file:
            self._memory_fault = dict(fault)
            return
        tmp = f"{self.fault_file}.tmp.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(fault, fh)
            fh.write("\n")
        os.replace(tmp, self.fault_file)

    def count(self, mode: str, **incr) -> None:
        with self.lock:
            self.stats[mode].update(incr)

    def record(self, entry: dict) -> None:
        with self.lock:
            self.recent.append(entry)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "fault": self._cached[1] if self.fault_file else self._memory_fault,
                "active_stalls": self.active_stalls,
                "modes": {m: dict(c) for m, c in self.stats.items()},
                "recent": list(self.recent),
            }


def log(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} fault_proxy: {msg}\n")
    sys.stderr.flush()


class Released(Exception):
    """A stalled response was released (or its client left): close the connection."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "waa-standin-fault-proxy/1"
    state: State  # set on the class by main()
    upstream: tuple  # (host, port)

    # quieter logs: one line per request, written by us
    def log_message(self, fmt, *args):  # noqa: D401
        pass

    # ---- helpers -------------------------------------------------------------------------
    def _send_json(self, status: int, doc, extra_headers=None) -> None:
        body = json.dumps(doc, indent=None).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_request_body(self):
        """Yield the request body in chunks (Content-Length or chunked)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until blank line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(CHUNK, remaining))
                    if not data:
                        raise ConnectionError("client closed during chunked body")
                    remaining -= len(data)
                    yield data
                self.rfile.readline()  # CRLF after chunk
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(CHUNK, remaining))
                if not data:
                    raise ConnectionError("client closed during body")
                remaining -= len(data)
                yield data

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False

    def _stall(self, fault: dict, mode: str) -> None:
        state = self.state
        generation = state.release_generation
        with state.lock:
            state.active_stalls += 1
        state.count(mode, stalls=1)
        log(f"stalling {self.path} for up to {fault['stall_seconds']}s")
        deadline = time.monotonic() + fault["stall_seconds"]
        try:
            while time.monotonic() < deadline:
                if state.release_generation != generation:
                    state.count(mode, stalls_released=1)
                    raise Released("released")
                readable, _, _ = select.select([self.connection], [], [], 0.25)
                if readable and self._client_gone():
                    state.count(mode, stalls_client_gone=1)
                    raise Released("client gone")
        finally:
            with state.lock:
                state.active_stalls -= 1

    # ---- control endpoints -----------------------------------------------------------------
    def _control(self) -> bool:
        path = self.path.split("?", 1)[0]
        if not path.startswith("/__"):
            return False
        state = self.state
        if path == "/__health__":
            self._send_json(200, {"ok": True})
        elif path == "/__fault__" and self.command == "GET":
            self._send_json(200, state.fault())
        elif path == "/__fault__" and self.command in ("POST", "PUT"):
            try:
                raw = json.loads(b"".join(self._read_request_body()) or b"{}")
                fault = normalise_fault(raw)
            except ValueError as exc:
                self._send_json(400, {"error": str(exc)})
                return True
            state.set_fault(fault)
            log(f"fault set to {fault}")
            self._send_json(200, fault)
        elif path == "/__release__" and self.command == "POST":
            list(self._read_request_body())
            with state.lock:
                n = state.active_stalls
                state.release_generation += 1
            self._send_json(200, {"released": n})
        elif path == "/__stats__" and self.command == "GET":
            state.fault()  # refresh the cached fault shown in the snapshot
            self._send_json(200, state.snapshot())
        elif path == "/__stats__/reset" and self.command == "POST":
            list(self._read_request_body())
            state.reset_stats()
            self._send_json(200, {"reset": True})
        else:
            self._send_json(404, {"error": f"unknown control endpoint {self.command} {path}"})
        return True

    # ---- proxying ----------------------------------------------------------------------------
    def _proxy(self) -> None:
        if self._control():
            return
        state = self.state
        fault = state.fault()
        path = self.path.split("?", 1)[0]
        # A fault scoped to one repository leaves every other pull alone (tests run in parallel).
        if fault["repository"] and not path.startswith(f"/v2/{fault['repository']}/"):
            fault = dict(DEFAULT_FAULT)
        mode = fault["mode"]
        is_manifest = bool(MANIFEST_RE.match(path))
        is_blob = bool(BLOB_RE.match(path))
        targeted = ((is_manifest and fault["targets"] in ("all", "manifests"))
                    or (is_blob and fault["targets"] in ("all", "blobs")))
        state.count(mode, requests=1, manifest_requests=int(is_manifest), blob_requests=int(is_blob))
        entry = {"ts": round(time.time(), 3), "mode": mode, "method": self.command, "path": path}
        self._status = None
        self._sent = 0
        try:
            if mode == "429" and targeted:
                list(self._read_request_body())
                state.count(mode, responses_429=1)
                self._status = 429
                self._send_json(429, json.loads(RATE_LIMIT_BODY), {
                    "Retry-After": "60",
                    "RateLimit-Limit": "100;w=21600",
                    "RateLimit-Remaining": "0;w=21600",
                    "Docker-RateLimit-Source": "127.0.0.1",
                })
                return
            self._forward(fault, mode, stall=(mode == "stall" and targeted and self.command == "GET"))
        except Released as exc:
            entry["released"] = str(exc)
            self.close_connection = True
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            self.close_connection = True
            if self._status is None:
                try:
                    self._send_json(502, {"errors": [{"code": "UNAVAILABLE", "message": f"upstream: {exc}"}]})
                    self._status = 502
                except OSError:
                    pass
        finally:
            entry.update(status=self._status, bytes=self._sent)
            state.count(mode, bytes_out=self._sent)
            state.record(entry)
            extra = f" [{entry.get('released') or entry.get('error')}]" if ("released" in entry or "error" in entry) else ""
            log(f"{mode} {self.command} {path} -> {self._status} ({self._sent} bytes){extra}")

    def _forward(self, fault: dict, mode: str, stall: bool):
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            # a list, not a dict: Docker sends one Accept header per manifest media type
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
            has_body = ("Content-Length" in self.headers) or ("chunked" in (self.headers.get("Transfer-Encoding") or "").lower())
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            chunked_up = has_body and "Content-Length" not in self.headers
            if chunked_up:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            if has_body:
                for data in self._read_request_body():
                    if chunked_up:
                        conn.send(b"%x\r\n%s\r\n" % (len(data), data))
                    else:
                        conn.send(data)
                if chunked_up:
                    conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
            status = resp.status
            self._status = status
            self.send_response(status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
            chunked_down = not no_body and length is None
            if chunked_down:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if no_body:
                resp.read()
                return
            sent = 0
            stall_at = fault["stall_after_bytes"] if stall else None
            if stall_at is not None and length is not None and stall_at >= int(length):
                stall_at = None  # the whole body fits below the threshold: nothing to stall
            stalled = False
            rate = fault.get("rate_bps") or 0
            chunk = CHUNK if not rate else max(1024, min(CHUNK, rate // 10))
            started = time.monotonic()
            while True:
                if stall_at is not None and not stalled and sent >= stall_at:
                    self.wfile.flush()
                    self._stall(fault, mode)
                    stalled = True
                want = chunk
                if stall_at is not None and not stalled:
                    want = min(want, stall_at - sent)
                data = resp.read(want)
                if not data:
                    break
                if chunked_down:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
                sent += len(data)
                self._sent = sent
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            if chunked_down:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--listen", default="127.0.0.1:5001")
    ap.add_argument("--upstream", default="127.0.0.1:5011")
    ap.add_argument("--fault-file", default=None, help="JSON fault file, re-read on each request")
    ap.add_argument("--pidfile", default=None)
    args = ap.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost"):
        ap.error("the stand-in proxy listens on loopback only")
    up_host, up_port = args.upstream.rsplit(":", 1)
    Handler.state = State(args.fault_file)
    Handler.upstream = (up_host, int(up_port))
    server = Server((host, int(port)), Handler)
    if args.pidfile:
        with open(args.pidfile, "w") as fh:
            fh.write(f"{os.getpid()}\n")

    def stop(signum, frame):  # noqa: ARG001
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on {args.listen}, upstream {args.upstream}, fault file {args.fault_file}")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
