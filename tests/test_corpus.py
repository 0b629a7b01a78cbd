"""The whole public corpus (../shared/corpus): invariants on every capture, and handshakes against tshark.

Every capture must read without an internal error, with every frame accounted for. Every TLS handshake tshark
4.0 saw (corpus/expected/) must be found by its ClientHello random with the same fields, except the few listed
in KNOWN_DIFFERENCES, where tshark and tlsinspect disagree for a stated reason.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from tlsinspect.capture.files import CaptureFile
from tlsinspect.capture.inputs import read_keylog
from tlsinspect.engine.engine import Engine
from tlsinspect.model import Flow
from tlsinspect.output.jsonout import client_hello_dict, server_hello_dict
from tlsinspect.parse.keylog import KeyLog

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
EXPECTED = CORPUS / "expected"
SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")

KNOWN_DIFFERENCES = {
    # tshark dissects a ServerHello out of bytes that are not one (truncated single-segment fuzz cases).
    "mercury/test/afl_data/corner-cases.pcap",
    "mercury/test/afl_data/encrypted_handshake_cert_false_positive.pcap",
    # tshark reads a draft-14 ServerHello with the final layout (suite 0xacad); the draft has no session id.
    "suricata-verify/tls/tls13-draft14/tls13_draft14.pcap",
    # A synthetic ServerHello whose extensions are cut mid-way: tshark reads selected_version 0x002c out of the
    # broken supported_versions bytes; we keep the extensions that parse and report legacy_version 0x0303.
    "arkime/pcap/arkime_synthetic.pcap",
    # A ClientHello whose extensions block is one stray byte: tshark's JA3 stops early ("769,4-5-...,").
    "ndpi/pcap/tls_invalid_reads.pcap",
    # Fuzzed hellos repeating one random; tshark also lists the partial ones it could not finish parsing.
    "ndpi/pcap/tls_cipher_lens.pcap",
}

CH_FIELDS = ("legacy_version", "cipher_suites", "extensions", "server_name", "supported_versions",
             "supported_groups", "signature_algorithms", "ec_point_formats", "key_share_groups", "ja3")  # fmt: skip
SH_FIELDS = ("cipher_suite", "selected_version", "extensions", "ja3s")


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in SUFFIXES and "expected" not in p.parts)


@cache
def read(path: Path) -> tuple[list[Flow], Engine, CaptureFile]:
    exp_path = EXPECTED / (str(path.relative_to(CORPUS)) + ".json")
    keylog = None
    if exp_path.exists():
        exp = json.loads(exp_path.read_text())
        if exp.get("keylog"):
            keylog = read_keylog(CORPUS / exp["keylog"])
    cap = CaptureFile(path)
    eng = Engine(keylog=keylog)
    with cap:
        for stype, data in cap.secrets:
            if stype == 0x544C534B:
                eng.keylog.merge(KeyLog.parse(data))
        for f in cap:
            eng.process(f.number, f.ts, f.link_type, f.data)
    flows = list(eng.finish())
    return flows, eng, cap


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_capture_invariants(path: Path) -> None:
    flows, eng, cap = read(path)
    assert eng.counts["frames"] == cap.frames_read
    assert eng.accounted() == eng.counts["frames"]
    in_flows = sum(f.frames for f in flows)
    assert in_flows == eng.counts["tcp"] + eng.counts["udp_flow"]
    assert [f.id for f in flows] == list(range(1, len(flows) + 1))
    assert [f.first_frame for f in flows] == sorted(f.first_frame for f in flows)
    internal = [a for f in flows for a in f.anomalies if a.kind == "internal-error"]
    internal += [a for a in eng.anomalies if a.kind == "internal-error"]
    assert internal == []


def expected_files() -> list[Path]:
    if not EXPECTED.is_dir():
        return []
    skip = {"index.json", "upstream-manifest.json", "crosscheck.json"}
    return sorted(p for p in EXPECTED.rglob("*.json") if p.name not in skip)


def _norm(v: object) -> object:
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, str) and v.lower().startswith("0x"):
        return int(v, 16)
    return v


@pytest.mark.corpus
@pytest.mark.parametrize("exp_path", expected_files(), ids=lambda p: str(p.relative_to(EXPECTED)))
def test_handshakes_agree_with_tshark(exp_path: Path) -> None:
    exp = json.loads(exp_path.read_text())
    if exp["capture"] in KNOWN_DIFFERENCES:
        pytest.skip("known, explained difference (see KNOWN_DIFFERENCES)")
    flows, _, _ = read(CORPUS / exp["capture"])
    hellos: dict[str, list[tuple[Flow, dict[str, object]]]] = {}
    for f in flows:
        if f.tls is None:
            continue
        for ch in (f.tls.client_hello, f.tls.client_hello_after_hrr):
            d = client_hello_dict(ch)
            if d is not None:
                hellos.setdefault(str(d["random"]), []).append((f, d))
    for hs in exp.get("handshakes", []):
        if hs.get("transport") != "tcp":
            continue
        want_ch = hs.get("client_hello") or {}
        rnd = want_ch.get("random")
        if not rnd:
            continue
        assert rnd in hellos, f"no ClientHello with random {rnd}"
        # A ClientHello sent again after a HelloRetryRequest keeps its random: pick the one in the same frame.
        cands = sorted(hellos[rnd], key=lambda fd: fd[1]["frame"] != want_ch.get("frame"))
        flow, got = cands[0]
        for fld in CH_FIELDS:
            if fld in want_ch and not (fld == "ja3" and want_ch[fld] is None):
                assert _norm(got.get(fld)) == _norm(want_ch[fld]) or (
                    not got.get(fld) and not want_ch[fld]
                ), fld
        want_sh = hs.get("server_hello")
        if want_sh and flow.tls is not None:
            sh = server_hello_dict(flow.tls.server_hello) or {}
            for fld in SH_FIELDS:
                if want_sh.get(fld) is not None:
                    assert _norm(sh.get(fld)) == _norm(want_sh[fld]), fld
