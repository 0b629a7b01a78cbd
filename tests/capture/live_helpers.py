"""Real peers on loopback for the live capture tests: a TLS HTTP server, a cleartext HTTP server, a certificate.

Import as ``from live_helpers import ...`` (tests/conftest.py puts tests/capture on sys.path). Every server runs
in a daemon thread on an ephemeral 127.0.0.1 port and is shut down by its context manager.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TLSINSPECT = str(Path(sys.executable).with_name("tlsinspect"))


def can_capture() -> bool:
    """True when this process may open a packet socket (root or CAP_NET_RAW)."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    except (PermissionError, AttributeError, OSError):
        return False
    s.close()
    return True


def make_cert(directory: Path, name: str = "localhost") -> tuple[str, str]:
    """A self-signed EC P-256 certificate for `name` (and 127.0.0.1): (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"hello from " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext | None) -> None:
        super().__init__(addr, _Handler)
        self.ctx = ctx

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ctx is not None:
            sock.settimeout(5)
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def http_server(ctx: ssl.SSLContext | None = None) -> Iterator[int]:
    """An HTTP/1.1 server on 127.0.0.1 (over TLS when `ctx` is given); yields its port."""
    srv = _TlsServer(("127.0.0.1", 0), ctx)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@contextmanager
def live_process(args: list[str], *, timeout: float = 30.0) -> Iterator[subprocess.Popen[str]]:
    """`tlsinspect live ARGS` as a subprocess; waits for its first output line (capture is then running)."""
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    p = subprocess.Popen(
        [TLSINSPECT, "live", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout)


def first_line(p: subprocess.Popen[str], timeout: float = 15.0) -> str:
    """The first stdout line of a live run (the capture line), with a bound on the wait."""
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(p.stdout.readline() if p.stdout else ""), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise AssertionError("tlsinspect live printed nothing in time")
    return box[0]


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def flows_by_port(objs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Flow objects keyed by client port."""
    return {int(o["client"].rsplit(":", 1)[1]): o for o in objs if o.get("type") == "flow"}


def exchange(port: int, payload: bytes = b"ping") -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(payload)
        c.recv(100)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """An echo server on 127.0.0.1 (answers the first 100 bytes of each connection); its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.settimeout(5)
                try:
                    c.sendall(c.recv(100))
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(5)
    srv.close()
