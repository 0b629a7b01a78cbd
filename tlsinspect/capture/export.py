"""Saving some flows of a capture file as a new pcapng, with their TLS secrets embedded (the TUI's "export
pcapng"): Wireshark and `tlsinspect read` open the result decrypted with no separate key log.

The source capture is read again from the start (`CaptureFile`) and a frame is kept when its addresses and
ports are those of one of the flows (either direction, same transport) and its number lies in that flow's
first..last frame range (a reused 4-tuple is another flow). Headers are decoded with `PacketDecoder`; a frame
that does not decode is left out. Frames keep their capture time, link type and original length.

Secrets: a Decryption Secrets Block (NSS key log, ``TLSK``) before the first frame holds the key log lines of the
flows' client randoms, from the key log given; the source's own DSBs are carried over as they are met, their
TLS lines cut to the same client randoms (a DSB of another kind is copied whole). A DSB applies to the frames
after it, and a source's DSB is written no later than in the source, so every frame stays decryptable.

Limits: an IP datagram in fragments keeps only the frame that completes it (the decoder holds the others).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.capture.pcapng_writer import PcapngWriter
from tlsinspect.decode.packet import Datagram, PacketDecoder, Segment
from tlsinspect.errors import CaptureError, DecodeError
from tlsinspect.model import Flow
from tlsinspect.parse.keylog import KeyLog

__all__ = ["PcapngExport", "client_randoms", "export_flows", "keylog_lines"]

_Endpoint = tuple[bytes, int]
_Key = tuple[str, _Endpoint, _Endpoint]


@dataclass(frozen=True, slots=True)
class PcapngExport:
    """What `export_flows` wrote."""

    path: str
    flows: int
    frames: int
    secrets: int
    """Key log lines written (in all DSBs)."""
    without_secrets: int
    """TLS flows whose client random no key log had."""
    dsbs_carried: int
    """DSBs of the source written again."""


def client_randoms(flows: Iterable[Flow]) -> list[bytes]:
    """The client randoms of the flows' ClientHellos (the first, and the one after a HelloRetryRequest), in
    order, each once."""
    out: dict[bytes, None] = {}
    for f in flows:
        t = f.tls
        if t is None:
            continue
        for ch in (t.client_hello, t.client_hello_after_hrr):
            if ch is not None and ch.random:
                out[bytes(ch.random)] = None
    return list(out)


def keylog_lines(
    keylog: KeyLog, randoms: Iterable[bytes], skip: set[tuple[str, bytes]] | None = None
) -> bytes:
    """The NSS key log lines of `keylog` for these client randoms (labels sorted), leaving out the (label,
    random) pairs in `skip` and adding the written ones to it."""
    lines = []
    for r in randoms:
        for label, secret in sorted(keylog.secrets(r).items()):
            if skip is not None:
                if (label, r) in skip:
                    continue
                skip.add((label, r))
            lines.append(f"{label} {r.hex()} {secret.hex()}\n")
    return "".join(lines).encode("ascii")


def _endpoint(ip: str, port: int) -> _Endpoint:
    return ipaddress.ip_address(ip).packed, port


def _key(transport: str, a: _Endpoint, b: _Endpoint) -> _Key:
    return (transport, a, b) if a <= b else (transport, b, a)


def export_flows(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    flows: Iterable[Flow],
    keylog: KeyLog | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
) -> PcapngExport:
    """Write the frames of `flows` (flows read from `source`) to the pcapng file `dest`, with the secrets of
    their client randoms from `keylog` and from the source's DSBs.

    Raises:
        CaptureError: `source` cannot be read, or `dest` cannot be written (one line for the user).
    """
    flows = list(flows)
    ranges: dict[_Key, list[tuple[int, int]]] = {}
    lo, hi = None, 0
    for f in flows:
        try:
            key = _key(
                f.transport, _endpoint(f.client_ip, f.client_port), _endpoint(f.server_ip, f.server_port)
            )
        except ValueError:
            continue
        ranges.setdefault(key, []).append((f.first_frame, f.last_frame))
        lo = f.first_frame if lo is None else min(lo, f.first_frame)
        hi = max(hi, f.last_frame)
    randoms = client_randoms(flows)
    wanted = set(randoms)
    written: set[tuple[str, bytes]] = set()
    have: set[bytes] = set()
    secrets = frames = carried = 0

    def tls_lines(kl: KeyLog) -> bytes:
        nonlocal secrets
        data = keylog_lines(kl, randoms, written)
        secrets += data.count(b"\n")
        have.update(r for r in randoms if kl.secrets(r))
        return data

    with CaptureFile(source) as cap:
        try:
            out = PcapngWriter(dest, application="tlsinspect export")
        except OSError as e:
            raise CaptureError(f"cannot write {os.fspath(dest)!r}: {e.strerror or e}") from None
        with out:
            if keylog is not None:
                out.secrets(tls_lines(keylog))
            decoder = PacketDecoder()
            seen_dsbs = 0
            for number, ts, link_type, data, orig_len, _iface in cap.raw_frames():
                if len(cap.secrets) > seen_dsbs:
                    for stype, sdata in cap.secrets[seen_dsbs:]:
                        carried += 1
                        if stype == TLS_KEY_LOG_SECRETS:
                            out.secrets(tls_lines(KeyLog.parse(bytes(sdata))))
                        else:
                            out.secrets(bytes(sdata), stype)
                    seen_dsbs = len(cap.secrets)
                if lo is None or number < lo or number > hi:
                    if lo is None or number > hi:
                        break
                    continue
                if cancelled is not None and number % 4096 == 0 and cancelled():
                    break
                try:
                    pkt = decoder.decode(link_type, data)
                except DecodeError:
                    continue
                if pkt is None:
                    continue
                transport = "tcp" if type(pkt) is Segment else "udp"
                assert isinstance(pkt, Segment | Datagram)
                spans = ranges.get(_key(transport, (pkt.src, pkt.sport), (pkt.dst, pkt.dport)))
                if spans is None or not any(a <= number <= b for a, b in spans):
                    continue
                out.packet(ts, link_type, data, orig_len)
                frames += 1
    return PcapngExport(
        path=os.fspath(dest),
        flows=len(flows),
        frames=frames,
        secrets=secrets,
        without_secrets=len(wanted - have),
        dsbs_carried=carried,
    )
