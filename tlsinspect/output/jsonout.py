"""The JSON contract (`../shared/spec/json-output.md`): model values -> plain dicts, and the ndjson/json writers.

Codes are written as the wire shows them: versions, cipher suites and signature schemes as "0x1301" strings,
extension types, groups, compression methods and point formats as integers; lists keep wire order, GREASE
included; bytes are lowercase hex; times are RFC 3339 UTC. Field names here are the contract's, so changing one
is a schema change. The ``observer`` object and the masking of exposure values come from the presentation layer
(`tlsinspect.present`), the same views the text report renders.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, TextIO

import orjson

from tlsinspect.model import (
    Alert,
    CaptureInfo,
    Certificate,
    ClientHello,
    Extension,
    Flow,
    HandshakeMessage,
    ServerHello,
    Summary,
    TlsInfo,
)
from tlsinspect.present.observer import observer_view
from tlsinspect.present.values import exposure_value, rfc3339
from tlsinspect.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_name,
    extension_name,
    handshake_type_name,
    version_name,
)

SCHEMA_VERSION = 1


@lru_cache(maxsize=4096)
def hex16(v: int | None) -> str | None:
    """A code as the contract writes it: "0x1301". Cached: a few hundred codes make up almost every call."""
    return None if v is None else f"0x{v:04x}"


def _ext(e: Extension) -> dict[str, Any]:
    return {"type": e.type, "name": extension_name(e.type), "length": len(e.data), "value": e.decoded}


def client_hello_dict(ch: ClientHello | None) -> dict[str, Any] | None:
    if ch is None:
        return None
    return {
        "frame": ch.frame,
        "record_version": hex16(ch.record_version),
        "legacy_version": hex16(ch.legacy_version),
        "random": ch.random.hex(),
        "session_id": ch.session_id.hex(),
        "cipher_suites": [hex16(c) if c <= 0xFFFF else f"0x{c:06x}" for c in ch.cipher_suites],
        "compression_methods": list(ch.compression_methods),
        "extensions": [e.type for e in ch.extensions],
        "server_name": ch.server_name,
        "alpn": list(ch.alpn),
        "supported_versions": [hex16(v) for v in ch.supported_versions],
        "supported_groups": list(ch.supported_groups),
        "signature_algorithms": [hex16(v) for v in ch.signature_algorithms],
        "ec_point_formats": list(ch.ec_point_formats),
        "key_share_groups": list(ch.key_share_groups),
        "psk_key_exchange_modes": list(ch.psk_key_exchange_modes),
        "ja3_full": ch.ja3_full,
        "ja3": ch.ja3,
        "ja4": ch.ja4,
        "ja4_r": ch.ja4_r,
        "sslv2": ch.sslv2,
        "extensions_detail": [_ext(e) for e in ch.extensions],
    }


def server_hello_dict(sh: ServerHello | None) -> dict[str, Any] | None:
    if sh is None:
        return None
    return {
        "frame": sh.frame,
        "record_version": hex16(sh.record_version) if sh.record_version else None,
        "legacy_version": hex16(sh.legacy_version),
        "random": sh.random.hex(),
        "session_id": sh.session_id.hex(),
        "cipher_suite": hex16(sh.cipher_suite),
        "cipher_suite_name": cipher_suite_name(sh.cipher_suite),
        "compression_method": sh.compression_method,
        "extensions": [e.type for e in sh.extensions],
        "selected_version": hex16(
            sh.selected_version if sh.selected_version is not None else sh.legacy_version
        ),
        "alpn": sh.alpn,
        "selected_group": sh.selected_group,
        "ja3s_full": sh.ja3s_full,
        "ja3s": sh.ja3s,
        "extensions_detail": [_ext(e) for e in sh.extensions],
    }


def hrr_dict(sh: ServerHello | None) -> dict[str, Any] | None:
    if sh is None:
        return None
    return {"frame": sh.frame, "cipher_suite": hex16(sh.cipher_suite), "selected_group": sh.selected_group}


def certificate_dict(c: Certificate) -> dict[str, Any]:
    return {
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "san_dns": list(c.san_dns),
        "san_ip": list(c.san_ip),
        "sha256": c.sha256,
        "key_type": c.key_type,
        "key_bits": c.key_bits,
        "signature_algorithm": c.signature_algorithm,
        "is_ca": c.is_ca,
        "self_signed": c.self_signed,
        "error": c.error,
    }


def alert_dict(a: Alert) -> dict[str, Any]:
    return {
        "frame": a.frame,
        "from": a.sender,
        "level": a.level,
        "level_name": alert_level_name(a.level) if a.level is not None else None,
        "description": a.description,
        "description_name": alert_name(a.description) if a.description is not None else None,
        "encrypted": a.encrypted,
    }


def _msg(m: HandshakeMessage) -> dict[str, Any]:
    return {
        "frame": m.frame,
        "from": m.sender,
        "type": m.msg_type if m.msg_type >= 0 else None,
        "name": _hs_name(m.msg_type),
        "length": m.length,
        "decrypted": m.decrypted,
    }


def _hs_name(t: int) -> str:
    if t < 0:
        return "encrypted"
    name = handshake_type_name(t)
    return name.removesuffix("_RESERVED") if name else f"unknown ({t})"


def tls_dict(t: TlsInfo | None) -> dict[str, Any] | None:
    if t is None:
        return None
    v = t.validation
    kx = t.key_exchange
    return {
        "client_hello": client_hello_dict(t.client_hello),
        "hello_retry_request": hrr_dict(t.hello_retry_request),
        "client_hello_after_hrr": client_hello_dict(t.client_hello_after_hrr),
        "server_hello": server_hello_dict(t.server_hello),
        "version": hex16(t.version),
        "version_name": version_name(t.version) if t.version is not None else None,
        "cipher_suite": hex16(t.cipher_suite),
        "cipher_suite_name": cipher_suite_name(t.cipher_suite) if t.cipher_suite is not None else None,
        "certificates": [certificate_dict(c) for c in t.certificates],
        "certificates_visibility": t.certificates_visibility,
        "client_certificates": [certificate_dict(c) for c in t.client_certificates],
        "validation": {
            "trusted": v.trusted,
            "hostname_matches": v.hostname_matches,
            "expired": v.expired,
            "errors": list(v.errors),
            "expired_now": v.expired_now,
        },
        "alerts": [alert_dict(a) for a in t.alerts],
        "resumed": t.resumed,
        "resumption": t.resumption,
        "decrypted": t.decrypted,
        "decryption": t.decryption,
        "key_exchange": None
        if kx is None
        else {
            "frame": kx.frame,
            "kind": kx.kind,
            "group": kx.group,
            "dh_bits": kx.dh_bits,
            "signature_algorithm": hex16(kx.signature_algorithm),
        },
        "ocsp_stapled": t.ocsp_stapled,
        "session_tickets": t.session_tickets,
        "certificate_requested": t.certificate_requested,
        "handshake_messages": [_msg(m) for m in t.handshake_messages],
        "app_data": {
            "client_records": t.app_data_records[0],
            "server_records": t.app_data_records[1],
            "client_bytes": t.app_data_bytes[0],
            "server_bytes": t.app_data_bytes[1],
        },
    }


def flow_dict(f: Flow, *, show_secrets: bool = False) -> dict[str, Any]:
    """One `flow` object of the contract."""
    return {
        "type": "flow",
        "id": f.id,
        "transport": f.transport,
        "client": f.client,
        "server": f.server,
        "first_frame": f.first_frame,
        "last_frame": f.last_frame,
        "first_seen": rfc3339(f.first_seen),
        "last_seen": rfc3339(f.last_seen),
        "frames": f.frames,
        "bytes_client": f.bytes_client,
        "bytes_server": f.bytes_server,
        "app_protocol": f.app_protocol,
        "state": f.state,
        "tls": tls_dict(f.tls),
        "http": [
            {
                "frame": h.frame,
                "method": h.method,
                "uri": h.uri,
                "host": h.host,
                "version": h.version,
                "user_agent": h.user_agent,
                "status": h.status,
                "reason": h.reason,
                "inside_tls": h.inside_tls,
                "request_headers": [list(p) for p in h.request_headers],
                "response_headers": [list(p) for p in h.response_headers],
                "request_body_length": h.request_body_len,
                "response_body_length": h.response_body_len,
                "response_frame": h.response_frame,
                "protocol": h.protocol,
            }
            for h in f.http
        ],
        "exposures": [
            {
                "kind": e.kind,
                "frame": e.frame,
                "where": e.where,
                "value": exposure_value(e.kind, e.value, show_secrets).text,
                "inside_tls": e.inside_tls,
            }
            for e in f.exposures
        ],
        "findings": [
            {
                "rule": x.rule,
                "severity": x.severity,
                "title": x.title,
                "detail": x.detail,
                "evidence": x.evidence,
            }
            for x in f.findings
        ],
        "anomalies": [
            {"layer": a.layer, "kind": a.kind, "message": a.message, "frame": a.frame} for a in f.anomalies
        ],
        "observer": observer_view(f, show_secrets=show_secrets).as_dict(),
    }


def capture_dict(info: CaptureInfo, tool_version: str) -> dict[str, Any]:
    return {
        "type": "capture",
        "schema_version": SCHEMA_VERSION,
        "source": info.source,
        "format": info.format,
        "link_types": list(info.link_types),
        "tool_version": tool_version,
    }


def summary_dict(s: Summary) -> dict[str, Any]:
    return {
        "type": "summary",
        "frames": s.frames,
        "bytes": s.bytes,
        "flows": s.flows,
        "tls_flows": s.tls_flows,
        "http_flows": s.http_flows,
        "frames_undecodable": s.frames_undecodable,
        "anomalies": s.anomalies,
        "findings_by_severity": dict(s.findings_by_severity),
        "elapsed_s": round(s.elapsed_s, 3),
        "frames_not_ip": s.frames_not_ip,
        "frames_other_transport": s.frames_other_transport,
        "frames_in_flows": s.frames_in_flows,
        "flows_evicted": s.flows_evicted,
        "capture_errors": list(s.capture_errors),
        "capture_anomalies": [
            {"layer": a.layer, "kind": a.kind, "message": a.message, "frame": a.frame}
            for a in s.capture_anomalies
        ],
    }


_json_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
"""Subclasses of str, int and dict are written as their base type (as `json` writes them): the model's
`FrozenDict` values go out as objects without a copy."""


def _dumps(obj: Any) -> str:
    """One compact JSON line, the same text `json` would write with these options.

    orjson encodes a flow about five times faster than the standard library, which matters to `read --jobs N`:
    the parent writes every flow while the workers parse. Values orjson refuses (an integer beyond 64 bits, a
    lone surrogate) go to the standard encoder instead; values of unknown types become strings in both.
    """
    try:
        return orjson.dumps(obj, default=str, option=_ORJSON_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return _json_dumps(obj)


class NdjsonWriter:
    """Writes one JSON object per line as flows finish."""

    def __init__(self, out: TextIO, *, show_secrets: bool = False) -> None:
        self.out = out
        self.show_secrets = show_secrets

    def capture(self, info: CaptureInfo, tool_version: str) -> None:
        self.out.write(_dumps(capture_dict(info, tool_version)) + "\n")

    def flow(self, f: Flow) -> None:
        self.out.write(_dumps(flow_dict(f, show_secrets=self.show_secrets)) + "\n")

    def summary(self, s: Summary) -> None:
        self.out.write(_dumps(summary_dict(s)) + "\n")
        self.out.flush()


class JsonWriter:
    """Collects flows and writes one document at the end: {schema_version, capture, flows, summary}."""

    def __init__(self, out: TextIO, *, show_secrets: bool = False) -> None:
        self.out = out
        self.show_secrets = show_secrets
        self.doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "capture": None, "flows": []}

    def capture(self, info: CaptureInfo, tool_version: str) -> None:
        self.doc["capture"] = capture_dict(info, tool_version)

    def flow(self, f: Flow) -> None:
        self.doc["flows"].append(flow_dict(f, show_secrets=self.show_secrets))

    def summary(self, s: Summary) -> None:
        self.doc["summary"] = summary_dict(s)
        json.dump(self.doc, self.out, ensure_ascii=False, indent=1, default=str)
        self.out.write("\n")
        self.out.flush()
