"""Tests for tlsinspect.registry: known codes, GREASE, fallbacks, and the generator round trip."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tlsinspect import registry
from tlsinspect.registry import _tables, extra

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_registry", ROOT / "scripts" / "gen_registry.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_registry", mod)
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()

GREASE16 = [0x0A0A + 0x1010 * n for n in range(16)]


# --- generator ------------------------------------------------------------------------------------------------


def test_generator_reproduces_tables_byte_for_byte() -> None:
    committed = (ROOT / "tlsinspect" / "registry" / "_tables.py").read_text(encoding="utf-8")
    assert gen.render() == committed, "run: python scripts/gen_registry.py (never hand-edit _tables.py)"


def test_generator_check_mode_passes() -> None:
    assert gen.main(["--check"]) == 0


def test_every_named_csv_row_is_reachable() -> None:
    count = 0
    for kind, code, name in gen.named_rows():
        got = registry.alpn_name(code) if kind == "alpn" else registry.name_or_hex(kind, code)
        assert got == name, (kind, code, name)
        count += 1
    assert count > 800


def _raw_named_rows(file: str, name_col: str) -> int:
    with (ROOT / "data" / "iana" / file).open(newline="", encoding="utf-8") as fh:
        return sum(
            1 for rec in csv.DictReader(fh) if not rec[name_col].startswith(("Unassigned", "Reserved"))
        )


@pytest.mark.parametrize(
    ("file", "name_col", "table"),
    [
        ("tls-parameters-4.csv", "Description", _tables.CIPHER_SUITES),
        ("tls-parameters-6.csv", "Description", _tables.ALERTS),
        ("tls-parameters-8.csv", "Description", _tables.GROUPS),
        ("tls-signaturescheme.csv", "Description", _tables.SIGNATURE_SCHEMES),
        ("quic-transport.csv", "Parameter Name", _tables.QUIC_TRANSPORT_PARAMS),
    ],
)
def test_no_named_row_dropped(file: str, name_col: str, table: dict[int, object]) -> None:
    # Counted with the plain csv module, independently of the generator's parser.
    non_grease = {k for k, v in table.items() if v != "GREASE"}
    assert len(non_grease) == _raw_named_rows(file, name_col)


def test_source_csvs_match_shared_copies() -> None:
    shared = Path("/work/shared/data/iana")
    if not shared.is_dir():
        pytest.skip("shared IANA data not present")
    for f in gen.SOURCE_FILES:
        assert (ROOT / "data" / "iana" / f).read_bytes() == (shared / f).read_bytes(), f


# --- cipher suites --------------------------------------------------------------------------------------------


def test_ecdhe_rsa_aes128_gcm() -> None:
    cs = registry.cipher_suite_info(0xC02F)
    assert cs is not None
    assert cs.name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert (cs.kx, cs.auth, cs.cipher, cs.mode, cs.mac) == ("ECDHE", "RSA", "AES_128", "GCM", "AEAD")
    assert cs.forward_secrecy and cs.aead and not cs.tls13 and not cs.export
    assert cs.key_bits == 128 and cs.prf_hash == "sha256" and cs.recommended == "Y"


def test_rsa_rc4_md5_has_no_forward_secrecy() -> None:
    cs = registry.cipher_suite_info(0x0004)
    assert cs is not None
    assert cs.name == "TLS_RSA_WITH_RC4_128_MD5"
    assert (cs.kx, cs.cipher, cs.mode, cs.mac) == ("RSA", "RC4_128", "STREAM", "MD5")
    assert not cs.forward_secrecy and not cs.aead


def test_export_suites() -> None:
    cs = registry.cipher_suite_info(0x0003)
    assert cs is not None and cs.export and cs.cipher == "RC4_40" and cs.key_bits == 40
    anon = registry.cipher_suite_info(0x0019)
    assert anon is not None
    assert anon.name == "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"
    assert (anon.kx, anon.auth, anon.cipher, anon.mode, anon.export) == ("DH", "anon", "DES40", "CBC", True)
    assert not anon.forward_secrecy


def test_tls13_chacha() -> None:
    cs = registry.cipher_suite_info(0x1303)
    assert cs is not None
    assert cs.name == "TLS_CHACHA20_POLY1305_SHA256"
    assert cs.tls13 and cs.forward_secrecy and cs.aead
    assert (cs.kx, cs.auth, cs.cipher, cs.mode, cs.mac, cs.prf_hash) == (
        "any",
        "any",
        "CHACHA20",
        "POLY1305",
        "AEAD",
        "sha256",
    )
    assert registry.cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    aes256 = registry.cipher_suite_info(0x1302)
    assert aes256 is not None and aes256.prf_hash == "sha384" and aes256.key_bits == 256


def test_3des_null_and_scsv() -> None:
    des3 = registry.cipher_suite_info(0x000A)
    assert des3 is not None and (des3.cipher, des3.mode, des3.mac, des3.key_bits) == (
        "3DES_EDE",
        "CBC",
        "SHA",
        168,
    )
    null = registry.cipher_suite_info(0x0000)
    assert null is not None and null.name == "TLS_NULL_WITH_NULL_NULL"
    assert (null.kx, null.cipher, null.mode, null.mac) == ("NULL", "NULL", "NULL", "NULL")
    assert registry.cipher_suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert registry.cipher_suite_name(0x5600) == "TLS_FALLBACK_SCSV"
    scsv = registry.cipher_suite_info(0x5600)
    assert scsv is not None and scsv.kx == "SCSV" and scsv.key_bits is None


def test_iana_name_quirks_parse() -> None:
    psk_dhe = registry.cipher_suite_info(0xC0AA)  # IANA spells it TLS_PSK_DHE_WITH_...
    assert psk_dhe is not None and psk_dhe.kx == "DHE_PSK" and psk_dhe.forward_secrecy
    ccm = registry.cipher_suite_info(0xC09C)  # TLS_RSA_WITH_AES_128_CCM: no MAC token
    assert ccm is not None and (ccm.mode, ccm.mac, ccm.prf_hash) == ("CCM", "AEAD", "sha256")
    mgm = registry.cipher_suite_info(0xC103)  # RFC 9367 TLS 1.3 GOST suite despite the _WITH_
    assert mgm is not None and mgm.tls13 and mgm.mode == "MGM" and mgm.prf_hash == "streebog256"
    gost12 = registry.cipher_suite_info(0xC100)
    assert gost12 is not None and not gost12.tls13 and (gost12.mode, gost12.mac) == ("CTR", "OMAC")
    integrity = registry.cipher_suite_info(0xC0B4)  # RFC 9150 TLS_SHA256_SHA256
    assert (
        integrity is not None and integrity.tls13 and integrity.cipher == "NULL" and integrity.mac == "SHA256"
    )
    sha384 = registry.cipher_suite_info(0xC024)
    assert sha384 is not None and sha384.prf_hash == "sha384" and sha384.mac == "SHA384"


def test_every_suite_fully_derived() -> None:
    allowed = {
        "kx": {"RSA", "DHE", "ECDHE", "DH", "ECDH", "PSK", "DHE_PSK", "ECDHE_PSK", "RSA_PSK", "SRP", "KRB5"}
        | {"ECCPWD", "GOSTR341112", "NULL", "any", "SCSV"},
        "mode": {
            "GCM",
            "CCM",
            "CCM_8",
            "CBC",
            "POLY1305",
            "STREAM",
            "NULL",
            "MGM",
            "CTR",
            "CNT",
            "AEGIS",
            "ASCON",
        },
    }
    for code in _tables.CIPHER_SUITES:
        cs = registry.cipher_suite_info(code)
        assert cs is not None
        for field in ("kx", "auth", "cipher", "mode", "mac"):
            value = getattr(cs, field)
            assert value and value != "?", (hex(code), field)
        assert cs.kx in allowed["kx"], (hex(code), cs.kx)
        assert cs.mode in allowed["mode"], (hex(code), cs.mode)
        assert cs.aead == (cs.mac == "AEAD"), hex(code)
        assert cs.tls13 <= cs.forward_secrecy
        assert cs.recommended in ("Y", "N", "D")
        if cs.kx != "SCSV":
            assert cs.key_bits is not None
        if cs.kx not in ("SCSV", "NULL"):
            assert cs.prf_hash is not None, hex(code)


def test_cipher_parser_accepts_legacy_ssl_prefix_and_rejects_unknown() -> None:
    row = gen.parse_cipher_suite("SSL_RSA_EXPORT1024_WITH_DES_CBC_SHA", "", True)
    assert row[1:5] == ("RSA", "RSA", "DES", "CBC") and row[6] is True
    with pytest.raises(ValueError):
        gen.parse_cipher_suite("TLS_FOO_WITH_AES_128_GCM_SHA256", "", True)
    with pytest.raises(ValueError):
        gen.parse_cipher_suite("TLS_RSA_WITH_BLOWFISH_CBC_SHA", "", True)


def test_cipher_range_parsing() -> None:
    assert gen.parse_cipher_value("0x00,0x1C-1D") == (0x001C, 0x001D)
    assert gen.parse_cipher_value("0x01-09,*") == (0x0100, 0x09FF)
    assert gen.parse_cipher_value("0x0A,0x0B-FF") == (0x0A0B, 0x0AFF)
    assert gen.parse_cipher_value("0xC0,0x2F") == (0xC02F, 0xC02F)


# --- other registries -----------------------------------------------------------------------------------------


def test_groups_sigschemes_alerts() -> None:
    assert registry.group_name(29) == "x25519"
    assert registry.group_name(23) == "secp256r1"
    assert registry.group_name(0x11EC) == "X25519MLKEM768"
    assert registry.group_name(25497) == "X25519Kyber768Draft00 (OBSOLETE)"
    assert registry.recommended("group", 0x11EC) == "Y"
    assert registry.signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert registry.alert_name(40) == "handshake_failure"
    assert registry.alert_level_name(2) == "fatal"
    assert registry.alert_level_name(1) == "warning"
    assert registry.handshake_type_name(1) == "client_hello"
    assert registry.content_type_name(23) == "application_data"
    assert registry.psk_mode_name(1) == "psk_dhe_ke"
    assert registry.ec_point_format_name(0) == "uncompressed"
    assert registry.cert_compression_name(2) == "brotli"
    assert registry.certificate_type_name(2) == "Raw Public Key"


def test_extensions_iana_names() -> None:
    assert registry.extension_name(0) == "server_name"
    assert registry.extension_name(23) == "extended_main_secret"  # RFC 9846 rename of extended_master_secret
    assert registry.extension_name(10) == "supported_groups"  # '(renamed from "elliptic_curves")' stripped
    assert registry.extension_name(35) == "session_ticket"
    assert registry.extension_name(65037) == "encrypted_client_hello"
    assert registry.extension_name(40) is None  # Reserved row


def test_non_iana_extras_are_marked() -> None:
    assert registry.extension_name(13172) == "next_protocol_negotiation"
    assert registry.extension_name(17613) == "application_settings"
    assert registry.extension_name(17513) == "application_settings_old"
    assert registry.extension_name(30032) == "channel_id"
    assert registry.extension_name(0xFFCE) == "encrypted_server_name"
    assert not registry.is_iana("extension", 17613)
    assert registry.is_iana("extension", 0)
    assert registry.is_iana("cipher", 0x0A0A)
    assert not registry.is_iana("extension", 0x1234)


@pytest.mark.parametrize(
    ("extra_table", "iana_table"),
    [
        (extra.EXTENSIONS, _tables.EXTENSIONS),
        (extra.HANDSHAKE_TYPES, _tables.HANDSHAKE_TYPES),
        (extra.VERSIONS, _tables.VERSIONS),
        (extra.QUIC_VERSIONS, _tables.QUIC_VERSIONS),
    ],
)
def test_extra_does_not_shadow_iana(extra_table: dict[int, str], iana_table: dict[int, str]) -> None:
    assert not set(extra_table) & set(iana_table)


def test_versions() -> None:
    expected = {
        0x0002: "SSL 2.0",
        0x0300: "SSL 3.0",
        0x0301: "TLS 1.0",
        0x0302: "TLS 1.1",
        0x0303: "TLS 1.2",
        0x0304: "TLS 1.3",
        0x7F17: "TLS 1.3 (draft 23)",
        0x7F1C: "TLS 1.3 (draft 28)",
        0xFB17: "TLS 1.3 (Facebook draft 23)",
        0xFEFF: "DTLS 1.0",
        0xFEFD: "DTLS 1.2",
        0xFEFC: "DTLS 1.3",
        0x0100: "DTLS 1.0 (OpenSSL pre-0.9.8f)",
        0x2A2A: "GREASE",
    }
    for code, name in expected.items():
        assert registry.version_name(code) == name, hex(code)
    assert registry.version_name(0x7E02) is None  # Google experiment versions: no source at hand


def test_alpn() -> None:
    assert registry.alpn_name("h2") == "HTTP/2 over TLS"
    assert registry.alpn_name(b"http/1.1") == "HTTP/1.1"
    assert registry.alpn_name(b"\x0a\x0a") == "GREASE"
    assert registry.alpn_name("\xfa\xfa") == "GREASE"  # latin-1 decoded GREASE id
    assert registry.alpn_name("nope") is None
    assert registry.alpn_name("h\u2603") is None
    assert registry.is_grease_alpn(b"\x3a\x3a")
    assert not registry.is_grease_alpn(b"\x3a\x3a\x3a")
    assert not registry.is_grease_alpn("h2")


def test_quic() -> None:
    assert registry.quic_version_name(1) == "QUIC v1"
    assert registry.quic_version_name(0x6B3343CF) == "QUIC v2"
    assert registry.quic_version_name(0) == "Version Negotiation"
    assert registry.quic_version_name(0xFF00001D) == "QUIC draft-29"
    assert registry.quic_version_name(0x1A2A3A4A) == "GREASE"
    assert registry.quic_version_name(0x12345678) is None
    assert registry.quic_transport_param_name(0x04) == "initial_max_data"
    assert registry.quic_transport_param_name(31 * 5 + 27) == "GREASE"
    assert registry.quic_frame_type_name(0x0B) == "STREAM"
    assert registry.quic_transport_error_name(0x0A) == "PROTOCOL_VIOLATION"
    assert registry.quic_transport_error_name(0x0128) == "CRYPTO_ERROR (handshake_failure)"


# --- GREASE ---------------------------------------------------------------------------------------------------


def test_grease_16bit() -> None:
    assert [v for v in range(0x10000) if registry.is_grease(v)] == GREASE16
    for g in GREASE16:
        assert registry.cipher_suite_name(g) == "GREASE"
        assert registry.extension_name(g) == "GREASE"
        assert registry.group_name(g) == "GREASE"
        assert registry.signature_scheme_name(g) == "GREASE"  # not listed in the IANA SignatureScheme CSV
        assert registry.version_name(g) == "GREASE"
        assert registry.cipher_suite_info(g) is None


def test_grease_psk_modes() -> None:
    grease = [0x0B, 0x2A, 0x49, 0x68, 0x87, 0xA6, 0xC5, 0xE4]
    assert [m for m in range(256) if registry.is_grease_psk_mode(m)] == grease
    assert all(registry.psk_mode_name(m) == "GREASE" for m in grease)


# --- fallbacks ------------------------------------------------------------------------------------------------


def test_unknown_codes_return_none() -> None:
    assert registry.cipher_suite_name(0x1308) is None
    assert registry.cipher_suite_info(0x1308) is None
    assert registry.extension_name(0x1234) is None
    assert registry.group_name(0x0100 - 1) is None
    assert registry.signature_scheme_name(0x0402) is None
    assert registry.alert_name(255) is None
    assert registry.version_name(0x0305) is None


def test_name_or_hex() -> None:
    assert registry.name_or_hex("cipher", 0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert registry.name_or_hex("cipher", 0x1234) == "unknown (0x1234)"
    assert registry.name_or_hex("alert", 255) == "unknown (0xff)"
    assert registry.name_or_hex("extension", 0x0A0A) == "GREASE"
    assert registry.name_or_hex("sigscheme", 0x0402) == "dsa_sha256 (TLS 1.2 pair)"
    assert registry.name_or_hex("sigscheme", 0x0804) == "rsa_pss_rsae_sha256"
    assert registry.name_or_hex("quic_version", 0x12345678) == "unknown (0x12345678)"
    with pytest.raises(ValueError):
        registry.name_or_hex("bogus", 1)
    with pytest.raises(ValueError):
        registry.is_iana("bogus", 1)


def test_lookups_are_plain_dict_gets_on_hot_path() -> None:
    # Cheap guard against someone turning a lookup into a scan: 200k lookups must be fast.
    import time

    start = time.perf_counter()
    for _ in range(20_000):
        for code in (0xC02F, 0x1301, 0x0A0A, 0x1234, 0x0000, 0x5600, 0xCCA8, 0x009C, 0xFFFF, 0x0035):
            registry.cipher_suite_name(code)
    assert time.perf_counter() - start < 2.0
