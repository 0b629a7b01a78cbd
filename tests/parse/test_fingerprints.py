"""tlsinspect.parse.fingerprints: JA3/JA3S against tshark 4.0, JA4 against the FoxIO spec and test data.

The first part is self-contained (values copied from the corpus and the spec); the `corpus` part walks
shared/corpus/expected and skips when it is absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tlsinspect.model import ClientHello, Extension, ServerHello
from tlsinspect.parse.fingerprints import is_grease, ja3, ja3s, ja4, ja4_alpn_chars, ja4_version

CORPUS = Path(os.environ.get("TLSINSPECT_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
EXPECTED = CORPUS / "expected"


def alpn_body(names: list[bytes]) -> bytes:
    body = b"".join(bytes([len(n)]) + n for n in names)
    return len(body).to_bytes(2, "big") + body


def client_hello(
    *,
    legacy_version: int = 0x0303,
    ciphers: list[int],
    extensions: list[int],
    groups: list[int] = (),  # type: ignore[assignment]
    point_formats: list[int] = (),  # type: ignore[assignment]
    sig_algs: list[int] = (),  # type: ignore[assignment]
    versions: list[int] = (),  # type: ignore[assignment]
    alpn: list[bytes] = (),  # type: ignore[assignment]
    sslv2: bool = False,
) -> ClientHello:
    exts = tuple(Extension(type=t, data=alpn_body(list(alpn)) if t == 16 else b"") for t in extensions)
    return ClientHello(
        frame=1,
        record_version=0x0301,
        legacy_version=legacy_version,
        random=b"\x00" * 32,
        session_id=b"",
        cipher_suites=tuple(ciphers),
        compression_methods=(0,),
        extensions=exts,
        alpn=tuple(a.decode("utf-8", "replace") for a in alpn),
        supported_versions=tuple(versions),
        supported_groups=tuple(groups),
        signature_algorithms=tuple(sig_algs),
        ec_point_formats=tuple(point_formats),
        sslv2=sslv2,
    )


def server_hello(*, legacy_version: int, cipher: int, extensions: list[int]) -> ServerHello:
    return ServerHello(
        frame=2,
        record_version=0x0303,
        legacy_version=legacy_version,
        random=b"\x00" * 32,
        session_id=b"",
        cipher_suite=cipher,
        compression_method=0,
        extensions=tuple(Extension(type=t, data=b"") for t in extensions),
    )


# foxio-ja4/pcap/tls-non-ascii-alpn.pcapng, frame 1 (Chrome, GREASE everywhere, ALPN bytes ba ad then http/1.1)
CHROME = dict(
    legacy_version=0x0303,
    ciphers=[0xAAAA, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
             0x009C, 0x009D, 0x002F, 0x0035],
    extensions=[39578, 65281, 51, 45, 5, 17513, 13, 16, 35, 27, 43, 0, 18, 10, 23, 11, 27242, 21],
    groups=[2570, 29, 23, 24],
    point_formats=[0],
    sig_algs=[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
    versions=[0x0A0A, 0x0304, 0x0303],
)  # fmt: skip
CHROME_JA3 = (
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
    "65281-51-45-5-17513-13-16-35-27-43-0-18-10-23-11-21,29-23-24,0"
)
SPEC_CIPHERS_SORTED = "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
SPEC_EXTS_SORTED = "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"
SPEC_SIGS = "0403,0804,0401,0503,0805,0501,0806,0601"


# --------------------------------------------------------------------------------------------------------- GREASE


def test_grease_values() -> None:
    assert [v for v in range(0x10000) if is_grease(v)] == [0x0A0A + 0x1010 * i for i in range(16)]


# --------------------------------------------------------------------------------------------------------- JA3


def test_ja3_chrome_matches_tshark() -> None:
    ch = client_hello(**CHROME, alpn=[b"\xba\xad", b"http/1.1"])
    assert ja3(ch) == (CHROME_JA3, "1c258ebef8eee2dfa3df6d8d07285af9")


def test_ja3_no_extensions_block_matches_tshark() -> None:
    # snet/decrypt_by_keylog/ssl3_0.pcap, an SSLv3 hello that ends after compression_methods
    ch = client_hello(legacy_version=0x0300, ciphers=[0x39, 0x33, 0x35, 0x2F, 0xFF], extensions=[])
    ch = ClientHello(**{**{f: getattr(ch, f) for f in ch.__slots__}, "has_extensions_block": False})
    assert ja3(ch) == ("768,57-51-53-47-255,,,", "e9e5213ee6463b90a4e7beb0fa0705e7")


def test_ja3_sslv2_keeps_two_byte_specs() -> None:
    ch = client_hello(
        legacy_version=0x0301,
        ciphers=[0x010080, 0x0700C0, 0x000039, 0x000035, 0x00FEFF, 0x00000A],
        extensions=[],
        sslv2=True,
    )
    full, digest = ja3(ch)
    assert full == "769,57-53-65279-10,,,"
    assert len(digest) == 32


def test_ja3s_matches_tshark() -> None:
    sh = server_hello(legacy_version=0x0303, cipher=0x1301, extensions=[51, 43])
    assert ja3s(sh) == ("771,4865,51-43", "eb1d94daa7e0344597e756a1fb6e7054")
    sh = server_hello(legacy_version=0x0300, cipher=0x0039, extensions=[65281])
    assert ja3s(sh) == ("768,57,65281", "d1baba54a833e018fea4913c9a3ca6cd")
    sh = server_hello(legacy_version=0x0303, cipher=0xC02F, extensions=[])
    assert ja3s(sh)[0] == "771,49199,"


# --------------------------------------------------------------------------------------------------------- JA4


def test_ja4_spec_example() -> None:
    # technical_details/JA4.md: t13d1516h2_8daaf6152771_e5627efa2ab1
    ch = client_hello(**CHROME, alpn=[b"h2", b"http/1.1"])
    assert ja4(ch) == (
        "t13d1516h2_8daaf6152771_e5627efa2ab1",
        f"t13d1516h2_{SPEC_CIPHERS_SORTED}_{SPEC_EXTS_SORTED}_{SPEC_SIGS}",
    )


def test_ja4_non_ascii_alpn_follows_spec_not_reference() -> None:
    # FoxIO Rust/Python print "99" here (t13d151699_...); the spec says hex first/last: ba ad -> "bd".
    ch = client_hello(**CHROME, alpn=[b"\xba\xad", b"http/1.1"])
    assert ja4(ch)[0] == "t13d1516bd_8daaf6152771_e5627efa2ab1"


@pytest.mark.parametrize(
    ("first", "chars"),
    [
        (None, "00"),
        (b"", "00"),
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"h3-29", "h9"),
        (b"a", "aa"),  # spec: a single character is both first and last
        (b"\xab", "ab"),
        (b"\xab\xcd", "ad"),
        (b"\x30\xab", "3b"),
        (b"\x30\x31\xab\xcd", "3d"),
        (b"\x30\xab\xcd\x31", "01"),
        (b"/x", "28"),  # 2f 78: hex first and last
    ],
)
def test_ja4_alpn_chars(first: bytes | None, chars: str) -> None:
    assert ja4_alpn_chars(first) == chars


def test_ja4_alpn_read_from_extension_bytes() -> None:
    # The decoded name is lossy (U+FFFD); the raw extension body decides.
    ch = client_hello(ciphers=[0x1301], extensions=[16], alpn=[b"\xba\xad"])
    assert ch.alpn == ("\ufffd\ufffd",)
    assert ja4(ch)[0].startswith("t12i0101bd_")


def test_ja4_no_sig_algs_has_no_trailing_underscore() -> None:
    # spec: "0005,000a,...,ff01 = 6d807ffa2a79"
    ch = client_hello(
        ciphers=CHROME["ciphers"],  # type: ignore[arg-type]
        extensions=[0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012,
                    0x002B, 0xFF01, 0x000B, 0x000A, 0x0015],
        versions=[0x0304],
        alpn=[b"h2"],
    )  # fmt: skip
    hashed, raw = ja4(ch)
    assert hashed == "t13d1516h2_8daaf6152771_6d807ffa2a79"
    assert raw == f"t13d1516h2_{SPEC_CIPHERS_SORTED}_{SPEC_EXTS_SORTED}"


def test_ja4_empty_lists_give_zero_hashes() -> None:
    ch = client_hello(legacy_version=0x0301, ciphers=[], extensions=[])
    assert ja4(ch) == ("t10i000000_000000000000_000000000000", "t10i000000__")
    # Only SNI and ALPN: counted in JA4_a, nothing left to hash in JA4_c.
    ch = client_hello(
        legacy_version=0x0303, ciphers=[0x0A0A, 0x002F], extensions=[0x2A2A, 0, 16], alpn=[b"h2"]
    )
    assert ja4(ch) == ("t12d0102h2_ba72b8082249_000000000000", "t12d0102h2_002f_")


def test_ja4_counts_cap_at_99_and_skip_grease() -> None:
    ch = client_hello(ciphers=[0x0A0A] + list(range(1, 120)), extensions=[0x1A1A] + list(range(100, 250)))
    assert ja4(ch)[0][:10] == "t12i999900"


@pytest.mark.parametrize(
    ("legacy", "versions", "expected"),
    [
        (0x0303, [], "12"),
        (0x0301, [], "10"),
        (0x0300, [], "s3"),
        (0x0002, [], "s2"),
        (0x0303, [0x0A0A, 0x0304, 0x0303], "13"),
        (0x0303, [0x7F17, 0x0303], "00"),  # TLS 1.3 draft 23: unknown, numeric max (FoxIO and Arkime agree)
        (0x0303, [0x2A2A], "12"),  # only GREASE: fall back to legacy_version
        (0xFEFD, [0xFEFC, 0xFEFD], "d3"),  # DTLS counts down: newest, not numeric max
        (0xFEFD, [], "d2"),
        (0xFEFF, [], "d1"),
        (0x1234, [], "00"),
    ],
)
def test_ja4_version(legacy: int, versions: list[int], expected: str) -> None:
    ext = [43] if versions else []
    assert (
        ja4_version(client_hello(legacy_version=legacy, ciphers=[], extensions=ext, versions=versions))
        == expected
    )


def test_ja4_transport_letter_and_sig_alg_grease() -> None:
    ch = client_hello(ciphers=[0x1301], extensions=[13], sig_algs=[0x0403, 0x1A1A, 0x0804])
    hashed_t, raw_t = ja4(ch)
    assert raw_t == "t12i010100_1301_000d_0403,0804"
    assert ja4(ch, "q")[1] == "q" + raw_t[1:]
    assert ja4(ch, "d")[0] == "d" + hashed_t[1:]
    with pytest.raises(ValueError):
        ja4(ch, "tcp")


# --------------------------------------------------------------------------------------------------------- corpus


def _hex(v: Any) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


def hello_from_expected(ch: dict[str, Any]) -> ClientHello:
    """A ClientHello model object from a tshark expected client_hello (alpn_hex gives non-printable names)."""
    alpn = (
        [bytes.fromhex(h) for h in ch["alpn_hex"]] if ch.get("alpn_hex") else [a.encode() for a in ch["alpn"]]
    )
    return client_hello(
        legacy_version=_hex(ch["legacy_version"]),
        ciphers=[_hex(c) for c in ch["cipher_suites"]],
        extensions=list(ch["extensions"]),
        groups=list(ch["supported_groups"]),
        point_formats=list(ch["ec_point_formats"]),
        sig_algs=[_hex(s) for s in ch["signature_algorithms"]],
        versions=[_hex(v) for v in ch["supported_versions"]],
        alpn=alpn,
    )


def _expected_files() -> list[Path]:
    skip = {"index.json", "upstream-manifest.json", "crosscheck.json"}
    return sorted(p for p in EXPECTED.rglob("*.json") if p.name not in skip)


def _hellos(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for hs in doc.get("handshakes", []):
        transport = {"tcp": "t", "udp-quic": "q", "udp-dtls": "d"}.get(hs.get("transport", "tcp"), "t")
        for key in ("client_hello", "client_hello_after_hrr", "client_hello_after_hello_verify_request"):
            ch = hs.get(key)
            if ch and not ch.get("sslv2") and "cipher_suites" in ch:
                yield transport, ch


needs_corpus = pytest.mark.skipif(not EXPECTED.is_dir(), reason="shared corpus not present")


@pytest.mark.corpus
@needs_corpus
def test_corpus_ja3_and_ja3s_match_tshark() -> None:
    checked = checked_s = 0
    mismatches = []
    for path in _expected_files():
        doc = json.loads(path.read_text())
        for _, ch in _hellos(doc):
            # tshark writes a partial JA3 for hellos truncated inside the cipher list / without compression
            # methods (ndpi tls_cipher_lens, tls_invalid_reads); those are malformed and not compared.
            if ch.get("ja3_full") is None or not ch.get("compression_methods"):
                continue
            checked += 1
            got = ja3(hello_from_expected(ch))
            if got != (ch["ja3_full"], ch["ja3"]):
                mismatches.append((path.name, ch["frame"], ch["ja3_full"], got[0]))
        for hs in doc.get("handshakes", []):
            sh = hs.get("server_hello")
            if isinstance(sh, dict) and sh.get("ja3s_full") is not None:
                checked_s += 1
                got = ja3s(
                    server_hello(
                        legacy_version=_hex(sh["legacy_version"]),
                        cipher=_hex(sh["cipher_suite"]),
                        extensions=list(sh["extensions"]),
                    )
                )
                if got != (sh["ja3s_full"], sh["ja3s"]):
                    mismatches.append((path.name, sh["frame"], sh["ja3s_full"], got[0]))
    assert mismatches == []
    assert checked > 700 and checked_s > 500


FOXIO_TESTDATA = CORPUS / "foxio-ja4" / "python" / "test" / "testdata"
# Where we follow the spec and FoxIO's tools do not (module docstring, point 1): upstream value -> ours.
SPEC_OVERRIDES = {"t13d151699_8daaf6152771_e5627efa2ab1": "t13d1516bd_8daaf6152771_e5627efa2ab1"}


@pytest.mark.corpus
@pytest.mark.skipif(not FOXIO_TESTDATA.is_dir(), reason="shared corpus not present")
def test_corpus_ja4_matches_foxio_python_testdata_raw_and_hashed() -> None:
    checked = 0
    for data_file in sorted(FOXIO_TESTDATA.glob("*.json")):
        expected = EXPECTED / "foxio-ja4" / "pcap" / data_file.name
        if not expected.exists():
            continue
        ours = {ja4(hello_from_expected(ch), tr) for tr, ch in _hellos(json.loads(expected.read_text()))}
        for row in json.loads(data_file.read_text()):
            for key in (k for k in row if k.startswith("JA4.")):
                want = row[key]
                want_raw = row["JA4_r." + key.split(".", 1)[1]]
                if want in SPEC_OVERRIDES:
                    prefix = SPEC_OVERRIDES[want][:10]
                    want, want_raw = SPEC_OVERRIDES[want], prefix + want_raw[10:]
                assert (want, want_raw) in ours, f"{data_file.name}: {want}"
                checked += 1
    assert checked >= 100


@pytest.mark.corpus
@needs_corpus
def test_corpus_ja4_matches_foxio_rust_and_arkime() -> None:
    manifest = json.loads((EXPECTED / "upstream-manifest.json").read_text())["captures"]
    checked = 0
    missing = []
    for capture, sources in manifest.items():
        want: set[str] = set()
        for row in (sources.get("foxio_ja4") or {}).get("rust_snapshot") or []:
            if row.get("ja4"):
                want.add(SPEC_OVERRIDES.get(row["ja4"], row["ja4"]))
        for session in (sources.get("arkime") or {}).get("sessions") or []:
            want.update((session.get("tls") or {}).get("ja4") or [])
        expected = EXPECTED / (capture + ".json")
        if not want or not expected.exists():
            continue
        doc = json.loads(expected.read_text())
        ours = {ja4(hello_from_expected(ch), tr)[0] for tr, ch in _hellos(doc)}
        if not ours:
            continue  # tshark dissected no hello (TLS inside OpenVPN): nothing to compare
        for value in sorted(want):
            checked += 1
            if value not in ours:
                missing.append((capture, value))
    assert missing == []
    assert checked >= 60
