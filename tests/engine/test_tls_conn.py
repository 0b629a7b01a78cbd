"""TlsConnection details that need no network: RFC 8879 compressed certificates, bounded decompression."""

from __future__ import annotations

import zlib
from pathlib import Path

import brotli
import pytest
import zstandard
from conversations import make_cert
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlsinspect.engine.tls_conn import TlsConnection


def certificate_message(der: bytes) -> bytes:
    """A TLS 1.3 Certificate message body: empty context, one entry, no entry extensions."""
    entry = len(der).to_bytes(3, "big") + der + b"\x00\x00"
    return b"\x00" + len(entry).to_bytes(3, "big") + entry


def compressed(alg: int, body: bytes, *, ulen: int | None = None) -> bytes:
    data = {1: zlib.compress, 2: brotli.compress, 3: zstandard.ZstdCompressor().compress}[alg](body)
    msg = alg.to_bytes(2, "big") + (len(body) if ulen is None else ulen).to_bytes(3, "big")
    msg += len(data).to_bytes(3, "big") + data
    return b"\x19" + len(msg).to_bytes(3, "big") + msg  # handshake type 25, compressed_certificate


@pytest.fixture(scope="module")
def der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    cert_path, _ = make_cert(tmp_path_factory.mktemp("cc"), "compressed.example")
    return x509.load_pem_x509_certificate(Path(cert_path).read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


@pytest.mark.parametrize("alg", [1, 2, 3])
def test_compressed_certificate_each_algorithm(der: bytes, alg: int) -> None:
    conn = TlsConnection()
    conn.crypto_data(False, compressed(alg, certificate_message(der)), 7, decrypted=True)
    assert [c.san_dns for c in conn.certificates] == [("compressed.example",)]
    assert conn.snapshot().certificates_visibility == "decrypted"
    assert conn.anomalies == []


@pytest.mark.parametrize("alg", [1, 2, 3])
def test_decompression_stops_at_the_declared_length(der: bytes, alg: int) -> None:
    """A message that inflates beyond its declared length (a bomb) is cut there: an anomaly, no exception."""
    body = certificate_message(der) + b"\x00" * 2_000_000
    conn = TlsConnection()
    conn.crypto_data(False, compressed(alg, body, ulen=len(certificate_message(der)) - 10), 7)
    assert conn.certificates == ()
    assert [a.kind for a in conn.anomalies] == ["tls-handshake-malformed"]


def test_unknown_algorithm_is_an_anomaly(der: bytes) -> None:
    msg = (9).to_bytes(2, "big") + (100).to_bytes(3, "big") + (3).to_bytes(3, "big") + b"abc"
    conn = TlsConnection()
    conn.crypto_data(False, b"\x19" + len(msg).to_bytes(3, "big") + msg, 3)
    assert [a.kind for a in conn.anomalies] == ["tls-compressed-certificate"]
