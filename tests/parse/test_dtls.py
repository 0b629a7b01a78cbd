"""DTLS record and handshake reassembly: fragments, retransmissions, cookies, epochs, and the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.errors import DecodeError
from tlsinspect.parse.dtls import DtlsConnection, dtls_client_hello_to_tls, looks_like_dtls
from tlsinspect.parse.tls_handshake import parse_client_hello

RANDOM = bytes(range(32))
# A DTLS 1.2 ClientHello body: version, random, empty session id, an 8-byte cookie, two suites, null
# compression, and a server_name extension for "dtls.test".
SNI = b"\x00\x00\x00\x0e\x00\x0c\x00\x00\x09dtls.test"
CH_BODY = (
    b"\xfe\xfd" + RANDOM + b"\x00" + b"\x08" + b"COOKIE!!" + b"\x00\x04\xc0\x2b\xc0\x2f" + b"\x01\x00"
    + len(SNI).to_bytes(2, "big") + SNI
)  # fmt: skip


def record(body: bytes, *, ct: int = 22, epoch: int = 0, seq: int = 0, version: int = 0xFEFD) -> bytes:
    return (
        bytes([ct])
        + version.to_bytes(2, "big")
        + epoch.to_bytes(2, "big")
        + seq.to_bytes(6, "big")
        + len(body).to_bytes(2, "big")
        + body
    )


def fragment(mtype: int, msg_seq: int, body: bytes, off: int, length: int) -> bytes:
    frag = body[off : off + length]
    return (
        bytes([mtype])
        + len(body).to_bytes(3, "big")
        + msg_seq.to_bytes(2, "big")
        + off.to_bytes(3, "big")
        + len(frag).to_bytes(3, "big")
        + frag
    )


def test_cookie_removed_gives_a_tls_client_hello() -> None:
    tls_body = dtls_client_hello_to_tls(CH_BODY)
    ch = parse_client_hello(tls_body, frame=1, record_version=0xFEFD)
    assert ch.legacy_version == 0xFEFD and ch.random == RANDOM
    assert ch.cipher_suites == (0xC02B, 0xC02F) and ch.server_name == "dtls.test"
    with pytest.raises(DecodeError):
        dtls_client_hello_to_tls(CH_BODY[:35])


def test_fragments_out_of_order_with_retransmission() -> None:
    conn = DtlsConnection()
    parts = [fragment(1, 0, CH_BODY, off, 20) for off in range(0, len(CH_BODY), 20)]
    order = [2, 0, 0, 3, 1] + list(range(4, len(parts)))
    out = []
    for i, k in enumerate(order, 1):
        out += conn.feed(record(parts[k], seq=i), True, i)
    assert len(out) == 1
    from_client, data, frame = out[0]
    assert from_client and frame == len(order)
    assert data[0] == 1 and int.from_bytes(data[1:4], "big") == len(data) - 4
    assert data[4:] == dtls_client_hello_to_tls(CH_BODY)
    # The same message sent again (a retransmission) is not delivered twice.
    assert conn.feed(record(fragment(1, 0, CH_BODY, 0, len(CH_BODY)), seq=99), True, 99) == []


def test_epoch_one_is_counted_not_parsed_and_alerts_kept() -> None:
    conn = DtlsConnection()
    dgram = record(b"\x01", ct=20) + record(b"\xde\xad" * 20, epoch=1) + record(b"\x02\x28", ct=21)
    assert conn.feed(dgram, False, 5) == []
    assert conn.alerts == [(False, 2, 40, 5)]
    assert conn.records == 3


def test_detection() -> None:
    assert looks_like_dtls(record(fragment(1, 0, CH_BODY, 0, len(CH_BODY))))
    assert not looks_like_dtls(b"\x16\x03\x01\x00\x10" + b"\x00" * 40)  # TLS, not DTLS
    assert not looks_like_dtls(record(b"x" * 20, epoch=1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=8))
def test_fuzz_feed_never_raises(datagrams: list[bytes]) -> None:
    conn = DtlsConnection()
    for i, d in enumerate(datagrams, 1):
        conn.feed(record(d) if i % 2 else d, bool(i % 3), i)


@pytest.mark.corpus
def test_illustrated_dtls_handshake() -> None:
    from tlsinspect.capture.files import CaptureFile
    from tlsinspect.engine.engine import Engine

    path = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "illustrated-dtls" / "capture.pcap"
    eng = Engine()
    with CaptureFile(path) as cap:
        for fr in cap:
            eng.process(fr.number, fr.ts, fr.link_type, fr.data)
    [flow] = list(eng.finish())
    assert (flow.transport, flow.app_protocol) == ("udp", "dtls")
    assert flow.client == "127.0.0.1:52862"
    tls = flow.tls
    assert tls is not None and tls.client_hello is not None and tls.server_hello is not None
    assert tls.client_hello.ja3 == "a8e674b659403926e0fc263a59eff1cf"  # tshark's value
    assert tls.server_hello.ja3s == "c2c89a8b10ca74ec5a350a59fb762fb6"
    assert tls.version == 0xFEFC and tls.cipher_suite == 0x1301
    assert tls.client_hello.ja4.startswith("dd3i")
