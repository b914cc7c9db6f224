import base64
import json
import os
import socket
import struct
import tempfile
import threading
import time

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._docker_api import (
    MAX_API_VERSION, MIN_API_VERSION, DockerConnectionError, DockerEngine, DockerError,
    DockerNotFound, PullError, is_rate_limit, negotiate_api_version, registry_auth_header)
from ansible_collections.openadapt.waa.plugins.module_utils._docker_http import (
    ChunkedDecoder, JsonStreamDecoder, decode_multiplexed)


def test_chunked_decoder_handles_any_split():
    body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
    for size in (1, 2, 3, 7, len(body)):
        dec = ChunkedDecoder()
        out = b"".join(dec.feed(body[i:i + size]) for i in range(0, len(body), size))
        assert out == b"hello, world" and dec.done


def test_multiplexed_and_tty_logs():
    frames = b"".join(struct.pack(">BxxxI", s, len(d)) + d for s, d in ((1, b"out\n"), (2, b"err\n"), (1, b"x")))
    got, rest = decode_multiplexed(frames + b"\x01\x00\x00\x00\x00\x00\x00\x09abc")
    assert got == [(1, b"out\n"), (2, b"err\n"), (1, b"x")] and rest.endswith(b"abc")
    assert decode_multiplexed(b"plain tty text\n")[0] == [(1, b"plain tty text\n")]
    assert decode_multiplexed(b"\x01\x00\x00\x00", tty=True)[0] == [(1, b"\x01\x00\x00\x00")]


def test_json_stream_decoder_splits_objects_and_utf8():
    dec = JsonStreamDecoder()
    data = '{"status":"a"}\r\n{"status":"\u276f b"}{"id":"x"}\n'.encode("utf-8")
    objs = []
    for i in range(len(data)):
        objs += dec.feed(data[i:i + 1])
    assert objs == [{"status": "a"}, {"status": "\u276f b"}, {"id": "x"}]


@pytest.mark.parametrize("msg,status,expected", [
    ("toomanyrequests: You have reached your pull rate limit.", None, True),
    ("unexpected status 429 Too Many Requests", 500, True),
    ("anything", 429, True),
    ("manifest unknown", 404, False),
    ("pulling sha256:4291af0e5b9d failed", None, False),  # digits inside a digest are not a status
])
def test_rate_limit_detection(msg, status, expected):
    assert is_rate_limit(msg, status) is expected
    assert PullError(msg, status).rate_limited is expected


def test_registry_auth_header_is_base64url_json():
    value = registry_auth_header("u", "p+/=?", "myacr.azurecr.io")
    assert "+" not in value and "/" not in value
    assert json.loads(base64.urlsafe_b64decode(value)) == {"username": "u", "password": "p+/=?", "serveraddress": "myacr.azurecr.io"}


class FakeDaemon:
    """A unix-socket HTTP server answering with canned raw responses, recording requests."""

    def __init__(self, handler):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "docker.sock")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.requests = []
        self.handler = handler
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            head = data.split(b"\r\n\r\n")[0].decode()
            self.requests.append(head)
            try:
                self.handler(conn, head)
            finally:
                conn.close()

    def close(self):
        self.sock.close()


def respond(conn, status, body=b"", chunks=None, ctype="application/json"):
    if chunks is None:
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, ctype.encode(), len(body)) + body)
        return
    conn.sendall(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % status)
    for item in chunks:
        if isinstance(item, (int, float)):
            time.sleep(item)
            continue
        conn.sendall(b"%x\r\n%s\r\n" % (len(item), item))
    conn.sendall(b"0\r\n\r\n")


def test_engine_endpoints_against_a_fake_socket():
    def handler(conn, head):
        line = head.split("\r\n")[0]
        if "/version" in line:
            respond(conn, 200, json.dumps({"ApiVersion": "1.45"}).encode())
        elif "/_ping" in line:
            respond(conn, 200, b"OK", ctype="text/plain")
        elif "/images/missing" in line:
            respond(conn, 404, b'{"message": "No such image: missing"}')
        elif "/containers/c1/logs" in line:
            respond(conn, 200, struct.pack(">BxxxI", 1, 6) + b"hello\n", ctype="application/vnd.docker.raw-stream")
        else:
            respond(conn, 500, b'{"message": "boom"}')

    daemon = FakeDaemon(handler)
    try:
        engine = DockerEngine("unix://" + daemon.path, timeout=5)
        assert engine.ping()
        assert engine.api_prefix() == "/v1.45", "the daemon's own version when this client speaks it"
        assert engine.image_inspect("missing") is None
        assert engine.container_logs("c1", tail=5, since="1.5", timestamps=True) == "hello\n"
        assert any("/v1.45/containers/c1/logs?" in r and "tail=5" in r and "since=1.5" in r for r in daemon.requests)
        with pytest.raises(DockerNotFound):
            engine.request("GET", "/images/missing/json")
        with pytest.raises(Exception) as err:
            engine.info()
        assert "boom" in str(err.value)
    finally:
        daemon.close()


def test_pull_stream_ticks_and_errors_inside_the_stream():
    def handler(conn, head):
        assert "X-Registry-Auth: abc" in head
        respond(conn, 200, chunks=[b'{"status":"Pulling from a/b","id":"1"}\r\n', 0.7,
                                   b'{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"l1"}\r\n',
                                   b'{"error":"toomanyrequests: slow down","errorDetail":{"message":"toomanyrequests"}}\r\n'])

    daemon = FakeDaemon(handler)
    try:
        engine = DockerEngine("unix://" + daemon.path, timeout=5)
        engine._prefix = "/v1.41"
        seen = []
        with pytest.raises(PullError) as err:
            for obj in engine.pull("a/b:1", auth="abc", tick=0.2):
                seen.append(obj)
        assert err.value.rate_limited and "toomanyrequests" in err.value.message
        assert seen[0]["status"] == "Pulling from a/b" and None in seen, "idle periods yield None ticks"
        assert any("fromImage=a%2Fb&tag=1" in r for r in daemon.requests)
    finally:
        daemon.close()


def test_pull_http_error_and_unreachable_daemon():
    daemon = FakeDaemon(lambda conn, head: respond(conn, 404, b'{"message": "pull access denied for x/y"}'))
    try:
        engine = DockerEngine("unix://" + daemon.path, timeout=5)
        engine._prefix = "/v1.41"
        with pytest.raises(PullError) as err:
            list(engine.pull("x/y"))
        assert err.value.status == 404 and "denied" in err.value.message and not err.value.rate_limited
    finally:
        daemon.close()
    with pytest.raises(DockerConnectionError):
        DockerEngine("unix:///nonexistent/docker.sock", timeout=1).ping()
    for bad in ("ssh://host", "unix://", "tcp://nohostport"):
        with pytest.raises(ValueError):
            DockerEngine(bad)


@pytest.mark.parametrize("info,expected", [
    ({"ApiVersion": "1.52", "MinAPIVersion": "1.44", "Version": "29.0.0"}, (1, 52)),   # Engine 29
    ({"ApiVersion": "1.53", "MinAPIVersion": "1.44"}, MAX_API_VERSION),                 # newer than us
    ({"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "20.10.24"}, (1, 41)),  # docker.io 20.10
    ({"ApiVersion": "1.24"}, (1, 24)),
    ({}, MIN_API_VERSION),                                                              # says nothing
    ({"ApiVersion": "garbage"}, MIN_API_VERSION),
])
def test_negotiation_picks_the_highest_version_both_sides_speak(info, expected):
    assert negotiate_api_version(info) == expected


@pytest.mark.parametrize("info,words", [
    ({"ApiVersion": "1.20", "Version": "1.8.0"}, ["1.20 at most", "Upgrade Docker"]),
    ({"ApiVersion": "1.70", "MinAPIVersion": "1.60", "Version": "40.0"}, ["1.60 or newer", "Upgrade the openadapt.waa"]),
])
def test_negotiation_without_a_common_version_names_the_fix(info, words):
    with pytest.raises(DockerError) as err:
        negotiate_api_version(info)
    assert all(w in err.value.message for w in words), err.value.message
