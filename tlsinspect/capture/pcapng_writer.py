"""A small streaming pcapng writer: what `tlsinspect live -w FILE` saves.

The file is one section: a Section Header Block, one Interface Description Block per link type (written when
the link type is first used), an Enhanced Packet Block per frame, and Decryption Secrets Blocks (secrets type
``TLSK``, an NSS key log) wherever key log lines arrive. A DSB applies to the packets after it, so writing the
secrets as soon as they are known, before the packets they decrypt are written, lets `tlsinspect read` and
Wireshark decrypt the saved file with no separate key log.

Timestamps are written in microseconds (the pcapng default resolution). Little-endian throughout.
"""

from __future__ import annotations

import os
import struct
from types import TracebackType
from typing import BinaryIO

from tlsinspect.capture.files import MAX_PACKET, TLS_KEY_LOG_SECRETS

__all__ = ["PcapngWriter"]

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_DSB = 0x0000000A
_BOM = 0x1A2B3C4D

_OPT_END = 0
_SHB_USERAPPL = 4
_IF_NAME = 2

_HDR = struct.Struct("<II")
_EPB_HEAD = struct.Struct("<IIIII")  # interface, ts high, ts low, captured length, original length
_U32 = struct.Struct("<I")


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _HDR.pack(btype, total) + body + _U32.pack(total)


class PcapngWriter:
    """Append frames and key log secrets to a new pcapng file.

    Args:
        path: the file to create (replaced if it exists).
        application: written in the section header (shb_userappl).
        interface_name: written in each interface description (if_name), e.g. the captured interface.

    Raises:
        OSError: the file cannot be created; the caller reports it in one line.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        application: str = "tlsinspect",
        interface_name: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.interface_name = interface_name
        self._f: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._interfaces: dict[int, int] = {}
        self.frames_written = 0
        self.secrets_written = 0
        shb = (
            struct.pack("<IHHq", _BOM, 1, 0, -1)
            + _option(_SHB_USERAPPL, application.encode())
            + _option(_OPT_END, b"")
        )
        self._f.write(_block(_SHB, shb))

    def interface(self, link_type: int) -> int:
        """The interface id for this link type, writing its Interface Description Block the first time."""
        iid = self._interfaces.get(link_type)
        if iid is None:
            iid = len(self._interfaces)
            self._interfaces[link_type] = iid
            opts = b""
            if self.interface_name:
                opts += _option(_IF_NAME, self.interface_name.encode())
            if opts:
                opts += _option(_OPT_END, b"")
            self._f.write(_block(_IDB, struct.pack("<HHI", link_type, 0, MAX_PACKET) + opts))
        return iid

    def packet(self, ts: float, link_type: int, data: bytes, orig_len: int | None = None) -> None:
        """Write one frame as an Enhanced Packet Block (data longer than MAX_PACKET is cut, orig_len kept)."""
        iid = self.interface(link_type)
        caplen = min(len(data), MAX_PACKET)
        usec = int(round(ts * 1_000_000))
        body = _EPB_HEAD.pack(iid, usec >> 32 & 0xFFFFFFFF, usec & 0xFFFFFFFF, caplen, orig_len or len(data))
        self._f.write(_block(_EPB, body + _pad(data[:caplen])))
        self.frames_written += 1

    def secrets(self, keylog_text: bytes, secrets_type: int = TLS_KEY_LOG_SECRETS) -> None:
        """Write a Decryption Secrets Block: key log lines that apply to the packets written after it."""
        if not keylog_text:
            return
        body = struct.pack("<II", secrets_type, len(keylog_text)) + _pad(keylog_text)
        self._f.write(_block(_DSB, body))
        self.secrets_written += 1

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
