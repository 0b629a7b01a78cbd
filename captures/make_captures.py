#!/usr/bin/env python3
"""Make tlsinspect's bundled sample captures from real loopback traffic.

Run as root (tcpdump needs capture rights on `lo`) from the repository root:

    sudo .venv/bin/python captures/make_captures.py            # writes into captures/

Everything happens on 127.0.0.1 between servers and clients started by this script: python `http.server` and
`ssl` servers, small raw-socket clients, a minimal RFC 6455 WebSocket pair and a TLS-terminating proxy. Nothing
leaves the machine and nothing third-party is recorded. tcpdump writes classic pcap (`-w`); `editcap -F pcapng`
turns it into pcapng and `editcap --inject-secrets tls,KEYLOG` embeds the key log as a pcapng Decryption Secrets
Block. editcap ships with Wireshark (Debian: wireshark-common, pulled in by tshark).

The lab PKI is made here too, deterministically: RSA keys come from primes drawn from a seeded generator and
RSA PKCS#1 v1.5 signatures are deterministic, so the certificates only change when `--date` (default: the first
day of the current month) does. Private keys live in a temporary directory and are deleted at the end; only the
root CA certificate is written out (observer-lab-ca.pem), for `--ca-file`.

Traffic is not byte-for-byte reproducible (TLS randoms, ephemeral client ports, timestamps), which is why the
README lists the SHA-256 of the committed files. Every socket and subprocess has a timeout, every loop a bound,
and all servers are stopped before the script exits.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import select
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
TIMEOUT = 5.0
"""Seconds: every socket and every wait on a peer."""

# Fixed ports, documented in README.md and used by tests/test_captures.py.
PORTS: dict[str, int] = {
    # observer-lab: cleartext HTTP
    "www": 47080,  # GET /login (password form), POST /login (Set-Cookie), GET /account (Cookie)
    "admin": 47081,  # Authorization: Basic
    "api": 47082,  # Bearer JWT, X-API-Key, ?token=
    "redirect": 47083,  # http://shop.lab.test -> 301 https://
    "cdn": 47084,  # /static/jquery.js over http:// right after the https:// page (mixed content)
    "backend": 47086,  # the cleartext hop behind the TLS-terminating proxy
    "ws": 47090,  # ws:// WebSocket
    # observer-lab: TLS
    "shop": 47443,  # TLS 1.3, leaf + intermediate, GET /account with a session cookie
    "tls12": 47444,  # TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256
    "rsa": 47445,  # TLS 1.2 AES128-SHA256 (static RSA key exchange: no forward secrecy)
    "proxy": 47446,  # TLS-terminating proxy -> backend
    "mismatch": 47447,  # SNI django-zero.lab.test, certificate for django-devops.lab.test
    "expired": 47448,  # expired leaf
    "selfsigned": 47449,  # self-signed leaf
    "abort": 47450,  # TLS 1.2, client rejects the chain: fatal alert unknown_ca
    "split": 47451,  # ClientHello split across two TCP segments
    # basic-tls12-tls13
    "basic13": 47461,
    "basic12": 47462,
}

USER_AGENT = "tlsinspect-lab/1.0 (captures/make_captures.py)"
PASSWORD = "correct-horse-battery-staple"
SESSION = "s3ss10n-4f7c2a9e1b6d"
SHOP_SESSION = "shop-session-8c1e5d3a9f20"
API_KEY = "lab_live_3f9a1c7e5b2d4086"
EXPORT_TOKEN = "exp-7d2c9a41e8b3"
WS_TOKEN = "ws-session-9f8e7d6c5b4a"
BASIC_ADMIN = ("admin", "lab-admin-pass")
BASIC_PROXY = ("reporter", "proxy-hop-secret")


def log(msg: str) -> None:
    sys.stderr.write(f"make_captures: {msg}\n")
    sys.stderr.flush()


def jwt() -> str:
    """A real (HS256, lab key) JWT, so it looks like one to anyone who decodes it."""

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(
        json.dumps({"sub": "alice", "role": "buyer", "iat": 1767225600}, separators=(",", ":")).encode()
    )
    sig = b64(hmac.new(b"tlsinspect-lab-jwt-key", f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


# --------------------------------------------------------------------------------------------------------------
# Deterministic lab PKI


_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def _probable_prime(n: int, rng: random.Random, rounds: int = 40) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random, e: int) -> int:
    for _ in range(100_000):  # a 1024-bit prime turns up within a few hundred odd candidates
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (c - 1) % e and _probable_prime(c, rng):
            return c
    raise RuntimeError("no prime found")  # pragma: no cover


def det_rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key derived from `label` alone (lab use only: the seed is in this file)."""
    rng = random.Random(hashlib.sha256(f"tlsinspect-lab-key:{label}".encode()).digest())
    e = 65537
    p = _prime(bits // 2, rng, e)
    q = _prime(bits // 2, rng, e)
    while q == p:  # pragma: no cover
        q = _prime(bits // 2, rng, e)
    p, q = max(p, q), min(p, q)
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = rsa.RSAPublicNumbers(e, p * q)
    priv = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), pub
    )
    return priv.private_key()


def _name(cn: str, org: str = "tlsinspect Observer Lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def issue(
    cn: str,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    path_len: int | None = None,
    sans: tuple[str, ...] = (),
    org: str = "tlsinspect Observer Lab",
) -> Issued:
    """A certificate for `cn`, signed by `issuer` (self-signed when None), with a key derived from `cn`."""
    key = det_rsa_key(cn)
    subject = _name(cn, org)
    signer_key = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
        )
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,  # static RSA key exchange needs it
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans or (cn,)]), critical=False
        )
    return Issued(b.sign(signer_key, hashes.SHA256()), key)


class LabPki:
    """Root -> intermediate -> leaves, plus the odd ones (expired, self-signed, another root)."""

    def __init__(self, base: dt.datetime, workdir: Path) -> None:
        self.dir = workdir
        day = dt.timedelta(days=1)
        self.root = issue(
            "tlsinspect Observer Lab Root CA", 1, base - 365 * day, base + 3650 * day, ca=True, path_len=1
        )
        self.intermediate = issue(
            "tlsinspect Observer Lab Issuing CA 1",
            2,
            base - 180 * day,
            base + 1825 * day,
            issuer=self.root,
            ca=True,
            path_len=0,
        )
        self.other_root = issue(
            "Some Other Root CA", 1, base - 365 * day, base + 3650 * day, ca=True, org="Elsewhere Inc"
        )
        self.leaf_from = base - 30 * day
        self.leaf_to = self.leaf_from + 397 * day
        self._serial = 0x1000
        self.files: dict[str, tuple[Path, Path]] = {}

    def leaf(self, name: str, *, expired: bool = False, self_signed: bool = False) -> tuple[Path, Path]:
        """(chain PEM, key PEM) for a server certificate; the chain is leaf + intermediate unless self-signed."""
        if name in self.files:
            return self.files[name]
        self._serial += 1
        day = dt.timedelta(days=1)
        start, end = self.leaf_from, self.leaf_to
        if expired:
            start, end = self.leaf_from - 730 * day, self.leaf_from - 365 * day
        cert = issue(name, self._serial, start, end, issuer=None if self_signed else self.intermediate)
        chain = [cert.cert] if self_signed else [cert.cert, self.intermediate.cert]
        cp, kp = self.dir / f"{name}.chain.pem", self.dir / f"{name}.key.pem"
        cp.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        kp.write_bytes(
            cert.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.files[name] = (cp, kp)
        return cp, kp

    def ca_pem(self, which: str = "root") -> bytes:
        c = self.root if which == "root" else self.other_root
        return c.cert.public_bytes(serialization.Encoding.PEM)

    def ca_file(self, which: str = "root") -> Path:
        p = self.dir / f"{which}-ca.pem"
        p.write_bytes(self.ca_pem(which))
        return p


# --------------------------------------------------------------------------------------------------------------
# Servers


JQUERY = (
    b"/*! not really jQuery: a lab stand-in for a script loaded over http:// */\nwindow.$ = function () {};\n"
)


def login_page() -> bytes:
    return (
        b"<!doctype html>\n<html><head><title>Lab login</title></head><body>\n"
        b'<form method="post" action="/login">\n'
        b'  <label>User <input type="text" name="username"></label>\n'
        b'  <label>Password <input type="password" name="password"></label>\n'
        b'  <button type="submit">Sign in</button>\n</form>\n</body></html>\n'
    )


class LabHandler(http.server.BaseHTTPRequestHandler):
    """One handler for every lab site; `self.server.site` picks the behaviour."""

    protocol_version = "HTTP/1.1"
    server_version = "LabHTTP/1.0"
    sys_version = ""
    timeout = TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        pass

    @property
    def site(self) -> str:
        return getattr(self.server, "site", "")

    def reply(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/html; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 65536)) if n else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path, _, query = self.path.partition("?")
        site = self.site
        auth = self.headers.get("Authorization", "")
        if path == "/login":
            self.reply(200, login_page())
        elif path == "/account":
            cookie = self.headers.get("Cookie", "")
            if site == "shop":
                page = (
                    b"<!doctype html>\n<html><head><title>Your account</title>\n"
                    b'<script src="http://cdn.lab.test:%d/static/jquery.js"></script>\n'
                    b"</head><body>Orders for alice</body></html>\n" % PORTS["cdn"]
                )
            else:
                page = b"<html><body>Signed in: %s</body></html>\n" % (
                    b"yes" if "session=" in cookie else b"no"
                )
            self.reply(200, page)
        elif path == "/admin/":
            ok = auth == "Basic " + base64.b64encode(":".join(BASIC_ADMIN).encode()).decode()
            self.reply(200 if ok else 401, b"<html><body>admin area</body></html>\n")
        elif path == "/api/v1/orders":
            body = json.dumps({"orders": [{"id": 1001, "total": "42.00"}]}).encode()
            self.reply(200 if auth.startswith("Bearer ") else 401, body, "application/json")
        elif path == "/api/v1/inventory":
            body = json.dumps({"items": 3}).encode()
            self.reply(200 if self.headers.get("X-API-Key") == API_KEY else 403, body, "application/json")
        elif path == "/api/v1/export":
            self.reply(200, b"id,total\n1001,42.00\n", "text/csv")
        elif path == "/checkout" and site == "redirect":
            loc = f"https://shop.lab.test:{PORTS['shop']}/checkout"
            self.reply(301, b"", headers=(("Location", loc),))
        elif path == "/static/jquery.js":
            self.reply(200, JQUERY, "application/javascript")
        elif path == "/internal/report":
            body = json.dumps(
                {"report": "q3", "rows": 2, "via": self.headers.get("X-Forwarded-For")}
            ).encode()
            self.reply(200, body, "application/json")
        elif path in ("/status", "/legacy/", "/hello", "/split", "/"):
            self.reply(200, f"<html><body>{site}: {path}</body></html>\n".encode())
        else:
            self.reply(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self._body()
        if self.path == "/login" and b"password=" in body:
            cookie = f"session={SESSION}; Path=/; HttpOnly"  # no Secure: the point of the sample
            self.reply(303, b"", headers=(("Location", "/account"), ("Set-Cookie", cookie)))
        else:
            self.reply(400, b"bad request\n", "text/plain")


class ProxyHandler(LabHandler):
    """TLS-terminating reverse proxy: forwards the request as it came, in clear, to the backend."""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        head = [f"{self.command} {self.path} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "connection"]
        head += ["X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: https", "Connection: close"]
        with socket.create_connection((LOOPBACK, PORTS["backend"]), timeout=TIMEOUT) as s:
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            status, headers, body = read_http_response(s)
        self.reply(status, body, dict(headers).get("content-type", "text/plain"))


class LabHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, site: str, handler: type[LabHandler] = LabHandler, ctx: ssl.SSLContext | None = None):
        super().__init__((LOOPBACK, PORTS[site]), handler)
        self.site = site
        self.errors: list[str] = []
        if ctx is not None:
            self.socket = ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(repr(sys.exc_info()[1]))


class WsHandler(socketserver.StreamRequestHandler):
    """A minimal RFC 6455 server: handshake, read one masked text frame, answer one, echo the close."""

    timeout = TIMEOUT

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            line = self.rfile.readline(4096)
            if not line:
                return
            head += line
        key = ""
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "sec-websocket-key":
                key = v.strip()
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        self.wfile.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        for _ in range(4):  # bounded: text, then close
            frame = read_ws_frame(self.rfile)
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 0x1:
                msg = json.loads(payload)
                out = json.dumps({"type": "welcome", "user": "alice", "echo": msg.get("type")}).encode()
                self.wfile.write(ws_frame(0x1, out, mask=None))
            elif opcode == 0x8:
                self.wfile.write(ws_frame(0x8, payload[:2], mask=None))
                return


class WsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


def ws_frame(opcode: int, payload: bytes, mask: bytes | None) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def read_ws_frame(f: Any) -> tuple[int, bytes] | None:
    h = f.read(2)
    if len(h) < 2:
        return None
    opcode, n, masked = h[0] & 0x0F, h[1] & 0x7F, h[1] & 0x80
    if n == 126:
        n = int.from_bytes(f.read(2), "big")
    elif n == 127:
        n = int.from_bytes(f.read(8), "big")
    mask = f.read(4) if masked else b""
    payload = f.read(min(n, 1 << 20))
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def server_context(
    pki: LabPki,
    name: str,
    *,
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str | None = None,
    expired: bool = False,
    self_signed: bool = False,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    ctx.set_alpn_protocols(["http/1.1"])
    chain, key = pki.leaf(name, expired=expired, self_signed=self_signed)
    ctx.load_cert_chain(chain, key)
    return ctx


@contextmanager
def running(servers: list[socketserver.BaseServer]) -> Iterator[None]:
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True) for s in servers
    ]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join(timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------------------------
# Clients


def read_http_response(sock: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers (lower-case names) and body of one Content-Length-framed response."""
    buf = b""
    for _ in range(1000):
        if b"\r\n\r\n" in buf:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
    want = int(dict(headers).get("content-length", "0"))
    for _ in range(1000):
        if len(body) >= want:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


class LabConnection(http.client.HTTPConnection):
    """http.client to 127.0.0.1 whatever `host` says (the Host header and, with TLS, the SNI)."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext | None = None) -> None:
        super().__init__(host, port, timeout=TIMEOUT)
        self.ctx = ctx

    def connect(self) -> None:
        sock = socket.create_connection((LOOPBACK, self.port), timeout=TIMEOUT)
        self.sock = self.ctx.wrap_socket(sock, server_hostname=self.host) if self.ctx else sock

    def fetch(
        self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> int:
        h = {"User-Agent": USER_AGENT, **(headers or {})}
        self.request(method, url, body=body, headers=h)
        r = self.getresponse()
        r.read()
        return r.status

    def close(self) -> None:
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket):
            try:
                sock.settimeout(1.0)
                sock.unwrap()  # close_notify
            except (OSError, ValueError):
                pass
        super().close()


def client_context(keylog: Path, *, verify: Path | None, ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.keylog_filename = str(keylog)
    ctx.set_alpn_protocols(["http/1.1"])
    if ciphers:
        ctx.set_ciphers(ciphers)
    if verify is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(verify)
    return ctx


def https_get(
    ctx: ssl.SSLContext, name: str, port: int, path: str, headers: dict[str, str] | None = None
) -> int:
    c = LabConnection(name, port, ctx)
    try:
        return c.fetch("GET", path, headers=headers)
    finally:
        c.close()


def split_hello_get(ctx: ssl.SSLContext, name: str, port: int, path: str) -> int:
    """TLS via ssl.SSLObject over a plain socket: the ClientHello record goes out as 100 bytes, then the rest."""
    sock = socket.create_connection((LOOPBACK, port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        sock.sendall(hello[:100])
        time.sleep(0.05)
        sock.sendall(hello[100:])
        for _ in range(100):
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    sock.sendall(out.read())
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed during the handshake") from None
                inc.write(data)
        else:
            raise TimeoutError("handshake did not finish")
        if out.pending:
            sock.sendall(out.read())
        req = f"GET {path} HTTP/1.1\r\nHost: {name}:{port}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
        obj.write(req.encode())
        sock.sendall(out.read())
        buf = b""
        for _ in range(100):
            try:
                buf += obj.read(65536)
            except ssl.SSLWantReadError:
                if out.pending:
                    sock.sendall(out.read())
                data = sock.recv(65536)
                if not data:
                    break
                inc.write(data)
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                cl = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        if out.pending:
            sock.sendall(out.read())
        return int(buf.split(b" ", 2)[1])
    finally:
        sock.close()


def ws_client(port: int) -> str:
    """ws:// handshake, one masked text message carrying a session token, read the answer, close."""
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as s:
        key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample nonce: deterministic
        s.sendall(
            (
                f"GET /ws/chat HTTP/1.1\r\nHost: chat.lab.test:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://chat.lab.test:{port}\r\n\r\n"
            ).encode()
        )
        f = s.makefile("rb")
        status = f.readline()
        for _ in range(50):
            if f.readline() in (b"\r\n", b""):
                break
        if b" 101 " not in status:
            raise RuntimeError(f"websocket upgrade refused: {status!r}")
        msg = json.dumps({"type": "auth", "session": WS_TOKEN}).encode()
        s.sendall(ws_frame(0x1, msg, mask=b"\x37\xfa\x21\x3d"))
        answer = read_ws_frame(f)
        s.sendall(ws_frame(0x8, (1000).to_bytes(2, "big"), mask=b"\x61\x62\x63\x64"))
        read_ws_frame(f)
        f.close()
        return answer[1].decode() if answer else ""


# --------------------------------------------------------------------------------------------------------------
# Capturing


class Tcpdump:
    """tcpdump -i lo -w FILE with a port filter; started, waited for ('listening on'), stopped with SIGINT."""

    def __init__(self, out: Path, ports: list[int]) -> None:
        flt = f"tcp and host {LOOPBACK} and (" + " or ".join(f"port {p}" for p in ports) + ")"
        cmd = ["tcpdump", "-i", "lo", "-n", "-U", "-s", "0", "--immediate-mode", "-w", str(out), flt]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = b""
        deadline = time.monotonic() + TIMEOUT
        assert self.proc.stderr is not None
        while b"listening on" not in self.err:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"tcpdump did not start: {self.err.decode(errors='replace')}")
            r, _, _ = select.select([self.proc.stderr], [], [], left)
            if r:
                self.err += os.read(self.proc.stderr.fileno(), 4096)

    def stop(self) -> str:
        time.sleep(0.3)  # let the last FIN/ACKs reach the capture
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, rest = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, rest = self.proc.communicate(timeout=TIMEOUT)
        self.err += rest or b""
        return self.err.decode(errors="replace")


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, timeout=60, stdout=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------------------------
# Scenarios


def observer_lab(pki: LabPki, keylog: Path) -> list[str]:
    """All observer-lab connections, in order. Returns one line per connection for the log."""
    done: list[str] = []
    trust = pki.ca_file("root")
    tls13 = client_context(keylog, verify=trust)
    no_verify = client_context(keylog, verify=None)

    servers: list[socketserver.BaseServer] = [
        LabHTTPServer(s) for s in ("www", "admin", "api", "redirect", "cdn")
    ]
    servers.append(LabHTTPServer("backend"))
    servers.append(WsServer((LOOPBACK, PORTS["ws"]), WsHandler))
    servers.append(LabHTTPServer("shop", ctx=server_context(pki, "shop.lab.test")))
    tls12 = server_context(
        pki, "tls12.lab.test", max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256"
    )
    servers.append(LabHTTPServer("tls12", ctx=tls12))
    rsa_ctx = server_context(
        pki, "legacy-rsa.lab.test", max_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA256"
    )
    servers.append(LabHTTPServer("rsa", ctx=rsa_ctx))
    servers.append(LabHTTPServer("proxy", ProxyHandler, ctx=server_context(pki, "proxy.lab.test")))
    v12 = ssl.TLSVersion.TLSv1_2
    servers.append(
        LabHTTPServer("mismatch", ctx=server_context(pki, "django-devops.lab.test", max_version=v12))
    )
    servers.append(
        LabHTTPServer("expired", ctx=server_context(pki, "expired.lab.test", max_version=v12, expired=True))
    )
    ss_ctx = server_context(pki, "selfsigned.lab.test", max_version=v12, self_signed=True)
    servers.append(LabHTTPServer("selfsigned", ctx=ss_ctx))
    servers.append(LabHTTPServer("abort", ctx=server_context(pki, "pay.lab.test", max_version=v12)))
    servers.append(LabHTTPServer("split", ctx=server_context(pki, "split.lab.test")))

    def step(label: str, fn: Callable[[], object]) -> None:
        result = fn()
        done.append(f"{label}: {result}")
        time.sleep(0.05)  # keeps flows apart in time, in this order

    with running(servers):
        # a. cleartext HTTP
        def www() -> list[int]:
            c = LabConnection("www.lab.test", PORTS["www"])
            try:
                form = f"username=alice&password={PASSWORD}".encode()
                return [
                    c.fetch("GET", "/login"),
                    c.fetch("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}),
                    c.fetch("GET", "/account", headers={"Cookie": f"session={SESSION}"}),
                ]
            finally:
                c.close()

        step("www login/cookies", www)

        def admin() -> int:
            c = LabConnection("admin.lab.test", PORTS["admin"])
            try:
                basic = base64.b64encode(":".join(BASIC_ADMIN).encode()).decode()
                return c.fetch("GET", "/admin/", headers={"Authorization": f"Basic {basic}"})
            finally:
                c.close()

        step("admin basic auth", admin)

        def api() -> list[int]:
            c = LabConnection("api.lab.test", PORTS["api"])
            try:
                return [
                    c.fetch(
                        "GET",
                        "/api/v1/orders",
                        headers={"Authorization": f"Bearer {jwt()}", "Accept": "application/json"},
                    ),
                    c.fetch(
                        "GET",
                        "/api/v1/inventory",
                        headers={"X-API-Key": API_KEY, "Accept": "application/json"},
                    ),
                    c.fetch("GET", f"/api/v1/export?format=csv&token={EXPORT_TOKEN}"),
                ]
            finally:
                c.close()

        step("api bearer/api-key/token-in-url", api)

        def redirect() -> int:
            c = LabConnection("shop.lab.test", PORTS["redirect"])
            try:
                return c.fetch("GET", "/checkout")
            finally:
                c.close()

        step("http -> https redirect", redirect)

        # b. TLS 1.3 page load, then (mixed content) the page's script over http://
        step(
            "shop TLS 1.3",
            lambda: https_get(
                tls13, "shop.lab.test", PORTS["shop"], "/account", {"Cookie": f"session={SHOP_SESSION}"}
            ),
        )

        def cdn() -> int:
            c = LabConnection("cdn.lab.test", PORTS["cdn"])
            try:
                ref = f"https://shop.lab.test:{PORTS['shop']}/account"
                return c.fetch("GET", "/static/jquery.js", headers={"Referer": ref})
            finally:
                c.close()

        step("cdn jquery over http (mixed content)", cdn)

        # c. TLS 1.2 with and without forward secrecy
        step("TLS 1.2 ECDHE", lambda: https_get(tls13, "tls12.lab.test", PORTS["tls12"], "/status"))
        rsa_client = client_context(keylog, verify=trust, ciphers="ECDHE+AESGCM:AES128-SHA256")
        step(
            "TLS 1.2 static RSA",
            lambda: https_get(rsa_client, "legacy-rsa.lab.test", PORTS["rsa"], "/legacy/"),
        )

        # d. TLS-terminating proxy and its cleartext hop
        basic = base64.b64encode(":".join(BASIC_PROXY).encode()).decode()
        step(
            "proxy TLS -> backend cleartext",
            lambda: https_get(
                tls13,
                "proxy.lab.test",
                PORTS["proxy"],
                "/internal/report?id=7",
                {"Authorization": f"Basic {basic}"},
            ),
        )

        # e, f. certificate trouble (the client does not verify, so the handshakes complete)
        step("name mismatch", lambda: https_get(no_verify, "django-zero.lab.test", PORTS["mismatch"], "/"))
        step("expired", lambda: https_get(no_verify, "expired.lab.test", PORTS["expired"], "/"))
        step("self-signed", lambda: https_get(no_verify, "selfsigned.lab.test", PORTS["selfsigned"], "/"))

        # g. the client trusts another root: it aborts with a fatal alert
        other = client_context(keylog, verify=pki.ca_file("other"))

        def abort() -> str:
            try:
                https_get(other, "pay.lab.test", PORTS["abort"], "/")
            except ssl.SSLError as e:
                return f"client aborted as planned: {e.reason}"
            raise RuntimeError("the abort handshake succeeded")

        step("client abort", abort)

        # h. WebSocket over ws://
        step("websocket", lambda: ws_client(PORTS["ws"]))

        # i. split ClientHello
        step("split ClientHello", lambda: split_hello_get(tls13, "split.lab.test", PORTS["split"], "/split"))
        time.sleep(0.2)
    return done


def basic_pair(pki: LabPki, keylog: Path) -> list[str]:
    trust = pki.ca_file("root")
    ctx = client_context(keylog, verify=trust)
    s13 = LabHTTPServer("basic13", ctx=server_context(pki, "basic13.lab.test"))
    c12 = server_context(
        pki, "basic12.lab.test", max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256"
    )
    s12 = LabHTTPServer("basic12", ctx=c12)
    with running([s13, s12]):
        a = https_get(ctx, "basic13.lab.test", PORTS["basic13"], "/hello")
        time.sleep(0.05)
        b = https_get(ctx, "basic12.lab.test", PORTS["basic12"], "/hello")
        time.sleep(0.2)
    return [f"TLS 1.3: {a}", f"TLS 1.2: {b}"]


def capture(out_pcap: Path, ports: list[int], scenario: Callable[[], list[str]]) -> list[str]:
    td = Tcpdump(out_pcap, ports)
    try:
        lines = scenario()
    finally:
        err = td.stop()
    log(f"tcpdump: {' '.join(ln for ln in err.splitlines() if 'packets' in ln)}")
    return lines


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, default=HERE, help="output directory (default: this script's directory)"
    )
    ap.add_argument(
        "--date",
        help="certificate base date YYYY-MM-DD (default: the first day of the current month, UTC)",
    )
    args = ap.parse_args(argv)
    for tool in ("tcpdump", "editcap"):
        if shutil.which(tool) is None:
            log(f"{tool} not found (Debian: apt-get install tcpdump tshark)")
            return 2
    if os.geteuid() != 0:
        log("run as root: tcpdump needs capture rights on lo")
        return 2
    if args.date:
        base = dt.datetime.strptime(args.date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    else:
        now = dt.datetime.now(dt.UTC)
        base = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="tlsinspect-lab-") as tmp:
        work = Path(tmp)
        log(f"lab PKI for base date {base.date()} (deterministic keys, a few seconds)")
        pki = LabPki(base, work)
        (out / "observer-lab-ca.pem").write_bytes(pki.ca_pem("root"))

        lab_ports = [p for k, p in PORTS.items() if not k.startswith("basic")]
        keylog = out / "observer-lab.keylog"
        keylog.unlink(missing_ok=True)
        raw = work / "observer-lab.pcap"
        for line in capture(raw, lab_ports, lambda: observer_lab(pki, keylog)):
            log(line)
        run(["editcap", "-F", "pcapng", str(raw), str(out / "observer-lab.pcapng")])
        run(
            [
                "editcap",
                "--inject-secrets",
                f"tls,{keylog}",
                str(out / "observer-lab.pcapng"),
                str(out / "observer-lab-dsb.pcapng"),
            ]
        )

        basic_keylog = out / "basic-tls12-tls13.keylog"
        basic_keylog.unlink(missing_ok=True)
        raw = work / "basic-tls12-tls13.pcap"
        for line in capture(raw, [PORTS["basic13"], PORTS["basic12"]], lambda: basic_pair(pki, basic_keylog)):
            log(line)
        (out / "basic-tls12-tls13.pcap").unlink(missing_ok=True)
        shutil.copyfile(raw, out / "basic-tls12-tls13.pcap")  # a copy: tcpdump's own file belongs to its user

    lines = [f"{sha256(out / name)}  {name}" for name in OUTPUTS]
    sys.stdout.write("\n".join(lines) + "\n")
    update_readme(out / "README.md", lines)
    return 0


OUTPUTS = (
    "observer-lab.pcapng",
    "observer-lab-dsb.pcapng",
    "observer-lab.keylog",
    "observer-lab-ca.pem",
    "basic-tls12-tls13.pcap",
    "basic-tls12-tls13.keylog",
)
README_START = "<!-- sha256: written by make_captures.py -->"
README_END = "<!-- /sha256 -->"


def update_readme(readme: Path, lines: list[str]) -> None:
    """Rewrite the SHA-256 block of README.md (between the two markers), if the README has one."""
    if not readme.exists():
        return
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        log(f"{readme}: no SHA-256 markers, not updated")
        return
    block = README_START + "\n```\n" + "\n".join(lines) + "\n```\n"
    readme.write_text(text[:start] + block + text[end:], encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
