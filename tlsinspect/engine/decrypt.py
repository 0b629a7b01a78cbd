"""Decrypting TLS records with secrets from a key log (SSLKEYLOGFILE), sans-IO.

`session_decryptor` turns one connection's hello randoms, version and cipher suite into a `TlsDecryptor`, or a
short reason why it cannot. The decryptor takes records one at a time, per direction, in wire order, and returns
the inner content type and plaintext, or raises `DecryptError`; no other exception escapes for any input.

TLS 1.0-1.2 (and SSL 3.0): the key block comes from the master secret (the CLIENT_RANDOM line). Records are
cleartext until the sender's ChangeCipherSpec. TLS 1.3: each direction holds its candidate keys in order (early,
handshake, application) and moves forward to the first one whose AEAD tag verifies, so 0-RTT data, the switch to
application keys and a KeyUpdate need no handshake parsing here.

Supported ciphers are listed in `TLS12_SUITES` and `TLS13_SUITES`: data, not branches. All cryptography comes from
the `cryptography` package; the PRF and HKDF-Expand-Label (shared with QUIC in `tlsinspect.parse.tls_kdf`) are
protocol glue over HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from tlsinspect.parse.keylog import KeyLog
from tlsinspect.parse.tls_kdf import hkdf_expand_label

MAX_CIPHERTEXT = 2**14 + 2048
"""The largest record fragment TLS allows (RFC 5246 6.2.3); a longer one is rejected before any work."""

TLS13_LOOKAHEAD = 8
"""How many sequence numbers past the expected one a TLS 1.3 trial also tries (records lost from the capture)."""

_SEQ_LIMIT = 2**64

# Reason strings returned by `session_decryptor` (stable: the engine shows them as `tls.decryption`).
REASON_NO_SECRET = "no secret for this client_random"
REASON_ONLY_HANDSHAKE = "only handshake secrets"
REASON_UNSUPPORTED_VERSION = "unsupported version"


class DecryptError(Exception):
    """A record did not authenticate / decrypt; the message is a short reason."""


# --- cipher and suite tables ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CipherKind:
    """How one bulk cipher protects a record."""

    mode: str
    """"aead", "block", "stream" or "null"."""
    explicit_nonce: int = 0
    """AEAD: bytes of nonce carried in each TLS 1.2 record (8 for GCM/CCM, 0 for ChaCha20-Poly1305)."""
    tag_len: int = 0
    block_size: int = 0
    aead: Callable[[bytes], AESGCM | AESCCM | ChaCha20Poly1305] | None = None
    algorithm: Callable[[bytes], CipherAlgorithm] | None = None


CIPHERS: dict[str, CipherKind] = {
    "aes-gcm": CipherKind("aead", explicit_nonce=8, tag_len=16, aead=AESGCM),
    "aes-ccm": CipherKind("aead", explicit_nonce=8, tag_len=16, aead=AESCCM),
    "aes-ccm8": CipherKind("aead", explicit_nonce=8, tag_len=8, aead=lambda k: AESCCM(k, tag_length=8)),
    "chacha20-poly1305": CipherKind("aead", tag_len=16, aead=ChaCha20Poly1305),
    "aes-cbc": CipherKind("block", block_size=16, algorithm=algorithms.AES),
    "camellia-cbc": CipherKind("block", block_size=16, algorithm=decrepit.Camellia),
    "seed-cbc": CipherKind("block", block_size=16, algorithm=decrepit.SEED),
    "3des-cbc": CipherKind("block", block_size=8, algorithm=decrepit.TripleDES),
    # Single DES is TripleDES with K1 = K2 = K3, which is what TripleDES does with an 8-byte key.
    "des-cbc": CipherKind("block", block_size=8, algorithm=decrepit.TripleDES),
    "rc4": CipherKind("stream", algorithm=decrepit.ARC4),
    "null": CipherKind("null"),
}


@dataclass(frozen=True, slots=True)
class Suite:
    """What decryption needs to know about a cipher suite (the key exchange does not matter here)."""

    cipher: str
    """A key of `CIPHERS`."""
    key_len: int
    iv_len: int
    """Fixed IV from the key block (TLS <= 1.2: 4 for GCM/CCM, 12 for ChaCha20, the block size for CBC; TLS 1.3:
    12, derived from the traffic secret)."""
    mac: str | None
    """HMAC hash ("md5", "sha1", "sha256", "sha384"); None for AEAD ciphers."""
    prf: str
    """TLS 1.2 PRF hash / TLS 1.3 HKDF hash: "sha256" or "sha384"."""


_AES128_GCM = Suite("aes-gcm", 16, 4, None, "sha256")
_AES256_GCM = Suite("aes-gcm", 32, 4, None, "sha384")
_AES128_CCM = Suite("aes-ccm", 16, 4, None, "sha256")
_AES256_CCM = Suite("aes-ccm", 32, 4, None, "sha256")
_AES128_CCM8 = Suite("aes-ccm8", 16, 4, None, "sha256")
_AES256_CCM8 = Suite("aes-ccm8", 32, 4, None, "sha256")
_CHACHA = Suite("chacha20-poly1305", 32, 12, None, "sha256")
_AES128_SHA = Suite("aes-cbc", 16, 16, "sha1", "sha256")
_AES256_SHA = Suite("aes-cbc", 32, 16, "sha1", "sha256")
_AES128_SHA256 = Suite("aes-cbc", 16, 16, "sha256", "sha256")
_AES256_SHA256 = Suite("aes-cbc", 32, 16, "sha256", "sha256")
_AES256_SHA384 = Suite("aes-cbc", 32, 16, "sha384", "sha384")
_CAM128_SHA = Suite("camellia-cbc", 16, 16, "sha1", "sha256")
_CAM256_SHA = Suite("camellia-cbc", 32, 16, "sha1", "sha256")
_CAM128_SHA256 = Suite("camellia-cbc", 16, 16, "sha256", "sha256")
_CAM256_SHA256 = Suite("camellia-cbc", 32, 16, "sha256", "sha256")
_CAM256_SHA384 = Suite("camellia-cbc", 32, 16, "sha384", "sha384")
_SEED_SHA = Suite("seed-cbc", 16, 16, "sha1", "sha256")
_3DES_SHA = Suite("3des-cbc", 24, 8, "sha1", "sha256")
_DES_SHA = Suite("des-cbc", 8, 8, "sha1", "sha256")
_RC4_MD5 = Suite("rc4", 16, 0, "md5", "sha256")
_RC4_SHA = Suite("rc4", 16, 0, "sha1", "sha256")
_NULL_MD5 = Suite("null", 0, 0, "md5", "sha256")
_NULL_SHA = Suite("null", 0, 0, "sha1", "sha256")
_NULL_SHA256 = Suite("null", 0, 0, "sha256", "sha256")
_NULL_SHA384 = Suite("null", 0, 0, "sha384", "sha384")

TLS12_SUITES: dict[int, Suite] = {
    # NULL ciphers (MAC only)
    0x0001: _NULL_MD5, 0x0002: _NULL_SHA, 0x002C: _NULL_SHA, 0x002D: _NULL_SHA, 0x002E: _NULL_SHA,
    0x003B: _NULL_SHA256, 0x00B0: _NULL_SHA256, 0x00B1: _NULL_SHA384, 0x00B4: _NULL_SHA256, 0x00B5: _NULL_SHA384,
    0x00B8: _NULL_SHA256, 0x00B9: _NULL_SHA384, 0xC001: _NULL_SHA, 0xC006: _NULL_SHA, 0xC00B: _NULL_SHA,
    0xC010: _NULL_SHA, 0xC015: _NULL_SHA, 0xC039: _NULL_SHA, 0xC03A: _NULL_SHA256, 0xC03B: _NULL_SHA384,
    # RC4
    0x0004: _RC4_MD5, 0x0005: _RC4_SHA, 0x0018: _RC4_MD5, 0x008A: _RC4_SHA, 0x008E: _RC4_SHA, 0x0092: _RC4_SHA,
    0xC002: _RC4_SHA, 0xC007: _RC4_SHA, 0xC00C: _RC4_SHA, 0xC011: _RC4_SHA, 0xC016: _RC4_SHA, 0xC033: _RC4_SHA,
    # DES and 3DES
    0x0009: _DES_SHA, 0x000C: _DES_SHA, 0x000F: _DES_SHA, 0x0012: _DES_SHA, 0x0015: _DES_SHA, 0x001A: _DES_SHA,
    0x000A: _3DES_SHA, 0x000D: _3DES_SHA, 0x0010: _3DES_SHA, 0x0013: _3DES_SHA, 0x0016: _3DES_SHA,
    0x001B: _3DES_SHA, 0x008B: _3DES_SHA, 0x008F: _3DES_SHA, 0x0093: _3DES_SHA, 0xC003: _3DES_SHA,
    0xC008: _3DES_SHA, 0xC00D: _3DES_SHA, 0xC012: _3DES_SHA, 0xC017: _3DES_SHA, 0xC034: _3DES_SHA,
    # AES-CBC with HMAC-SHA1
    0x002F: _AES128_SHA, 0x0030: _AES128_SHA, 0x0031: _AES128_SHA, 0x0032: _AES128_SHA, 0x0033: _AES128_SHA,
    0x0034: _AES128_SHA, 0x008C: _AES128_SHA, 0x0090: _AES128_SHA, 0x0094: _AES128_SHA, 0xC004: _AES128_SHA,
    0xC009: _AES128_SHA, 0xC00E: _AES128_SHA, 0xC013: _AES128_SHA, 0xC018: _AES128_SHA, 0xC035: _AES128_SHA,
    0x0035: _AES256_SHA, 0x0036: _AES256_SHA, 0x0037: _AES256_SHA, 0x0038: _AES256_SHA, 0x0039: _AES256_SHA,
    0x003A: _AES256_SHA, 0x008D: _AES256_SHA, 0x0091: _AES256_SHA, 0x0095: _AES256_SHA, 0xC005: _AES256_SHA,
    0xC00A: _AES256_SHA, 0xC00F: _AES256_SHA, 0xC014: _AES256_SHA, 0xC019: _AES256_SHA, 0xC036: _AES256_SHA,
    # AES-CBC with HMAC-SHA256 / SHA384
    0x003C: _AES128_SHA256, 0x003E: _AES128_SHA256, 0x003F: _AES128_SHA256, 0x0040: _AES128_SHA256,
    0x0067: _AES128_SHA256, 0x006C: _AES128_SHA256, 0x00AE: _AES128_SHA256, 0x00B2: _AES128_SHA256,
    0x00B6: _AES128_SHA256, 0xC023: _AES128_SHA256, 0xC025: _AES128_SHA256, 0xC027: _AES128_SHA256,
    0xC029: _AES128_SHA256, 0xC037: _AES128_SHA256,
    0x003D: _AES256_SHA256, 0x0068: _AES256_SHA256, 0x0069: _AES256_SHA256, 0x006A: _AES256_SHA256,
    0x006B: _AES256_SHA256, 0x006D: _AES256_SHA256,
    0x00AF: _AES256_SHA384, 0x00B3: _AES256_SHA384, 0x00B7: _AES256_SHA384, 0xC024: _AES256_SHA384,
    0xC026: _AES256_SHA384, 0xC028: _AES256_SHA384, 0xC02A: _AES256_SHA384, 0xC038: _AES256_SHA384,
    # Camellia-CBC
    0x0041: _CAM128_SHA, 0x0042: _CAM128_SHA, 0x0043: _CAM128_SHA, 0x0044: _CAM128_SHA, 0x0045: _CAM128_SHA,
    0x0046: _CAM128_SHA,
    0x0084: _CAM256_SHA, 0x0085: _CAM256_SHA, 0x0086: _CAM256_SHA, 0x0087: _CAM256_SHA, 0x0088: _CAM256_SHA,
    0x0089: _CAM256_SHA,
    0x00BA: _CAM128_SHA256, 0x00BB: _CAM128_SHA256, 0x00BC: _CAM128_SHA256, 0x00BD: _CAM128_SHA256,
    0x00BE: _CAM128_SHA256, 0x00BF: _CAM128_SHA256, 0xC072: _CAM128_SHA256, 0xC074: _CAM128_SHA256,
    0xC076: _CAM128_SHA256, 0xC078: _CAM128_SHA256,
    0x00C0: _CAM256_SHA256, 0x00C1: _CAM256_SHA256, 0x00C2: _CAM256_SHA256, 0x00C3: _CAM256_SHA256,
    0x00C4: _CAM256_SHA256, 0x00C5: _CAM256_SHA256,
    0xC073: _CAM256_SHA384, 0xC075: _CAM256_SHA384, 0xC077: _CAM256_SHA384, 0xC079: _CAM256_SHA384,
    # SEED-CBC
    0x0096: _SEED_SHA, 0x0097: _SEED_SHA, 0x0098: _SEED_SHA, 0x0099: _SEED_SHA, 0x009A: _SEED_SHA,
    0x009B: _SEED_SHA,
    # AES-GCM
    0x009C: _AES128_GCM, 0x009E: _AES128_GCM, 0x00A0: _AES128_GCM, 0x00A2: _AES128_GCM, 0x00A4: _AES128_GCM,
    0x00A6: _AES128_GCM, 0x00A8: _AES128_GCM, 0x00AA: _AES128_GCM, 0x00AC: _AES128_GCM, 0xC02B: _AES128_GCM,
    0xC02D: _AES128_GCM, 0xC02F: _AES128_GCM, 0xC031: _AES128_GCM, 0xD001: _AES128_GCM,
    0x009D: _AES256_GCM, 0x009F: _AES256_GCM, 0x00A1: _AES256_GCM, 0x00A3: _AES256_GCM, 0x00A5: _AES256_GCM,
    0x00A7: _AES256_GCM, 0x00A9: _AES256_GCM, 0x00AB: _AES256_GCM, 0x00AD: _AES256_GCM, 0xC02C: _AES256_GCM,
    0xC02E: _AES256_GCM, 0xC030: _AES256_GCM, 0xC032: _AES256_GCM, 0xD002: _AES256_GCM,
    # AES-CCM and AES-CCM-8 (RFC 6655, 7251, 6655-PSK, 8442)
    0xC09C: _AES128_CCM, 0xC09E: _AES128_CCM, 0xC0A4: _AES128_CCM, 0xC0A6: _AES128_CCM, 0xC0AC: _AES128_CCM,
    0xD005: _AES128_CCM,
    0xC09D: _AES256_CCM, 0xC09F: _AES256_CCM, 0xC0A5: _AES256_CCM, 0xC0A7: _AES256_CCM, 0xC0AD: _AES256_CCM,
    0xC0A0: _AES128_CCM8, 0xC0A2: _AES128_CCM8, 0xC0A8: _AES128_CCM8, 0xC0AA: _AES128_CCM8, 0xC0AE: _AES128_CCM8,
    0xD003: _AES128_CCM8,
    0xC0A1: _AES256_CCM8, 0xC0A3: _AES256_CCM8, 0xC0A9: _AES256_CCM8, 0xC0AB: _AES256_CCM8, 0xC0AF: _AES256_CCM8,
    # ChaCha20-Poly1305 (RFC 7905)
    0xCCA8: _CHACHA, 0xCCA9: _CHACHA, 0xCCAA: _CHACHA, 0xCCAB: _CHACHA, 0xCCAC: _CHACHA, 0xCCAD: _CHACHA,
    0xCCAE: _CHACHA,
}  # fmt: skip
"""TLS 1.0-1.2 (and SSL 3.0) suites this module decrypts. Not here, so "unsupported cipher suite": export suites
(their keys come from a different expansion), ARIA and Camellia-GCM (not in `cryptography`), GOST, IDEA, Kerberos."""

TLS13_SUITES: dict[int, Suite] = {
    0x1301: Suite("aes-gcm", 16, 12, None, "sha256"),
    0x1302: Suite("aes-gcm", 32, 12, None, "sha384"),
    0x1303: Suite("chacha20-poly1305", 32, 12, None, "sha256"),
    0x1304: Suite("aes-ccm", 16, 12, None, "sha256"),
    0x1305: Suite("aes-ccm8", 16, 12, None, "sha256"),
}

_MAC_LEN = {"md5": 16, "sha1": 20, "sha256": 32, "sha384": 48}

_CONTENT_CCS = 20
_CONTENT_HANDSHAKE = 22
_CONTENT_APPLICATION = 23
_HANDSHAKE_KEY_UPDATE = 24


# --- key derivation (protocol glue over HMAC / HKDF) ------------------------------------------------------------


def _p_hash(digest: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash from RFC 5246 section 5."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, digest)
        out += hmac.digest(secret, a + seed, digest)
    return bytes(out[:length])


def prf(version: int, digest: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS PRF: P_<digest> for TLS 1.2, the MD5 / SHA-1 split PRF for TLS 1.0 and 1.1 (RFC 2246 5)."""
    if version >= 0x0303:
        return _p_hash(digest, secret, label + seed, length)
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha = _p_hash("sha1", secret[len(secret) - half :], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha, strict=True))


def _ssl3_key_block(master: bytes, seed: bytes, length: int) -> bytes:
    """SSL 3.0 key expansion: MD5(master + SHA1("A" + master + seed)) + MD5(... "BB" ...) + ..."""
    out = bytearray()
    i = 0
    while len(out) < length:
        i += 1
        inner = hashlib.sha1(bytes([0x40 + i]) * i + master + seed).digest()
        out += hashlib.md5(master + inner).digest()
    return bytes(out[:length])


# --- record protection state ------------------------------------------------------------------------------------


def _check_seq(seq: int) -> None:
    if seq >= _SEQ_LIMIT:
        raise DecryptError("sequence number exhausted")


class _Tls12Direction:
    """One direction of a TLS 1.0-1.2 / SSL 3.0 connection: keys, sequence number, CBC chain or RC4 state."""

    def __init__(
        self, suite: Suite, version: int, mac_key: bytes, key: bytes, iv: bytes, encrypt_then_mac: bool
    ) -> None:
        self.suite = suite
        self.kind = CIPHERS[suite.cipher]
        self.version = version
        self.mac_key = mac_key
        self.key = key
        self.fixed_iv = iv
        self.mac_len = _MAC_LEN[suite.mac] if suite.mac else 0
        self.etm = encrypt_then_mac and self.kind.mode == "block"
        self.aead = self.kind.aead(key) if self.kind.aead else None
        self.active = False
        self.seq = 0
        self.chain_iv = iv
        self.stream: CipherContext | None = None

    def activate(self) -> None:
        self.active = True
        self.seq = 0
        self.chain_iv = self.fixed_iv
        if self.kind.mode == "stream" and self.kind.algorithm is not None:
            self.stream = Cipher(self.kind.algorithm(self.key), mode=None).decryptor()

    def _mac(self, content_type: int, version: int, data: bytes) -> bytes:
        digest = self.suite.mac or "sha1"
        if self.version == 0x0300:
            pad = 48 if digest == "md5" else 40
            inner = hashlib.new(
                digest,
                self.mac_key + b"\x36" * pad + struct.pack("!QBH", self.seq, content_type, len(data)) + data,
            ).digest()
            return hashlib.new(digest, self.mac_key + b"\x5c" * pad + inner).digest()
        header = struct.pack("!QBHH", self.seq, content_type, version, len(data))
        return hmac.digest(self.mac_key, header + data, digest)

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> bytes:
        _check_seq(self.seq)
        try:
            if self.kind.mode == "aead":
                return self._decrypt_aead(content_type, version, fragment)
            if self.kind.mode == "block":
                return self._decrypt_block(content_type, version, fragment)
            return self._decrypt_stream(content_type, version, fragment)
        finally:
            # The sender used this sequence number whether or not the record checks out here.
            self.seq += 1

    def _decrypt_aead(self, content_type: int, version: int, fragment: bytes) -> bytes:
        assert self.aead is not None
        explicit, tag_len = self.kind.explicit_nonce, self.kind.tag_len
        if len(fragment) < explicit + tag_len:
            raise DecryptError("record too short")
        if explicit:
            nonce = self.fixed_iv + fragment[:explicit]
        else:
            nonce = bytes(a ^ b for a, b in zip(self.fixed_iv, self.seq.to_bytes(12, "big"), strict=True))
        ciphertext = fragment[explicit:]
        aad = struct.pack("!QBHH", self.seq, content_type, version, len(ciphertext) - tag_len)
        try:
            return self.aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("authentication failed") from None

    def _decrypt_block(self, content_type: int, version: int, fragment: bytes) -> bytes:
        assert self.kind.algorithm is not None
        block = self.kind.block_size
        explicit_iv = self.version >= 0x0302
        body = fragment
        if self.etm:
            if len(fragment) < self.mac_len:
                raise DecryptError("record too short")
            body, mac = fragment[: len(fragment) - self.mac_len], fragment[len(fragment) - self.mac_len :]
            if not hmac.compare_digest(self._mac(content_type, version, body), mac):
                raise DecryptError("MAC check failed")
        if len(body) % block or len(body) < (2 * block if explicit_iv else block):
            raise DecryptError("ciphertext length is not a whole number of blocks")
        if explicit_iv:
            iv, ciphertext = body[:block], body[block:]
        else:
            iv, ciphertext = self.chain_iv, body
            self.chain_iv = body[-block:]
        decryptor = Cipher(self.kind.algorithm(self.key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad_len = padded[-1]
        mac_len = 0 if self.etm else self.mac_len
        if pad_len + 1 + mac_len > len(padded):
            raise DecryptError("padding check failed")
        if self.version == 0x0300:
            if pad_len >= block:
                raise DecryptError("padding check failed")
        elif padded[len(padded) - pad_len - 1 :] != bytes([pad_len]) * (pad_len + 1):
            raise DecryptError("padding check failed")
        content = padded[: len(padded) - pad_len - 1]
        if self.etm:
            return content
        content, mac = content[: len(content) - mac_len], content[len(content) - mac_len :]
        if not hmac.compare_digest(self._mac(content_type, version, content), mac):
            raise DecryptError("MAC check failed")
        return content

    def _decrypt_stream(self, content_type: int, version: int, fragment: bytes) -> bytes:
        data = self.stream.update(fragment) if self.stream is not None else fragment
        if len(data) < self.mac_len:
            raise DecryptError("record too short")
        content, mac = data[: len(data) - self.mac_len], data[len(data) - self.mac_len :]
        if not hmac.compare_digest(self._mac(content_type, version, content), mac):
            raise DecryptError("MAC check failed")
        return content


class _Tls13Key:
    """One TLS 1.3 traffic secret with its AEAD, static IV and record sequence number."""

    def __init__(self, suite: Suite, label: str, secret: bytes, generation: int = 0) -> None:
        self.suite = suite
        self.label = label
        self.secret = secret
        self.generation = generation
        make_aead = CIPHERS[suite.cipher].aead
        assert make_aead is not None, "TLS 1.3 suites are AEAD"
        self.aead = make_aead(hkdf_expand_label(suite.prf, secret, b"key", b"", suite.key_len))
        self.iv = hkdf_expand_label(suite.prf, secret, b"iv", b"", 12)
        self.seq = 0

    def next_generation(self) -> _Tls13Key:
        """The key after a KeyUpdate: HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)."""
        size = _MAC_LEN[self.suite.prf]
        secret = hkdf_expand_label(self.suite.prf, self.secret, b"traffic upd", b"", size)
        return _Tls13Key(self.suite, self.label, secret, self.generation + 1)

    def open(self, seq: int, header: bytes, ciphertext: bytes) -> bytes | None:
        nonce = bytes(a ^ b for a, b in zip(self.iv, seq.to_bytes(12, "big"), strict=True))
        try:
            return self.aead.decrypt(nonce, ciphertext, header)
        except InvalidTag:
            return None


class _Tls13Direction:
    """The ordered candidate keys of one TLS 1.3 direction; `current` only ever moves forward."""

    def __init__(self, keys: list[_Tls13Key]) -> None:
        self.keys = keys
        self.current = 0

    def decrypt(self, header: bytes, ciphertext: bytes) -> bytes:
        if not self.keys:
            raise DecryptError("no secret for this direction")
        for index in range(self.current, len(self.keys) + 1):
            if index == len(self.keys):
                # A KeyUpdate the capture missed: try the next generation of the last (application) key.
                last = self.keys[-1]
                if not last.label.endswith("TRAFFIC_SECRET_0"):
                    break
                key = last.next_generation()
            else:
                key = self.keys[index]
            for seq in range(key.seq, min(key.seq + TLS13_LOOKAHEAD + 1, _SEQ_LIMIT)):
                plaintext = key.open(seq, header, ciphertext)
                if plaintext is not None:
                    if index == len(self.keys):
                        self.keys.append(key)
                    self.current = index
                    key.seq = seq + 1
                    return plaintext
        raise DecryptError("authentication failed")

    def key_update(self) -> None:
        """The sender's next records use the next traffic secret."""
        key = self.keys[self.current]
        new = key.next_generation()
        del self.keys[self.current + 1 :]
        self.keys.append(new)
        self.current = len(self.keys) - 1


def _has_key_update(plaintext: bytes) -> bool:
    """Whether a decrypted handshake record holds a KeyUpdate message (walks whole messages, bounded by size)."""
    offset = 0
    while offset + 4 <= len(plaintext):
        if plaintext[offset] == _HANDSHAKE_KEY_UPDATE:
            return True
        offset += 4 + int.from_bytes(plaintext[offset + 1 : offset + 4], "big")
    return False


# --- the public decryptor ---------------------------------------------------------------------------------------


class TlsDecryptor:
    """Decrypts the records of one connection, both directions, fed in wire order per direction.

    Build one with `session_decryptor`.
    """

    def __init__(
        self,
        *,
        version: int,
        cipher_suite: int,
        tls12: tuple[_Tls12Direction, _Tls12Direction] | None = None,
        tls13: tuple[_Tls13Direction, _Tls13Direction] | None = None,
        limitation: str | None = None,
    ) -> None:
        self.version = version
        self.cipher_suite = cipher_suite
        self._tls12 = tls12
        self._tls13 = tls13
        self._limitation = limitation
        self.records_decrypted = 0
        self.records_failed = 0

    @property
    def limitation(self) -> str | None:
        """Why some records will not decrypt although a decryptor exists (e.g. "only handshake secrets")."""
        return self._limitation

    def change_cipher_spec(self, from_client: bool) -> None:
        """TLS <= 1.2: the sender's next records are encrypted, starting at sequence number 0. No-op in TLS 1.3."""
        if self._tls12 is not None:
            self._tls12[0 if from_client else 1].activate()

    def decrypt(
        self, from_client: bool, content_type: int, record_version: int, fragment: bytes
    ) -> tuple[int, bytes]:
        """Decrypt one record.

        Records that are not protected are returned as they are: in TLS <= 1.2 those a sender writes before its
        ChangeCipherSpec (a cleartext ChangeCipherSpec record, fragment ``01``, also switches the sender to its
        keys, so calling `change_cipher_spec` as well does no harm); in TLS 1.3 every record whose outer type is not
        application_data (23).

        Args:
            from_client: Whether the client sent the record.
            content_type: The record header's content type.
            record_version: The record header's version, as on the wire (part of the authenticated data).
            fragment: The record body.

        Returns:
            The inner content type and the plaintext (TLS 1.3 padding and inner type removed).

        Raises:
            DecryptError: The record does not decrypt or authenticate; the message is a short reason.
        """
        if not (0 <= content_type <= 0xFF and 0 <= record_version <= 0xFFFF):
            raise DecryptError("bad record header")
        fragment = bytes(fragment)
        if len(fragment) > MAX_CIPHERTEXT:
            raise DecryptError("record too long")
        try:
            if self._tls13 is not None:
                result = self._decrypt13(from_client, content_type, record_version, fragment)
            elif self._tls12 is not None:
                result = self._decrypt12(from_client, content_type, record_version, fragment)
            else:
                raise DecryptError("no keys")
        except DecryptError:
            self.records_failed += 1
            raise
        except (ValueError, OverflowError, UnsupportedAlgorithm) as exc:
            # Defence in depth: lengths are checked above, but a cryptography refusal is still a bad record.
            self.records_failed += 1
            raise DecryptError(f"cannot decrypt: {exc}") from None
        return result

    def _decrypt12(
        self, from_client: bool, content_type: int, version: int, fragment: bytes
    ) -> tuple[int, bytes]:
        direction = self._tls12[0 if from_client else 1]  # type: ignore[index]
        if not direction.active:
            if content_type == _CONTENT_CCS and fragment == b"\x01":
                direction.activate()
            return content_type, fragment
        plaintext = direction.decrypt(content_type, version, fragment)
        self.records_decrypted += 1
        return content_type, plaintext

    def _decrypt13(
        self, from_client: bool, content_type: int, version: int, fragment: bytes
    ) -> tuple[int, bytes]:
        if content_type != _CONTENT_APPLICATION:
            return content_type, fragment
        direction = self._tls13[0 if from_client else 1]  # type: ignore[index]
        header = struct.pack("!BHH", content_type, version, len(fragment))
        inner = direction.decrypt(header, fragment).rstrip(b"\x00")
        if not inner:
            raise DecryptError("no inner content type")
        inner_type, plaintext = inner[-1], inner[:-1]
        self.records_decrypted += 1
        if inner_type == _CONTENT_HANDSHAKE and _has_key_update(plaintext):
            direction.key_update()
        return inner_type, plaintext


_TLS13_LABELS = {
    True: ("CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
    False: ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"),
}


def session_decryptor(
    keylog: KeyLog,
    *,
    client_random: bytes,
    server_random: bytes,
    version: int,
    cipher_suite: int,
    encrypt_then_mac: bool = False,
) -> TlsDecryptor | str:
    """A decryptor for one connection, or a short reason why there can be none.

    Args:
        keylog: The key log.
        client_random, server_random: The 32-byte randoms of the ClientHello and ServerHello.
        version: The negotiated version (0x0300-0x0304).
        cipher_suite: The negotiated cipher suite.
        encrypt_then_mac: Whether the ServerHello accepted encrypt_then_mac (RFC 7366; CBC suites only).

    Returns:
        A `TlsDecryptor` (whose `limitation` may say why part of the connection will not decrypt), or one of:
        "no secret for this client_random", "unsupported cipher suite 0x....", "unsupported version".
    """
    if version == 0x0304:
        suite = TLS13_SUITES.get(cipher_suite)
    elif 0x0300 <= version <= 0x0303:
        suite = TLS12_SUITES.get(cipher_suite)
    else:
        return REASON_UNSUPPORTED_VERSION
    if suite is None:
        return f"unsupported cipher suite 0x{cipher_suite:04x}"
    secrets = keylog.secrets(client_random)
    if version == 0x0304:
        return _tls13_decryptor(secrets, version, cipher_suite, suite)
    master = secrets.get("CLIENT_RANDOM")
    if master is None:
        return REASON_NO_SECRET
    kind = CIPHERS[suite.cipher]
    mac_len = _MAC_LEN[suite.mac] if suite.mac and kind.mode != "aead" else 0
    iv_len = suite.iv_len
    seed = bytes(server_random) + bytes(client_random)
    size = 2 * (mac_len + suite.key_len + iv_len)
    if version == 0x0300:
        block = _ssl3_key_block(master, seed, size)
    else:
        block = prf(version, suite.prf, master, b"key expansion", seed, size)
    parts = []
    offset = 0
    for length in (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len):
        parts.append(block[offset : offset + length])
        offset += length
    client = _Tls12Direction(suite, version, parts[0], parts[2], parts[4], encrypt_then_mac)
    server = _Tls12Direction(suite, version, parts[1], parts[3], parts[5], encrypt_then_mac)
    return TlsDecryptor(version=version, cipher_suite=cipher_suite, tls12=(client, server))


def _tls13_decryptor(
    secrets: dict[str, bytes], version: int, cipher_suite: int, suite: Suite
) -> TlsDecryptor | str:
    directions = []
    for from_client in (True, False):
        keys = [
            _Tls13Key(suite, label, secrets[label])
            for label in _TLS13_LABELS[from_client]
            if label in secrets
        ]
        directions.append(_Tls13Direction(keys))
    if not directions[0].keys and not directions[1].keys:
        return REASON_NO_SECRET
    have_app = "CLIENT_TRAFFIC_SECRET_0" in secrets and "SERVER_TRAFFIC_SECRET_0" in secrets
    have_handshake = (
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in secrets and "SERVER_HANDSHAKE_TRAFFIC_SECRET" in secrets
    )
    limitation = None
    if not have_app:
        limitation = REASON_ONLY_HANDSHAKE if have_handshake else "some traffic secrets missing"
    elif not have_handshake:
        limitation = "no handshake secrets"
    return TlsDecryptor(
        version=version,
        cipher_suite=cipher_suite,
        tls13=(directions[0], directions[1]),
        limitation=limitation,
    )
