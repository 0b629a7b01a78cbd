"""Handshake message bodies decoded into model values (sans-IO).

Each `parse_*` function takes one complete message body (without the 4-byte handshake header) and returns a
model value or raises `DecodeError`. Message framing across records lives in `tls_stream`; this module only
knows message layouts (RFC 5246, RFC 8446, RFC 6101 and the SSLv2-compatible hello of RFC 5246 appendix E.2).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tlsinspect.errors import DecodeError
from tlsinspect.model import ClientHello, Extension, KeyExchange, ServerHello, freeze
from tlsinspect.parse import tls_extensions as te
from tlsinspect.parse.reader import Reader

HT_HELLO_REQUEST = 0
HT_CLIENT_HELLO = 1
HT_SERVER_HELLO = 2
HT_HELLO_VERIFY_REQUEST = 3
HT_NEW_SESSION_TICKET = 4
HT_END_OF_EARLY_DATA = 5
HT_ENCRYPTED_EXTENSIONS = 8
HT_CERTIFICATE = 11
HT_SERVER_KEY_EXCHANGE = 12
HT_CERTIFICATE_REQUEST = 13
HT_SERVER_HELLO_DONE = 14
HT_CERTIFICATE_VERIFY = 15
HT_CLIENT_KEY_EXCHANGE = 16
HT_FINISHED = 20
HT_CERTIFICATE_STATUS = 22
HT_KEY_UPDATE = 24
HT_COMPRESSED_CERTIFICATE = 25

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""A ServerHello with this random is a HelloRetryRequest (RFC 8446 §4.1.3)."""


_EXTENSION_CACHED_SIZE = 512
_PER_CONNECTION = frozenset(
    {
        te.EXT_PADDING,
        te.EXT_SESSION_TICKET,
        te.EXT_PRE_SHARED_KEY,
        te.EXT_COOKIE,
        te.EXT_KEY_SHARE,
        te.EXT_ENCRYPTED_CLIENT_HELLO,
    }
)
"""Extensions whose bodies differ in every connection: never found in the cache, so not put there."""


def _decoded(ext_type: int, data: bytes, ctx: str) -> Extension:
    return Extension(type=ext_type, data=data, decoded=freeze(te.decode_extension(ext_type, data, ctx)))


_shared = lru_cache(maxsize=4096)(_decoded)


def extension(ext_type: int, data: bytes, ctx: str) -> Extension:
    """One decoded extension. Small ones are remembered by (type, bytes, context): a client stack sends the
    same groups, signature algorithms, ALPN and versions in every hello, and decoding them again was a
    twentieth of the read. The value is a pure function of the key, and `Extension` is frozen (its decoded
    value is never modified by anyone), so sharing one object is exact. Large bodies and those that differ per
    connection (`_PER_CONNECTION`) are decoded each time."""
    small = len(data) <= _EXTENSION_CACHED_SIZE and ext_type not in _PER_CONNECTION
    return (_shared if small else _decoded)(ext_type, data, ctx)


def parse_extensions(r: Reader, ctx: str) -> tuple[Extension, ...]:
    """The extensions block: a uint16-length list of (type, opaque data<0..2^16-1>)."""
    out = []
    with r.block(2, "extensions") as lst:
        while not lst.eof():
            t = lst.u16("extension type")
            data = lst.vector(2, "extension data")
            out.append(extension(t, data, ctx))
    return tuple(out)


def _extensions_lenient(r: Reader, ctx: str, problems: list[str]) -> tuple[Extension, ...]:
    """The extensions block, keeping every extension read before a malformation."""
    if r.remaining < 2:
        problems.append(f"{r.remaining} stray byte(s) where the extensions block should start")
        return ()
    declared = r.u16("extensions length")
    end = r.pos + declared
    if end > r.end:
        problems.append(f"extensions block claims {declared} bytes, {r.remaining} present")
        end = r.end
    sub = Reader(r.data, r.pos, end)
    out = []
    try:
        while not sub.eof():
            t = sub.u16("extension type")
            data = sub.vector(2, "extension data")
            out.append(extension(t, data, ctx))
    except DecodeError as e:
        problems.append(f"extension {len(out) + 1}: {e}")
    r.pos = r.end
    if end < r.end:
        problems.append(f"{r.end - end} bytes after the extensions block")
    return tuple(out)


def _ext_value(exts: tuple[Extension, ...], t: int) -> Any:
    for e in exts:
        if e.type == t:
            return e.decoded
    return None


def _list(v: Any) -> tuple[Any, ...]:
    return v if isinstance(v, tuple) else ()


def parse_client_hello(
    body: bytes, *, frame: int, record_version: int, problems: list[str] | None = None
) -> ClientHello:
    """Decode a ClientHello body. Raises DecodeError when the fixed part is malformed.

    With `problems` (a list), a malformed extensions block does not raise: the extensions that could be read
    are kept, as Wireshark keeps them, and what was wrong is appended to `problems`.
    """
    r = Reader(body)
    legacy_version = r.u16("legacy_version")
    random = r.take(32, "random")
    session_id = r.vector(1, "session_id")
    if len(session_id) > 32:
        raise DecodeError(f"session_id of {len(session_id)} bytes")
    suites = r.u16_list(2, "cipher_suites")
    compression = tuple(r.vector(1, "compression_methods"))
    has_block = not r.eof()
    if problems is None:
        exts = parse_extensions(r, "ch") if has_block else ()
        if not r.eof():
            raise DecodeError(f"{r.remaining} bytes after the ClientHello extensions")
    else:
        exts = _extensions_lenient(r, "ch", problems) if has_block else ()
    return _client_hello_from(
        frame=frame,
        record_version=record_version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        suites=suites,
        compression=compression,
        exts=exts,
        has_block=has_block,
    )


def _client_hello_from(
    *,
    frame: int,
    record_version: int,
    legacy_version: int,
    random: bytes,
    session_id: bytes,
    suites: tuple[int, ...],
    compression: tuple[int, ...],
    exts: tuple[Extension, ...],
    has_block: bool,
    sslv2: bool = False,
) -> ClientHello:
    values: dict[int, Any] = {}  # type -> decoded value of the first extension of that type
    for e in exts:
        values.setdefault(e.type, e.decoded)
    sni = values.get(te.EXT_SERVER_NAME)
    server_name = None
    if isinstance(sni, dict):
        for n in sni.get("names", ()):
            if n["type"] == 0:
                server_name = n["name"]
                break
    ks = values.get(te.EXT_KEY_SHARE)
    return ClientHello(
        frame=frame,
        record_version=record_version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=compression,
        extensions=exts,
        server_name=server_name,
        alpn=_list(values.get(te.EXT_ALPN)),
        supported_versions=_list(values.get(te.EXT_SUPPORTED_VERSIONS)),
        supported_groups=_list(values.get(te.EXT_SUPPORTED_GROUPS)),
        signature_algorithms=_list(values.get(te.EXT_SIGNATURE_ALGORITHMS)),
        ec_point_formats=_list(values.get(te.EXT_EC_POINT_FORMATS)),
        key_share_groups=tuple(s["group"] for s in ks) if isinstance(ks, tuple) else (),
        psk_key_exchange_modes=_list(values.get(te.EXT_PSK_KEY_EXCHANGE_MODES)),
        has_extensions_block=has_block,
        sslv2=sslv2,
    )


def parse_sslv2_client_hello(msg: bytes, *, frame: int) -> ClientHello:
    """Decode an SSLv2-compatible CLIENT-HELLO (the message after the 2-byte record header, type byte first).

    Cipher specs are 3 bytes; those whose first byte is 0 are TLS suites and are kept as 16-bit values, the
    SSLv2-only kinds are kept as 24-bit values. The challenge is right-aligned into the 32-byte random.
    """
    r = Reader(msg)
    if r.u8("msg_type") != 1:
        raise DecodeError("SSLv2 record is not a CLIENT-HELLO")
    version = r.u16("version")
    cs_len = r.u16("cipher_specs length")
    sid_len = r.u16("session_id length")
    ch_len = r.u16("challenge length")
    if cs_len % 3:
        raise DecodeError("SSLv2 cipher_specs length not a multiple of 3")
    specs = r.take(cs_len, "cipher_specs")
    session_id = r.take(sid_len, "session_id")
    challenge = r.take(ch_len, "challenge")
    if not r.eof():
        raise DecodeError(f"{r.remaining} bytes after the SSLv2 challenge")
    if not 16 <= ch_len <= 32:
        raise DecodeError(f"SSLv2 challenge of {ch_len} bytes")
    suites = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, cs_len, 3))
    return _client_hello_from(
        frame=frame,
        record_version=0x0002,
        legacy_version=version,
        random=challenge.rjust(32, b"\x00"),
        session_id=session_id,
        suites=suites,
        compression=(0,),
        exts=(),
        has_block=False,
        sslv2=True,
    )


def is_tls13_draft_layout(version: int) -> bool:
    """TLS 1.3 drafts up to 21 (0x7f00-0x7f15, and the 0x7e0x experiments built on them) send a ServerHello
    without session_id and compression_method; from draft 22 on, the layout is TLS 1.2's again."""
    return 0x7F00 <= version <= 0x7F15 or 0x7E01 <= version <= 0x7E02


def parse_sslv2_server_hello(msg: bytes) -> tuple[int, bytes | None, tuple[int, ...]]:
    """An SSLv2 SERVER-HELLO (type byte first): (version, X.509 certificate DER or None, cipher specs)."""
    r = Reader(msg)
    if r.u8("msg_type") != 4:
        raise DecodeError("SSLv2 record is not a SERVER-HELLO")
    r.u8("session_id_hit")
    cert_type = r.u8("certificate_type")
    version = r.u16("server_version")
    cert_len = r.u16("certificate length")
    cs_len = r.u16("cipher_specs length")
    r.u16("connection_id length")
    cert = r.take(cert_len, "certificate")
    if cs_len % 3:
        raise DecodeError("SSLv2 cipher_specs length not a multiple of 3")
    specs = r.take(cs_len, "cipher_specs")
    suites = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, cs_len, 3))
    return version, (cert if cert_type == 1 and cert else None), suites


def parse_server_hello(
    body: bytes, *, frame: int, record_version: int, problems: list[str] | None = None
) -> ServerHello:
    """Decode a ServerHello body (a HelloRetryRequest has `is_hrr` set). Raises DecodeError.

    With `problems` (a list), a malformed extensions block keeps the extensions read and notes the rest there.
    """
    r = Reader(body)
    legacy_version = r.u16("legacy_version")
    random = r.take(32, "random")
    if is_tls13_draft_layout(legacy_version):
        session_id, suite, compression = b"", r.u16("cipher_suite"), 0
    else:
        session_id = r.vector(1, "session_id")
        if len(session_id) > 32:
            raise DecodeError(f"session_id of {len(session_id)} bytes")
        suite = r.u16("cipher_suite")
        compression = r.u8("compression_method")
    is_hrr = random == HRR_RANDOM
    has_block = not r.eof()
    ctx = "hrr" if is_hrr else "sh"
    if problems is None:
        exts = parse_extensions(r, ctx) if has_block else ()
        if not r.eof():
            raise DecodeError(f"{r.remaining} bytes after the ServerHello extensions")
    else:
        exts = _extensions_lenient(r, ctx, problems) if has_block else ()
    sv = _ext_value(exts, te.EXT_SUPPORTED_VERSIONS)
    alpn = _ext_value(exts, te.EXT_ALPN)
    ks = _ext_value(exts, te.EXT_KEY_SHARE)
    return ServerHello(
        frame=frame,
        record_version=record_version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=suite,
        compression_method=compression,
        extensions=exts,
        selected_version=sv if isinstance(sv, int) else None,
        alpn=alpn[0] if isinstance(alpn, tuple) and alpn else None,
        selected_group=ks.get("group") if isinstance(ks, dict) else None,
        is_hrr=is_hrr,
        has_extensions_block=has_block,
    )


def parse_certificate_list(body: bytes, *, tls13: bool) -> tuple[list[bytes], bytes]:
    """Certificate message: returns (DER certificates in order, TLS 1.3 request context)."""
    r = Reader(body)
    context = r.vector(1, "certificate_request_context") if tls13 else b""
    ders = []
    with r.block(3, "certificate_list") as lst:
        while not lst.eof():
            ders.append(lst.vector(3, "cert_data"))
            if tls13:
                lst.vector(2, "certificate extensions")
    if not r.eof():
        raise DecodeError("bytes after the certificate list")
    return ders, context


def parse_compressed_certificate(body: bytes) -> tuple[int, int, bytes]:
    """CompressedCertificate (RFC 8879): (algorithm, uncompressed length, compressed bytes)."""
    r = Reader(body)
    alg = r.u16("algorithm")
    ulen = r.u24("uncompressed_length")
    data = r.vector(3, "compressed_certificate_message")
    if not r.eof():
        raise DecodeError(f"{r.remaining} bytes after the compressed certificate")
    return alg, ulen, data


def parse_server_key_exchange(body: bytes, *, frame: int, kx: str, tls12: bool) -> KeyExchange:
    """ServerKeyExchange: the group (ECDHE) or the prime size (DHE) and, in TLS 1.2, the signature scheme."""
    r = Reader(body)
    if kx.endswith("_PSK"):  # RFC 4279 §3 / RFC 5489 §2: the (EC)DH parameters follow the hint
        r.vector(2, "psk_identity_hint")
    if kx.startswith("ECDH"):
        curve_type = r.u8("curve_type")
        if curve_type != 3:
            return KeyExchange(frame=frame, kind="ecdhe", group=None)
        group = r.u16("named_curve")
        r.vector(1, "public point")
        sig = r.u16("signature scheme") if tls12 and r.remaining >= 4 and kx == "ECDHE" else None
        return KeyExchange(frame=frame, kind="ecdhe", group=group, signature_algorithm=sig)
    if kx.startswith("DH") or kx == "RSA":
        p = r.vector(2, "dh_p")
        r.vector(2, "dh_g")
        r.vector(2, "dh_Ys")
        sig = r.u16("signature scheme") if tls12 and r.remaining >= 4 and kx in ("DHE", "DHE_RSA") else None
        bits = len(p.lstrip(b"\x00")) * 8
        if p.lstrip(b"\x00"):
            bits = (len(p.lstrip(b"\x00")) - 1) * 8 + p.lstrip(b"\x00")[0].bit_length()
        return KeyExchange(
            frame=frame, kind="rsa-export" if kx == "RSA" else "dhe", dh_bits=bits, signature_algorithm=sig
        )
    return KeyExchange(frame=frame, kind="unknown")


def parse_new_session_ticket(body: bytes, *, tls13: bool) -> dict[str, int]:
    """NewSessionTicket: lifetime and ticket length (the ticket itself is opaque)."""
    r = Reader(body)
    lifetime = r.u32("ticket_lifetime_hint")
    if tls13:
        r.u32("ticket_age_add")
        r.vector(1, "ticket_nonce")
    ticket = r.vector(2, "ticket")
    if tls13:
        r.vector(2, "extensions")
    if not r.eof():
        raise DecodeError(f"{r.remaining} bytes after the NewSessionTicket")
    return {"lifetime": lifetime, "ticket_length": len(ticket)}
