"""Findings and exposures on traffic captured for real: servers with bad certificates and a cleartext HTTP server
on 127.0.0.1, real clients, tcpdump writing the pcap, then `tlsinspect read` on it.

Each certificate problem is built with `cryptography` (a private root CA, an intermediate, a leaf for the wrong
name, an expired leaf, an RSA-1024 leaf, a self-signed leaf); each connection must raise exactly its finding and
not the others'. HTTP exposures are checked on the right flow and frame (the frame tshark gives the request).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).parent / "capture"))
from live_helpers import can_capture, http_server  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (can_capture() and shutil.which("tcpdump")),
    reason="needs capture rights on lo and tcpdump (CI: root)",
)

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: Any, issuer: tuple[str, Any] | None, *, ca: bool = False, san: str | None = None,
          days: tuple[int, int] = (-1, 90), key_ids: bool = True) -> x509.Certificate:  # fmt: skip
    issuer_name, issuer_key = (subject, key) if issuer is None else issuer
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if key_ids:  # what a real CA puts in; the Web PKI path builder requires them
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return b.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("pki")
    root_key, inter_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _cert("Loopback Test Root", root_key, None, ca=True, days=(-10, 3650))
    inter = _cert(
        "Loopback Test Intermediate", inter_key, ("Loopback Test Root", root_key), ca=True, days=(-10, 3650)
    )
    (tmp / "root.pem").write_bytes(_pem(root))
    chains: dict[str, tuple[Path, Path]] = {}

    def leaf(label: str, san: str, key: Any = None, *, days: tuple[int, int] = (-1, 90), self_signed: bool = False,
             key_ids: bool = True) -> None:  # fmt: skip
        key = key or ec.generate_private_key(ec.SECP256R1())
        if self_signed:
            chain = [_cert(san, key, None, san=san, days=days)]
        else:
            issuer = ("Loopback Test Intermediate", inter_key)
            chain = [_cert(san, key, issuer, san=san, days=days, key_ids=key_ids), inter]
        cp, kp = tmp / f"{label}.pem", tmp / f"{label}.key"
        cp.write_bytes(_pem(*chain))
        kp.write_bytes(_key_pem(key))
        chains[label] = (cp, kp)

    leaf("good", "good.loop.test")
    leaf("mismatch", "django-devops.loop.test")
    leaf("expired", "expired.loop.test", days=(-400, -10))
    leaf("weak", "weak.loop.test", rsa.generate_private_key(65537, 1024))
    leaf("selfsigned", "self.loop.test", self_signed=True)
    leaf("nokeyid", "nokeyid.loop.test", key_ids=False)
    return {"root": tmp / "root.pem", "chains": chains}


@contextmanager
def tcpdump(path: Path, ports: list[int]) -> Iterator[None]:
    flt = " or ".join(f"tcp port {p}" for p in ports)
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", str(path), flt],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        assert proc.stderr is not None
        while time.monotonic() < deadline:  # tcpdump says "listening on lo" once the capture runs
            line = proc.stderr.readline()
            if "listening on" in line or not line:
                break
        time.sleep(0.2)
        yield
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _tls_client(port: int, sni: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the point is to see the bad certificates on the wire
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.2: the chain travels in cleartext
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # accept the RSA-1024 leaf
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as s,
    ):
        s.sendall(f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
        while s.recv(4096):
            pass


def _http_client(port: int) -> None:
    auth = base64.b64encode(b"alice:loopback-secret-42").decode()
    req = (f"GET /admin?token=tok-0123456789abcdef HTTP/1.1\r\nHost: shop.loop.test\r\nAuthorization: Basic {auth}\r\n"
           "Cookie: session=s3ss10n-abcdef123456\r\nConnection: close\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req.encode())
        while s.recv(4096):
            pass


@pytest.fixture(scope="module")
def captured(pki: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cap")
    pcap = tmp / "loop.pcap"
    contexts = {}
    for label, (cp, kp) in pki["chains"].items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # let the RSA-1024 leaf be loaded and served
        ctx.load_cert_chain(cp, kp)
        contexts[label] = ctx
    snis = {"good": "good.loop.test", "mismatch": "django-zero.loop.test", "expired": "expired.loop.test",
            "weak": "weak.loop.test", "selfsigned": "self.loop.test", "nokeyid": "nokeyid.loop.test"}  # fmt: skip
    ports: dict[str, int] = {}
    servers = [http_server(contexts[label]) for label in snis] + [http_server(None)]
    entered = [s.__enter__() for s in servers]
    try:
        for label, port in zip(snis, entered, strict=False):
            ports[label] = port
        ports["http"] = entered[-1]
        with tcpdump(pcap, list(ports.values())):
            for label, sni in snis.items():
                _tls_client(ports[label], sni)
            _http_client(ports["http"])
    finally:
        for s in servers:
            s.__exit__(None, None, None)
    env = {k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"}
    out = subprocess.run(
        [sys.executable, "-m", "tlsinspect", "read", str(pcap), "--format", "ndjson", "--ca-file", str(pki["root"]),
         "--no-default-roots", "--show-secrets"],  # fmt: skip
        capture_output=True, text=True, timeout=120, env=env, check=True,
    )  # fmt: skip
    flows = [json.loads(x) for x in out.stdout.splitlines() if '"type":"flow"' in x]
    by_port = {int(f["server"].rsplit(":", 1)[1]): f for f in flows}
    return {"pcap": pcap, "ports": ports, "flows": {label: by_port[p] for label, p in ports.items()}}


CERT_RULES = {
    "cert.name-mismatch",
    "cert.expired",
    "cert.weak-key",
    "cert.self-signed",
    "cert.untrusted-issuer",
}


@pytest.mark.parametrize(
    ("label", "want"),
    [
        ("good", set()),
        ("mismatch", {"cert.name-mismatch"}),
        ("expired", {"cert.expired"}),
        ("weak", {"cert.weak-key"}),
        ("selfsigned", {"cert.self-signed"}),
        ("nokeyid", {"cert.untrusted-issuer"}),  # refused by the path builder: no authority key identifier
    ],  # fmt: skip
)
def test_each_certificate_problem_raises_its_finding_only(
    captured: dict[str, Any], label: str, want: set[str]
) -> None:
    flow = captured["flows"][label]
    tls = flow["tls"]
    assert tls["certificates_visibility"] == "cleartext" and tls["version_name"] == "TLS 1.2"
    rules = {f["rule"] for f in flow["findings"]}
    assert rules & CERT_RULES == want, flow["findings"]
    if label == "good":
        assert tls["validation"] == {"trusted": True, "hostname_matches": True, "expired": False, "errors": [],
                                     "expired_now": False}  # fmt: skip
    if label == "mismatch":
        [f] = [f for f in flow["findings"] if f["rule"] == "cert.name-mismatch"]
        assert "django-zero.loop.test" in f["evidence"] and "django-devops.loop.test" in f["evidence"]


def test_cleartext_http_exposures_on_the_right_frame(captured: dict[str, Any]) -> None:
    flow = captured["flows"]["http"]
    assert flow["app_protocol"] == "http"
    [ex] = flow["http"]
    assert (ex["method"], ex["uri"], ex["host"]) == (
        "GET",
        "/admin?token=tok-0123456789abcdef",
        "shop.loop.test",
    )
    found = {(e["kind"], e["value"], e["frame"]) for e in flow["exposures"]}
    if shutil.which("tshark"):
        tshark = subprocess.run(
            ["tshark", "-n", "-r", str(captured["pcap"]), "-Y", "http.request", "-T", "fields", "-e", "frame.number"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert int(tshark.stdout.split()[0]) == ex["frame"]
    frame = ex["frame"]
    assert ("http-basic-auth", "alice:loopback-secret-42", frame) in found
    assert ("cookie", "session=s3ss10n-abcdef123456", frame) in found
    assert ("token-in-url", "token=tok-0123456789abcdef", frame) in found
    assert "http.cleartext-credentials" in {f["rule"] for f in flow["findings"]}
