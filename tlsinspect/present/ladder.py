"""The handshake as a ladder: one rung per message between the client and server columns, in frame order, with
what each says (versions, suites offered and chosen, randoms, key share) and whether the exchange has forward
secrecy. Pure: computed from a `TlsInfo`; the TUI draws it, a report could too.

The model keeps each message's frame number, not its time: a rung says "frame N".
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsinspect.model import ClientHello, Extension, ServerHello, TlsInfo
from tlsinspect.present.values import alert_label, group_label, suite_label, version_label, visible
from tlsinspect.registry import (
    cipher_suite_info,
    extension_name,
    handshake_type_name,
    is_grease,
)

MAX_RUNGS = 200
"""Rungs drawn at most (a renegotiating flow can have thousands); the rest are counted in `left_out`."""
MAX_FIELDS = 60
"""Fields shown per message at most."""


@dataclass(frozen=True, slots=True)
class Rung:
    frame: int
    sender: str
    """"client" or "server"."""
    label: str
    """"ClientHello", "Certificate (encrypted)", "Alert: handshake_failure", "application data" ..."""
    encrypted: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    """(name, value) pairs the rung opens to: GREASE values marked, extensions named."""


@dataclass(frozen=True, slots=True)
class Ladder:
    rungs: tuple[Rung, ...]
    forward_secrecy: bool | None
    """True with an ephemeral key exchange (ECDHE, DHE, TLS 1.3), False with static RSA, None if unknown."""
    summary: tuple[tuple[str, str], ...]
    """Version, suite, key exchange, forward secrecy: the facts above the ladder."""
    left_out: int = 0


def _code(v: int) -> str:
    return f"0x{v:04x}" + (" (GREASE)" if is_grease(v) else "")


def _ext_line(e: Extension) -> tuple[str, str]:
    name = extension_name(e.type) or f"unknown {e.type}"
    if is_grease(e.type):
        name = f"GREASE {_code(e.type)}"
    return (f"extension {name}", f"{len(e.data)} bytes")


def _hello_fields(ch: ClientHello) -> tuple[tuple[str, str], ...]:
    suites = ", ".join(
        f"{_code(c)} GREASE" if is_grease(c) else (suite_label(c) or _code(c)) for c in ch.cipher_suites[:40]
    )
    fields = [
        ("legacy version", version_label(ch.legacy_version) or ""),
        ("supported versions", ", ".join(version_label(v) or _code(v) for v in ch.supported_versions)),
        ("random", ch.random.hex()),
        ("session id", ch.session_id.hex() or "(empty)"),
        ("server name (SNI)", visible(ch.server_name or "(none)")),
        ("ALPN", visible(", ".join(ch.alpn)) or "(none)"),
        (f"cipher suites offered ({len(ch.cipher_suites)})", suites),
        (
            "groups",
            ", ".join(group_label(g) + (" (GREASE)" if is_grease(g) else "") for g in ch.supported_groups),
        ),
        ("JA3 / JA4", f"{ch.ja3 or '-'} / {ch.ja4 or '-'}"),
    ]
    fields += [_ext_line(e) for e in ch.extensions]
    return tuple(fields[:MAX_FIELDS])


def _server_fields(sh: ServerHello) -> tuple[tuple[str, str], ...]:
    fields = [
        ("version chosen", version_label(sh.selected_version or sh.legacy_version) or ""),
        ("cipher suite chosen", suite_label(sh.cipher_suite) or ""),
        ("random", sh.random.hex()),
        ("session id", sh.session_id.hex() or "(empty)"),
        ("key share group", group_label(sh.selected_group) if sh.selected_group is not None else "(none)"),
        ("ALPN chosen", visible(sh.alpn or "(none)")),
        ("JA3S", sh.ja3s or "-"),
    ]
    fields += [_ext_line(e) for e in sh.extensions]
    return tuple(fields[:MAX_FIELDS])


def forward_secrecy(tls: TlsInfo) -> bool | None:
    """Whether recorded traffic stays safe if the server's key leaks later (ephemeral key exchange)."""
    if tls.cipher_suite is None:
        return None
    if tls.version is not None and tls.version in (0x0304, 0xFEFC) or (tls.version or 0) >> 8 == 0x7F:
        return True  # TLS 1.3 (and its drafts, DTLS 1.3): always an ephemeral (EC)DHE share
    info = cipher_suite_info(tls.cipher_suite)
    if info is None:
        return None
    if info.kx == "any":
        return True
    return info.kx in ("DHE", "ECDHE", "DHE_PSK", "ECDHE_PSK")


def ladder(tls: TlsInfo) -> Ladder:
    rungs: list[Rung] = []
    hellos = {
        ("client", 1): tls.client_hello,
        ("server", 2): tls.server_hello,
    }
    for m in tls.handshake_messages:
        name = _message_name(m.msg_type)
        label = name + (
            " (encrypted)" if m.encrypted and not m.decrypted else " (decrypted)" if m.decrypted else ""
        )
        fields: tuple[tuple[str, str], ...] = (("length", f"{m.length} bytes"),)
        hello = hellos.get((m.sender, m.msg_type))
        if isinstance(hello, ClientHello) and hello.frame == m.frame:
            fields = _hello_fields(hello)
        elif isinstance(hello, ServerHello) and hello.frame == m.frame:
            fields = _server_fields(hello)
        if m.msg_type == 11 and m.sender == "server" and tls.certificates and not m.encrypted:
            fields += tuple(("certificate", visible(c.subject)) for c in tls.certificates[:10])
        if m.msg_type == 12 and tls.key_exchange is not None:
            kx = tls.key_exchange
            fields += (("key exchange", kx.kind),)
            if kx.group is not None:
                fields += (("group", group_label(kx.group)),)
            if kx.dh_bits:
                fields += (("DH bits", str(kx.dh_bits)),)
        rungs.append(Rung(m.frame, m.sender, label, m.encrypted and not m.decrypted, fields))
    for a in tls.alerts:
        word = alert_label(a.description, a.encrypted)
        rungs.append(Rung(a.frame, a.sender, f"Alert: {word}", a.encrypted))
    rungs.sort(key=lambda r: r.frame)
    c_rec, s_rec = tls.app_data_records
    c_bytes, s_bytes = tls.app_data_bytes
    if c_rec or s_rec:
        rungs.append(
            Rung(
                rungs[-1].frame if rungs else 0,
                "client",
                f"application data: {c_rec} records, {c_bytes} bytes",
                not tls.decrypted,
            )
        )
        rungs.append(
            Rung(
                rungs[-1].frame,
                "server",
                f"application data: {s_rec} records, {s_bytes} bytes",
                not tls.decrypted,
            )
        )
    fs = forward_secrecy(tls)
    summary = (
        ("version", version_label(tls.version) or "(not negotiated)"),
        ("cipher suite", suite_label(tls.cipher_suite) or "(not negotiated)"),
        ("key exchange", _kx_words(tls)),
        (
            "forward secrecy",
            {
                True: "yes: an ephemeral key exchange",
                False: "NO: static RSA, the server's key decrypts recorded traffic",
                None: "unknown",
            }[fs],
        ),
        ("resumed", f"yes ({tls.resumption})" if tls.resumed else "no"),
    )
    left = max(0, len(rungs) - MAX_RUNGS)
    return Ladder(tuple(rungs[:MAX_RUNGS]), fs, summary, left)


def _message_name(t: int) -> str:
    """ "ClientHello", "ServerHelloDone" ... (the IANA name in the RFCs' spelling)."""
    raw = handshake_type_name(t)
    if raw is None:
        return f"handshake type {t}"
    return "".join(w.capitalize() for w in raw.replace("_RESERVED", "").split("_"))


def _kx_words(tls: TlsInfo) -> str:
    sh = tls.server_hello
    if sh is not None and sh.selected_group is not None:
        return f"key share {group_label(sh.selected_group)}"
    if tls.key_exchange is not None:
        kx = tls.key_exchange
        return kx.kind + (f" {group_label(kx.group)}" if kx.group is not None else "")
    info = cipher_suite_info(tls.cipher_suite) if tls.cipher_suite is not None else None
    return info.kx if info is not None else "(unknown)"
