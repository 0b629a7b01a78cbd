"""The engine on real TLS bytes laid out as TCP frames: roles, reassembly, accounting, bounds, decryption."""

from __future__ import annotations

import random
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from conversations import CLIENT, SERVER, tcp_frames, tls_conversation

from tlsinspect.capture.inputs import read_keylog
from tlsinspect.engine.engine import Engine
from tlsinspect.model import Flow
from tlsinspect.parse.keylog import KeyLog

ETH = 1


def run(frames: list[bytes], **kw: object) -> tuple[Engine, list[Flow]]:
    eng = Engine(**kw)  # type: ignore[arg-type]
    for i, data in enumerate(frames, 1):
        eng.process(i, 1_700_000_000.0 + i / 1000, ETH, data)
    flows = list(eng.drain()) + list(eng.finish())
    return eng, flows


@pytest.fixture(scope="module")
def tls13(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[bool, bytes]], Path]:
    tmp = tmp_path_factory.mktemp("tls13")
    keylog = tmp / "keys.log"
    return tls_conversation(tmp, keylog=keylog, alpn=["http/1.1"]), keylog


@pytest.fixture(scope="module")
def tls12(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[bool, bytes]], Path]:
    tmp = tmp_path_factory.mktemp("tls12")
    keylog = tmp / "keys.log"
    return tls_conversation(tmp, version=ssl.TLSVersion.TLSv1_2, keylog=keylog), keylog


def test_tls13_handshake_roles_and_fields(tls13: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls13
    eng, flows = run(tcp_frames(writes))
    assert len(flows) == 1
    f = flows[0]
    assert (f.client, f.server) == ("10.0.0.1:40000", "10.0.0.2:443")
    assert f.app_protocol == "tls" and f.syn_seen and f.state == "closed"
    assert f.tls is not None and f.tls.client_hello is not None and f.tls.server_hello is not None
    assert f.tls.client_hello.server_name == "test.example"
    assert f.tls.client_hello.alpn == ("http/1.1",)
    assert f.tls.version == 0x0304
    assert f.tls.server_hello.selected_version == 0x0304
    assert f.tls.certificates == () and f.tls.certificates_visibility == "encrypted"
    assert f.tls.client_hello.ja4.startswith("t13d")
    assert f.bytes_client == sum(len(d) for c, d in writes if c)
    assert f.bytes_server == sum(len(d) for c, d in writes if not c)
    assert eng.accounted() == eng.counts["frames"]


def test_tls13_decrypted_with_keylog(tls13: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, keylog = tls13
    _, flows = run(tcp_frames(writes), keylog=read_keylog(keylog))
    tls = flows[0].tls
    assert tls is not None and tls.decrypted and tls.decryption == "decrypted"
    assert tls.certificates_visibility == "decrypted"
    assert [c.san_dns for c in tls.certificates] == [("test.example",)]
    [ex] = flows[0].http
    assert (ex.method, ex.uri, ex.status, ex.inside_tls) == ("GET", "/secret/path", 200, True)


def test_tls13_wrong_keylog_gives_reason(
    tls13: tuple[list[tuple[bool, bytes]], Path], tmp_path: Path
) -> None:
    writes, _ = tls13
    _, flows = run(
        tcp_frames(writes), keylog=KeyLog.parse("CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48 + "\n")
    )
    tls = flows[0].tls
    assert tls is not None and not tls.decrypted
    assert tls.decryption is not None and "no secret" in tls.decryption
    assert flows[0].http == ()


def test_tls12_certificate_in_cleartext_and_decryption(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, keylog = tls12
    _, flows = run(tcp_frames(writes), keylog=read_keylog(keylog))
    tls = flows[0].tls
    assert tls is not None
    assert tls.version == 0x0303 and tls.certificates_visibility == "cleartext"
    assert tls.certificates[0].subject == "CN=test.example"
    assert tls.decrypted
    assert [(h.method, h.uri) for h in flows[0].http] == [("GET", "/secret/path")]


def test_segment_size_one_byte_gives_same_flow(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    _, whole = run(tcp_frames(writes))
    _, tiny = run(tcp_frames(writes, mss=7))
    a, b = whole[0].tls, tiny[0].tls
    assert a is not None and b is not None
    assert a.client_hello is not None and b.client_hello is not None
    assert a.client_hello.random == b.client_hello.random
    assert a.client_hello.ja3 == b.client_hello.ja3
    assert [c.sha256 for c in a.certificates] == [c.sha256 for c in b.certificates]
    assert a.app_data_bytes == b.app_data_bytes


def test_out_of_order_and_duplicates_reassemble(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    frames = tcp_frames(writes, mss=200)
    head, body, tail = frames[:3], frames[3:-3], frames[-3:]
    rng = random.Random(7)
    shuffled = body[:]
    # Swap neighbours and duplicate some segments: what a capture of a lossy path looks like.
    for i in range(0, len(shuffled) - 1, 3):
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    dups = [shuffled[i] for i in rng.sample(range(len(shuffled)), 5)]
    _, flows = run(head + shuffled + dups + tail)
    _, ref = run(frames)
    a, b = flows[0].tls, ref[0].tls
    assert a is not None and b is not None
    # Same hello and chain; only the frame that completed the hello may differ once segments are reordered.
    assert replace(a.client_hello, frame=0) == replace(b.client_hello, frame=0)  # type: ignore[arg-type]
    assert a.certificates == b.certificates
    assert not [x for x in flows[0].anomalies if x.kind == "tcp-gap"]


def test_missing_syn_roles_from_content(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    # Server port above client port, and no SYN: the ClientHello still decides who is the client.
    frames = tcp_frames(
        writes, handshake=False, client=(bytes([10, 0, 0, 1]), 443), server=(bytes([10, 0, 0, 2]), 50000)
    )
    _, flows = run(frames)
    f = flows[0]
    assert f.client == "10.0.0.1:443" and f.server == "10.0.0.2:50000"
    assert not f.syn_seen
    assert f.tls is not None and f.tls.client_hello is not None


def test_gap_is_an_anomaly_and_rest_is_analysed(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    frames = tcp_frames(writes, mss=300)
    # Drop one server segment in the middle of the certificate flight; the client's ACKs prove it was sent.
    server_idx = [i for i, fr in enumerate(frames) if fr[34:36] == b"\x01\xbb" and len(fr) > 60]
    dropped = server_idx[2]
    _, flows = run(frames[:dropped] + frames[dropped + 1 :])
    kinds = [a.kind for a in flows[0].anomalies]
    assert "tcp-gap" in kinds
    tls = flows[0].tls
    assert tls is not None and tls.client_hello is not None and tls.server_hello is not None


def test_port_reuse_makes_two_flows(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    first = tcp_frames(writes, isn_c=1000)
    second = tcp_frames(writes, isn_c=900000)
    eng, flows = run(first + second)
    assert [f.id for f in flows] == [1, 2]
    assert flows[1].first_frame == len(first) + 1
    assert eng.accounted() == eng.counts["frames"] == len(first) + len(second)


def test_flow_cap_evicts_and_records(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    frames: list[bytes] = []
    for port in range(40000, 40005):
        frames += tcp_frames(writes, client=(CLIENT[0], port), fin=False)
    eng, flows = run(frames, max_flows=2)
    assert len(flows) == 5
    assert eng.flows_evicted == 3
    assert [f.state for f in flows].count("evicted") == 3
    assert any(a.kind == "flow-evicted" for f in flows for a in f.anomalies)
    assert [f.id for f in flows] == [1, 2, 3, 4, 5]


def test_undecodable_frames_are_accounted() -> None:
    eng, flows = run([b"\x00" * 10, b"\xff" * 60])
    assert flows == []
    assert eng.counts["frames"] == 2 == eng.accounted()
    assert eng.counts["undecodable"] == 1  # 10 bytes: Ethernet header truncated
    assert eng.anomalies and eng.anomalies[0].kind == "frame-undecodable"


def test_http_cleartext_flow_and_exposure() -> None:
    req = b"POST /login HTTP/1.1\r\nHost: shop\r\nAuthorization: Basic YWxpY2U6czNjcjN0\r\nContent-Length: 0\r\n\r\n"
    resp = b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n"
    _, flows = run(tcp_frames([(True, req), (False, resp)], server=(SERVER[0], 8080)))
    f = flows[0]
    assert f.app_protocol == "http"
    assert [(h.method, h.uri, h.status) for h in f.http] == [("POST", "/login", 302)]
    assert ("http-basic-auth", "alice:s3cr3t") in [(e.kind, e.value) for e in f.exposures]


def test_starttls_after_cleartext_preamble(tls12: tuple[list[tuple[bool, bytes]], Path]) -> None:
    writes, _ = tls12
    pre = [
        (False, b"220 mail.example ESMTP\r\n"),
        (True, b"EHLO x\r\n"),
        (False, b"250-mail.example\r\n250 STARTTLS\r\n"),
        (True, b"STARTTLS\r\n"),
        (False, b"220 Ready to start TLS\r\n"),
    ]
    _, flows = run(tcp_frames(pre + writes, server=(SERVER[0], 25)))
    tls = flows[0].tls
    assert tls is not None and tls.client_hello is not None and tls.server_hello is not None
    assert tls.certificates[0].subject == "CN=test.example"


@pytest.mark.corpus
def test_quic_handshake_space_decrypted_with_keylog() -> None:
    """illustrated-quic (RFC 9001 walk-through): with its key log the server's certificate is read."""
    from tlsinspect.capture.files import CaptureFile

    base = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "illustrated-quic"
    eng = Engine(keylog=read_keylog(base / "keylog.txt"))
    with CaptureFile(base / "capture.pcap") as cap:
        for fr in cap:
            eng.process(fr.number, fr.ts, fr.link_type, fr.data)
    [flow] = list(eng.finish())
    assert flow.app_protocol == "quic" and flow.tls is not None
    assert flow.tls.client_hello is not None and flow.tls.client_hello.ja4.startswith("q13")
    assert flow.tls.certificates_visibility == "decrypted"
    assert [c.sha256 for c in flow.tls.certificates] == [
        "c66414aaf6eb0445ccbf2769c0f5ed68dd8940563bf4ebb4b59cdc14d7d71e91"
    ]
    # Without the key log the certificate stays hidden, and nothing is guessed.
    eng = Engine()
    with CaptureFile(base / "capture.pcap") as cap:
        for fr in cap:
            eng.process(fr.number, fr.ts, fr.link_type, fr.data)
    [flow] = list(eng.finish())
    assert flow.tls is not None and flow.tls.certificates == ()
    assert flow.tls.certificates_visibility == "encrypted"
