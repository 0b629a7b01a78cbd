"""Hand-written, sourced names for code points real captures carry that are NOT in any IANA registry.

Every row cites where the value and name come from. `tlsinspect.registry` returns these names like IANA's, and
`is_iana(kind, code)` tells them apart. An IANA name always wins if a value is later registered (a test checks
that nothing here overlaps the generated IANA tables).

Sources cited below:
  [BoringSSL]  google/boringssl include/openssl/tls1.h ("This is not an IANA defined extension number").
  [Wireshark]  wireshark/wireshark epan/dissectors/packet-tls-utils.{h,c} (`ssl_versions`,
               `tls_hello_extension_types`, `ssl_31_handshake_type`) and packet-quic.c (`quic_version_vals`).
"""

from __future__ import annotations

EXTENSIONS: dict[int, str] = {
    13172: "next_protocol_negotiation",  # 0x3374 draft-agl-tls-nextprotoneg-03; [BoringSSL] next_proto_neg, [Wireshark]
    17513: "application_settings_old",  # 0x4469 draft-vvv-tls-alps-01 (ALPS, old codepoint); [BoringSSL] _old
    17613: "application_settings",  # 0x44cd ALPS new codepoint; [BoringSSL] TLSEXT_TYPE_application_settings
    30031: "channel_id_old",  # 0x754f draft-balfanz-tls-channelid-00; [Wireshark] channel_id_old
    30032: "channel_id",  # 0x7550 draft-balfanz-tls-channelid-01; [BoringSSL] TLSEXT_TYPE_channel_id, [Wireshark]
    65445: "quic_transport_parameters_draft",  # 0xffa5 draft-ietf-quic-tls-13 (pre-RFC 9001 codepoint); [Wireshark]
    65486: "encrypted_server_name",  # 0xffce draft-ietf-tls-esni-01 (ESNI, replaced by ECH 0xfe0d); [Wireshark]
}

HANDSHAKE_TYPES: dict[int, str] = {
    67: "next_protocol",  # NPN NextProtocol message, draft-agl-tls-nextprotoneg-04; [Wireshark] SSL_HND_ENCRYPTED_EXTS
}

# RFC 5246 §7.2 / RFC 8446 §6: AlertLevel is not an IANA registry.
ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}

VERSIONS: dict[int, str] = {
    0x0002: "SSL 2.0",  # SSL 2.0 CLIENT-HELLO version (Netscape SSL 2.0 draft02); [Wireshark] SSLV2_VERSION
    0x0100: "DTLS 1.0 (OpenSSL pre-0.9.8f)",  # [Wireshark] DTLSV1DOT0_OPENSSL_VERSION
    # draft-ietf-tls-tls13-NN: "0x7f00 | draft_version"; [Wireshark] lists drafts 14..28.
    **{0x7F00 | n: f"TLS 1.3 (draft {n})" for n in range(14, 29)},
    0xFB17: "TLS 1.3 (Facebook draft 23)",  # Facebook fizz experiment; [Wireshark] ssl_versions
    0xFB1A: "TLS 1.3 (Facebook draft 26)",  # Facebook fizz experiment; [Wireshark] ssl_versions
}

QUIC_VERSIONS: dict[int, str] = {
    # draft-ietf-quic-transport-NN used 0xff000000 + NN; [Wireshark] packet-quic.c quic_version_vals (16..34).
    **{0xFF000000 | n: f"QUIC draft-{n}" for n in range(16, 35)},
}
