"""TLS extension decoders: exact values per extension type and context, and the "never raises" contract.

Each decoder gets only its own extension_data slice; trailing bytes and truncations are DecodeErrors inside the
decoder, which `decode_extension` turns into {"error": ...} so one bad extension never hides the rest.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.errors import DecodeError
from tlsinspect.parse import tls_extensions as te
from tlsinspect.parse.tls_extensions import DECODERS, decode_extension, is_grease, utf8

CONTEXTS = ("ch", "sh", "hrr", "ee", "ct", "cr", "nst")


def vec(n: int, body: bytes) -> bytes:
    return len(body).to_bytes(n, "big") + body


SNI = vec(2, b"\x00" + vec(2, b"example.com"))
ALPN = vec(2, vec(1, b"h2") + vec(1, b"http/1.1"))
KEY_SHARE_CH = vec(2, b"\x00\x1d" + vec(2, b"\x11" * 32) + b"\x00\x17" + vec(2, b"\x04" + b"\x22" * 64))
PSK_CH = vec(2, vec(2, b"T" * 10) + b"\x01\x02\x03\x04") + vec(2, vec(1, b"B" * 32) + vec(1, b"C" * 48))
ECH_OUTER = b"\x00" + b"\x00\x01" + b"\x00\x01" + b"\x07" + vec(2, b"E" * 32) + vec(2, b"P" * 100)
QUIC_TP = b"\x01\x02\x44\x00" + b"\x04\x04\x80\x01\x00\x00" + b"\x40\x20\x00"

# (type, data, ctx, expected value)
CASES: list[tuple[int, bytes, str, object]] = [
    (0, SNI, "ch", {"names": [{"type": 0, "name": "example.com"}]}),
    (0, b"", "ee", {}),
    (
        0,
        vec(2, b"\x00" + vec(2, b"a.example") + b"\x05" + vec(2, b"xyz")),
        "ch",
        {"names": [{"type": 0, "name": "a.example"}, {"type": 5, "name": "xyz"}]},
    ),  # fmt: skip
    (0, vec(2, b"\x00" + vec(2, b"b\xffd")), "ch", {"names": [{"type": 0, "name": "b\ufffdd"}]}),
    (1, b"\x04", "ch", 4),
    (
        5,
        b"\x01\x00\x00\x00\x00",
        "ch",
        {"status_type": 1, "responder_id_list_length": 0, "request_extensions_length": 0},
    ),  # fmt: skip
    (5, b"", "sh", {}),
    (5, b"\x01" + vec(3, b"O" * 7), "ct", {"status_type": 1, "response_length": 7}),
    (10, vec(2, b"\x00\x1d\x00\x17\x00\x18\x0a\x0a"), "ch", [0x1D, 0x17, 0x18, 0x0A0A]),
    (11, vec(1, b"\x00\x01\x02"), "ch", [0, 1, 2]),
    (13, vec(2, b"\x04\x03\x08\x04"), "ch", [0x0403, 0x0804]),
    (15, b"\x01", "ch", 1),
    (16, ALPN, "ch", ["h2", "http/1.1"]),
    (16, vec(2, vec(1, b"h2")), "sh", ["h2"]),
    (17, b"abc", "ch", {"length": 3}),
    (18, b"", "ch", {"length": 0}),
    (21, b"\x00" * 5, "ch", {"length": 5, "all_zero": True}),
    (21, b"\x00\x01", "ch", {"length": 2, "all_zero": False}),
    (22, b"", "sh", {}),
    (23, b"", "ch", {}),
    (27, vec(1, b"\x00\x02\x00\x01"), "ch", [2, 1]),
    (28, b"\x40\x01", "ch", 0x4001),
    (35, b"T" * 20, "ch", {"length": 20}),
    (
        41,
        PSK_CH,
        "ch",
        {"identities": [{"identity_length": 10, "obfuscated_ticket_age": 0x01020304}], "binders": 2},
    ),  # fmt: skip
    (41, b"\x00\x00", "sh", {"selected_identity": 0}),
    (42, b"", "ch", {}),
    (42, b"", "ee", {}),
    (42, b"\x00\x00\x40\x00", "nst", {"max_early_data_size": 0x4000}),
    (43, vec(1, b"\x7a\x7a\x03\x04\x03\x03"), "ch", [0x7A7A, 0x0304, 0x0303]),
    (43, b"\x03\x04", "sh", 0x0304),
    (43, b"\x03\x04", "hrr", 0x0304),
    (44, vec(2, b"C" * 40), "hrr", {"length": 40}),
    (45, vec(1, b"\x01"), "ch", [1]),
    (47, vec(2, vec(2, b"D" * 5) + vec(2, b"")), "cr", {"count": 2}),
    (49, b"", "ch", {}),
    (50, vec(2, b"\x04\x01"), "ch", [0x0401]),
    (
        51,
        KEY_SHARE_CH,
        "ch",
        [{"group": 0x1D, "key_exchange_length": 32}, {"group": 0x17, "key_exchange_length": 65}],
    ),  # fmt: skip
    (51, vec(2, b""), "ch", []),
    (51, b"\x00\x1d" + vec(2, b"\x33" * 32), "sh", {"group": 0x1D, "key_exchange_length": 32}),
    (51, b"\x00\x17", "hrr", {"group": 0x17}),
    (57, QUIC_TP, "ch", [{"id": 1, "length": 2}, {"id": 4, "length": 4}, {"id": 32, "length": 0}]),
    (0xFFA5, b"", "ch", []),
    (17513, vec(2, vec(1, b"h2")), "ch", ["h2"]),
    (17613, b"anything", "ee", {"length": 8}),
    (0xFF01, b"\x00", "ch", {"renegotiated_connection": ""}),
    (0xFF01, vec(1, bytes(range(24))), "sh", {"renegotiated_connection": bytes(range(24)).hex()}),
    (0xFE0D, b"\x01", "ch", {"type": "inner"}),
    (
        0xFE0D,
        ECH_OUTER,
        "ch",
        {"type": "outer", "kdf_id": 1, "aead_id": 1, "config_id": 7, "enc_length": 32, "payload_length": 100},
    ),  # fmt: skip
    (0xFE0D, b"retry configs", "ee", {"length": 13}),
]


@pytest.mark.parametrize(("ext_type", "data", "ctx", "expected"), CASES)
def test_decode_exact(ext_type: int, data: bytes, ctx: str, expected: object) -> None:
    assert decode_extension(ext_type, data, ctx) == expected


# Decoders whose layout is fully length-delimited: any truncation is an error, any trailing byte is an error.
STRICT = [
    (t, d, c)
    for t, d, c, _ in CASES
    if d
    and t not in (17, 18, 21, 35, 57, 0xFFA5)
    and not (t == 0xFE0D and c != "ch")
    and (t, c) != (17613, "ee")
]


@pytest.mark.parametrize(("ext_type", "data", "ctx"), STRICT)
def test_trailing_byte_is_error(ext_type: int, data: bytes, ctx: str) -> None:
    with pytest.raises(DecodeError):
        DECODERS[ext_type](data + b"\x00", ctx)
    value = decode_extension(ext_type, data + b"\x00", ctx)
    assert isinstance(value, dict) and set(value) == {"error"}


@pytest.mark.parametrize(("ext_type", "data", "ctx"), STRICT)
def test_every_truncation_is_error(ext_type: int, data: bytes, ctx: str) -> None:
    for cut in range(len(data)):
        if ext_type in (0, 5) and cut == 0:
            continue  # an empty server_name / status_request is the server's acknowledgement
        with pytest.raises(DecodeError):
            DECODERS[ext_type](data[:cut], ctx)
        value = decode_extension(ext_type, data[:cut], ctx)
        assert isinstance(value, dict) and list(value) == ["error"], (cut, value)


def test_error_message_kept() -> None:
    assert decode_extension(22, b"\x01", "sh") == {"error": "expected an empty extension, got 1 bytes"}
    assert decode_extension(16, vec(2, vec(1, b"")), "ch") == {"error": "empty ALPN protocol name"}
    assert decode_extension(43, vec(1, b"\x03\x04\x03"), "ch") == {"error": "odd supported_versions length"}
    assert decode_extension(27, vec(1, b"\x00"), "ch") == {"error": "odd compress_certificate length"}
    assert decode_extension(10, vec(2, b"\x00\x1d\x00"), "ch") == {"error": "list: odd length 3"}
    assert decode_extension(57, b"\x01\x05ab", "ch") == {
        "error": "transport parameter overruns the extension"
    }
    assert decode_extension(57, b"\x40", "ch") == {"error": "varint truncated"}
    assert decode_extension(57, b"\x01", "ch") == {"error": "varint truncated"}


def test_unknown_type_is_none_and_grease_is_flagged() -> None:
    assert decode_extension(0x1234, b"xyz", "ch") is None
    assert decode_extension(0x0A0A, b"", "ch") == {"grease": True, "length": 0}
    assert decode_extension(0xFAFA, b"\x00", "sh") == {"grease": True, "length": 1}


def test_is_grease() -> None:
    grease = [(h << 12) | 0x0A00 | (h << 4) | 0x0A for h in range(16)]
    assert grease[0] == 0x0A0A and grease[-1] == 0xFAFA
    assert all(is_grease(g) for g in grease)
    assert sum(is_grease(v) for v in range(1 << 16)) == 16
    assert not is_grease(0x0A1A)
    assert not is_grease(0x1301)


def test_utf8_replaces_invalid_bytes() -> None:
    assert utf8(b"caf\xc3\xa9") == "caf\u00e9"
    assert utf8(b"\xff\x00a") == "\ufffd\x00a"


def test_constants_match_table() -> None:
    for t in (
        te.EXT_SERVER_NAME,
        te.EXT_STATUS_REQUEST,
        te.EXT_SUPPORTED_GROUPS,
        te.EXT_ALPN,
        te.EXT_SUPPORTED_VERSIONS,
        te.EXT_KEY_SHARE,
        te.EXT_PRE_SHARED_KEY,
        te.EXT_RENEGOTIATION_INFO,
        te.EXT_ENCRYPTED_CLIENT_HELLO,
    ):
        assert t in DECODERS


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(sorted(DECODERS) + [0x0A0A, 0x1234]),
    st.binary(max_size=80),
    st.sampled_from(CONTEXTS),
)
def test_fuzz_decode_extension_never_raises(ext_type: int, data: bytes, ctx: str) -> None:
    decode_extension(ext_type, data, ctx)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CASES), st.integers(0, 200), st.binary(max_size=8))
def test_fuzz_valid_prefix_never_raises(case: tuple[int, bytes, str, object], cut: int, tail: bytes) -> None:
    ext_type, data, ctx, _ = case
    decode_extension(ext_type, data[:cut] + tail, ctx)
