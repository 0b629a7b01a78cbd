"""PacketDecoder: frames built with scapy for every link type and tunnel, decoded to exact Segment/Datagram values.

Each frame is also decoded truncated at every offset and with trailing bytes (Ethernet padding), and random or
mutated frames are fuzzed: the outcome is a value, None (with `reason` set) or DecodeError, never another error.
"""

from __future__ import annotations

import socket
import struct
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from scapy.all import (
        ARP,
        GRE,
        ICMP,
        IP,
        PPP,
        TCP,
        UDP,
        VXLAN,
        CookedLinux,
        Dot1AD,
        Dot1Q,
        Ether,
        IPOption_RR,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        PPPoE,
        Raw,
        fragment,
        fragment6,
    )
    from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
    from scapy.contrib.geneve import GENEVE
    from scapy.contrib.mpls import MPLS
    from scapy.layers.l2 import CookedLinuxV2

from tlsinspect.decode.packet import (
    LINK_DECODERS,
    LINK_TYPE_NAMES,
    TCP_ACK,
    TCP_SYN,
    Datagram,
    Defragmenter,
    PacketDecoder,
    Segment,
)
from tlsinspect.errors import DecodeError

A4, B4 = "10.0.0.1", "10.0.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
PA4, PB4 = socket.inet_aton(A4), socket.inet_aton(B4)
PA6, PB6 = socket.inet_pton(socket.AF_INET6, A6), socket.inet_pton(socket.AF_INET6, B6)
PAYLOAD = b"\x16\x03\x01\x00\x05hello"
MAC = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def tcp(payload: bytes = PAYLOAD) -> object:
    return TCP(sport=40000, dport=443, seq=0x01020304, ack=0xA0B0C0D0, flags="PA") / Raw(payload)


def ip4(payload: bytes = PAYLOAD) -> object:
    return IP(src=A4, dst=B4, id=77) / tcp(payload)


def ip6(payload: bytes = PAYLOAD) -> object:
    return IPv6(src=A6, dst=B6) / tcp(payload)


SEG4 = Segment(PA4, PB4, 40000, 443, 0x01020304, 0xA0B0C0D0, 0x18, PAYLOAD)
SEG6 = Segment(PA6, PB6, 40000, 443, 0x01020304, 0xA0B0C0D0, 0x18, PAYLOAD)


def b(pkt: object) -> bytes:
    return bytes(pkt)  # type: ignore[call-overload]


def null_hdr(family: int, order: str) -> bytes:
    return family.to_bytes(4, order)  # type: ignore[arg-type]


def outer4(proto_pkt: object) -> object:
    return Ether(**MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / proto_pkt


CASES: dict[str, tuple[int, bytes, object]] = {
    "ethernet-ipv4": (1, b(Ether(**MAC) / ip4()), SEG4),
    "ethernet-ipv6": (1, b(Ether(**MAC) / ip6()), SEG6),
    "802.1q": (1, b(Ether(**MAC) / Dot1Q(vlan=10) / ip4()), SEG4),
    "qinq-88a8": (1, b(Ether(**MAC) / Dot1AD(vlan=100) / Dot1Q(vlan=10) / ip6()), SEG6),
    "mpls-2-labels": (1, b(Ether(**MAC) / MPLS(label=16, s=0) / MPLS(label=17, s=1) / ip4()), SEG4),
    "mpls-ipv6": (1, b(Ether(**MAC, type=0x8847) / MPLS(label=16, s=1) / ip6()), SEG6),
    "pppoe": (1, b(Ether(**MAC) / PPPoE(sessionid=5) / PPP(proto=0x21) / ip4()), SEG4),
    "pppoe-ipv6": (1, b(Ether(**MAC) / PPPoE(sessionid=5) / PPP(proto=0x57) / ip6()), SEG6),
    "vlan-pppoe": (1, b(Ether(**MAC) / Dot1Q(vlan=3) / PPPoE() / PPP(proto=0x21) / ip4()), SEG4),
    "sll": (113, b(CookedLinux(proto=0x0800) / ip4()), SEG4),
    "sll-vlan": (113, b(CookedLinux(proto=0x8100) / Dot1Q(vlan=9) / ip6()), SEG6),
    "sll2": (276, b(CookedLinuxV2(proto=0x86DD) / ip6()), SEG6),
    "null-le-inet": (0, null_hdr(2, "little") + b(ip4()), SEG4),
    "null-be-inet": (0, null_hdr(2, "big") + b(ip4()), SEG4),
    "null-le-inet6-24": (0, null_hdr(24, "little") + b(ip6()), SEG6),
    "null-be-inet6-28": (0, null_hdr(28, "big") + b(ip6()), SEG6),
    "null-le-inet6-30": (0, null_hdr(30, "little") + b(ip6()), SEG6),
    "openbsd-loop-inet": (108, null_hdr(2, "big") + b(ip4()), SEG4),
    "openbsd-loop-inet6": (108, null_hdr(24, "big") + b(ip6()), SEG6),
    "raw-101-v4": (101, b(ip4()), SEG4),
    "raw-101-v6": (101, b(ip6()), SEG6),
    "raw-12": (12, b(ip4()), SEG4),
    "raw-228": (228, b(ip4()), SEG4),
    "raw-229": (229, b(ip6()), SEG6),
    "ppp": (9, b"\xff\x03\x00\x21" + b(ip4()), SEG4),
    "ppp-no-hdlc": (9, b"\x00\x57" + b(ip6()), SEG6),
    "ppp-compressed-proto": (50, b"\x21" + b(ip4()), SEG4),
    "ipv4-options": (101, b(IP(src=A4, dst=B4, options=[IPOption_RR(routers=["1.2.3.4"])]) / tcp()), SEG4),
    "ipv6-ext-headers": (
        229,
        b(IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / tcp()),
        SEG6,
    ),
    "ipv6-atomic-fragment": (
        229,
        b(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=1, offset=0, m=0) / tcp()),
        SEG6,
    ),
    "gre": (1, b(outer4(GRE(proto=0x0800) / ip4())), SEG4),
    "gre-key-seq-csum": (
        1,
        b(outer4(GRE(chksum_present=1, key_present=1, seqnum_present=1, key=9, seqence_number=3) / ip6())),
        SEG6,
    ),
    "gre-teb": (1, b(outer4(GRE(proto=0x6558) / Ether(**MAC) / ip4())), SEG4),
    "erspan-ii": (1, b(outer4(GRE(seqnum_present=1) / ERSPAN_II(session_id=1) / Ether(**MAC) / ip4())), SEG4),
    "erspan-iii": (
        1,
        b(outer4(GRE(seqnum_present=1) / ERSPAN_III(session_id=2) / Ether(**MAC) / ip6())),
        SEG6,
    ),
    "erspan-iii-subheader": (
        1,
        b(
            outer4(
                GRE(seqnum_present=1)
                / ERSPAN_III(session_id=2, o=1)
                / ERSPAN_PlatformSpecific()
                / Ether(**MAC)
                / Dot1Q(vlan=2)
                / ip4()
            )
        ),
        SEG4,
    ),
    "vxlan": (1, b(outer4(UDP(sport=5555, dport=4789) / VXLAN(vni=42) / Ether(**MAC) / ip4())), SEG4),
    "geneve": (
        1,
        b(outer4(UDP(sport=5555, dport=6081) / GENEVE(vni=7, proto=0x6558) / Ether(**MAC) / ip6())),
        SEG6,
    ),
    "geneve-ipv4-with-options": (
        1,
        b(
            outer4(
                UDP(sport=5555, dport=6081)
                / GENEVE(vni=7, proto=0x0800, optionlen=2)
                / Raw(b"\x00" * 8)
                / ip4()
            )
        ),
        SEG4,
    ),
    "ip-in-ip": (1, b(Ether(**MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / ip4()), SEG4),
    "ipv6-in-ipv4": (1, b(Ether(**MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / ip6()), SEG6),
    "ipv4-in-ipv6": (1, b(Ether(**MAC) / IPv6(src=A6, dst=B6) / ip4()), SEG4),
    "udp": (
        1,
        b(Ether(**MAC) / IP(src=A4, dst=B4) / UDP(sport=53000, dport=443) / Raw(b"quic")),
        Datagram(PA4, PB4, 53000, 443, b"quic"),
    ),
    "udp6": (229, b(IPv6(src=A6, dst=B6) / UDP(sport=1, dport=2)), Datagram(PA6, PB6, 1, 2, b"")),
    "tcp-options-syn": (
        101,
        b(
            IP(src=A4, dst=B4)
            / TCP(sport=1, dport=2, seq=5, flags="S", options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
        ),
        Segment(PA4, PB4, 1, 2, 5, 0, TCP_SYN, b""),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode_exact(name: str) -> None:
    link, frame, expected = CASES[name]
    dec = PacketDecoder()
    assert dec.decode(link, frame) == expected
    assert sum(dec.stats.values()) == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_trailing_bytes_are_ignored(name: str) -> None:
    """Ethernet pads short frames; IP and UDP lengths say where the packet ends."""
    link, frame, expected = CASES[name]
    assert PacketDecoder().decode(link, frame + b"\x00" * 18) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_truncation(name: str) -> None:
    link, frame, expected = CASES[name]
    dec = PacketDecoder()
    for cut in range(len(frame)):
        try:
            res = dec.decode(link, frame[:cut])
        except DecodeError:
            continue
        if res is None:
            assert dec.reason in dec.stats
        elif isinstance(res, Datagram) and res.dport in (4789, 6081) and res != expected:
            # cut inside the VXLAN/Geneve header: what is left is the outer UDP datagram
            assert cut < 14 + 20 + 8 + 16 + 8 * (name == "geneve-ipv4-with-options")
            assert (res.sport, res.payload) == (5555, frame[14 + 20 + 8 : cut])
        else:
            assert isinstance(res, Segment | Datagram)
            assert (res.src, res.dst, res.sport, res.dport) == expected[:4]  # type: ignore[index]
            assert expected.payload.startswith(res.payload)  # type: ignore[attr-defined]


def test_truncated_tcp_payload_keeps_what_was_captured() -> None:
    frame = b(ip4())
    assert PacketDecoder().decode(101, frame[:-3]) == SEG4._replace(payload=PAYLOAD[:-3])


def test_truncated_headers_raise_named_errors() -> None:
    dec = PacketDecoder()
    eth = CASES["ethernet-ipv4"][1]
    with pytest.raises(DecodeError, match="ethernet header truncated"):
        dec.decode(1, eth[:13])
    with pytest.raises(DecodeError, match="IPv4 header truncated"):
        dec.decode(1, eth[:30])
    with pytest.raises(DecodeError, match="TCP header truncated"):
        dec.decode(1, eth[: 14 + 20 + 10])
    with pytest.raises(DecodeError, match="802.1Q tag truncated"):
        dec.decode(1, CASES["802.1q"][1][:16])
    with pytest.raises(DecodeError, match="IPv6 header truncated"):
        dec.decode(229, CASES["raw-229"][1][:39])
    with pytest.raises(DecodeError, match="SLL header truncated"):
        dec.decode(113, b"\x00" * 15)
    with pytest.raises(DecodeError, match="SLL2 header truncated"):
        dec.decode(276, b"\x00" * 19)
    with pytest.raises(DecodeError, match="loopback header truncated"):
        dec.decode(0, b"\x02\x00")
    with pytest.raises(DecodeError, match="empty raw IP frame"):
        dec.decode(101, b"")


def test_malformed_ip_headers() -> None:
    dec = PacketDecoder()
    v4 = bytearray(b(ip4()))
    bad = bytes([0x65]) + bytes(v4[1:])
    with pytest.raises(DecodeError, match="IP version 6 in an IPv4 header"):
        dec.decode(228, bad)
    with pytest.raises(DecodeError, match="IPv4 header length invalid"):
        dec.decode(228, bytes([0x44]) + bytes(v4[1:]))
    short_total = bytes(v4[:2]) + struct.pack("!H", 12) + bytes(v4[4:])
    with pytest.raises(DecodeError, match="total length shorter"):
        dec.decode(228, short_total)
    bad_doff = bytes(v4[:32]) + bytes([0x40]) + bytes(v4[33:])
    with pytest.raises(DecodeError, match="TCP header length invalid"):
        dec.decode(228, bad_doff)
    with pytest.raises(DecodeError, match="IP version 4 in an IPv6 header"):
        dec.decode(229, b(ip4()) + b"\x00" * 40)


def test_ipv4_total_length_zero_is_tso() -> None:
    v4 = b(ip4())
    tso = v4[:2] + b"\x00\x00" + v4[4:]
    assert PacketDecoder().decode(228, tso) == SEG4


def test_none_results_set_the_reason() -> None:
    dec = PacketDecoder()
    assert dec.decode(147, b"anything") is None
    assert dec.reason == "unsupported_link"
    assert dec.decode(1, b(Ether(**MAC) / ARP())) is None
    assert dec.reason == "not_ip"
    assert dec.decode(1, b(Ether(**MAC) / IP(src=A4, dst=B4) / ICMP())) is None
    assert dec.reason == "other_transport"
    assert dec.decode(0, null_hdr(99, "little") + b(ip4())) is None
    assert dec.reason == "not_ip"
    assert dec.decode(101, b"\x50" + b"\x00" * 30) is None
    assert dec.reason == "not_ip"
    assert dec.decode(9, b"\xff\x03\xc0\x21" + b"\x00" * 8) is None  # LCP
    assert dec.reason == "not_ip"
    assert dec.decode(1, b(outer4(GRE(proto=0x880B) / Raw(b"ppp")))) is None
    assert dec.reason == "not_ip"
    assert dec.stats == {"not_ip": 5, "other_transport": 1, "fragment_held": 0, "unsupported_link": 1}


def test_link_tables_agree() -> None:
    assert set(LINK_DECODERS) == set(LINK_TYPE_NAMES)


def test_too_many_encapsulations() -> None:
    pkt: object = ip4()
    for _ in range(6):
        pkt = IP(src="192.0.2.1", dst="192.0.2.2") / pkt
    with pytest.raises(DecodeError, match="too many nested encapsulations"):
        PacketDecoder().decode(101, b(pkt))
    pkt = ip4()
    for _ in range(5):
        pkt = IP(src="192.0.2.1", dst="192.0.2.2") / pkt
    assert PacketDecoder().decode(101, b(pkt)) == SEG4


def test_vxlan_without_i_flag_is_a_datagram() -> None:
    frame = b(outer4(UDP(sport=5555, dport=4789) / VXLAN(flags=0, vni=1) / Raw(b"xx")))
    res = PacketDecoder().decode(1, frame)
    assert isinstance(res, Datagram) and res.dport == 4789 and res.payload == b"\x00" * 6 + b"\x01\x00xx"


# ---------------------------------------------------------------------------------------------------------------
# Fragments
# ---------------------------------------------------------------------------------------------------------------

BIG = bytes(range(256)) * 6


def test_ipv4_fragments_out_of_order() -> None:
    frags = [b(Ether(**MAC) / f) for f in fragment(IP(src=A4, dst=B4, id=9) / tcp(BIG), fragsize=400)]
    assert len(frags) == 4
    dec = PacketDecoder()
    order = [2, 0, 3, 1]
    results = [dec.decode(1, frags[i]) for i in order]
    assert results[:3] == [None, None, None]
    assert dec.reason == "fragment_held"
    assert results[3] == SEG4._replace(payload=BIG)
    assert dec.stats["fragment_held"] == 3
    assert (dec.defrag.fragments, dec.defrag.reassembled, dec.defrag.pending, dec.defrag.expired) == (
        4,
        1,
        0,
        0,
    )


def test_ipv4_duplicate_fragment_and_interleaved_datagrams() -> None:
    f1 = [b(f) for f in fragment(IP(src=A4, dst=B4, id=1) / tcp(BIG), fragsize=800)]
    f2 = [b(f) for f in fragment(IP(src=A4, dst=B4, id=2) / tcp(BIG[::-1]), fragsize=800)]
    dec = PacketDecoder()
    assert dec.decode(228, f1[1]) is None
    assert dec.decode(228, f2[0]) is None
    assert dec.decode(228, f1[1]) is None  # duplicate
    assert dec.decode(228, f2[1]) == SEG4._replace(payload=BIG[::-1])
    assert dec.decode(228, f1[0]) == SEG4._replace(payload=BIG)


def test_ipv6_fragments_out_of_order() -> None:
    pkt = IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=0x1234) / tcp(BIG)
    frags = [b(f) for f in fragment6(pkt, 500)]
    assert len(frags) >= 3
    dec = PacketDecoder()
    for f in reversed(frags[1:]):
        assert dec.decode(229, f) is None
        assert dec.reason == "fragment_held"
    assert dec.decode(229, frags[0]) == SEG6._replace(payload=BIG)


def test_defragmenter_caps_count_expired() -> None:
    d = Defragmenter(max_datagrams=2, max_bytes=1000)
    assert d.add(("a",), 0, True, b"x" * 100) is None
    assert d.add(("b",), 0, True, b"x" * 100) is None
    assert d.add(("c",), 0, True, b"x" * 100) is None
    assert (d.expired, d.pending) == (1, 2)
    assert d.add(("a",), 100, False, b"y") is None  # "a" was dropped oldest-first: its head is gone
    assert (d.expired, d.pending) == (2, 2)  # and adding the new "a" pushed "b" out
    assert d.add(("d",), 0, True, b"z" * 1500) is None  # over the byte cap on its own: everything goes
    assert (d.expired, d.pending) == (5, 0)
    assert d.add(("b",), 100, False, b"end") is None
    assert (d.expired, d.pending, d.reassembled, d.fragments) == (5, 1, 0, 6)


def test_defragmenter_overlaps_and_completion() -> None:
    d = Defragmenter()
    assert d.add("k", 8, True, b"89abcdef") is None  # type: ignore[arg-type]
    assert d.add("k", 16, False, b"ghij") is None  # type: ignore[arg-type]
    # overlapping bytes: the fragment with the higher offset wins, whatever the arrival order
    assert d.add("k", 0, True, b"01234567XX") == b"0123456789abcdefghij"  # type: ignore[arg-type]
    assert d.add("j", 0, True, b"01234567XX") is None  # type: ignore[arg-type]
    assert d.add("j", 8, False, b"89") == b"0123456789"  # type: ignore[arg-type]
    assert (d.pending, d.reassembled, d.fragments) == (0, 2, 5)


# ---------------------------------------------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------------------------------------------

LINKS = sorted(LINK_DECODERS) + [999]


def _decode_only_expected(link: int, data: bytes) -> None:
    dec = PacketDecoder()
    try:
        res = dec.decode(link, data)
    except DecodeError:
        return
    if res is None:
        assert dec.reason in dec.stats
    else:
        assert isinstance(res, Segment | Datagram)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(LINKS), st.binary(max_size=120))
def test_fuzz_random_frames(link: int, data: bytes) -> None:
    _decode_only_expected(link, data)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(sorted(CASES)), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4)
)
def test_fuzz_mutated_frames(name: str, flips: list[tuple[int, int]]) -> None:
    link, frame, _ = CASES[name]
    data = bytearray(frame)
    for pos, value in flips:
        data[pos % len(data)] = value
    _decode_only_expected(link, bytes(data))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 200), st.booleans(), st.binary(max_size=40)), max_size=30
    )
)
def test_fuzz_defragmenter(frags: list[tuple[int, int, bool, bytes]]) -> None:
    d = Defragmenter(max_datagrams=3, max_bytes=200)
    for key, off, more, payload in frags:
        out = d.add((key,), off * 8, more, payload)
        assert out is None or isinstance(out, bytes)
    assert d.pending <= 3


def test_ack_flag_constant() -> None:
    assert TCP_ACK == 0x10
