"""The TLS 1.3 key schedule's two primitives: HKDF-Extract and HKDF-Expand-Label (RFC 5869, RFC 8446 §7.1).

Pure functions over HMAC, no I/O. One definition for every user: the TLS record decryptor
(`tlsinspect.engine.decrypt`, traffic keys and KeyUpdate) and QUIC packet protection (`tlsinspect.parse.quic`,
Initial secrets and packet keys, RFC 9001 §5). Hashes are named as `hashlib` names them (``"sha256"``,
``"sha384"``).
"""

from __future__ import annotations

import hmac
import struct

__all__ = ["hkdf_expand", "hkdf_expand_label", "hkdf_extract"]


def hkdf_extract(digest: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract(salt, IKM) from RFC 5869 §2.2: HMAC-Hash(salt, IKM)."""
    return hmac.digest(salt, ikm, digest)


def hkdf_expand(digest: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(PRK, info, L) from RFC 5869 §2.3.

    Raises:
        ValueError: `length` is more than 255 blocks of the hash (the RFC's limit).
    """
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        if counter > 255:
            raise ValueError(f"HKDF-Expand length {length} is too long for {digest}")
        block = hmac.digest(prk, block + info + bytes([counter]), digest)
        out += block
        counter += 1
    return out[:length]


def hkdf_expand_label(digest: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length) from RFC 8446 §7.1; ``"tls13 "`` is prefixed to `label`."""
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(context)]) + context
    return hkdf_expand(digest, secret, info, length)
