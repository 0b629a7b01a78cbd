"""QUIC Initial packets: detect, remove protection, gather CRYPTO frames into TLS handshake bytes.

A passive observer can read the Initial packets of a QUIC connection: their keys come from the Destination
Connection ID of the client's first Initial and a salt published with each version (RFC 9001 §5.2, RFC 9369
§3.3.1). This module derives those keys, removes header protection, decrypts the payload, walks the frames that
an Initial may carry (PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE) and puts the CRYPTO data back in stream order
per direction. The TLS handshake bytes it hands out are parsed elsewhere.

Handshake, 0-RTT and 1-RTT packets cannot be read without the TLS secrets and are only counted; given the
handshake secrets from a key log (`QuicConnection.set_handshake_secrets`), Handshake packets are opened too and
their frames taken the same way as an Initial's (CRYPTO data, CONNECTION_CLOSE). Google QUIC
(Q046/Q050/T050/T051) is recognised and named, never decrypted.

Sans-IO and bounded: the pure functions raise only `DecodeError` on bytes that cannot decode (a UDP datagram is
always whole, so there is no "need more data" outcome here); `QuicConnection.feed` never raises and records
problems as `Anomaly` values on layer "quic" (at most 4 of a kind, 64 in all). The kinds:

- ``quic-header-malformed``, ``quic-packet-truncated``: a long header that does not parse or a Length past the
  datagram; ``quic-short-header-first``: a 1-RTT packet before any long header.
- ``quic-version-unsupported``: no Initial salt for the version; ``quic-gquic``: Google QUIC, named only;
  ``quic-version-negotiation``: the versions a server offered (the client's next Initial starts a new handshake,
  so the engine may then receive a second ClientHello); ``quic-version-changed``.
- ``quic-no-keys``: a server Initial before any client Initial; ``quic-initial-undecryptable``: authentication
  failed; ``quic-initial-keys-changed``: a client Initial only opened with keys from its own new DCID.
- ``quic-retry``, ``quic-retry-from-client``, ``quic-retry-hello-changed`` (the ClientHello resent after a Retry
  differs from the first one; the first is kept).
- ``quic-frame-malformed``: a truncated frame or one not allowed in Initial packets (walking stops there);
  ``quic-crypto-limit``: CRYPTO data past `max_crypto_bytes`; ``quic-crypto-inconsistent``: a retransmission
  that disagrees with bytes already delivered.
- ``quic-connection-close``: CONNECTION_CLOSE seen (error code and reason in the message).
- ``quic-internal-error``: a bug caught by the safety net in `feed` (the tests assert it never happens).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlsinspect.errors import DecodeError
from tlsinspect.model import Anomaly
from tlsinspect.parse.tls_kdf import hkdf_expand_label, hkdf_extract

__all__ = [
    "AckFrame",
    "CloseFrame",
    "CryptoFrame",
    "DecryptedPacket",
    "InitialKeys",
    "LongHeader",
    "QuicConnection",
    "decode_packet_number",
    "decrypt_initial_packet",
    "derive_initial_keys",
    "initial_keys",
    "looks_like_quic",
    "parse_frames",
    "parse_long_header",
    "quic_version_name",
    "quic_version_of",
    "read_varint",
    "remove_header_protection",
]

# --------------------------------------------------------------------------------------------------------------
# Versions and salts

VERSION_NEGOTIATION = 0x00000000
VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF

# RFC 9001 §5.2 (also draft-ietf-quic-tls-33/34, which already used the final salt).
_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
# RFC 9369 §3.3.1.
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
# draft-ietf-quic-tls-29 §5.2 (drafts 29 to 32).
_SALT_D29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
# draft-ietf-quic-tls-23 §5.2 (drafts 23 to 28).
_SALT_D23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
# draft-ietf-quic-tls-21/22 §5.2.
_SALT_D22 = bytes.fromhex("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a")

# Google QUIC with TLS (T050, T051): IETF draft-29-style packet protection with Google's own Initial salts
# (the published constants kT050Salt / kT051Salt of Chromium's QUIC implementation).
VERSION_T050 = int.from_bytes(b"T050", "big")
VERSION_T051 = int.from_bytes(b"T051", "big")
_SALT_T050 = bytes.fromhex("7ff579e5acd07291558030 4c43a2367c60488310".replace(" ", ""))
_SALT_T051 = bytes.fromhex("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d")

# Google QUIC versions with Google's own crypto handshake (ASCII in the version field). Detected and named only.
_GQUIC_VERSIONS = frozenset(
    int.from_bytes(tag.encode(), "big") for tag in ("Q043", "Q046", "Q050", "Q099", "T099")
)

MAX_CID_LENGTH = 20
_SAMPLE_SIZE = 16
_TAG_SIZE = 16
_MAX_ANOMALIES = 64
_MAX_ANOMALIES_PER_KIND = 4
_MAX_PENDING_SEGMENTS = 256
_MAX_KEY_CACHE = 8
_MAX_REASON = 200


def _draft_number(version: int) -> int | None:
    """The IETF draft a version stands for (34 for v1), or None when it is not an IETF draft or v1."""
    if version == VERSION_1:
        return 34
    if version & 0xFFFFFF00 == 0xFF000000:
        return version & 0xFF
    # Facebook mvfst: 0xfaceb001 = draft-22, 0xfaceb002 / 0xfaceb00e = draft-27, 0xfaceb010..13 = v1 wire image.
    if version == 0xFACEB001:
        return 22
    if version in (0xFACEB002, 0xFACEB00E):
        return 27
    if 0xFACEB010 <= version <= 0xFACEB013:
        return 34
    return None


def _salts_for(version: int) -> tuple[bytes, ...]:
    """Initial salts to try for a version, most likely first (empty when none is known)."""
    if version == VERSION_2:
        return (_SALT_V2,)
    if version == VERSION_T051:
        return (_SALT_T051,)
    if version == VERSION_T050:
        return (_SALT_T050,)
    if _is_grease_version(version):
        # Clients forcing Version Negotiation (RFC 9000 §6.3) protect their greased Initials with some real
        # version's salt: draft-29 (what Wireshark assumes) or v1 are the ones seen in the wild.
        return (_SALT_D29, _SALT_V1)
    draft = _draft_number(version)
    if draft is None or draft < 21:
        return ()
    if draft <= 22:
        return (_SALT_D22,)
    if draft <= 28:
        return (_SALT_D23,)
    if draft <= 32:
        return (_SALT_D29,)
    if draft <= 34:
        return (_SALT_V1,)
    return ()


def _is_grease_version(version: int) -> bool:
    """RFC 9000 §15: versions 0x?a?a?a?a are reserved to exercise version negotiation."""
    return version & 0x0F0F0F0F == 0x0A0A0A0A


def is_gquic_version(version: int) -> bool:
    return version in _GQUIC_VERSIONS


def can_decrypt_version(version: int) -> bool:
    """Whether the Initial packets of this version can be decrypted here."""
    return bool(_salts_for(version))


def quic_version_name(version: int | None) -> str:
    """A short name: "v1", "v2", "draft-29", "mvfst-27", "gquic-Q050", "negotiation", "grease", or hex."""
    if version is None:
        return "unknown"
    if version == VERSION_1:
        return "v1"
    if version == VERSION_2:
        return "v2"
    if version == VERSION_NEGOTIATION:
        return "negotiation"
    if version & 0xFFFFFF00 == 0xFF000000:
        return f"draft-{version & 0xFF}"
    if version & 0xFFFFFF00 == 0xFACEB000:
        draft = _draft_number(version)
        return f"mvfst-{draft}" if draft is not None and draft != 34 else f"mvfst-0x{version:08x}"
    if version in _GQUIC_VERSIONS or version in (VERSION_T050, VERSION_T051):
        return "gquic-" + version.to_bytes(4, "big").decode("ascii")
    if _is_grease_version(version):
        return "grease"
    return f"0x{version:08x}"


# Long header packet types, normalised to names (RFC 9000 §17.2 and RFC 9369 §3.2).
INITIAL = "initial"
ZERO_RTT = "0rtt"
HANDSHAKE = "handshake"
RETRY = "retry"
_TYPES_V1 = (INITIAL, ZERO_RTT, HANDSHAKE, RETRY)
_TYPES_V2 = (RETRY, INITIAL, ZERO_RTT, HANDSHAKE)


def _packet_type(first_byte: int, version: int) -> str:
    bits = (first_byte & 0x30) >> 4
    return (_TYPES_V2 if version == VERSION_2 else _TYPES_V1)[bits]


# --------------------------------------------------------------------------------------------------------------
# Varints and key derivation


def read_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """RFC 9000 §16 variable-length integer at `pos`: (value, next position), or None if `buf` is too short."""
    if pos < 0 or pos >= len(buf):
        return None
    first = buf[pos]
    size = 1 << (first >> 6)
    end = pos + size
    if end > len(buf):
        return None
    value = first & 0x3F
    for i in range(pos + 1, end):
        value = (value << 8) | buf[i]
    return value, end


def _need_varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    got = read_varint(buf, pos)
    if got is None:
        raise DecodeError(f"truncated {what}")
    return got


def initial_secrets(dcid: bytes, version: int, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(client_initial_secret, server_initial_secret) for a client's first DCID (RFC 9001 §5.2).

    `salt` overrides the version's own (the first candidate for a greased version). Raises DecodeError when
    the version has no known salt.
    """
    if salt is None:
        salts = _salts_for(version)
        if not salts:
            raise DecodeError(f"no Initial salt known for QUIC version {quic_version_name(version)}")
        salt = salts[0]
    initial_secret = hkdf_extract("sha256", salt, dcid)
    return (
        hkdf_expand_label("sha256", initial_secret, b"client in", b"", 32),
        hkdf_expand_label("sha256", initial_secret, b"server in", b"", 32),
    )


def derive_packet_keys(secret: bytes, version: int, key_size: int = 16) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) from a packet protection secret; v2 uses the "quicv2 *" labels (RFC 9369 §3.3.2)."""
    prefix = b"quicv2 " if version == VERSION_2 else b"quic "
    return (
        hkdf_expand_label("sha256", secret, prefix + b"key", b"", key_size),
        hkdf_expand_label("sha256", secret, prefix + b"iv", b"", 12),
        hkdf_expand_label("sha256", secret, prefix + b"hp", b"", key_size),
    )


def initial_keys(dcid: bytes, version: int, is_client: bool) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) protecting the Initial packets sent by the client (`is_client`) or by the server.

    Raises DecodeError when the version has no known salt.
    """
    client_secret, server_secret = initial_secrets(dcid, version)
    return derive_packet_keys(client_secret if is_client else server_secret, version)


class InitialKeys:
    """Ready-to-use AEAD and header-protection ciphers for one direction of the Initial space."""

    __slots__ = ("key", "iv", "hp", "_aead", "_hp_cipher")

    def __init__(self, key: bytes, iv: bytes, hp: bytes) -> None:
        self.key = key
        self.iv = iv
        self.hp = hp
        self._aead = AESGCM(key)
        self._hp_cipher = Cipher(algorithms.AES(hp), modes.ECB())

    def mask(self, sample: bytes) -> bytes:
        encryptor = self._hp_cipher.encryptor()
        return encryptor.update(sample) + encryptor.finalize()

    def open(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(nonce, data, aad)


def derive_initial_keys(
    dcid: bytes, version: int, salt: bytes | None = None
) -> tuple[InitialKeys, InitialKeys]:
    """(client keys, server keys) for a client's first DCID. Raises DecodeError for an unknown version."""
    client_secret, server_secret = initial_secrets(dcid, version, salt)
    return (
        InitialKeys(*derive_packet_keys(client_secret, version)),
        InitialKeys(*derive_packet_keys(server_secret, version)),
    )


# --------------------------------------------------------------------------------------------------------------
# Headers and header protection


def quic_version_of(payload: bytes) -> int | None:
    """The version field of a long-header packet, or None for a short header or fewer than 5 bytes."""
    if len(payload) < 5 or not payload[0] & 0x80:
        return None
    return int.from_bytes(payload[1:5], "big")


def _known_version(version: int) -> bool:
    return (
        version == VERSION_2
        or _draft_number(version) is not None
        or version in _GQUIC_VERSIONS
        or version in (VERSION_T050, VERSION_T051)
        or _is_grease_version(version)
    )


def looks_like_quic(payload: bytes) -> bool:
    """Cheap test: does this UDP payload start with a plausible QUIC long-header packet?

    Needs the long-header bit, a known version (IETF v1/v2, drafts, mvfst, Google QUIC, a greased version) or a
    Version Negotiation packet, connection IDs of at most 20 bytes, and lengths that fit the datagram.
    """
    version = quic_version_of(payload)
    if version is None or len(payload) < 7:
        return False
    if version in _GQUIC_VERSIONS:
        # Q046 and older put both CID lengths in one byte; only ask for a plausible size and the fixed bit.
        return len(payload) >= 14 and bool(payload[0] & 0x40)
    dcid_len = payload[5]
    if dcid_len > MAX_CID_LENGTH or 6 + dcid_len >= len(payload):
        return False
    scid_pos = 6 + dcid_len
    scid_len = payload[scid_pos]
    if scid_len > MAX_CID_LENGTH or scid_pos + 1 + scid_len > len(payload):
        return False
    rest = len(payload) - (scid_pos + 1 + scid_len)
    if version == VERSION_NEGOTIATION:
        return rest >= 4 and rest % 4 == 0
    if not _known_version(version):
        return False
    if _is_grease_version(version):
        return True
    if version != VERSION_2 and not payload[0] & 0x40:
        return False
    try:
        header = parse_long_header(payload, 0)
    except DecodeError:
        return False
    return header.end <= len(payload)


@dataclass(frozen=True, slots=True, kw_only=True)
class LongHeader:
    """One long-header packet inside a datagram, still header-protected."""

    offset: int
    """Where the packet starts in the datagram."""
    first_byte: int
    version: int
    dcid: bytes
    scid: bytes
    packet_type: str
    """"initial", "0rtt", "handshake", "retry" ("" for Version Negotiation and Google QUIC)."""
    token: bytes = b""
    pn_offset: int = 0
    """Offset of the (protected) packet number, from the start of the datagram; 0 for Retry."""
    end: int = 0
    """Offset just past this packet in the datagram."""
    supported_versions: tuple[int, ...] = ()


def parse_long_header(datagram: bytes, offset: int = 0) -> LongHeader:
    """Parse the long header starting at `offset`. Raises DecodeError when it cannot be one.

    `end` may lie past the datagram when the Length field says more than was captured; callers check it.
    """
    buf = datagram
    if offset + 7 > len(buf):
        raise DecodeError("long header truncated")
    first = buf[offset]
    if not first & 0x80:
        raise DecodeError("not a long header")
    version = int.from_bytes(buf[offset + 1 : offset + 5], "big")
    if version in _GQUIC_VERSIONS:
        return LongHeader(
            offset=offset, first_byte=first, version=version, dcid=b"", scid=b"", packet_type="", end=len(buf)
        )
    pos = offset + 5
    dcid_len = buf[pos]
    if dcid_len > MAX_CID_LENGTH and version != VERSION_NEGOTIATION:
        raise DecodeError(f"destination connection ID of {dcid_len} bytes")
    pos += 1
    if pos + dcid_len + 1 > len(buf):
        raise DecodeError("destination connection ID truncated")
    dcid = bytes(buf[pos : pos + dcid_len])
    pos += dcid_len
    scid_len = buf[pos]
    if scid_len > MAX_CID_LENGTH and version != VERSION_NEGOTIATION:
        raise DecodeError(f"source connection ID of {scid_len} bytes")
    pos += 1
    if pos + scid_len > len(buf):
        raise DecodeError("source connection ID truncated")
    scid = bytes(buf[pos : pos + scid_len])
    pos += scid_len
    if version == VERSION_NEGOTIATION:
        count = (len(buf) - pos) // 4
        versions = tuple(int.from_bytes(buf[pos + 4 * i : pos + 4 * i + 4], "big") for i in range(count))
        return LongHeader(
            offset=offset,
            first_byte=first,
            version=version,
            dcid=dcid,
            scid=scid,
            packet_type="",
            end=len(buf),
            supported_versions=versions,
        )
    packet_type = _packet_type(first, version)
    if packet_type == RETRY:
        # Retry Token and Retry Integrity Tag run to the end of the datagram.
        return LongHeader(
            offset=offset,
            first_byte=first,
            version=version,
            dcid=dcid,
            scid=scid,
            packet_type=packet_type,
            token=bytes(buf[pos : max(pos, len(buf) - _TAG_SIZE)]),
            end=len(buf),
        )
    token = b""
    if packet_type == INITIAL:
        token_len, pos = _need_varint(buf, pos, "token length")
        if pos + token_len > len(buf):
            raise DecodeError("token truncated")
        token = bytes(buf[pos : pos + token_len])
        pos += token_len
    length, pos = _need_varint(buf, pos, "length")
    return LongHeader(
        offset=offset,
        first_byte=first,
        version=version,
        dcid=dcid,
        scid=scid,
        packet_type=packet_type,
        token=token,
        pn_offset=pos,
        end=pos + length,
    )


def _header_mask(hp_key: bytes, sample: bytes, cipher: str) -> bytes:
    if cipher == "chacha20":
        # RFC 9001 §5.4.4: counter = sample[0:4] (little-endian), nonce = sample[4:16]; cryptography takes both.
        encryptor = Cipher(algorithms.ChaCha20(hp_key, sample), mode=None).encryptor()
        return encryptor.update(bytes(5))
    encryptor = Cipher(algorithms.AES(hp_key), modes.ECB()).encryptor()
    return (encryptor.update(sample) + encryptor.finalize())[:5]


def remove_header_protection(
    packet: bytes, pn_offset: int, hp_key: bytes | InitialKeys, *, cipher: str = "aes"
) -> tuple[bytes, int, int]:
    """Undo RFC 9001 §5.4 header protection.

    `packet` starts at the packet's first byte and `pn_offset` is relative to it. `hp_key` is an AES key
    (`cipher="aes"`, 16 or 32 bytes), a ChaCha20 key (`cipher="chacha20"`), or `InitialKeys`.
    Returns (unprotected header up to and including the packet number, packet number length, truncated packet
    number). Raises DecodeError when the packet is too short to hold the sample.
    """
    sample_at = pn_offset + 4
    if pn_offset < 1 or sample_at + _SAMPLE_SIZE > len(packet):
        raise DecodeError("packet too short for the header protection sample")
    sample = bytes(packet[sample_at : sample_at + _SAMPLE_SIZE])
    if isinstance(hp_key, InitialKeys):
        mask = hp_key.mask(sample)
    else:
        try:
            mask = _header_mask(hp_key, sample, cipher)
        except ValueError as exc:
            raise DecodeError(f"bad header protection key: {exc}") from None
    first = packet[0]
    first ^= mask[0] & (0x0F if first & 0x80 else 0x1F)
    pn_len = (first & 0x03) + 1
    pn_bytes = bytes(
        b ^ m for b, m in zip(packet[pn_offset : pn_offset + pn_len], mask[1 : 1 + pn_len], strict=True)
    )
    header = bytes([first]) + bytes(packet[1:pn_offset]) + pn_bytes
    return header, pn_len, int.from_bytes(pn_bytes, "big")


def decode_packet_number(truncated: int, pn_len: int, largest: int) -> int:
    """RFC 9000 Appendix A.3: the full packet number nearest to `largest + 1` (`largest` is -1 at first)."""
    expected = largest + 1
    window = 1 << (8 * pn_len)
    half = window // 2
    candidate = (expected & ~(window - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - window:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


@dataclass(frozen=True, slots=True, kw_only=True)
class DecryptedPacket:
    header: LongHeader
    packet_number: int
    plain_header: bytes
    """The unprotected header (first byte and packet number in the clear): the AEAD's associated data."""
    payload: bytes
    """The decrypted frames."""


def decrypt_initial_packet(
    datagram: bytes,
    keys: InitialKeys | tuple[bytes, bytes, bytes],
    *,
    offset: int = 0,
    largest_pn: int = -1,
) -> DecryptedPacket:
    """Decrypt the Initial (or any long-header, AES-128-GCM) packet starting at `offset` of `datagram`.

    `keys` is `InitialKeys` or a (key, iv, hp) tuple as `initial_keys` returns. Raises DecodeError when the
    header is malformed, the packet is truncated, or authentication fails (wrong keys or damaged bytes).
    """
    header = parse_long_header(datagram, offset)
    if header.packet_type in ("", RETRY):
        raise DecodeError("packet carries no protected payload")
    if header.end > len(datagram):
        raise DecodeError(f"packet length {header.end - header.pn_offset} runs past the datagram")
    if isinstance(keys, tuple):
        try:
            keys = InitialKeys(*keys)
        except ValueError as exc:
            raise DecodeError(f"bad key: {exc}") from None
    packet = datagram[offset : header.end]
    pn_offset = header.pn_offset - offset
    if len(packet) < pn_offset + 4 + _SAMPLE_SIZE:
        raise DecodeError("packet too short for the header protection sample")
    plain_header, pn_len, truncated = remove_header_protection(packet, pn_offset, keys)
    if len(packet) - pn_offset - pn_len < _TAG_SIZE:
        raise DecodeError("packet too short for the AEAD tag")
    pn = decode_packet_number(truncated, pn_len, largest_pn)
    nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
    try:
        payload = keys.open(nonce, bytes(packet[pn_offset + pn_len :]), plain_header)
    except InvalidTag:
        raise DecodeError("Initial packet authentication failed") from None
    return DecryptedPacket(header=header, packet_number=pn, plain_header=plain_header, payload=payload)


# --------------------------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoFrame:
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AckFrame:
    largest: int
    delay: int
    first_range: int
    ranges: tuple[tuple[int, int], ...]
    """(gap, length) pairs after the first range."""
    ecn: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseFrame:
    error_code: int
    reason: str
    application: bool
    frame_type: int | None = None


Frame = CryptoFrame | AckFrame | CloseFrame | str
"""A parsed frame; PADDING runs and PING are the strings "padding" and "ping"."""


def _crypto_trouble_kind(trouble: str) -> str:
    """The anomaly kind for what `_CryptoStream.add` reported."""
    if "bound" in trouble:
        return "quic-crypto-limit"
    if "Retry" in trouble:
        return "quic-retry-hello-changed"
    return "quic-crypto-inconsistent"


def crypto_frame_type(version: int | None) -> int:
    """The CRYPTO frame's type: 0x06 (RFC 9000), but 0x08 in Google's T050/T051 (an earlier numbering)."""
    return 0x08 if version in (VERSION_T050, VERSION_T051) else 0x06


def parse_frames(payload: bytes, crypto_type: int = 0x06) -> tuple[list[Frame], str | None]:
    """Walk the frames of a decrypted Initial payload.

    Returns (frames, problem): `problem` is None when the payload parsed to its end, else a one-line reason
    (a frame not allowed in Initial packets, or a truncated frame); the frames before it are kept.
    `crypto_type` is the CRYPTO frame type of the version (see `crypto_frame_type`).
    """
    frames: list[Frame] = []
    pos = 0
    n = len(payload)
    while pos < n:
        ftype = payload[pos]
        if ftype == 0x00:
            end = pos + 1
            while end < n and payload[end] == 0:
                end += 1
            frames.append("padding")
            pos = end
            continue
        got = read_varint(payload, pos)
        if got is None:
            return frames, "truncated frame type"
        ftype, pos = got
        try:
            if ftype == 0x01:
                frames.append("ping")
            elif ftype in (0x02, 0x03):
                frame, pos = _parse_ack(payload, pos, ftype == 0x03)
                frames.append(frame)
            elif ftype == crypto_type:
                crypto_offset, pos = _need_varint(payload, pos, "CRYPTO offset")
                length, pos = _need_varint(payload, pos, "CRYPTO length")
                if pos + length > n:
                    raise DecodeError("CRYPTO data truncated")
                frames.append(CryptoFrame(offset=crypto_offset, data=bytes(payload[pos : pos + length])))
                pos += length
            elif ftype in (0x1C, 0x1D):
                code, pos = _need_varint(payload, pos, "error code")
                frame_type = None
                if ftype == 0x1C:
                    frame_type, pos = _need_varint(payload, pos, "frame type")
                reason_len, pos = _need_varint(payload, pos, "reason length")
                if pos + reason_len > n:
                    raise DecodeError("reason phrase truncated")
                reason = bytes(payload[pos : pos + min(reason_len, _MAX_REASON)]).decode("utf-8", "replace")
                pos += reason_len
                frames.append(
                    CloseFrame(
                        error_code=code, reason=reason, application=ftype == 0x1D, frame_type=frame_type
                    )
                )
            else:
                return frames, f"frame type 0x{ftype:x} is not allowed in an Initial packet"
        except DecodeError as exc:
            return frames, str(exc)
    return frames, None


def _parse_ack(buf: bytes, pos: int, with_ecn: bool) -> tuple[AckFrame, int]:
    largest, pos = _need_varint(buf, pos, "ACK largest")
    delay, pos = _need_varint(buf, pos, "ACK delay")
    count, pos = _need_varint(buf, pos, "ACK range count")
    first_range, pos = _need_varint(buf, pos, "ACK first range")
    # Each further range takes at least two bytes: a count beyond that is malformed, not a loop bound.
    if count * 2 > len(buf) - pos:
        raise DecodeError("ACK range count runs past the packet")
    ranges = []
    for _ in range(count):
        gap, pos = _need_varint(buf, pos, "ACK gap")
        length, pos = _need_varint(buf, pos, "ACK range length")
        ranges.append((gap, length))
    ecn = None
    if with_ecn:
        ect0, pos = _need_varint(buf, pos, "ECT0 count")
        ect1, pos = _need_varint(buf, pos, "ECT1 count")
        ce, pos = _need_varint(buf, pos, "ECN-CE count")
        ecn = (ect0, ect1, ce)
    return AckFrame(largest=largest, delay=delay, first_range=first_range, ranges=tuple(ranges), ecn=ecn), pos


# --------------------------------------------------------------------------------------------------------------
# CRYPTO stream reassembly


class _CryptoStream:
    """One direction's Initial CRYPTO stream: out-of-order segments in, contiguous bytes out, bounded."""

    __slots__ = ("data", "pending", "limit", "skip", "mismatch")

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        """Bytes delivered so far (kept, bounded by `limit`, to check retransmissions and Retry restarts)."""
        self.pending: dict[int, bytes] = {}
        self.limit = limit
        self.skip = 0
        """After a Retry the stream restarts at 0: bytes below `skip` were already delivered."""
        self.mismatch = False

    @property
    def delivered(self) -> int:
        return len(self.data)

    def restart(self) -> None:
        """The stream starts again at offset 0 (client after Retry). Already-delivered bytes are not re-sent."""
        self.skip = len(self.data)
        self.pending.clear()

    def add(self, offset: int, chunk: bytes) -> tuple[bytes, str | None]:
        """Add a segment; return (newly contiguous bytes, problem or None)."""
        problem = None
        end = offset + len(chunk)
        if end > self.limit:
            problem = f"CRYPTO data reaches offset {end}, over the {self.limit}-byte bound"
            chunk = chunk[: max(0, self.limit - offset)]
            end = offset + len(chunk)
        if not chunk:
            return b"", problem
        delivered = len(self.data)
        # Check and drop the part that was already delivered.
        if offset < delivered:
            overlap = min(end, delivered)
            if self.data[offset:overlap] != chunk[: overlap - offset]:
                self.mismatch = True
                if offset < self.skip:
                    problem = problem or "the client's CRYPTO data after Retry differs from before it"
                else:
                    problem = problem or f"CRYPTO data at offset {offset} differs from the bytes already seen"
            chunk = chunk[overlap - offset :]
            offset = overlap
            if not chunk:
                return b"", problem
        if offset > delivered:
            if len(self.pending) >= _MAX_PENDING_SEGMENTS and offset not in self.pending:
                return b"", problem or "too many out-of-order CRYPTO segments"
            old = self.pending.get(offset)
            if old is None or len(old) < len(chunk):
                self.pending[offset] = chunk
            return b"", problem
        # offset == delivered: append, then drain whatever pending segments now touch the end.
        self.data += chunk
        while self.pending:
            ready = [o for o in self.pending if o <= len(self.data)]
            if not ready:
                break
            grew = False
            for o in sorted(ready):
                seg = self.pending.pop(o)
                cur = len(self.data)
                if o + len(seg) > cur:
                    self.data += seg[cur - o :]
                    grew = True
            if not grew:
                break
        return bytes(self.data[delivered:]), problem


# --------------------------------------------------------------------------------------------------------------
# Handshake-space keys (from a key log)

HANDSHAKE_SUITES: dict[int, tuple[int, str]] = {
    0x1301: (16, "aes"),  # TLS_AES_128_GCM_SHA256
    0x1302: (32, "aes"),  # TLS_AES_256_GCM_SHA384
    0x1303: (32, "chacha20"),  # TLS_CHACHA20_POLY1305_SHA256
}
"""TLS 1.3 suite -> (key length, header-protection cipher) for QUIC packet protection (RFC 9001 §5.3)."""
MAX_HELD_HANDSHAKE_PACKETS = 32


class PacketKeys:
    """AEAD and header protection for one direction of a space other than Initial (keys from a key log)."""

    __slots__ = ("iv", "hp", "cipher", "_aead")

    def __init__(self, secret: bytes, version: int, suite: int) -> None:
        key_len, cipher = HANDSHAKE_SUITES[suite]
        key, self.iv, self.hp = derive_packet_keys(secret, version, key_len)
        self.cipher = cipher
        self._aead = ChaCha20Poly1305(key) if cipher == "chacha20" else AESGCM(key)

    def open_packet(self, datagram: bytes, header: LongHeader, largest_pn: int) -> tuple[int, bytes]:
        """(packet number, decrypted payload) of the packet `header` describes. Raises DecodeError."""
        packet = datagram[header.offset : header.end]
        pn_offset = header.pn_offset - header.offset
        plain_header, pn_len, truncated = remove_header_protection(
            packet, pn_offset, self.hp, cipher=self.cipher
        )
        pn = decode_packet_number(truncated, pn_len, largest_pn)
        nonce = (int.from_bytes(self.iv, "big") ^ pn).to_bytes(12, "big")
        try:
            return pn, self._aead.decrypt(nonce, bytes(packet[pn_offset + pn_len :]), plain_header)
        except InvalidTag:
            raise DecodeError("Handshake packet authentication failed") from None


# --------------------------------------------------------------------------------------------------------------
# The connection


class QuicConnection:
    """Initial-space view of one UDP 'connection' (keyed by the engine on the UDP 4-tuple)."""

    def __init__(self, *, max_crypto_bytes: int = 64 * 1024) -> None:
        self.version: int | None = None
        self.client_dcid: bytes | None = None
        """The DCID of the client's first Initial (after a Retry: of its first Initial after it): the key seed."""
        self.client_scid: bytes | None = None
        self.server_scid: bytes | None = None
        self.packets = 0
        self.initial_packets = 0
        self.undecryptable = 0
        self.decrypted_packets = 0
        self.handshake_packets = 0
        self.zero_rtt_packets = 0
        self.retry_packets = 0
        self.short_packets = 0
        self.version_negotiation: tuple[int, ...] | None = None
        self.gquic = False
        self.close_error: int | None = None
        self.close_reason: str | None = None
        self._max_crypto = max_crypto_bytes
        self._streams = (_CryptoStream(max_crypto_bytes), _CryptoStream(max_crypto_bytes))  # (server, client)
        self._largest_pn = [-1, -1]  # (server, client)
        self._keys: tuple[InitialKeys, InitialKeys] | None = None  # (client, server), as derive_initial_keys
        self._keys_version: int | None = None
        self._key_cache: dict[tuple[bytes, int, bytes], tuple[InitialKeys, InitialKeys]] = {}
        self._retry_pending = False
        self._vn_pending = False
        self._anomalies: list[Anomaly] = []
        self._kind_counts: dict[str, int] = {}
        self._anomalies_dropped = 0
        self._hs_keys: tuple[PacketKeys, PacketKeys] | None = None  # (server, client)
        self._hs_streams = (_CryptoStream(max_crypto_bytes), _CryptoStream(max_crypto_bytes))
        self._hs_largest_pn = [-1, -1]
        self._held_handshake: list[tuple[bytes, LongHeader, bool, int]] = []
        self.handshake_decrypted = 0

    # -- public ------------------------------------------------------------------------------------------------

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        return tuple(self._anomalies)

    @property
    def version_name(self) -> str:
        return quic_version_name(self.version)

    def feed(self, datagram: bytes, from_client: bool, frame: int) -> list[tuple[bool, bytes, int]]:
        """Parse every coalesced packet in one UDP datagram; return newly contiguous CRYPTO bytes.

        Returns a list of (from_client, data, frame) in stream order. Never raises.
        """
        out: list[tuple[bool, bytes, int]] = []
        try:
            self._feed(bytes(datagram), from_client, frame, out)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the engine down; the fuzz tests look for it
            self._anomaly("quic-internal-error", f"internal error on QUIC datagram: {exc!r}", frame)
        return out

    @property
    def wants_handshake_keys(self) -> bool:
        """Handshake packets were seen and no keys were given yet."""
        return self._hs_keys is None and bool(self._held_handshake)

    def set_handshake_secrets(
        self, client_secret: bytes, server_secret: bytes, cipher_suite: int
    ) -> list[tuple[bool, bytes, int]]:
        """Give the TLS 1.3 handshake traffic secrets (from a key log) for the Handshake space.

        Handshake packets held so far are decrypted at once; their CRYPTO bytes (EncryptedExtensions,
        Certificate, CertificateVerify, Finished) are returned like `feed`'s. Later ones come out of `feed`.
        """
        out: list[tuple[bool, bytes, int]] = []
        if self._hs_keys is not None or self.version is None:
            return out
        if cipher_suite not in HANDSHAKE_SUITES:
            self._anomaly(
                "quic-handshake-unsupported", f"cipher suite 0x{cipher_suite:04x} not supported", None
            )
            return out
        try:
            self._hs_keys = (
                PacketKeys(server_secret, self.version, cipher_suite),
                PacketKeys(client_secret, self.version, cipher_suite),
            )
        except ValueError as exc:
            self._anomaly("quic-handshake-keys", f"bad handshake secret: {exc}", None)
            return out
        held, self._held_handshake = self._held_handshake, []
        for datagram, header, from_client, frame in held:
            self._on_handshake(datagram, header, from_client, frame, out)
        return out

    # -- internals ---------------------------------------------------------------------------------------------

    def _anomaly(self, kind: str, message: str, frame: int | None) -> None:
        count = self._kind_counts.get(kind, 0)
        self._kind_counts[kind] = count + 1
        if count >= _MAX_ANOMALIES_PER_KIND or len(self._anomalies) >= _MAX_ANOMALIES:
            self._anomalies_dropped += 1
            return
        self._anomalies.append(Anomaly(layer="quic", kind=kind, message=message, frame=frame))

    def _keys_for(self, datagram: bytes, header: LongHeader) -> tuple[InitialKeys, InitialKeys] | None:
        """Keys seeded by this client Initial's DCID; with several candidate salts, the one that opens it."""
        candidates = []
        for salt in _salts_for(header.version):
            cache_key = (header.dcid, header.version, salt)
            keys = self._key_cache.get(cache_key)
            if keys is None:
                keys = derive_initial_keys(header.dcid, header.version, salt)
                if len(self._key_cache) >= _MAX_KEY_CACHE:
                    self._key_cache.pop(next(iter(self._key_cache)))
                self._key_cache[cache_key] = keys
            candidates.append(keys)
        if len(candidates) > 1:
            for keys in candidates:
                try:
                    decrypt_initial_packet(datagram, keys[0], offset=header.offset)
                except DecodeError:
                    continue
                return keys
        return candidates[0] if candidates else None

    def _feed(
        self, datagram: bytes, from_client: bool, frame: int, out: list[tuple[bool, bytes, int]]
    ) -> None:
        pos = 0
        n = len(datagram)
        first_packet = True
        while pos < n:
            if not first_packet and not any(datagram[pos:]):
                return  # zero padding after the last coalesced packet
            self.packets += 1
            if not datagram[pos] & 0x80:
                self.short_packets += 1
                if first_packet and self.version is None:
                    self._anomaly(
                        "quic-short-header-first", "short-header packet before any long header", frame
                    )
                return  # a short-header packet runs to the end of the datagram
            first_packet = False
            try:
                header = parse_long_header(datagram, pos)
            except DecodeError as exc:
                self._anomaly("quic-header-malformed", f"long header: {exc}", frame)
                return
            if header.version == VERSION_NEGOTIATION:
                self.version_negotiation = header.supported_versions[:32]
                names = ", ".join(quic_version_name(v) for v in header.supported_versions[:8])
                self._anomaly("quic-version-negotiation", f"server offers versions: {names}", frame)
                if not from_client and self._keys is not None:
                    self._vn_pending = True
                return
            if self.version is None or (from_client and self.version != header.version):
                if self.version is not None and from_client:
                    self._anomaly(
                        "quic-version-changed",
                        f"client switched from {quic_version_name(self.version)} "
                        f"to {quic_version_name(header.version)}",
                        frame,
                    )
                self.version = header.version
            if header.version in _GQUIC_VERSIONS:
                if not self.gquic:
                    self.gquic = True
                    self._anomaly(
                        "quic-gquic",
                        f"Google QUIC {quic_version_name(header.version)}: detected, not decrypted",
                        frame,
                    )
                return
            if header.packet_type == RETRY:
                self._on_retry(header, from_client, frame)
                return
            if header.end > n:
                self._anomaly(
                    "quic-packet-truncated",
                    f"{header.packet_type} packet says {header.end - header.pn_offset} bytes, "
                    f"datagram has {n - header.pn_offset}",
                    frame,
                )
                if header.packet_type == INITIAL:
                    self.initial_packets += 1
                    self.undecryptable += 1
                return
            if header.packet_type == INITIAL:
                self.initial_packets += 1
                self._on_initial(datagram, header, from_client, frame, out)
            elif header.packet_type == HANDSHAKE:
                self.handshake_packets += 1
                if self._hs_keys is not None:
                    self._on_handshake(datagram, header, from_client, frame, out)
                elif len(self._held_handshake) < MAX_HELD_HANDSHAKE_PACKETS:
                    self._held_handshake.append((datagram, header, from_client, frame))
            else:
                self.zero_rtt_packets += 1
            pos = header.end

    def _on_retry(self, header: LongHeader, from_client: bool, frame: int) -> None:
        self.retry_packets += 1
        if from_client:
            self._anomaly("quic-retry-from-client", "Retry packet sent by the client", frame)
            return
        self.server_scid = header.scid
        self._retry_pending = True
        self._anomaly(
            "quic-retry",
            f"server sent Retry; the client's next Initial uses DCID {header.scid.hex() or '(empty)'}",
            frame,
        )

    def _on_initial(
        self,
        datagram: bytes,
        header: LongHeader,
        from_client: bool,
        frame: int,
        out: list[tuple[bool, bytes, int]],
    ) -> None:
        side = 1 if from_client else 0
        if from_client:
            if self.client_scid is None:
                self.client_scid = header.scid
            new_attempt = self._vn_pending
            if self._keys is None or new_attempt or (self._retry_pending and header.dcid != self.client_dcid):
                after_retry = self._keys is not None and not new_attempt
                self._vn_pending = False
                keys = self._keys_for(datagram, header)
                if keys is None:
                    self.undecryptable += 1
                    self._anomaly(
                        "quic-version-unsupported",
                        f"no Initial keys for version {quic_version_name(header.version)}",
                        frame,
                    )
                    return
                self._keys = keys
                self._keys_version = header.version
                self.client_dcid = header.dcid
                if new_attempt:
                    # After Version Negotiation the client starts over: a new handshake from offset 0.
                    self._retry_pending = False
                    self._largest_pn = [-1, -1]
                    self._streams = (_CryptoStream(self._max_crypto), _CryptoStream(self._max_crypto))
                elif after_retry:
                    self._retry_pending = False
                    self._streams[1].restart()
        else:
            self.server_scid = header.scid
        if self._keys is None:
            self.undecryptable += 1
            self._anomaly(
                "quic-no-keys", "server Initial before any client Initial: cannot derive keys", frame
            )
            return
        packet: DecryptedPacket | None
        try:
            packet = decrypt_initial_packet(
                datagram, self._keys[1 - side], offset=header.offset, largest_pn=self._largest_pn[side]
            )
        except DecodeError as exc:
            packet = self._rederive(datagram, header, from_client, frame)
            if packet is None:
                self.undecryptable += 1
                self._anomaly("quic-initial-undecryptable", f"Initial packet: {exc}", frame)
                return
        self.decrypted_packets += 1
        self._largest_pn[side] = max(self._largest_pn[side], packet.packet_number)
        frames, problem = parse_frames(packet.payload, crypto_frame_type(self.version))
        if problem is not None:
            self._anomaly("quic-frame-malformed", f"Initial packet {packet.packet_number}: {problem}", frame)
        # After a Retry the client resends its ClientHello from offset 0: the stream's `add` drops (and checks)
        # the part already delivered, so the engine sees one continuous handshake stream.
        self._take_frames(frames, self._streams[side], from_client, frame, out)

    def _on_handshake(
        self,
        datagram: bytes,
        header: LongHeader,
        from_client: bool,
        frame: int,
        out: list[tuple[bool, bytes, int]],
    ) -> None:
        assert self._hs_keys is not None
        side = 1 if from_client else 0
        try:
            pn, payload = self._hs_keys[side].open_packet(datagram, header, self._hs_largest_pn[side])
        except DecodeError as exc:
            self._anomaly("quic-handshake-undecryptable", f"Handshake packet: {exc}", frame)
            return
        self.handshake_decrypted += 1
        self._hs_largest_pn[side] = max(self._hs_largest_pn[side], pn)
        frames, problem = parse_frames(payload, crypto_frame_type(self.version))
        if problem is not None:
            self._anomaly("quic-frame-malformed", f"Handshake packet {pn}: {problem}", frame)
        self._take_frames(frames, self._hs_streams[side], from_client, frame, out)

    def _take_frames(
        self,
        frames: list[Frame],
        stream: _CryptoStream,
        from_client: bool,
        frame: int,
        out: list[tuple[bool, bytes, int]],
    ) -> None:
        """The frames of one decrypted Initial or Handshake packet: CRYPTO data into its space's stream (what
        becomes contiguous goes to `out`, joined with what the same frame already gave), CONNECTION_CLOSE noted."""
        for item in frames:
            if isinstance(item, CryptoFrame):
                new, trouble = stream.add(item.offset, item.data)
                if trouble is not None:
                    self._anomaly(_crypto_trouble_kind(trouble), trouble, frame)
                if new:
                    if out and out[-1][0] == from_client and out[-1][2] == frame:
                        out[-1] = (from_client, out[-1][1] + new, frame)
                    else:
                        out.append((from_client, new, frame))
            elif isinstance(item, CloseFrame):
                self.close_error = item.error_code
                self.close_reason = item.reason
                who = "client" if from_client else "server"
                kind = "application" if item.application else "transport"
                self._anomaly(
                    "quic-connection-close",
                    f"{who} closed the connection ({kind} error 0x{item.error_code:x}"
                    + (f", reason {item.reason!r}" if item.reason else "")
                    + ")",
                    frame,
                )

    def _rederive(
        self, datagram: bytes, header: LongHeader, from_client: bool, frame: int
    ) -> DecryptedPacket | None:
        """Keys failed. A client Initial may start a new key epoch (capture began late, or a new DCID without a
        Retry we saw): try keys from its own DCID, and adopt them when they work."""
        if not from_client or (header.dcid == self.client_dcid and header.version == self._keys_version):
            return None
        keys = self._keys_for(datagram, header)
        if keys is None:
            return None
        try:
            packet = decrypt_initial_packet(datagram, keys[0], offset=header.offset, largest_pn=-1)
        except DecodeError:
            return None
        same_client = header.scid == self.client_scid
        self._anomaly(
            "quic-initial-keys-changed",
            f"client Initial keyed by a new DCID {header.dcid.hex()}"
            + ("" if same_client else " from a new client connection ID"),
            frame,
        )
        self._keys = keys
        self._keys_version = header.version
        self.client_dcid = header.dcid
        self._largest_pn = [-1, packet.packet_number]
        if not same_client:
            # A new connection on the same 4-tuple: its handshake starts afresh.
            self.client_scid = header.scid
            self._streams = (_CryptoStream(self._max_crypto), _CryptoStream(self._max_crypto))
        else:
            self._streams[1].restart()
        return packet
