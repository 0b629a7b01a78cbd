"""tlsinspect.parse.tls_kdf: HKDF-Extract and HKDF-Expand-Label against RFC 8448 and RFC 9001 vectors."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.parse.tls_kdf import hkdf_expand, hkdf_expand_label, hkdf_extract


def test_rfc8448_simple_1rtt_key_schedule() -> None:
    """RFC 8448 §3: the early secret, its "derived" secret, and the server's handshake write key and IV."""
    early = hkdf_extract("sha256", b"\x00", b"\x00" * 32)
    assert early.hex() == "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
    empty_hash = hashlib.sha256(b"").digest()
    derived = hkdf_expand_label("sha256", early, b"derived", empty_hash, 32)
    assert derived.hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"
    server_hs = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert hkdf_expand_label("sha256", server_hs, b"key", b"", 16).hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert hkdf_expand_label("sha256", server_hs, b"iv", b"", 12).hex() == "5d313eb2671276ee13000b30"


def test_rfc9001_client_initial_keys() -> None:
    """RFC 9001 Appendix A.1: QUIC v1 client Initial secret and packet protection keys."""
    salt = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
    initial = hkdf_extract("sha256", salt, bytes.fromhex("8394c8f03e515708"))
    client = hkdf_expand_label("sha256", initial, b"client in", b"", 32)
    assert client.hex() == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
    assert (
        hkdf_expand_label("sha256", client, b"quic key", b"", 16).hex() == "1f369613dd76d5467730efcbe3b1a22d"
    )
    assert hkdf_expand_label("sha256", client, b"quic iv", b"", 12).hex() == "fa044b2f42a3fd3b46fb255c"
    assert (
        hkdf_expand_label("sha256", client, b"quic hp", b"", 16).hex() == "9f50449e04a0e810283a1e9933adedd2"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["sha256", "sha384"]),
    st.binary(min_size=1, max_size=64),
    st.binary(max_size=80),
    st.integers(min_value=1, max_value=200),
)
def test_expand_matches_cryptography(digest: str, prk: bytes, info: bytes, length: int) -> None:
    algorithm = hashes.SHA256() if digest == "sha256" else hashes.SHA384()
    assert hkdf_expand(digest, prk, info, length) == HKDFExpand(algorithm, length, info).derive(prk)


def test_expand_refuses_more_than_255_blocks() -> None:
    assert len(hkdf_expand("sha256", b"k", b"", 255 * 32)) == 255 * 32
    with pytest.raises(ValueError):
        hkdf_expand("sha256", b"k", b"", 255 * 32 + 1)
