"""A real TLS handshake between Python's ssl client and server in memory (SSLObject over MemoryBIO).

Shared by the parser tests: the exact bytes each side put on the wire, without sockets or a capture.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID


def converse(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, payload: bytes = b"", reply: bytes = b""
) -> tuple[bytes, bytes]:
    """Handshake, then the client sends `payload` and the server `reply`; returns (client bytes, server bytes)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    wire = [bytearray(), bytearray()]

    def pump() -> None:
        for _ in range(20):
            a, b = c_out.read(), s_out.read()
            if not a and not b:
                return
            wire[0] += a
            s_in.write(a)
            wire[1] += b
            c_in.write(b)

    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((client, server)):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
            pump()
        if all(done):
            break
    assert all(done), "handshake did not complete"
    if payload:
        client.write(payload)
        pump()
        got = b""
        while len(got) < len(payload):
            got += server.read(len(payload))
        assert got == payload
    if reply:
        server.write(reply)
        pump()
    return bytes(wire[0]), bytes(wire[1])


def write_self_signed(directory: Path, key: Any, serial: int) -> tuple[str, str, bytes]:
    """A self-signed "localhost" certificate for `key`, valid now: (cert PEM path, key PEM path, cert DER)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    c, k = directory / "c.pem", directory / "k.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(c), str(k), cert.public_bytes(serialization.Encoding.DER)
