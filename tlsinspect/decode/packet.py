"""Link, network and transport header decoding: frame bytes in, one small tuple out (sans-IO).

This is the hot path of `read`: every frame of a capture passes through `PacketDecoder.decode`, so it works on
offsets into the frame's bytes with precompiled `struct` formats and builds no object per layer. It returns a
`Segment` tuple for TCP, a `Datagram` tuple for UDP, or ``None`` for frames that carry neither (the reason is
counted in `PacketDecoder.stats`). Malformed headers raise `DecodeError`, which the engine records as an
anomaly before moving on to the next frame.

Link types (tcpdump.org LINKTYPE_ values) are dispatched through the `LINK_DECODERS` table, and tunnels (GRE,
ERSPAN, VXLAN, Geneve, IP-in-IP) are unwrapped in a bounded loop. IPv4 and IPv6 fragments are reassembled by
`Defragmenter` with caps on held fragments; what a cap throws away is counted, never silently lost.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import NamedTuple

from tlsinspect.errors import DecodeError

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)
ETH_MPLS = (0x8847, 0x8848)
ETH_PPPOE_SESSION = 0x8864
ETH_TEB = 0x6558  # transparent Ethernet bridging (GRE payload)

IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_GRE = 47
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
IPV6_EXT_HEADERS = frozenset((0, 43, 60, 135, 139, 140))
IPV6_FRAGMENT = 44
IPPROTO_AH = 51

VXLAN_PORT = 4789
VXLAN_GPE_PORT = 4790
GTPU_PORT = 2152
GENEVE_PORT = 6081

MAX_ENCAPSULATION = 6

_H = struct.Struct("!H")
_HH = struct.Struct("!HH")
_I = struct.Struct("!I")
_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HHH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")


class Segment(NamedTuple):
    """A TCP segment. Addresses are packed bytes (4 or 16); `payload` is the TCP payload."""

    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes


class Datagram(NamedTuple):
    """A UDP datagram."""

    src: bytes
    dst: bytes
    sport: int
    dport: int
    payload: bytes


_NEW = tuple.__new__
"""Builds a NamedTuple without the Python-level __new__ (one call less per frame)."""

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10


def _link_ethernet(data: bytes, off: int) -> tuple[int, int]:
    """Ethernet II with any number of 802.1Q/QinQ tags, MPLS labels and PPPoE session headers."""
    if len(data) < off + 14:
        raise DecodeError("ethernet header truncated")
    off += 12
    (etype,) = _H.unpack_from(data, off)
    off += 2
    while True:
        if etype in ETH_VLAN:
            if len(data) < off + 4:
                raise DecodeError("802.1Q tag truncated")
            (etype,) = _H.unpack_from(data, off + 2)
            off += 4
        elif etype in ETH_MPLS:
            while True:
                if len(data) < off + 4:
                    raise DecodeError("MPLS label truncated")
                (label,) = _I.unpack_from(data, off)
                off += 4
                if label & 0x100:
                    break
            if len(data) <= off:
                raise DecodeError("MPLS payload missing")
            etype = ETH_IPV4 if data[off] >> 4 == 4 else ETH_IPV6
        elif etype == ETH_PPPOE_SESSION:
            if len(data) < off + 8:
                raise DecodeError("PPPoE header truncated")
            (proto,) = _H.unpack_from(data, off + 6)
            off += 8
            etype = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}.get(proto, -1)
        else:
            return etype, off


def _link_null(data: bytes, off: int) -> tuple[int, int]:
    """BSD loopback: a 4-byte address family in the writer's byte order."""
    if len(data) < off + 4:
        raise DecodeError("loopback header truncated")
    fam = data[off] if data[off] else data[off + 3]
    if fam == 2:
        return ETH_IPV4, off + 4
    if fam in (24, 28, 30, 10, 23):  # AF_INET6 on the BSDs, Darwin, Linux, Windows
        return ETH_IPV6, off + 4
    return -1, off + 4


def _link_loop(data: bytes, off: int) -> tuple[int, int]:
    """OpenBSD loopback: the address family in network byte order."""
    if len(data) < off + 4:
        raise DecodeError("loopback header truncated")
    (fam,) = _I.unpack_from(data, off)
    return (ETH_IPV4 if fam == 2 else ETH_IPV6 if fam in (24, 28, 30, 10) else -1), off + 4


def _link_raw(data: bytes, off: int) -> tuple[int, int]:
    if len(data) <= off:
        raise DecodeError("empty raw IP frame")
    v = data[off] >> 4
    return (ETH_IPV4 if v == 4 else ETH_IPV6 if v == 6 else -1), off


def _link_sll(data: bytes, off: int) -> tuple[int, int]:
    """Linux cooked capture v1: 16-byte header, protocol type last."""
    if len(data) < off + 16:
        raise DecodeError("SLL header truncated")
    (etype,) = _H.unpack_from(data, off + 14)
    return _after_ethertype(data, etype, off + 16)


def _link_sll2(data: bytes, off: int) -> tuple[int, int]:
    """Linux cooked capture v2: 20-byte header, protocol type first."""
    if len(data) < off + 20:
        raise DecodeError("SLL2 header truncated")
    (etype,) = _H.unpack_from(data, off)
    return _after_ethertype(data, etype, off + 20)


def _after_ethertype(data: bytes, etype: int, off: int) -> tuple[int, int]:
    if etype in ETH_VLAN or etype in ETH_MPLS or etype == ETH_PPPOE_SESSION:
        # Re-enter the Ethernet tag walker with a fake 12-byte prefix position.
        return _link_ethernet_from(data, etype, off)
    return etype, off


def _link_ethernet_from(data: bytes, etype: int, off: int) -> tuple[int, int]:
    # Walk tags starting at a known ethertype (used after cooked headers and GRE).
    fake = b"\x00" * 12 + _H.pack(etype) + data[off:]
    et, new_off = _link_ethernet(fake, 0)
    return et, off + (new_off - 14)


def _link_ppp(data: bytes, off: int) -> tuple[int, int]:
    """PPP (with or without the HDLC address/control bytes)."""
    if len(data) < off + 2:
        raise DecodeError("PPP header truncated")
    if data[off] == 0xFF and data[off + 1] == 0x03:
        off += 2
    if len(data) < off + 1:
        raise DecodeError("PPP header truncated")
    if data[off] & 1:  # compressed one-byte protocol field
        proto = data[off]
        off += 1
    else:
        if len(data) < off + 2:
            raise DecodeError("PPP header truncated")
        (proto,) = _H.unpack_from(data, off)
        off += 2
    return {0x21: ETH_IPV4, 0x57: ETH_IPV6}.get(proto, -1), off


def _link_ipv4(data: bytes, off: int) -> tuple[int, int]:
    return ETH_IPV4, off


def _link_ipv6(data: bytes, off: int) -> tuple[int, int]:
    return ETH_IPV6, off


LINK_DECODERS = {
    0: _link_null,
    1: _link_ethernet,
    9: _link_ppp,
    12: _link_raw,
    14: _link_raw,
    50: _link_ppp,
    101: _link_raw,
    108: _link_loop,
    113: _link_sll,
    228: _link_ipv4,
    229: _link_ipv6,
    276: _link_sll2,
}
"""LINKTYPE value -> function(frame bytes, offset) -> (ethertype, offset of the network header)."""

LINK_TYPE_NAMES = {
    0: "BSD loopback",
    1: "Ethernet",
    9: "PPP",
    12: "raw IP",
    14: "raw IP",
    50: "PPP in HDLC",
    101: "raw IP",
    108: "OpenBSD loopback",
    113: "Linux cooked (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}


class Defragmenter:
    """Reassembles IPv4 and IPv6 fragments, bounded in datagrams and bytes held.

    `add` returns the whole payload once every fragment is in, else ``None``. Datagrams that never complete are
    dropped oldest-first when a cap is reached and counted in `expired`.
    """

    def __init__(self, *, max_datagrams: int = 1024, max_bytes: int = 8 << 20) -> None:
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self._held: OrderedDict[tuple[object, ...], list[object]] = OrderedDict()
        self._bytes = 0
        self.expired = 0
        self.fragments = 0
        self.reassembled = 0

    def add(self, key: tuple[object, ...], offset: int, more: bool, payload: bytes) -> bytes | None:
        """Add one fragment (offset in bytes); returns the reassembled payload when complete."""
        self.fragments += 1
        entry = self._held.get(key)
        if entry is None:
            entry = [{}, None, 0]  # pieces by offset, total length, bytes held
            self._held[key] = entry
        pieces: dict[int, bytes] = entry[0]  # type: ignore[assignment]
        if offset not in pieces:
            pieces[offset] = payload
            entry[2] = int(entry[2]) + len(payload)  # type: ignore[call-overload]
            self._bytes += len(payload)
        if not more:
            entry[1] = offset + len(payload)
        total = entry[1]
        if total is not None:
            have = 0
            for off in sorted(pieces):
                if off > have:
                    break
                have = max(have, off + len(pieces[off]))
            if have >= total:  # type: ignore[operator]
                buf = bytearray(total)  # type: ignore[call-overload]
                for off in sorted(pieces):
                    chunk = pieces[off][: max(0, total - off)]  # type: ignore[operator]
                    buf[off : off + len(chunk)] = chunk
                del self._held[key]
                self._bytes -= int(entry[2])  # type: ignore[call-overload]
                self.reassembled += 1
                return bytes(buf)
        while len(self._held) > self.max_datagrams or self._bytes > self.max_bytes:
            _, old = self._held.popitem(last=False)
            self._bytes -= int(old[2])  # type: ignore[call-overload]
            self.expired += 1
        return None

    @property
    def pending(self) -> int:
        """Datagrams still waiting for fragments."""
        return len(self._held)


class PacketDecoder:
    """Decodes frames to TCP segments or UDP datagrams; keeps the fragment state and the counters."""

    def __init__(self) -> None:
        self.defrag = Defragmenter()
        self.stats = {"not_ip": 0, "other_transport": 0, "fragment_held": 0, "unsupported_link": 0}
        self.reason = ""
        """Why the last `decode` returned None: a key of `stats`."""

    def _drop(self, reason: str) -> None:
        self.stats[reason] += 1
        self.reason = reason

    def decode(self, link_type: int, data: bytes) -> Segment | Datagram | None:
        """Decode one frame. Returns a Segment, a Datagram or None (counted in `stats`); raises DecodeError.

        The engine sends here only frames its fast path (`tlsinspect.decode.fast.fast_tcp`) refused; for the
        frames that path takes, this returns the same Segment (tests/decode/test_fast.py).
        """
        # Untagged Ethernet carrying IPv4, the frames of most captures, skips the link decoder table.
        if link_type == 1 and data[12:14] == b"\x08\x00":
            etype, off = ETH_IPV4, 14
        else:
            link = LINK_DECODERS.get(link_type)
            if link is None:
                self._drop("unsupported_link")
                return None
            etype, off = link(data, 0)
        for _ in range(MAX_ENCAPSULATION):
            if etype == ETH_IPV4:
                res = self._ipv4(data, off)
            elif etype == ETH_IPV6:
                res = self._ipv6(data, off)
            else:
                self._drop("not_ip")
                return None
            if type(res) is _Tunnel:
                etype, data, off = res
                continue
            return res  # type: ignore[return-value]
        raise DecodeError("too many nested encapsulations")

    # The IP decoders return a Segment, a Datagram, None, or a _Tunnel to unwrap.

    def _ipv4(self, data: bytes, off: int) -> object:
        if len(data) < off + 20:
            raise DecodeError("IPv4 header truncated")
        vihl, _tos, total, ident, frag, _ttl, proto, _ck, src, dst = _IPV4.unpack_from(data, off)
        if vihl >> 4 != 4:
            raise DecodeError(f"IP version {vihl >> 4} in an IPv4 header")
        ihl = (vihl & 0x0F) * 4
        if ihl < 20 or len(data) < off + ihl:
            raise DecodeError("IPv4 header length invalid")
        end = off + total if total else len(data)  # total 0: TSO / large segment offload
        if total and total < ihl:
            raise DecodeError("IPv4 total length shorter than its header")
        end = min(end, len(data))
        l4 = off + ihl
        if frag & 0x3FFF:  # more-fragments flag or a non-zero offset
            whole = self.defrag.add(
                (4, src, dst, ident, proto), (frag & 0x1FFF) * 8, bool(frag & 0x2000), data[l4:end]
            )
            if whole is None:
                self._drop("fragment_held")
                return None
            return self._transport(proto, src, dst, whole, 0, len(whole))
        return self._transport(proto, src, dst, data, l4, end)

    def _ipv6(self, data: bytes, off: int) -> object:
        if len(data) < off + 40:
            raise DecodeError("IPv6 header truncated")
        vtf, plen, nxt, _hl, src, dst = _IPV6.unpack_from(data, off)
        if vtf >> 28 != 6:
            raise DecodeError(f"IP version {vtf >> 28} in an IPv6 header")
        pos = off + 40
        end = min(pos + plen, len(data)) if plen else len(data)
        frag_info = None
        for _ in range(16):
            if nxt in IPV6_EXT_HEADERS:
                if end < pos + 8:
                    raise DecodeError("IPv6 extension header truncated")
                nxt, hlen = data[pos], (data[pos + 1] + 1) * 8
                pos += hlen
            elif nxt == IPV6_FRAGMENT:
                if end < pos + 8:
                    raise DecodeError("IPv6 fragment header truncated")
                (fo,) = _H.unpack_from(data, pos + 2)
                (ident,) = _I.unpack_from(data, pos + 4)
                frag_info = (fo & 0xFFF8, bool(fo & 1), ident)
                nxt = data[pos]
                pos += 8
            elif nxt == IPPROTO_AH:
                if end < pos + 8:
                    raise DecodeError("AH header truncated")
                nxt, hlen = data[pos], (data[pos + 1] + 2) * 4
                pos += hlen
            else:
                break
        if pos > end:
            raise DecodeError("IPv6 extension headers overrun the packet")
        if frag_info is not None and (frag_info[0] or frag_info[1]):
            whole = self.defrag.add(
                (6, src, dst, frag_info[2], nxt), frag_info[0], frag_info[1], data[pos:end]
            )
            if whole is None:
                self._drop("fragment_held")
                return None
            return self._transport(nxt, src, dst, whole, 0, len(whole))
        return self._transport(nxt, src, dst, data, pos, end)

    def _transport(self, proto: int, src: bytes, dst: bytes, data: bytes, off: int, end: int) -> object:
        if proto == IPPROTO_TCP:
            if end < off + 20:
                raise DecodeError("TCP header truncated")
            sport, dport, seq, ack, doff, flags = _TCP.unpack_from(data, off)
            hlen = (doff >> 4) * 4
            if hlen < 20 or off + hlen > end:
                raise DecodeError("TCP header length invalid")
            return _NEW(Segment, (src, dst, sport, dport, seq, ack, flags, data[off + hlen : end]))
        if proto == IPPROTO_UDP:
            if end < off + 8:
                raise DecodeError("UDP header truncated")
            sport, dport, ulen = _UDP.unpack_from(data, off)
            uend = min(end, off + ulen) if ulen >= 8 else end
            if dport == VXLAN_PORT and uend >= off + 16 and data[off + 8] & 0x08:
                return _tunnel_eth(data[off + 16 : uend])
            if dport == VXLAN_GPE_PORT and uend >= off + 16:
                inner = data[off + 16 : uend]
                nxt = data[off + 11]
                if nxt == 3:
                    return _tunnel_eth(inner)
                if nxt in (1, 2):
                    return _Tunnel(ETH_IPV4 if nxt == 1 else ETH_IPV6, inner, 0)
            if dport == GTPU_PORT and sport == GTPU_PORT:
                tunnel = _gtpu(data, off + 8, uend)
                if tunnel is not None:
                    return tunnel
            if dport == GENEVE_PORT and uend >= off + 16:
                optlen = (data[off + 8] & 0x3F) * 4
                (ptype,) = _H.unpack_from(data, off + 10)
                inner = data[off + 16 + optlen : uend]
                return _tunnel_eth(inner) if ptype == ETH_TEB else _Tunnel(ptype, inner, 0)
            return Datagram(src, dst, sport, dport, data[off + 8 : uend])
        if proto == IPPROTO_GRE:
            return _gre(data, off, end)
        if proto == IPPROTO_IPIP:
            return _Tunnel(ETH_IPV4, data[off:end], 0)
        if proto == IPPROTO_IPV6:
            return _Tunnel(ETH_IPV6, data[off:end], 0)
        self._drop("other_transport")
        return None


class _Tunnel(NamedTuple):
    """An encapsulated packet: decode `data` from `off` as `etype`."""

    etype: int
    data: bytes
    off: int


def _tunnel_eth(inner: bytes) -> _Tunnel:
    etype, off = _link_ethernet(inner, 0)
    return _Tunnel(etype, inner, off)


def _gtpu(data: bytes, off: int, end: int) -> _Tunnel | None:
    """GTP-U (3GPP TS 29.281) carrying a user IP packet (message type 0xff, T-PDU); None for anything else."""
    if end < off + 8 or data[off] >> 5 != 1 or data[off + 1] != 0xFF:
        return None
    flags = data[off]
    pos = off + 8
    if flags & 0x07:  # E, S or PN: sequence number, N-PDU number, next extension header type
        if end < pos + 4:
            raise DecodeError("GTP-U optional fields truncated")
        nxt = data[pos + 3]
        pos += 4
        for _ in range(16):
            if not (flags & 0x04) or nxt == 0:
                break
            if end < pos + 1 or data[pos] == 0:
                raise DecodeError("GTP-U extension header invalid")
            ext_len = data[pos] * 4
            if end < pos + ext_len:
                raise DecodeError("GTP-U extension header truncated")
            nxt = data[pos + ext_len - 1]
            pos += ext_len
    if end <= pos:
        return None
    version = data[pos] >> 4
    if version not in (4, 6):
        return None
    return _Tunnel(ETH_IPV4 if version == 4 else ETH_IPV6, data[pos:end], 0)


def _gre(data: bytes, off: int, end: int) -> _Tunnel:
    """GRE (RFC 2784/2890) including ERSPAN type II and III, which carry a whole Ethernet frame."""
    if end < off + 4:
        raise DecodeError("GRE header truncated")
    flags, ptype = _HH.unpack_from(data, off)
    pos = off + 4
    if flags & 0x8000:
        pos += 4  # checksum + reserved
    if flags & 0x2000:
        pos += 4  # key
    if flags & 0x1000:
        pos += 4  # sequence number
    if pos > end:
        raise DecodeError("GRE header truncated")
    if ptype == 0x88BE:  # ERSPAN type II (type I has no sequence bit and no header)
        if flags & 0x1000:
            pos += 8
        return _tunnel_eth(data[pos:end])
    if ptype == 0x22EB:  # ERSPAN type III: 12-byte header, optional 8-byte subheader
        if end < pos + 12:
            raise DecodeError("ERSPAN III header truncated")
        has_sub = data[pos + 11] & 0x01
        pos += 12 + (8 if has_sub else 0)
        return _tunnel_eth(data[pos:end])
    if ptype == ETH_TEB:
        return _tunnel_eth(data[pos:end])
    return _Tunnel(ptype, data[pos:end], 0)
