"""The handshake ladder of one flow: one arrow per message between a client and a server column.

`ladder_view(flow) -> LadderView | None` (None without TLS): the `facts` above the ladder (versions offered
and chosen, suites, randoms, key share, forward secrecy) and the `rows`, in wire order: every handshake
message the parser saw (`TlsInfo.handshake_messages`), the ChangeCipherSpec records, the alerts and the
application-data records per direction. Each row carries its `fields`, a tree of `Field` (the ClientHello's
suites and extensions named via the registry, GREASE values marked) a front end opens on request.

What the model does not record is said, not guessed: ChangeCipherSpec and application-data records are counts
(no frame), per-message times are not kept (the ladder's header gives the flow's start and duration), and a
TLS 1.3 handshake read without keys shows only the hellos: the rest travels in encrypted records.
Nothing here renders or escapes; front ends pass every string through `visible()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tlsinspect.model import Certificate, ClientHello, Extension, Flow, HandshakeMessage, ServerHello, TlsInfo
from tlsinspect.present.values import alert_label, group_label, rfc3339, suite_label, version_label
from tlsinspect.registry import (
    alert_level_name,
    cipher_suite_info,
    extension_name,
    group_name,
    handshake_type_name,
    is_grease,
    signature_scheme_name,
)

MAX_ROWS = 200
"""Ladder rows listed before one "N more" row (a renegotiating or garbled flow can carry many)."""
MAX_LIST = 64
"""Children of one field (suites, groups, extensions) listed before "N more"."""
TLS13 = 0x0304


@dataclass(frozen=True, slots=True)
class Field:
    """One decoded field of a message: a label, a value and sub-fields; ``grease`` marks a GREASE value."""

    label: str
    value: str = ""
    children: tuple[Field, ...] = ()
    grease: bool = False


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One arrow.

    Attributes:
        sender: "client" (arrow to the right) or "server" (to the left).
        kind: "handshake", "encrypted" (a handshake record that could not be read), "ccs", "alert" or "data".
        label: the message ("ClientHello", "Certificate", "ChangeCipherSpec ×1", "alert handshake_failure").
        detail: one line beside it (size, what it says).
        frame: the frame it arrived in, None when the model keeps only a count.
        decrypted: read with the key log (it was encrypted on the wire).
        fields: what opens under it.
    """

    sender: str
    kind: str
    label: str
    detail: str = ""
    frame: int | None = None
    decrypted: bool = False
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of the ladder's header ("forward secrecy: no (static RSA ...)"); ``bad`` marks a weakness."""

    label: str
    value: str
    bad: bool = False


@dataclass(frozen=True, slots=True)
class LadderView:
    facts: tuple[Fact, ...]
    rows: tuple[LadderRow, ...]
    omitted: int = 0
    """Rows left out after `MAX_ROWS`."""
    note: str = ""
    """What the ladder cannot show (a TLS 1.3 handshake read without keys)."""


def ladder_view(flow: Flow, *, max_rows: int = MAX_ROWS) -> LadderView | None:
    """The ladder of `flow`, or None when the flow has no TLS."""
    tls = flow.tls
    if tls is None:
        return None
    rows = list(_rows(tls))
    note = ""
    if tls.version == TLS13 and not tls.decrypted:
        note = (
            "TLS 1.3 encrypts everything after the ServerHello: EncryptedExtensions, Certificate, "
            "CertificateVerify and both Finished travel inside the application-data records below; a key log "
            "would show them."
        )
    omitted = max(0, len(rows) - max_rows)
    return LadderView(tuple(_facts(flow, tls)), tuple(rows[:max_rows]), omitted, note)


# ----------------------------------------------------------------------------------------------- facts


def forward_secrecy(tls: TlsInfo) -> tuple[bool | None, str]:
    """Whether the key exchange is forward secret, and why in plain words (None: not known yet)."""
    if tls.version == TLS13 or (tls.server_hello is not None and tls.server_hello.selected_version == TLS13):
        if tls.resumed and tls.resumption == "psk" and not _sh_key_share(tls):
            return False, "PSK-only resumption: no fresh key exchange"
        return True, "TLS 1.3: every full handshake uses an ephemeral key share"
    if tls.cipher_suite is None:
        return None, "no ServerHello: the key exchange was not chosen"
    info = cipher_suite_info(tls.cipher_suite)
    if info is None:
        return None, f"unknown cipher suite 0x{tls.cipher_suite:04x}"
    if info.forward_secrecy:
        return (
            True,
            f"{info.kx}: ephemeral keys, a later leak of the server key does not decrypt this session",
        )
    if info.kx == "RSA":
        return False, (
            "static RSA: the client encrypts the secret with the server's long-term key; whoever gets that key "
            "later decrypts this recorded session"
        )
    return False, f"{info.kx} key exchange is not ephemeral"


def _sh_key_share(tls: TlsInfo) -> bool:
    sh = tls.server_hello
    return sh is not None and sh.selected_group is not None


def _key_share(tls: TlsInfo) -> str:
    sh, kx = tls.server_hello, tls.key_exchange
    if sh is not None and sh.selected_group is not None:
        return group_label(sh.selected_group)
    if kx is not None:
        if kx.group is not None:
            return f"{kx.kind.upper()} {group_label(kx.group)}"
        if kx.dh_bits:
            return f"{kx.kind.upper()} {kx.dh_bits}-bit group"
        return kx.kind.upper()
    info = cipher_suite_info(tls.cipher_suite) if tls.cipher_suite is not None else None
    if info is not None and info.kx == "RSA":
        return "none (static RSA: no key share)"
    return "-"


def _facts(flow: Flow, tls: TlsInfo) -> Iterator[Fact]:
    start = rfc3339(flow.first_seen) or "-"
    yield Fact("flow", f"started {start}, {max(flow.last_seen - flow.first_seen, 0.0):.3f} s long")
    ch, sh = tls.client_hello, tls.server_hello
    if ch is not None:
        offered = [v for v in ch.supported_versions if not is_grease(v)] or [ch.legacy_version]
        yield Fact("versions offered", ", ".join(version_label(v) or "-" for v in offered))
        real = [s for s in ch.cipher_suites if not is_grease(s)]
        yield Fact(
            "suites offered",
            f"{len(real)} suites: {', '.join(suite_label(s) or '' for s in real[:4])}"
            + (", ..." if len(real) > 4 else ""),
        )
        yield Fact("client random", ch.random.hex())
    if sh is not None:
        yield Fact("version chosen", version_label(tls.version) or "-")
        yield Fact("suite chosen", suite_label(sh.cipher_suite) or "-")
        yield Fact("server random", sh.random.hex())
    yield Fact("key share", _key_share(tls))
    fs, why = forward_secrecy(tls)
    word = {True: "yes", False: "NO", None: "unknown"}[fs]
    yield Fact("forward secrecy", f"{word}: {why}", bad=fs is False)


# ----------------------------------------------------------------------------------------------- rows


def message_name(t: int) -> str:
    """A handshake message type's name in the RFC's spelling ("ClientHello")."""
    name = handshake_type_name(t)
    if name is None:
        return f"handshake type {t}"
    name = name.removesuffix("_RESERVED")  # IANA marks the TLS 1.2-only messages reserved for TLS 1.3
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _rows(tls: TlsInfo) -> Iterator[LadderRow]:
    msgs = list(tls.handshake_messages)
    ccs_left = list(tls.change_cipher_spec)
    tls13 = tls.version == TLS13
    alerts = sorted(tls.alerts, key=lambda a: a.frame)
    last_hs = max((m.frame for m in msgs), default=0)
    seen_sh = False
    for m in msgs:
        while alerts and alerts[0].frame < m.frame:
            yield _alert_row(alerts.pop(0))
        side = 0 if m.sender == "client" else 1
        # ChangeCipherSpec records are counted, not placed: TLS 1.2 sends one just before each side's Finished
        # (the first encrypted record); TLS 1.3 middlebox compatibility sends the server's after its hello.
        before_finished = m.msg_type in (20, -1) or m.encrypted or m.decrypted
        if ccs_left[side] and before_finished and not (tls13 and side == 1):
            yield _ccs_row(m.sender, ccs_left[side])
            ccs_left[side] = 0
        yield _message_row(tls, m)
        if m.msg_type == 2 and side == 1:
            seen_sh = True
            if tls13 and ccs_left[1]:
                yield _ccs_row("server", ccs_left[1])
                ccs_left[1] = 0
    for side, n in enumerate(ccs_left):
        if n:
            yield _ccs_row("client" if side == 0 else "server", n)
    while alerts and alerts[0].frame <= last_hs:
        yield _alert_row(alerts.pop(0))
    if tls13 and not tls.decrypted and seen_sh:
        yield LadderRow(
            "server", "encrypted", "encrypted handshake", "EncryptedExtensions ... Finished (no keys)"
        )
        yield LadderRow("client", "encrypted", "encrypted handshake", "client Finished (no keys)")
    enc = tls.encrypted_handshake_records
    listed = sum(1 for m in msgs if m.encrypted)
    if sum(enc) > listed:
        yield LadderRow(
            "client", "encrypted", "encrypted handshake records", f"client {enc[0]}, server {enc[1]}"
        )
    how = "decrypted with the key log" if tls.decrypted else "encrypted"
    for side, who in ((0, "client"), (1, "server")):
        n, size = tls.app_data_records[side], tls.app_data_bytes[side]
        if n:
            yield LadderRow(
                who, "data", f"application data ×{n}", f"{size} B, {how}", decrypted=tls.decrypted
            )
    for a in alerts:
        yield _alert_row(a)


def _ccs_row(sender: str, n: int) -> LadderRow:
    return LadderRow(sender, "ccs", "ChangeCipherSpec" + (f" ×{n}" if n > 1 else ""), "frame not recorded")


def _alert_row(a: Any) -> LadderRow:
    level = "encrypted" if a.encrypted and a.level is None else alert_level_name(a.level or 0) or str(a.level)
    return LadderRow(
        a.sender,
        "alert",
        f"Alert {alert_label(a.description, a.encrypted)}",
        f"level {level}",
        frame=a.frame,
        fields=(Field("level", str(a.level)), Field("description", str(a.description)))
        if not a.encrypted
        else (),
    )


def _message_row(tls: TlsInfo, m: HandshakeMessage) -> LadderRow:
    if m.msg_type < 0 or m.encrypted:
        return LadderRow(
            m.sender, "encrypted", "encrypted handshake", f"{m.length} B (Finished, no keys)", m.frame
        )
    name = message_name(m.msg_type)
    detail = f"{m.length} B"
    fields: tuple[Field, ...] = ()
    if m.msg_type == 1:
        ch = _hello_at(tls, m.frame)
        if ch is not None:
            fields = client_hello_fields(ch)
            detail += f", SNI {ch.server_name}" if ch.server_name else ", no SNI"
    elif m.msg_type == 2:
        sh = tls.server_hello if tls.server_hello is not None and tls.server_hello.frame == m.frame else None
        sh = sh or tls.hello_retry_request
        if sh is not None:
            fields = server_hello_fields(sh)
            detail += f", {suite_label(sh.cipher_suite)}"
            if sh.is_hrr:
                name = "HelloRetryRequest"
    elif m.msg_type == 11:
        certs = tls.certificates if m.sender == "server" else tls.client_certificates
        fields = tuple(_cert_field(i, c) for i, c in enumerate(certs))
        detail += f", {len(certs)} certificates" if certs else ""
    elif m.msg_type == 12 and tls.key_exchange is not None:
        kx = tls.key_exchange
        fields = (Field("kind", kx.kind),)
        if kx.group is not None:
            fields += (Field("group", group_label(kx.group)),)
        if kx.dh_bits:
            fields += (Field("DH prime", f"{kx.dh_bits} bits"),)
        if kx.signature_algorithm is not None:
            sig = signature_scheme_name(kx.signature_algorithm) or f"0x{kx.signature_algorithm:04x}"
            fields += (Field("signature", sig),)
        detail += f", {kx.kind.upper()}" + (f" {group_label(kx.group)}" if kx.group is not None else "")
    elif m.msg_type == 16 and m.sender == "client":
        info = cipher_suite_info(tls.cipher_suite) if tls.cipher_suite is not None else None
        if info is not None and info.kx == "RSA":
            detail += ", premaster secret encrypted to the server's RSA key"
    return LadderRow(m.sender, "handshake", name, detail, m.frame, m.decrypted, fields)


def _hello_at(tls: TlsInfo, frame: int) -> ClientHello | None:
    for ch in (tls.client_hello, tls.client_hello_after_hrr):
        if ch is not None and ch.frame == frame:
            return ch
    return tls.client_hello


# ----------------------------------------------------------------------------------------------- fields


def _codes(label: str, codes: tuple[int, ...], name: Any, limit: int = MAX_LIST) -> Field:
    kids = [
        Field(f"0x{c:04x}", "GREASE" if is_grease(c) else name(c) or "unknown", grease=is_grease(c))
        for c in codes[:limit]
    ]
    if len(codes) > limit:
        kids.append(Field(f"... {len(codes) - limit} more"))
    return Field(label, str(len(codes)), tuple(kids))


def _value_text(value: Any, limit: int = 200) -> str:
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_value_text(v, limit)}" for k, v in value.items())
    elif isinstance(value, tuple | list):
        text = ", ".join(_value_text(v, limit) for v in value)
    elif isinstance(value, bytes):
        text = value.hex()
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def extension_fields(extensions: tuple[Extension, ...], limit: int = MAX_LIST) -> Field:
    """The extensions, each named (GREASE marked) with its decoded value."""
    kids: list[Field] = []
    for e in extensions[:limit]:
        grease = is_grease(e.type)
        name = "GREASE" if grease else extension_name(e.type) or "unknown"
        value = _value_text(e.decoded) if e.decoded is not None else f"{len(e.data)} B"
        kids.append(Field(f"{name} ({e.type})", value, grease=grease))
    if len(extensions) > limit:
        kids.append(Field(f"... {len(extensions) - limit} more"))
    return Field("extensions", str(len(extensions)), tuple(kids))


def client_hello_fields(ch: ClientHello) -> tuple[Field, ...]:
    out = [
        Field("legacy version", version_label(ch.legacy_version) or "-"),
        Field("random", ch.random.hex()),
        Field("session id", ch.session_id.hex() or "(empty)"),
        _codes("cipher suites", ch.cipher_suites, suite_label),
    ]
    if ch.supported_versions:
        out.append(_codes("supported versions", ch.supported_versions, version_label))
    if ch.supported_groups:
        out.append(_codes("supported groups", ch.supported_groups, group_name))
    if ch.key_share_groups:
        out.append(_codes("key shares", ch.key_share_groups, group_name))
    if ch.signature_algorithms:
        out.append(_codes("signature algorithms", ch.signature_algorithms, signature_scheme_name))
    out.append(extension_fields(ch.extensions))
    if ch.ja3 or ch.ja4:
        out.append(Field("fingerprints", f"JA3 {ch.ja3}  JA4 {ch.ja4}"))
    return tuple(out)


def server_hello_fields(sh: ServerHello) -> tuple[Field, ...]:
    out = [
        Field("legacy version", version_label(sh.legacy_version) or "-"),
        Field("random", sh.random.hex() + ("  (HelloRetryRequest)" if sh.is_hrr else "")),
        Field("session id", sh.session_id.hex() or "(empty)"),
        Field("cipher suite", suite_label(sh.cipher_suite) or "-"),
    ]
    if sh.selected_version is not None:
        out.append(Field("selected version", version_label(sh.selected_version) or "-"))
    if sh.selected_group is not None:
        out.append(Field("key share group", group_label(sh.selected_group)))
    if sh.alpn:
        out.append(Field("ALPN", sh.alpn))
    out.append(extension_fields(sh.extensions))
    return tuple(out)


def _cert_field(i: int, c: Certificate) -> Field:
    return Field(
        f"[{i}]",
        c.subject,
        (Field("issuer", c.issuer), Field("valid", f"{c.not_before} .. {c.not_after}")),
    )
