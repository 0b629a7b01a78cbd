"""Tests for tlsinspect.parse.quic: RFC test vectors, reassembly, Retry, robustness, and real captures."""

from __future__ import annotations

import collections
import functools
import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.errors import DecodeError
from tlsinspect.parse.quic import (
    VERSION_1,
    VERSION_2,
    AckFrame,
    CloseFrame,
    CryptoFrame,
    QuicConnection,
    decode_packet_number,
    decrypt_initial_packet,
    derive_packet_keys,
    initial_keys,
    initial_secrets,
    looks_like_quic,
    parse_frames,
    parse_long_header,
    quic_version_name,
    quic_version_of,
    read_varint,
    remove_header_protection,
)

DCID = bytes.fromhex("8394c8f03e515708")

# ---------------------------------------------------------------------------------------------------------------
# RFC 9001 Appendix A (QUIC v1) and RFC 9369 Appendix A (QUIC v2) test vectors.

# The CRYPTO frame of the client Initial (A.2): the ClientHello for "example.com", then 917 bytes of PADDING.
CLIENT_FRAMES = bytes.fromhex(
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff"
) + bytes(917)
# The server Initial (A.3): ACK of packet 0, then a CRYPTO frame with the ServerHello.
SERVER_FRAMES = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304"
)

V1_CLIENT_HEADER = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
V1_SERVER_HEADER = bytes.fromhex("c1000000010008f067a5502a4262b50040750001")
V1_CLIENT_PACKET = bytes.fromhex(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934"
)
V1_SERVER_PACKET = bytes.fromhex(
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
    "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
    "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
    "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
    "2158407dd074ee"
)

V2_CLIENT_HEADER = bytes.fromhex("d36b3343cf088394c8f03e5157080000449e00000002")
V2_SERVER_HEADER = bytes.fromhex("d16b3343cf0008f067a5502a4262b50040750001")
V2_CLIENT_PACKET = bytes.fromhex(
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc"
)
V2_SERVER_PACKET = bytes.fromhex(
    "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698"
    "baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17"
    "f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2"
    "c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8"
    "4bed8521e2e140"
)

CLIENT_HELLO = CLIENT_FRAMES[4:245]
SERVER_HELLO = SERVER_FRAMES[9:99]


def test_initial_secrets_v1() -> None:
    client, server = initial_secrets(DCID, VERSION_1)
    assert client.hex() == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
    assert server.hex() == "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"


def test_initial_keys_v1() -> None:
    key, iv, hp = initial_keys(DCID, VERSION_1, is_client=True)
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "1f369613dd76d5467730efcbe3b1a22d",
        "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2",
    )
    key, iv, hp = initial_keys(DCID, VERSION_1, is_client=False)
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "cf3a5331653c364c88f0f379b6067e37",
        "0ac1493ca1905853b0bba03e",
        "c206b8d9b9f0f37644430b490eeaa314",
    )


def test_initial_secrets_and_keys_v2() -> None:
    client, server = initial_secrets(DCID, VERSION_2)
    assert client.hex() == "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"
    assert server.hex() == "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1"
    key, iv, hp = initial_keys(DCID, VERSION_2, is_client=True)
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "8b1a0bc121284290a29e0971b5cd045d",
        "91f73e2351d8fa91660e909f",
        "45b95e15235d6f45a6b19cbcb0294ba9",
    )
    key, iv, hp = initial_keys(DCID, VERSION_2, is_client=False)
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "82db637861d55e1d011f19ea71d5d2a7",
        "dd13c276499c0249d3310652",
        "edf6d05c83121201b436e16877593c3a",
    )


def test_initial_keys_unknown_version() -> None:
    with pytest.raises(DecodeError):
        initial_keys(DCID, 0x12345678, is_client=True)


@pytest.mark.parametrize(
    ("version", "packet", "plain_header", "is_client", "pn", "frames"),
    [
        (VERSION_1, V1_CLIENT_PACKET, V1_CLIENT_HEADER, True, 2, CLIENT_FRAMES),
        (VERSION_1, V1_SERVER_PACKET, V1_SERVER_HEADER, False, 1, SERVER_FRAMES),
        (VERSION_2, V2_CLIENT_PACKET, V2_CLIENT_HEADER, True, 2, CLIENT_FRAMES),
        (VERSION_2, V2_SERVER_PACKET, V2_SERVER_HEADER, False, 1, SERVER_FRAMES),
    ],
    ids=["v1-client", "v1-server", "v2-client", "v2-server"],
)
def test_decrypt_rfc_vectors(
    version: int, packet: bytes, plain_header: bytes, is_client: bool, pn: int, frames: bytes
) -> None:
    keys = initial_keys(DCID, version, is_client)
    result = decrypt_initial_packet(packet, keys)
    assert result.plain_header == plain_header
    assert result.packet_number == pn
    assert result.payload == frames
    assert result.header.version == version
    assert result.header.packet_type == "initial"
    # Header protection alone gives the same header.
    header, pn_len, truncated = remove_header_protection(packet, result.header.pn_offset, keys[2])
    assert (
        header == plain_header and truncated == pn and pn_len == len(plain_header) - result.header.pn_offset
    )


def test_decrypt_with_wrong_keys_fails() -> None:
    with pytest.raises(DecodeError):
        decrypt_initial_packet(V1_CLIENT_PACKET, initial_keys(DCID, VERSION_1, is_client=False))
    with pytest.raises(DecodeError):
        decrypt_initial_packet(V1_CLIENT_PACKET, initial_keys(DCID, VERSION_2, is_client=True))


@pytest.mark.parametrize(
    ("packet", "hp"),
    [
        # RFC 9001 A.5 and RFC 9369 A.5: ChaCha20-Poly1305 short header.
        (
            "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
            "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
        ),
        (
            "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
            "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
        ),
    ],
)
def test_chacha20_header_protection(packet: str, hp: str) -> None:
    header, pn_len, truncated = remove_header_protection(
        bytes.fromhex(packet), 1, bytes.fromhex(hp), cipher="chacha20"
    )
    assert header.hex() == "4200bff4"
    assert pn_len == 3
    assert decode_packet_number(truncated, pn_len, 654360563) == 654360564


def test_rfc_vectors_through_connection() -> None:
    for version, client_packet, server_packet in (
        (VERSION_1, V1_CLIENT_PACKET, V1_SERVER_PACKET),
        (VERSION_2, V2_CLIENT_PACKET, V2_SERVER_PACKET),
    ):
        conn = QuicConnection()
        assert conn.feed(client_packet, True, 1) == [(True, CLIENT_HELLO, 1)]
        assert conn.feed(server_packet, False, 2) == [(False, SERVER_HELLO, 2)]
        assert CLIENT_HELLO[0] == 1 and b"example.com" in CLIENT_HELLO
        assert SERVER_HELLO[0] == 2
        assert conn.version == version
        assert conn.client_dcid == DCID
        assert conn.client_scid == b""
        assert conn.server_scid == bytes.fromhex("f067a5502a4262b5")
        assert (conn.packets, conn.initial_packets, conn.undecryptable) == (2, 2, 0)
        assert conn.anomalies == ()


def test_version_helpers() -> None:
    assert quic_version_of(V1_CLIENT_PACKET) == VERSION_1
    assert quic_version_of(V2_CLIENT_PACKET) == VERSION_2
    assert quic_version_of(b"\x40\x00\x00\x00\x01") is None
    assert quic_version_of(b"\xc0") is None
    assert quic_version_name(VERSION_1) == "v1"
    assert quic_version_name(VERSION_2) == "v2"
    assert quic_version_name(0xFF00001D) == "draft-29"
    assert quic_version_name(0xFACEB002) == "mvfst-27"
    assert quic_version_name(int.from_bytes(b"T051", "big")) == "gquic-T051"
    assert quic_version_name(0x1A2A3A4A) == "grease"


def test_looks_like_quic() -> None:
    assert looks_like_quic(V1_CLIENT_PACKET)
    assert looks_like_quic(V1_SERVER_PACKET)
    assert looks_like_quic(V2_CLIENT_PACKET)
    assert looks_like_quic(make_vn(b"\x01\x02", b"\x03\x04", [VERSION_1, VERSION_2]))
    assert looks_like_quic(b"\xc3Q050\x08" + bytes(8) + b"\x00" + bytes(40))
    assert not looks_like_quic(b"")
    assert not looks_like_quic(V1_CLIENT_PACKET[:7])
    assert not looks_like_quic(b"\x40" + bytes(40))  # short header
    assert not looks_like_quic(bytes.fromhex("12348180000100010000000003777777"))  # a DNS response
    assert not looks_like_quic(b"\xc0\x12\x34\x56\x78\x08" + bytes(60))  # unknown version
    assert not looks_like_quic(b"\xc0\x00\x00\x00\x01\x15" + bytes(60))  # DCID of 21 bytes
    assert not looks_like_quic(V1_CLIENT_PACKET[:100])  # Length runs past the datagram
    assert not looks_like_quic(bytes([V1_CLIENT_PACKET[0] & ~0x40]) + V1_CLIENT_PACKET[1:])  # fixed bit clear


def test_varint_rfc9000_examples() -> None:
    assert read_varint(bytes.fromhex("c2197c5eff14e88c"), 0) == (151288809941952652, 8)
    assert read_varint(bytes.fromhex("9d7f3e7d"), 0) == (494878333, 4)
    assert read_varint(bytes.fromhex("7bbd"), 0) == (15293, 2)
    assert read_varint(bytes.fromhex("25"), 0) == (37, 1)
    assert read_varint(bytes.fromhex("4025"), 0) == (37, 2)
    assert read_varint(bytes.fromhex("40"), 0) is None
    assert read_varint(b"", 0) is None
    assert read_varint(b"\x01", 1) is None


def test_decode_packet_number_rfc9000_example() -> None:
    assert decode_packet_number(0x9B32, 2, 0xA82F30EA) == 0xA82F9B32
    assert decode_packet_number(0, 1, -1) == 0
    assert decode_packet_number(0x01, 1, 0xFF) == 0x101


def test_parse_frames() -> None:
    payload = (
        b"\x00\x00\x01"  # PADDING, PING
        + b"\x03" + bytes([5, 0, 1, 2, 1, 1, 7, 8, 9])  # ACK with one extra range and ECN counts
        + crypto(3, b"abc")
        + b"\x1c\x0a\x06\x05hello"  # CONNECTION_CLOSE (transport)
        + b"\x00\x00"
    )  # fmt: skip
    frames, problem = parse_frames(payload)
    assert problem is None
    assert frames == [
        "padding",
        "ping",
        AckFrame(largest=5, delay=0, first_range=2, ranges=((1, 1),), ecn=(7, 8, 9)),
        CryptoFrame(offset=3, data=b"abc"),
        CloseFrame(error_code=10, reason="hello", application=False, frame_type=6),
        "padding",
    ]
    frames, problem = parse_frames(crypto(0, b"x") + b"\x08\x00")  # STREAM is not allowed in Initial
    assert frames == [CryptoFrame(offset=0, data=b"x")]
    assert problem is not None and "0x8" in problem
    frames, problem = parse_frames(b"\x06\x00\x05ab")
    assert frames == [] and problem == "CRYPTO data truncated"
    frames, problem = parse_frames(b"\x02\x01\x00\x40\x00")  # ACK claiming 64 ranges in no bytes
    assert problem is not None


def test_parse_long_header_fields() -> None:
    header = parse_long_header(V1_CLIENT_PACKET)
    assert header.dcid == DCID and header.scid == b"" and header.token == b""
    assert header.pn_offset == 18 and header.end == len(V1_CLIENT_PACKET)
    with pytest.raises(DecodeError):
        parse_long_header(V1_CLIENT_PACKET[:10])
    with pytest.raises(DecodeError):
        parse_long_header(b"\x40" + bytes(30))


# ---------------------------------------------------------------------------------------------------------------
# Building our own protected Initial packets (the inverse of what the module does), for the scenarios below.


def varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    return (value | 0xC000000000000000).to_bytes(8, "big")


def crypto(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def make_initial(
    payload: bytes,
    *,
    dcid: bytes,
    scid: bytes,
    pn: int,
    is_client: bool = True,
    version: int = VERSION_1,
    key_dcid: bytes | None = None,
    token: bytes = b"",
    pn_len: int = 2,
) -> bytes:
    """A protected Initial packet carrying `payload` (padded so the header-protection sample exists)."""
    keys = initial_keys(key_dcid if key_dcid is not None else dcid, version, is_client)
    type_bits = 1 if version == VERSION_2 else 0
    return protect(payload, keys, type_bits, dcid=dcid, scid=scid, pn=pn, version=version, token=token,
                   pn_len=pn_len)  # fmt: skip


def make_handshake(payload: bytes, secret: bytes, *, dcid: bytes, scid: bytes, pn: int) -> bytes:
    """A protected QUIC v1 Handshake packet, keyed from a TLS handshake traffic secret (AES-128-GCM)."""
    return protect(payload, derive_packet_keys(secret, VERSION_1, 16), 2, dcid=dcid, scid=scid, pn=pn)


def protect(
    payload: bytes,
    keys: tuple[bytes, bytes, bytes],
    type_bits: int,
    *,
    dcid: bytes,
    scid: bytes,
    pn: int,
    version: int = VERSION_1,
    token: bytes | None = None,
    pn_len: int = 2,
) -> bytes:
    """A long-header packet sealed with AES-GCM `keys` (key, iv, hp); `token` only in Initial packets."""
    key, iv, hp = keys
    payload = payload + bytes(max(0, 20 - len(payload)))
    first = 0xC0 | (type_bits << 4) | (pn_len - 1)
    length = pn_len + len(payload) + 16
    pn_bytes = (pn & ((1 << (8 * pn_len)) - 1)).to_bytes(pn_len, "big")
    header = (
        bytes([first])
        + version.to_bytes(4, "big")
        + bytes([len(dcid)]) + dcid
        + bytes([len(scid)]) + scid
        + (b"" if token is None else varint(len(token)) + token)
        + (length | 0x4000).to_bytes(2, "big")
        + pn_bytes
    )  # fmt: skip
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    sample = sealed[4 - pn_len : 20 - pn_len]
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    pn_offset = len(header) - pn_len
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        protected[pn_offset + i] ^= mask[1 + i]
    return bytes(protected) + sealed


def make_retry(*, dcid: bytes, scid: bytes, token: bytes = b"token", version: int = VERSION_1) -> bytes:
    type_bits = 0 if version == VERSION_2 else 3
    return (
        bytes([0xC0 | (type_bits << 4)])
        + version.to_bytes(4, "big")
        + bytes([len(dcid)]) + dcid
        + bytes([len(scid)]) + scid
        + token
        + bytes(16)
    )  # fmt: skip


def make_vn(dcid: bytes, scid: bytes, versions: list[int]) -> bytes:
    return (
        b"\x80\x00\x00\x00\x00"
        + bytes([len(dcid)]) + dcid
        + bytes([len(scid)]) + scid
        + b"".join(v.to_bytes(4, "big") for v in versions)
    )  # fmt: skip


CID_C = bytes.fromhex("c1c2c3c4")
CID_D = bytes.fromhex("0102030405060708")
CID_S = bytes.fromhex("5151515151515151")
HELLO = bytes([1, 0, 1, 0xFC]) + bytes(range(256)) * 2  # a fake 512-byte handshake message


def feed_all(conn: QuicConnection, datagrams: list[tuple[bytes, bool]]) -> dict[bool, bytes]:
    got = {True: b"", False: b""}
    for number, (datagram, from_client) in enumerate(datagrams, 1):
        for side, data, frame in conn.feed(datagram, from_client, number):
            assert frame == number
            got[side] += data
    return got


def test_crypto_split_over_packets_out_of_order_with_duplicates() -> None:
    pieces = [(0, HELLO[:100]), (100, HELLO[100:300]), (300, HELLO[300:])]
    order = [2, 0, 2, 1]  # last piece first, a duplicate, then the middle fills the gap
    conn = QuicConnection()
    outputs = []
    for pn, index in enumerate(order):
        offset, data = pieces[index]
        packet = make_initial(crypto(offset, data), dcid=CID_D, scid=CID_C, pn=pn)
        outputs.append(conn.feed(packet, True, pn + 1))
    assert outputs[0] == []
    assert outputs[1] == [(True, HELLO[:100], 2)]
    assert outputs[2] == []
    assert outputs[3] == [(True, HELLO[100:], 4)]
    assert conn.anomalies == ()
    assert conn.initial_packets == 4


def test_crypto_overlaps_and_several_frames_in_one_packet() -> None:
    # Chromium-style: many small overlapping CRYPTO frames in one packet, shuffled, with PING and PADDING.
    frames = (
        crypto(200, HELLO[200:]) + b"\x01" + crypto(50, HELLO[50:260]) + b"\x00\x00" + crypto(0, HELLO[:60])
    )
    conn = QuicConnection()
    got = feed_all(conn, [(make_initial(frames, dcid=CID_D, scid=CID_C, pn=0), True)])
    assert got[True] == HELLO
    assert conn.anomalies == ()


def test_coalesced_server_initial_and_handshake() -> None:
    conn = QuicConnection()
    feed_all(conn, [(make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=0), True)])
    server_initial = make_initial(
        b"\x02\x00\x00\x00\x00" + crypto(0, b"\x02\x00\x00\x02hi"), dcid=CID_C, scid=CID_S, pn=0, is_client=False,
        key_dcid=CID_D,
    )  # fmt: skip
    handshake = (
        b"\xe0\x00\x00\x00\x01"
        + bytes([len(CID_C)])
        + CID_C
        + bytes([len(CID_S)])
        + CID_S
        + b"\x05"
        + bytes(5)
    )
    got = feed_all(conn, [(server_initial + handshake + bytes(30), False)])
    assert got[False] == b"\x02\x00\x00\x02hi"
    assert conn.server_scid == CID_S
    assert conn.handshake_packets == 1
    # The client's later Initials are addressed to the server's CID but keep the first keys.
    later = make_initial(b"\x02\x00\x00\x00\x00", dcid=CID_S, scid=CID_C, pn=1, key_dcid=CID_D)
    assert conn.feed(later, True, 9) == []
    assert conn.undecryptable == 0 and conn.client_dcid == CID_D
    assert conn.anomalies == ()


def test_retry_changes_keys() -> None:
    new_dcid = bytes.fromhex("aabbccddeeff0011")
    conn = QuicConnection()
    first = make_initial(crypto(0, HELLO[:300]), dcid=CID_D, scid=CID_C, pn=0)
    retry = make_retry(dcid=CID_C, scid=new_dcid)
    # After the Retry the client resends the ClientHello from offset 0, keyed by the Retry's SCID.
    again = make_initial(crypto(0, HELLO), dcid=new_dcid, scid=CID_C, pn=1, token=b"token")
    server = make_initial(
        crypto(0, b"\x02\x00\x00\x00"), dcid=CID_C, scid=new_dcid, pn=0, is_client=False, key_dcid=new_dcid
    )
    old_keys_server = make_initial(
        crypto(0, b"\x02\x00\x00\x00"), dcid=CID_C, scid=new_dcid, pn=0, is_client=False, key_dcid=CID_D
    )
    got = feed_all(conn, [(first, True), (retry, False), (again, True), (server, False)])
    assert got[True] == HELLO  # the first 300 bytes are not repeated
    assert got[False] == b"\x02\x00\x00\x00"
    assert conn.client_dcid == new_dcid
    assert conn.server_scid == new_dcid
    assert conn.retry_packets == 1
    assert conn.undecryptable == 0
    assert [a.kind for a in conn.anomalies] == ["quic-retry"]
    # Packets still protected with the pre-Retry keys no longer decrypt.
    assert conn.feed(old_keys_server, False, 5) == []
    assert conn.undecryptable == 1


def test_retry_with_changed_hello_is_flagged() -> None:
    new_dcid = bytes.fromhex("aabbccdd")
    conn = QuicConnection()
    first = make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=0)
    retry = make_retry(dcid=CID_C, scid=new_dcid)
    changed = make_initial(
        crypto(0, b"\x01" + HELLO[1:10] + b"X" + HELLO[11:]), dcid=new_dcid, scid=CID_C, pn=1
    )
    got = feed_all(conn, [(first, True), (retry, False), (changed, True)])
    assert got[True] == HELLO
    assert "quic-retry-hello-changed" in [a.kind for a in conn.anomalies]


def test_version_negotiation_restarts_handshake() -> None:
    grease = 0x1A2A3A4A
    conn = QuicConnection()
    # A greased first Initial (protected like draft-29) is still read; the VN answer starts a new handshake.
    first = make_initial(crypto(0, HELLO[:40]), dcid=CID_D, scid=CID_C, pn=0, version=grease, key_dcid=CID_D)
    got = feed_all(
        conn,
        [
            (first, True),
            (make_vn(CID_C, CID_D, [VERSION_1]), False),
            (make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=1), True),
        ],
    )
    assert got[True] == HELLO[:40] + HELLO
    assert conn.version == VERSION_1
    assert conn.version_negotiation == (VERSION_1,)
    assert conn.undecryptable == 0


def test_connection_close_and_bad_frame_become_anomalies() -> None:
    conn = QuicConnection()
    feed_all(conn, [(make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=0), True)])
    close = make_initial(b"\x1c\x41\x28\x06\x0bbad hello!!", dcid=CID_C, scid=CID_S, pn=0, is_client=False,
                         key_dcid=CID_D)  # fmt: skip
    conn.feed(close, False, 2)
    assert conn.close_error == 0x128
    assert conn.close_reason == "bad hello!!"
    stream = make_initial(b"\x08\x00\x01x", dcid=CID_D, scid=CID_C, pn=1)
    conn.feed(stream, True, 3)
    kinds = [a.kind for a in conn.anomalies]
    assert kinds == ["quic-connection-close", "quic-frame-malformed"]
    assert all(a.layer == "quic" for a in conn.anomalies)
    assert "0x128" in conn.anomalies[0].message and "bad hello!!" in conn.anomalies[0].message


def test_handshake_packets_crypto_and_close_with_secrets() -> None:
    """With handshake secrets, Handshake packets give their CRYPTO data (joined per frame) and their
    CONNECTION_CLOSE becomes an anomaly, as in Initial packets."""
    c_secret, s_secret = bytes(range(32)), bytes(range(32, 64))
    conn = QuicConnection()
    feed_all(conn, [(make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=0), True)])
    hs = make_handshake(crypto(0, b"EE..") + crypto(4, b"CERT") + b"\x1c\x41\x28\x00\x04oops", s_secret,
                        dcid=CID_C, scid=CID_S, pn=0)  # fmt: skip
    assert conn.feed(hs, False, 2) == []  # no keys yet: held
    out = conn.set_handshake_secrets(c_secret, s_secret, 0x1301)
    assert out == [(False, b"EE..CERT", 2)]
    assert conn.close_error == 0x128 and conn.close_reason == "oops"
    assert [a.kind for a in conn.anomalies] == ["quic-connection-close"]


def test_crypto_bound() -> None:
    conn = QuicConnection(max_crypto_bytes=300)
    got = feed_all(conn, [(make_initial(crypto(0, HELLO), dcid=CID_D, scid=CID_C, pn=0), True)])
    assert got[True] == HELLO[:300]
    assert [a.kind for a in conn.anomalies] == ["quic-crypto-limit"]
    # A far-away offset is dropped, not buffered.
    conn.feed(make_initial(crypto(1 << 40, b"x"), dcid=CID_D, scid=CID_C, pn=1), True, 2)
    assert len(conn.anomalies) == 2


def test_server_initial_before_client_is_undecryptable() -> None:
    conn = QuicConnection()
    assert conn.feed(V1_SERVER_PACKET, False, 1) == []
    assert conn.undecryptable == 1
    assert [a.kind for a in conn.anomalies] == ["quic-no-keys"]


def test_gquic_detected_not_decrypted() -> None:
    """Google QUIC with its own crypto (Q0xx) is named only; T050/T051 (TLS) are decrypted, see the corpus."""
    conn = QuicConnection()
    packet = b"\xc3Q050\x08" + bytes(8) + b"\x00" + bytes(1200)
    assert looks_like_quic(packet)
    assert conn.feed(packet, True, 1) == []
    assert conn.gquic and conn.version_name == "gquic-Q050"
    assert [a.kind for a in conn.anomalies] == ["quic-gquic"]


def test_short_header_and_unsupported_version_are_counted() -> None:
    conn = QuicConnection()
    conn.feed(b"\x40" + bytes(40), True, 1)
    assert conn.short_packets == 1 and conn.packets == 1
    conn2 = QuicConnection()
    conn2.feed(b"\xc0\x12\x34\x56\x78\x04abcd\x00\x00\x41\x00" + bytes(300), True, 1)
    assert conn2.undecryptable == 1
    assert [a.kind for a in conn2.anomalies] == ["quic-version-unsupported"]


def test_anomalies_are_bounded() -> None:
    conn = QuicConnection()
    for i in range(500):
        conn.feed(b"\xc0\x00\x00\x00\x01\x30" + bytes(20), True, i)
    assert len(conn.anomalies) <= 64


# ---------------------------------------------------------------------------------------------------------------
# Robustness: feed never raises and never hits its internal-error safety net.


def assert_clean(conn: QuicConnection) -> None:
    assert "quic-internal-error" not in [a.kind for a in conn.anomalies]


@pytest.mark.parametrize(
    "packet", [V1_CLIENT_PACKET, V2_CLIENT_PACKET, V1_SERVER_PACKET], ids=["v1", "v2", "srv"]
)
def test_truncated_at_every_offset(packet: bytes) -> None:
    for cut in range(len(packet) + 1):
        conn = QuicConnection()
        result = conn.feed(packet[:cut], True, 1)
        assert_clean(conn)
        if cut < len(packet):
            assert result == []
        decrypted = conn.feed(V1_SERVER_PACKET[:cut], False, 2)
        assert_clean(conn)
        assert all(side is False for side, _, _ in decrypted)


def test_bit_flips_never_raise() -> None:
    for i in range(0, len(V1_CLIENT_PACKET), 7):
        damaged = bytearray(V1_CLIENT_PACKET)
        damaged[i] ^= 0x5A
        conn = QuicConnection()
        conn.feed(bytes(damaged), True, 1)
        conn.feed(V1_SERVER_PACKET, False, 2)
        assert_clean(conn)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=1400), st.booleans()), max_size=6))
def test_random_datagrams_never_raise(datagrams: list[tuple[bytes, bool]]) -> None:
    conn = QuicConnection()
    conn.feed(V1_CLIENT_PACKET, True, 0)
    for number, (datagram, from_client) in enumerate(datagrams, 1):
        looks_like_quic(datagram)
        quic_version_of(datagram)
        result = conn.feed(datagram, from_client, number)
        assert isinstance(result, list)
        assert_clean(conn)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=60), st.integers(min_value=0, max_value=255), st.booleans())
def test_random_long_headers_never_raise(tail: bytes, first: int, from_client: bool) -> None:
    conn = QuicConnection()
    for version in (VERSION_1, VERSION_2, 0, 0xFF00001D, 0x1A2A3A4A):
        datagram = bytes([first | 0x80]) + version.to_bytes(4, "big") + tail
        conn.feed(datagram, from_client, 1)
        looks_like_quic(datagram)
        parse_frames(tail)
    assert_clean(conn)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_decrypted_payloads_walk_frames(payload: bytes) -> None:
    """Random plaintext behind valid protection: exercises the frame walker and reassembly through feed."""
    conn = QuicConnection()
    conn.feed(make_initial(payload, dcid=CID_D, scid=CID_C, pn=0), True, 1)
    assert conn.undecryptable == 0
    assert_clean(conn)


# ---------------------------------------------------------------------------------------------------------------
# Real captures: pull UDP payloads out with a small link/IP/UDP walk and recover the ClientHello's SNI.

CORPUS = Path("/work/shared/corpus")


def _read_frames(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(frame number, link type, bytes) of each packet, via the project's capture reader when it is there."""
    try:
        from tlsinspect.capture.files import CaptureFile
    except ImportError:  # pragma: no cover - the reader is written by someone else
        yield from _read_pcap(path.read_bytes())
        return
    capture = CaptureFile(path)
    try:
        for frame in capture:
            yield frame.number, frame.link_type, frame.data
    finally:
        capture.close()


def _read_pcap(raw: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Fallback: classic pcap and pcapng (EPB/SPB), no compression."""
    number = 0
    if raw[:4] == b"\x0a\x0d\x0d\x0a":
        pos, order = 0, "<"
        links: list[int] = []
        while pos + 12 <= len(raw):
            btype = struct.unpack_from(order + "I", raw, pos)[0]
            if btype == 0x0A0D0D0A:
                order = "<" if raw[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            blen = struct.unpack_from(order + "I", raw, pos + 4)[0]
            if blen < 12:
                return
            if btype == 1:
                links.append(struct.unpack_from(order + "H", raw, pos + 8)[0])
            elif btype == 6:
                iface, _, _, caplen = struct.unpack_from(order + "IIII", raw, pos + 8)
                number += 1
                yield number, links[iface], raw[pos + 28 : pos + 28 + caplen]
            elif btype == 3:
                number += 1
                yield number, links[0], raw[pos + 12 : pos + blen - 4]
            pos += blen
        return
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack_from(order + "I", raw, 20)[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(raw):
        caplen = struct.unpack_from(order + "I", raw, pos + 8)[0]
        number += 1
        yield number, link, raw[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen


Datagram = tuple[str, int, str, int, bytes]


def _udp_of(link_type: int, data: bytes) -> Datagram | None:
    if link_type == 1:  # Ethernet, with VLAN tags
        ethertype, pos = struct.unpack_from(">H", data, 12)[0], 14
        while ethertype in (0x8100, 0x88A8):
            ethertype, pos = struct.unpack_from(">H", data, pos + 2)[0], pos + 4
        return _ip_of(ethertype, data[pos:])
    if link_type in (0, 108):  # BSD loopback: address family in host or network order
        family = struct.unpack_from("<I", data, 0)[0]
        if family > 0xFFFF:
            family = struct.unpack_from(">I", data, 0)[0]
        return _ip_of(0x0800 if family == 2 else 0x86DD, data[4:])
    if link_type in (101, 12, 14, 228, 229):  # raw IP
        return _ip_of(0x0800 if data and data[0] >> 4 == 4 else 0x86DD, data)
    if link_type == 113:  # Linux cooked v1
        return _ip_of(struct.unpack_from(">H", data, 14)[0], data[16:])
    if link_type == 276:  # Linux cooked v2
        return _ip_of(struct.unpack_from(">H", data, 0)[0], data[20:])
    if link_type == 9:  # PPP, with or without address/control
        pos = 2 if data[:2] == b"\xff\x03" else 0
        protocol = struct.unpack_from(">H", data, pos)[0]
        return _ip_of({0x21: 0x0800, 0x57: 0x86DD}.get(protocol, 0), data[pos + 2 :])
    return None


def _ip_of(ethertype: int, data: bytes) -> Datagram | None:
    if ethertype == 0x0800 and len(data) >= 20:
        if data[9] != 17 or struct.unpack_from(">H", data, 6)[0] & 0x3FFF:
            return None  # not UDP, or a fragment
        total = struct.unpack_from(">H", data, 2)[0] or len(data)
        src, dst = (
            socket.inet_ntop(socket.AF_INET, data[12:16]),
            socket.inet_ntop(socket.AF_INET, data[16:20]),
        )
        return _udp(src, dst, data[(data[0] & 15) * 4 : total])
    if ethertype == 0x86DD and len(data) >= 40:
        next_header, pos = data[6], 40
        while next_header in (0, 43, 60) and len(data) >= pos + 8:
            next_header, pos = data[pos], pos + (data[pos + 1] + 1) * 8
        if next_header != 17:
            return None
        src, dst = (
            socket.inet_ntop(socket.AF_INET6, data[8:24]),
            socket.inet_ntop(socket.AF_INET6, data[24:40]),
        )
        return _udp(src, dst, data[pos : 40 + struct.unpack_from(">H", data, 4)[0]])
    return None


def _udp(src: str, dst: str, segment: bytes) -> Datagram | None:
    if len(segment) < 8:
        return None
    sport, dport, length = struct.unpack_from(">HHH", segment, 0)
    return src, sport, dst, dport, segment[8:length] if length >= 8 else segment[8:]


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _server_name(hello: bytes) -> str | None:
    """SNI of a ClientHello handshake message (None when it has none)."""
    body = hello[4:]
    pos = 34
    pos += 1 + body[pos]
    pos += 2 + struct.unpack_from(">H", body, pos)[0]
    pos += 1 + body[pos]
    end = pos + 2 + struct.unpack_from(">H", body, pos)[0]
    pos += 2
    while pos + 4 <= end:
        ext_type, ext_len = struct.unpack_from(">HH", body, pos)
        pos += 4
        if ext_type == 0:
            name_len = struct.unpack_from(">H", body, pos + 3)[0]
            return body[pos + 5 : pos + 5 + name_len].decode("ascii")
        pos += ext_len
    return None


class _Flow:
    def __init__(self, client: str, server: str) -> None:
        self.client = client
        self.server = server
        self.quic = QuicConnection()
        self.crypto = {True: b"", False: b""}


def _run_capture(path: Path) -> list[_Flow]:
    """Feed every QUIC-looking UDP conversation of a capture; the first sender is the client."""
    flows: dict[frozenset[tuple[str, int]], _Flow] = {}
    for number, link_type, data in _read_frames(path):
        try:
            datagram = _udp_of(link_type, data)
        except struct.error:
            continue
        if datagram is None:
            continue
        src, sport, dst, dport, payload = datagram
        key = frozenset([(src, sport), (dst, dport)])
        flow = flows.get(key)
        if flow is None:
            if not looks_like_quic(payload):
                continue
            flow = flows[key] = _Flow(_endpoint(src, sport), _endpoint(dst, dport))
        from_client = _endpoint(src, sport) == flow.client
        for side, chunk, _frame in flow.quic.feed(payload, from_client, number):
            flow.crypto[side] += chunk
    return list(flows.values())


def _expected_quic() -> list[tuple[str, list[dict[str, object]]]]:
    """(capture path, its udp-quic handshakes) from the corpus's expected values."""
    out = []
    for path in sorted((CORPUS / "expected").rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or "capture" not in doc:
            continue
        handshakes = [h for h in doc.get("handshakes") or [] if h.get("transport") == "udp-quic"]
        if handshakes:
            out.append((doc["capture"], handshakes))
    return out


# Captures whose QUIC handshakes we deliberately do not recover.
NOT_DECRYPTED: dict[str, str] = {}
"""Captures whose QUIC ClientHellos are knowingly not recovered (none since T051 gained its salt)."""


@functools.cache
def _recovered(capture: str) -> tuple[int, int]:
    handshakes = dict(_expected_quic())[capture]
    flows = _run_capture(CORPUS / capture)
    by_endpoints = collections.defaultdict(list)
    for flow in flows:
        by_endpoints[(flow.client, flow.server)].append(flow)
    found = 0
    for handshake in handshakes:
        client_hello = handshake.get("client_hello")
        expected_sni = client_hello.get("server_name") if isinstance(client_hello, dict) else None
        for flow in by_endpoints.get((str(handshake["client"]), str(handshake["server"])), []):
            hello = flow.crypto[True]
            assert "quic-internal-error" not in [a.kind for a in flow.quic.anomalies]
            if hello[:1] == b"\x01" and (expected_sni is None or _server_name(hello) == expected_sni):
                found += 1
                break
    return found, len(handshakes)


def _corpus_params() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return [capture for capture, _ in _expected_quic()]


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus at /work/shared/corpus")
@pytest.mark.parametrize("capture", _corpus_params())
def test_corpus_client_hello_recovered(capture: str) -> None:
    found, total = _recovered(capture)
    if capture in NOT_DECRYPTED:
        assert found == 0, NOT_DECRYPTED[capture]
        return
    assert found == total, f"{found} of {total} QUIC ClientHellos recovered"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus at /work/shared/corpus")
def test_corpus_illustrated_quic_exact() -> None:
    """The illustrated QUIC connection: both hellos come out whole, with fixed randoms."""
    flows = _run_capture(CORPUS / "illustrated-quic/capture.pcap")
    assert len(flows) == 1
    flow = flows[0]
    hello = flow.crypto[True]
    assert hello[0] == 1 and hello[6:38] == bytes(range(32))
    assert _server_name(hello) == "example.ulfheim.net"
    assert flow.crypto[False][0] == 2 and flow.crypto[False][6:38] == bytes(range(0x70, 0x90))
    assert flow.quic.version == VERSION_1 and flow.quic.undecryptable == 0


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus at /work/shared/corpus")
def test_corpus_recovery_total() -> None:
    results = [_recovered(capture) for capture in _corpus_params()]
    found = sum(f for f, _ in results)
    total = sum(t for _, t in results)
    print(f"QUIC ClientHellos recovered from the corpus: {found} of {total}")
    assert total - found <= sum(
        t for capture, t in ((c, _recovered(c)[1]) for c in _corpus_params()) if capture in NOT_DECRYPTED
    )
