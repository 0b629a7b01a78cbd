"""TLS extension bodies decoded into plain values, through a type -> decoder table.

Each decoder gets only its own extension_data slice and the message it sits in ("ch", "sh", "hrr", "ee", "ct",
"cr", "nst"), and returns a JSON-able value (dict, list, str, int) or raises `DecodeError`. `decode_extension`
catches that error and returns ``{"error": ...}`` so one bad extension never hides the rest of the hello.
GREASE types are recognised before the table (RFC 8701); unknown types keep only their length (the raw bytes
stay in `Extension.data`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tlsinspect.errors import DecodeError
from tlsinspect.parse.reader import Reader
from tlsinspect.registry import is_grease

EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_PADDING = 21
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01
EXT_ENCRYPTED_CLIENT_HELLO = 0xFE0D

Decoder = Callable[[bytes, str], Any]


def utf8(b: bytes) -> str:
    """Names from the wire: UTF-8 with invalid bytes as U+FFFD, never cleaned or cut (the contract's rule)."""
    return b.decode("utf-8", "replace")


def _empty(data: bytes, ctx: str) -> Any:
    if data:
        raise DecodeError(f"expected an empty extension, got {len(data)} bytes")
    return {}


def _server_name(data: bytes, ctx: str) -> Any:
    if not data:
        return {}
    r = Reader(data)
    names = []
    with r.block(2, "server_name_list") as lst:
        while not lst.eof():
            name_type = lst.u8("name_type")
            name = lst.vector(2, "host_name")
            names.append({"type": name_type, "name": utf8(name)})
    _done(r)
    return {"names": names}


def _u16_list_2(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    vals = r.u16_list(2, "list")
    _done(r)
    return list(vals)


def _u8_list_1(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    vals = list(r.vector(1, "list"))
    _done(r)
    return vals


def _alpn(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    protos = []
    with r.block(2, "protocol_name_list") as lst:
        while not lst.eof():
            p = lst.vector(1, "protocol_name")
            if not p:
                raise DecodeError("empty ALPN protocol name")
            protos.append(utf8(p))
    _done(r)
    return protos


def _supported_versions(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    if ctx == "ch":
        raw = r.vector(1, "versions")
        if len(raw) % 2:
            raise DecodeError("odd supported_versions length")
        vals: Any = [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]
    else:
        vals = r.u16("selected_version")
    _done(r)
    return vals


def _key_share(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    if ctx == "ch":
        shares = []
        with r.block(2, "client_shares") as lst:
            while not lst.eof():
                group = lst.u16("group")
                kx = lst.vector(2, "key_exchange")
                shares.append({"group": group, "key_exchange_length": len(kx)})
        _done(r)
        return shares
    if ctx == "hrr":
        group = r.u16("selected_group")
        _done(r)
        return {"group": group}
    group = r.u16("group")
    kx = r.vector(2, "key_exchange")
    _done(r)
    return {"group": group, "key_exchange_length": len(kx)}


def _psk(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    if ctx == "sh":
        v = r.u16("selected_identity")
        _done(r)
        return {"selected_identity": v}
    identities = []
    with r.block(2, "identities") as lst:
        while not lst.eof():
            ident = lst.vector(2, "identity")
            age = lst.u32("obfuscated_ticket_age")
            identities.append({"identity_length": len(ident), "obfuscated_ticket_age": age})
    binders = 0
    with r.block(2, "binders") as bl:
        while not bl.eof():
            bl.vector(1, "binder")
            binders += 1
    _done(r)
    return {"identities": identities, "binders": binders}


def _early_data(data: bytes, ctx: str) -> Any:
    if ctx == "nst":
        r = Reader(data)
        v = r.u32("max_early_data_size")
        _done(r)
        return {"max_early_data_size": v}
    return _empty(data, ctx)


def _status_request(data: bytes, ctx: str) -> Any:
    if not data:
        return {}
    r = Reader(data)
    st = r.u8("status_type")
    if ctx == "ct":
        resp = r.vector(3, "ocsp_response")
        _done(r)
        return {"status_type": st, "response_length": len(resp)}
    ids = r.vector(2, "responder_id_list")
    exts = r.vector(2, "request_extensions")
    _done(r)
    return {"status_type": st, "responder_id_list_length": len(ids), "request_extensions_length": len(exts)}


def _renegotiation_info(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    v = r.vector(1, "renegotiated_connection")
    _done(r)
    return {"renegotiated_connection": v.hex()}


def _session_ticket(data: bytes, ctx: str) -> Any:
    return {"length": len(data)}


def _padding(data: bytes, ctx: str) -> Any:
    return {"length": len(data), "all_zero": not any(data)}


def _u16(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    v = r.u16("value")
    _done(r)
    return v


def _u8(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    v = r.u8("value")
    _done(r)
    return v


def _compress_certificate(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    raw = r.vector(1, "algorithms")
    if len(raw) % 2:
        raise DecodeError("odd compress_certificate length")
    _done(r)
    return [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]


def _ech(data: bytes, ctx: str) -> Any:
    if ctx != "ch":
        return {"length": len(data)}
    r = Reader(data)
    ech_type = r.u8("ech_type")
    if ech_type == 1:  # inner: empty body
        _done(r)
        return {"type": "inner"}
    kdf = r.u16("kdf_id")
    aead = r.u16("aead_id")
    config_id = r.u8("config_id")
    enc = r.vector(2, "enc")
    payload = r.vector(2, "payload")
    _done(r)
    return {
        "type": "outer",
        "kdf_id": kdf,
        "aead_id": aead,
        "config_id": config_id,
        "enc_length": len(enc),
        "payload_length": len(payload),
    }


def _alps(data: bytes, ctx: str) -> Any:
    if ctx != "ch":
        return {"length": len(data)}
    return _alpn(data, ctx)


def _quic_transport_parameters(data: bytes, ctx: str) -> Any:
    params = []
    pos = 0
    while pos < len(data):
        pid, pos = _varint(data, pos)
        plen, pos = _varint(data, pos)
        if pos + plen > len(data):
            raise DecodeError("transport parameter overruns the extension")
        params.append({"id": pid, "length": plen})
        pos += plen
    return params


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise DecodeError("varint truncated")
    n = 1 << (data[pos] >> 6)
    if pos + n > len(data):
        raise DecodeError("varint truncated")
    v = data[pos] & 0x3F
    for i in range(1, n):
        v = (v << 8) | data[pos + i]
    return v, pos + n


def _cert_authorities(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    n = 0
    with r.block(2, "authorities") as lst:
        while not lst.eof():
            lst.vector(2, "distinguished_name")
            n += 1
    _done(r)
    return {"count": n}


def _cookie(data: bytes, ctx: str) -> Any:
    r = Reader(data)
    c = r.vector(2, "cookie")
    _done(r)
    return {"length": len(c)}


def _done(r: Reader) -> None:
    if not r.eof():
        raise DecodeError(f"{r.remaining} extra bytes at the end of the extension")


DECODERS: dict[int, Decoder] = {
    0: _server_name,
    1: _u8,  # max_fragment_length
    5: _status_request,
    10: _u16_list_2,  # supported_groups
    11: _u8_list_1,  # ec_point_formats
    13: _u16_list_2,  # signature_algorithms
    15: _u8,  # heartbeat mode
    16: _alpn,
    17: _session_ticket,  # status_request_v2: length only
    18: _session_ticket,  # signed_certificate_timestamp: length only
    21: _padding,
    22: _empty,  # encrypt_then_mac
    23: _empty,  # extended_main_secret
    27: _compress_certificate,
    28: _u16,  # record_size_limit
    35: _session_ticket,
    41: _psk,
    42: _early_data,
    43: _supported_versions,
    44: _cookie,
    45: _u8_list_1,  # psk_key_exchange_modes
    47: _cert_authorities,
    49: _empty,  # post_handshake_auth
    50: _u16_list_2,  # signature_algorithms_cert
    51: _key_share,
    57: _quic_transport_parameters,
    0xFFA5: _quic_transport_parameters,  # the drafts' codepoint
    17513: _alps,  # application_settings (old codepoint)
    17613: _alps,  # application_settings (new codepoint)
    EXT_RENEGOTIATION_INFO: _renegotiation_info,
    EXT_ENCRYPTED_CLIENT_HELLO: _ech,
}
"""Extension type -> decoder. Types absent here keep their raw bytes only."""


def decode_extension(ext_type: int, data: bytes, ctx: str) -> Any:
    """Decode one extension body; never raises (a malformed body gives {"error": message})."""
    if is_grease(ext_type):
        return {"grease": True, "length": len(data)}
    dec = DECODERS.get(ext_type)
    if dec is None:
        return None
    try:
        return dec(data, ctx)
    except DecodeError as e:
        return {"error": str(e)}
