"""A loopback stand-in of the Azure endpoints `waa up` calls, and a VM that it starts.

- ARM over HTTPS with a certificate of a test CA made here (openssl): the VM, its instance view,
  ``POST .../start``, its network interface and public IP; every call needs the bearer token.
- Microsoft Entra ID's token endpoint (client credentials) on the same server.
- The instance metadata service over HTTP: a managed identity's token.
- The VMs: the first is a second sshd of the stand-in (same keys and users) on a port of its own;
  ``add_vm`` adds more (the stand-in's fleet: a namespace's sshd). A VM's sshd is not running while
  the VM is deallocated; ``POST .../start`` starts it after ``start_delay``, and ``POST .../deallocate``
  stops it after as long.
- The OpenID configuration of the authority, which MSAL (under azure-identity) reads first.

Standard library only, like local_vm.py. Used by tests/integration/test_azure_up.py and test_standin_fleet.py.
"""
from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

import local_vm

API_PREFIX = "/subscriptions/{sub}/resourceGroups/{rg}/providers"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_ca(workdir: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1, made with openssl."""
    ca_key, ca_crt = workdir / "ca.key", workdir / "ca.crt"
    key, csr, crt, ext = workdir / "arm.key", workdir / "arm.csr", workdir / "arm.crt", workdir / "arm.ext"
    run = lambda *a: subprocess.run(["openssl", *map(str, a)], check=True, capture_output=True, timeout=60)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2",
        "-subj", "/CN=openadapt.waa test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
        "-extfile", ext)
    return ca_crt, crt, key


@dataclass
class FakeVm:
    """One VM of the fake subscription: its power state, its public address while it runs, and what
    starting and stopping it does to the machine that stands for it (an sshd that runs or not)."""
    name: str
    address: str
    start: Callable[[], None]
    stop: Callable[[], None]
    power: str = "deallocated"


VM_PATH = re.compile(r"/Microsoft\.Compute/virtualMachines/([A-Za-z0-9-]+)(/instanceView|/start|/deallocate)?")
NIC_PATH = re.compile(r"/Microsoft\.Network/networkInterfaces/([A-Za-z0-9-]+)-nic")
IP_PATH = re.compile(r"/Microsoft\.Network/publicIPAddresses/([A-Za-z0-9-]+)-ip")


class FakeAzure:
    def __init__(self, workdir: Path, *, subscription: str = "sub-0000", resource_group: str = "openadapt-waa",
                 name: str = "waa-vm-1", power: str = "deallocated", start_delay: float = 2.0,
                 client_id: str = "waa-sp", client_secret: str = "s3cret-sp", tenant: str = "tenant-0",
                 vm_size: str = "Standard_D8ds_v5"):
        self.workdir = workdir
        self.subscription, self.resource_group, self.name = subscription, resource_group, name
        self.start_delay, self.vm_size = start_delay, vm_size
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.token = secrets.token_hex(16)
        self.requests: list[dict] = []
        self.vm_port = _free_port()
        self.sshd: subprocess.Popen | None = None
        self.ca, crt, key = make_ca(workdir)
        self._lock = threading.Lock()
        self.vms: dict[str, FakeVm] = {}
        # The first VM: a second sshd of the stand-in on a port of its own.
        self.add_vm(name, "127.0.0.1", self._start_sshd, self._stop_sshd, power)
        self.arm = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        self.arm.socket = context.wrap_socket(self.arm.socket, server_side=True)
        self.imds = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        for server in (self.arm, self.imds):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def add_vm(self, name: str, address: str, start: Callable[[], None], stop: Callable[[], None],
               power: str = "running") -> FakeVm:
        """Another VM of the subscription (the stand-in's fleet: a namespace whose sshd it starts and stops)."""
        vm = self.vms[name] = FakeVm(name, address, start, stop, power)
        if power == "running":
            start()
        return vm

    # -- where the clients go -------------------------------------------------------------
    @property
    def arm_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.arm.server_address[1]}"

    @property
    def imds_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.imds.server_address[1]}"

    def _prefix(self) -> str:
        return API_PREFIX.format(sub=self.subscription, rg=self.resource_group)

    def vm_id(self, name: str | None = None) -> str:
        return f"{self._prefix()}/Microsoft.Compute/virtualMachines/{name or self.name}"

    @property
    def power(self) -> str:
        """The first VM's power state."""
        return self.vms[self.name].power

    def calls(self, method: str, suffix: str = "") -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["method"] == method and r["path"].endswith(suffix)]

    # -- the first VM's machine: an sshd of the stand-in -----------------------------------
    def _start_sshd(self) -> None:
        sshd = local_vm._which("sshd") or "/usr/sbin/sshd"
        log = self.workdir / "sshd.log"
        self.sshd = subprocess.Popen([sshd, "-D", "-f", str(local_vm.SSHD_CONFIG), "-p", str(self.vm_port),
                                      "-o", f"PidFile={self.workdir / 'sshd.pid'}", "-E", str(log)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.vm_port)) == 0:
                    break
            time.sleep(0.1)

    def _stop_sshd(self) -> None:
        if self.sshd and self.sshd.poll() is None:
            self.sshd.terminate()
            self.sshd.wait(timeout=20)
        self.sshd = None

    # -- power, as ARM changes it: after start_delay ----------------------------------------
    def _start_later(self, vm: FakeVm) -> None:
        time.sleep(self.start_delay)
        vm.start()
        vm.power = "running"

    def _deallocate_later(self, vm: FakeVm) -> None:
        time.sleep(self.start_delay)
        vm.stop()
        vm.power = "deallocated"

    def close(self) -> None:
        for server in (self.arm, self.imds):
            server.shutdown()
            server.server_close()
        self._stop_sshd()

    # -- the endpoints ----------------------------------------------------------------------
    def _answer(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "auth": headers.get("Authorization"), "metadata": headers.get("Metadata")})
        if path == "/metadata/instance/compute/vmSize":
            if headers.get("Metadata") != "true":
                return 400, {}, {"error": "Bad request. Required metadata header not specified"}
            return 200, {}, self.vm_size  # format=text: the size alone
        if path == "/metadata/identity/oauth2/token":
            if headers.get("Metadata") != "true":
                return 400, {}, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
            return 200, {}, {"access_token": self.token, "token_type": "Bearer", "expires_in": "3599"}
        if path == f"/{self.tenant}/v2.0/.well-known/openid-configuration" and method == "GET":
            # What MSAL (under azure-identity) reads first, to find the token endpoint of the authority.
            base = f"{self.arm_endpoint}/{self.tenant}"
            return 200, {}, {"token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
                             "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"}
        if path == f"/{self.tenant}/oauth2/v2.0/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return 401, {}, {"error": "invalid_client",
                                 "error_description": "AADSTS7000215: Invalid client secret provided."}
            return 200, {}, {"access_token": self.token, "token_type": "Bearer", "expires_in": 3599}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}
        return self._resource(method, path)

    def _resource(self, method: str, path: str) -> tuple[int, dict, dict]:
        """ARM's answer about a VM of the subscription, its network interface or its public IP."""
        prefix, not_found = self._prefix(), (404, {}, {"error": {"code": "ResourceNotFound",
                                                                   "message": f"{path} was not found."}})
        rest = path[len(prefix):] if path.startswith(prefix) else ""
        for pattern in (VM_PATH, NIC_PATH, IP_PATH):
            match = pattern.fullmatch(rest)
            if match:
                break
        if not match or match.group(1) not in self.vms:
            return not_found
        vm = self.vms[match.group(1)]
        vm_id, action = self.vm_id(vm.name), match.group(2) if pattern is VM_PATH else None
        nic_id = f"{prefix}/Microsoft.Network/networkInterfaces/{vm.name}-nic"
        ip_id = f"{prefix}/Microsoft.Network/publicIPAddresses/{vm.name}-ip"
        if pattern is VM_PATH and action is None and method == "GET":
            return 200, {}, {"id": vm_id, "name": vm.name, "properties": {
                "hardwareProfile": {"vmSize": "Standard_D8s_v3"},
                "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]}}}
        if action == "/instanceView" and method == "GET":
            return 200, {}, {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{vm.power}"}]}
        if action == "/start" and method == "POST":
            if vm.power != "running":
                vm.power = "starting"
                threading.Thread(target=self._start_later, args=(vm,), daemon=True).start()
            return 202, {}, {}
        if action == "/deallocate" and method == "POST":
            if vm.power != "deallocated":
                vm.power = "deallocating"
                threading.Thread(target=self._deallocate_later, args=(vm,), daemon=True).start()
            return 202, {}, {}
        if pattern is NIC_PATH and method == "GET":
            return 200, {}, {"id": nic_id, "properties": {"ipConfigurations": [{"properties": {
                "primary": True, "privateIPAddress": "10.0.0.4", "publicIPAddress": {"id": ip_id}}}]}}
        if pattern is IP_PATH and method == "GET":
            # Deallocated, a dynamic public IP has no address; started, it has a new one.
            return 200, {}, {"id": ip_id, "properties": {"ipAddress": vm.address} if vm.power == "running" else {}}
        return not_found

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                url = urlparse(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, doc = fake._answer(self.command, url.path, parse_qs(url.query), self.headers, body)
                data = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
                self.send_response(status)
                for key, value in dict(headers, **{"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *_args):
                pass

        return Handler
