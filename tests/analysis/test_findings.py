"""The findings registry, evaluate(), explain(), severity_at_least(), and one real TLS handshake end to end."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from test_rules_factories import (
    AT,
    DAY,
    UTC,
    Alert,
    client_hello,
    ec_key,
    flow,
    make_cert,
    model,
    pki,
    server_hello,
    tls12_flow,
    tls_info,
)

from tlsinspect.analysis.findings import (
    CHECKS,
    RULES,
    SEVERITIES,
    evaluate,
    explain,
    rule,
    severity_at_least,
)
from tlsinspect.analysis.rules_common import Rule
from tlsinspect.analysis.validation import TrustStore, validate_chain
from tlsinspect.capture.inputs import load_trust_store
from tlsinspect.model import Flow, TlsInfo
from tlsinspect.parse.x509 import decode_certificate

SPEC_RULE_IDS = {
    "tls.version-obsolete",
    "tls.cipher-null",
    "tls.cipher-export",
    "tls.cipher-anon",
    "tls.cipher-rc4",
    "tls.cipher-des",
    "tls.cipher-3des",
    "tls.cipher-cbc-legacy",
    "tls.no-forward-secrecy",
    "tls.weak-dh",
    "tls.no-sni",
    "tls.no-secure-renegotiation",
    "tls.handshake-failed",
    "tls.client-offers-weak",
    "tls.resumed",
    "cert.expired",
    "cert.not-yet-valid",
    "cert.expires-soon",
    "cert.self-signed",
    "cert.untrusted-issuer",
    "cert.name-mismatch",
    "cert.weak-key",
    "cert.sha1-signature",
    "cert.chain-incomplete",
    "cert.chain-misordered",
    "cert.ca-as-leaf",
    "cert.long-validity",
}


# --------------------------------------------------------------------------------------------- registry


def test_registry_has_every_contract_rule_once() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert SPEC_RULE_IDS <= set(ids)
    assert [r for r, _ in CHECKS] == list(RULES)


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.id)
def test_rule_records_are_complete(r: Rule) -> None:
    assert r.severity in SEVERITIES
    assert r.title and not r.title.endswith(".")
    assert len(r.explain) > 200
    assert "What to change" in r.explain or r.id == "tls.resumed"  # resumption is normal: nothing to change
    text = explain(r.id)
    assert text.startswith(f"{r.id} ({r.severity}): {r.title}") and r.explain in text
    assert rule(r.id) is r


def test_explain_unknown_rule_raises_key_error() -> None:
    with pytest.raises(KeyError):
        explain("tls.no-such-rule")


def test_severity_at_least() -> None:
    assert SEVERITIES == ("info", "low", "medium", "high", "critical")
    assert severity_at_least("high", "medium")
    assert severity_at_least("medium", "medium")
    assert not severity_at_least("low", "medium")
    assert severity_at_least("critical", "info")
    with pytest.raises(ValueError, match="unknown severity 'severe'"):
        severity_at_least("severe", "low")


# --------------------------------------------------------------------------------------------- evaluate


def test_evaluate_clean_flow_is_empty() -> None:
    p = pki()
    chain = model(p.leaf, p.inter)
    v = validate_chain(chain, server_name="django-devops", at=AT, trust=p.trust(), now=AT)
    f = tls12_flow(certificates=chain, validation=v)
    assert evaluate(f) == ()


def test_evaluate_sorts_by_severity_then_rule_id() -> None:
    ch = client_hello(server_name=None, cipher_suites=(0x0005, 0x000A, 0x0035), extensions=(10, 11))
    f = tls12_flow(
        cipher_suite=0x0005, version=0x0301, ch=ch, sh_extensions=(11,), resumed=True, resumption="ticket"
    )
    found = evaluate(f)
    keys = [(-SEVERITIES.index(x.severity), x.rule) for x in found]
    assert keys == sorted(keys)
    assert [(x.rule, x.severity) for x in found] == [
        ("tls.cipher-rc4", "high"),
        ("tls.no-forward-secrecy", "high"),
        ("tls.no-secure-renegotiation", "medium"),
        ("tls.version-obsolete", "medium"),
        ("tls.client-offers-weak", "low"),
        ("tls.no-sni", "low"),
        ("tls.resumed", "info"),
    ]


def test_evaluate_is_pure_and_repeatable() -> None:
    f = tls12_flow(cipher_suite=0x000A)
    assert evaluate(f) == evaluate(f)
    assert f.findings == ()


def test_evaluate_failed_handshake_flow() -> None:
    alert = Alert(frame=9, sender="client", level=2, description=48, encrypted=False)
    f = flow(tls_info(ch=client_hello(), sh=server_hello(), alerts=(alert,)))
    found = {x.rule: x for x in evaluate(f)}
    assert found["tls.handshake-failed"].evidence == "unknown_ca sent by the client"


# --------------------------------------------------------------------------------------------- a real handshake


def _peer_chain_der(sock: ssl.SSLSocket) -> list[bytes]:
    """The chain the server sent, leaf first (3.13: public API; 3.10-3.12: the same method on _sslobj)."""
    sslobj = getattr(sock, "_sslobj", None)
    getter = getattr(sock, "get_unverified_chain", None) or getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        der = getattr(ssl, "_ssl").ENCODING_DER  # noqa: B009 - private module, not in the stubs
        return [c if isinstance(c, bytes) else c.public_bytes(der) for c in getter() or []]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _handshake(tmp_path: Path, server_name: str) -> tuple[list[bytes], str | None]:
    """Serve leaf+intermediate on 127.0.0.1, connect without verification but with SNI; return the peer chain."""
    now = dt.datetime.now(UTC)
    root_key, inter_key, leaf_key = ec_key("live-root"), ec_key("live-inter"), ec_key("live-leaf")
    root = make_cert(
        "Live Demo Root", key=root_key, ca=True, not_before=now - 10 * DAY, not_after=now + 900 * DAY
    )
    inter = make_cert(
        "Live Demo Intermediate",
        key=inter_key,
        issuer=(root.subject, root_key),
        ca=True,
        not_before=now - 5 * DAY,
        not_after=now + 400 * DAY,
    )
    leaf = make_cert(
        "django-devops",
        key=leaf_key,
        issuer=(inter.subject, inter_key),
        san_dns=("django-devops",),
        san_ip=("127.0.0.1",),
        not_before=now - DAY,
        not_after=now + 90 * DAY,
    )
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(Encoding.PEM) + inter.public_bytes(Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        leaf_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (tmp_path / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError) as exc:  # the client closing first is fine
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                chain = _peer_chain_der(tls)
                version = tls.version()
                tls.sendall(b"x")
    finally:
        thread.join(timeout=10)
        listener.close()
    return chain, version


def _flow_from_handshake(
    chain_der: list[bytes], version: str | None, server_name: str, trust: TrustStore
) -> Flow:
    at = time.time()
    certs = tuple(decode_certificate(der) for der in chain_der)
    validation = validate_chain(certs, server_name=server_name, at=at, trust=trust, now=time.time())
    tls13 = version == "TLSv1.3"
    sh = server_hello(cipher_suite=0x1301 if tls13 else 0xC02B, version=0x0304 if tls13 else 0x0303)
    tls: TlsInfo = tls_info(
        ch=client_hello(server_name=server_name),
        sh=sh,
        certificates=certs,
        validation=validation,
        app_data_records=(1, 0),
    )
    return flow(tls, first_seen=at)


def test_real_handshake_chain_validates_and_judges(tmp_path: Path) -> None:
    chain, version = _handshake(tmp_path, "django-devops")
    assert len(chain) in (1, 2)  # leaf + intermediate (only the leaf via getpeercert on old Pythons)
    trust = load_trust_store(ca_files=[tmp_path / "root.pem"], use_certifi=True)

    f = _flow_from_handshake(chain, version, "django-devops", trust)
    assert f.tls is not None
    leaf = f.tls.certificates[0]
    assert leaf.subject.startswith("CN=django-devops") and leaf.san_dns == ("django-devops",)
    if len(chain) == 2:
        assert f.tls.validation.trusted is True and f.tls.validation.errors == ()
        assert evaluate(f) == ()
    else:  # pragma: no cover - Python without get_unverified_chain
        assert {x.rule for x in evaluate(f)} == {"cert.chain-incomplete"}

    # The same handshake judged without the private root: the issuer is unknown.
    untrusted = _flow_from_handshake(chain, version, "django-devops", load_trust_store())
    if len(chain) == 2:
        found = evaluate(untrusted)
        assert [(x.rule, x.severity) for x in found] == [("cert.untrusted-issuer", "high")]
        assert (
            found[0].evidence
            == "unable to get local issuer certificate: CN=Live Demo Root,O=tlsinspect tests"
        )


def test_real_handshake_with_the_wrong_name(tmp_path: Path) -> None:
    chain, version = _handshake(tmp_path, "django-zero")
    trust = load_trust_store(ca_files=[tmp_path / "root.pem"], use_certifi=False)
    f = _flow_from_handshake(chain, version, "django-zero", trust)
    found = evaluate(f)
    mismatch = [x for x in found if x.rule == "cert.name-mismatch"]
    assert len(mismatch) == 1 and mismatch[0].severity == "high"
    assert mismatch[0].evidence == "asked for django-zero, certificate is for django-devops, 127.0.0.1"
    assert f.tls is not None and f.tls.validation.hostname_matches is False
    if len(chain) == 2:
        assert f.tls.validation.trusted is True  # the chain is fine; only the name is wrong
