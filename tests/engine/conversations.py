"""Real TLS and HTTP conversations turned into captured TCP frames, for engine tests.

`tls_conversation()` runs a real handshake (and a request/response) between Python's ssl client and server
in memory (SSLObject over MemoryBIO), recording the exact bytes each side wrote, in order. `tcp_frames()` lays
such a list of (from_client, bytes) writes out as Ethernet/IPv4/TCP frames with correct sequence numbers, with
options to drop the handshake, reorder, duplicate, split segments or leave holes, so reassembly is exercised
on real protocol bytes.
"""

from __future__ import annotations

import datetime
import ssl
import struct
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Write = tuple[bool, bytes]


def make_cert(tmp: Path, name: str = "test.example") -> tuple[Path, Path]:
    """A self-signed EC certificate for `name` (SAN DNS), written as PEM files (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cp, kp = tmp / f"{name}.crt", tmp / f"{name}.key"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cp, kp


def tls_conversation(
    tmp: Path,
    *,
    version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    sni: str | None = "test.example",
    request: bytes = b"GET /secret/path HTTP/1.1\r\nHost: test.example\r\n\r\n",
    response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    keylog: Path | None = None,
    alpn: list[str] | None = None,
) -> list[Write]:
    """Run a real handshake plus one request/response in memory; return every write in wire order."""
    cert, key = make_cert(tmp, sni or "test.example")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.minimum_version = sctx.maximum_version = version
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.minimum_version = cctx.maximum_version = version
    if alpn:
        cctx.set_alpn_protocols(alpn)
        sctx.set_alpn_protocols(alpn)
    if keylog is not None:
        cctx.keylog_filename = str(keylog)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    writes: list[Write] = []

    def pump() -> None:
        for _ in range(50):
            moved = False
            data = c_out.read()
            if data:
                writes.append((True, data))
                s_in.write(data)
                moved = True
            data = s_out.read()
            if data:
                writes.append((False, data))
                c_in.write(data)
                moved = True
            if not moved:
                return

    c_done = s_done = False
    for _ in range(20):
        if not c_done:
            try:
                client.do_handshake()
                c_done = True
            except ssl.SSLWantReadError:
                pass
        if not s_done:
            try:
                server.do_handshake()
                s_done = True
            except ssl.SSLWantReadError:
                pass
        pump()
        if c_done and s_done:
            break
    assert c_done and s_done, "handshake did not complete"
    client.write(request)
    pump()
    server.read(65536)
    server.write(response)
    pump()
    try:
        client.read(65536)
    except ssl.SSLWantReadError:
        pass
    pump()
    return writes


CLIENT = (bytes([10, 0, 0, 1]), 40000)
SERVER = (bytes([10, 0, 0, 2]), 443)


def _frame(
    src: tuple[bytes, int], dst: tuple[bytes, int], seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    tcp = struct.pack(
        "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src[0], dst[0])
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp + payload


SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def tcp_frames(
    writes: list[Write],
    *,
    handshake: bool = True,
    fin: bool = True,
    mss: int = 1400,
    client: tuple[bytes, int] = CLIENT,
    server: tuple[bytes, int] = SERVER,
    isn_c: int = 1000,
    isn_s: int = 5000,
) -> list[bytes]:
    """Lay writes out as TCP frames (one segment per `mss` bytes) with a 3-way handshake and FINs."""
    frames: list[bytes] = []
    sc, ss = isn_c, isn_s
    if handshake:
        frames.append(_frame(client, server, sc, 0, SYN, b""))
        frames.append(_frame(server, client, ss, sc + 1, SYN | ACK, b""))
        frames.append(_frame(client, server, sc + 1, ss + 1, ACK, b""))
    sc += 1
    ss += 1
    for from_client, data in writes:
        for i in range(0, len(data), mss):
            chunk = data[i : i + mss]
            if from_client:
                frames.append(_frame(client, server, sc, ss, ACK | PSH, chunk))
                sc += len(chunk)
            else:
                frames.append(_frame(server, client, ss, sc, ACK | PSH, chunk))
                ss += len(chunk)
    if fin:
        frames.append(_frame(client, server, sc, ss, FIN | ACK, b""))
        frames.append(_frame(server, client, ss, sc + 1, FIN | ACK, b""))
        frames.append(_frame(client, server, sc + 1, ss + 1, ACK, b""))
    return frames
