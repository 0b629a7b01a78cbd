"""Each tls.* rule: one flow that fires it (id, severity, evidence) and flows that must not."""

from __future__ import annotations

import pytest
from test_rules_factories import Alert, KeyExchange, client_hello, flow, server_hello, tls12_flow, tls_info

from tlsinspect.analysis.findings import CHECKS
from tlsinspect.model import Finding, Flow

CHECK = {rule.id: check for rule, check in CHECKS}


def run(rule_id: str, f: Flow) -> list[Finding]:
    return CHECK[rule_id](f)


def one(rule_id: str, f: Flow, severity: str, evidence: str) -> Finding:
    found = run(rule_id, f)
    assert len(found) == 1, found
    finding = found[0]
    assert finding.rule == rule_id and finding.severity == severity
    assert evidence in finding.evidence, finding.evidence
    assert finding.title and finding.detail
    return finding


def tls13_flow() -> Flow:
    return tls12_flow(cipher_suite=0x1301, version=0x0304, sh_extensions=(43, 51))


NO_SERVER_HELLO = flow(tls_info(ch=client_hello()))
NO_TLS = flow(None)


@pytest.mark.parametrize("rule_id", sorted(CHECK))
def test_no_rule_fires_without_data(rule_id: str) -> None:
    assert run(rule_id, NO_TLS) == []
    assert run(rule_id, flow(tls_info())) == []


@pytest.mark.parametrize("rule_id", sorted(CHECK))
def test_no_rule_fires_on_a_good_tls13_handshake(rule_id: str) -> None:
    assert run(rule_id, tls13_flow()) == []


@pytest.mark.parametrize("rule_id", sorted(r for r in CHECK if r.startswith("tls.") and r != "tls.no-sni"))
def test_negotiated_rules_need_a_server_hello(rule_id: str) -> None:
    assert run(rule_id, NO_SERVER_HELLO) == []


# --------------------------------------------------------------------------------------------- version


@pytest.mark.parametrize(
    ("version", "severity", "name"),
    [(0x0300, "high", "SSL 3.0"), (0x0301, "medium", "TLS 1.0"), (0x0302, "medium", "TLS 1.1")],
)
def test_version_obsolete(version: int, severity: str, name: str) -> None:
    one("tls.version-obsolete", tls12_flow(cipher_suite=0xC013, version=version), severity, name)


def test_version_current_is_fine() -> None:
    assert run("tls.version-obsolete", tls12_flow()) == []
    assert run("tls.version-obsolete", tls13_flow()) == []


# --------------------------------------------------------------------------------------------- suites


@pytest.mark.parametrize(
    ("rule_id", "suite", "severity", "name"),
    [
        ("tls.cipher-null", 0x0002, "critical", "TLS_RSA_WITH_NULL_SHA"),
        ("tls.cipher-export", 0x0003, "critical", "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
        ("tls.cipher-anon", 0x0034, "high", "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
        ("tls.cipher-rc4", 0x0005, "high", "TLS_RSA_WITH_RC4_128_SHA"),
        ("tls.cipher-des", 0x0009, "high", "TLS_RSA_WITH_DES_CBC_SHA"),
        ("tls.cipher-3des", 0x000A, "medium", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    ],
)
def test_weak_negotiated_suite(rule_id: str, suite: int, severity: str, name: str) -> None:
    one(rule_id, tls12_flow(cipher_suite=suite), severity, name)
    assert run(rule_id, tls12_flow()) == []  # ECDHE-RSA-AES128-GCM
    assert run(rule_id, tls12_flow(cipher_suite=0xC013)) == []  # ECDHE-RSA-AES128-CBC


def test_offered_but_not_negotiated_weak_suite_is_not_a_negotiated_finding() -> None:
    ch = client_hello(cipher_suites=(0x0005, 0xC02F))
    f = tls12_flow(ch=ch)
    for rule_id in ("tls.cipher-rc4", "tls.cipher-null", "tls.cipher-export"):
        assert run(rule_id, f) == []


def test_cbc_legacy() -> None:
    one("tls.cipher-cbc-legacy", tls12_flow(cipher_suite=0xC013), "low", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")


def test_cbc_with_encrypt_then_mac_is_info() -> None:
    ch = client_hello(extensions=(0, 10, 22, 0xFF01))
    f = tls12_flow(cipher_suite=0xC013, ch=ch, sh_extensions=(0xFF01, 22))
    one("tls.cipher-cbc-legacy", f, "info", "encrypt_then_mac")


def test_cbc_not_repeated_for_3des_and_not_for_gcm() -> None:
    assert run("tls.cipher-cbc-legacy", tls12_flow(cipher_suite=0x000A)) == []
    assert run("tls.cipher-cbc-legacy", tls12_flow()) == []


# --------------------------------------------------------------------------------------------- key exchange


def test_static_rsa_has_no_forward_secrecy() -> None:
    finding = one(
        "tls.no-forward-secrecy", tls12_flow(cipher_suite=0x0035), "high", "TLS_RSA_WITH_AES_256_CBC_SHA"
    )
    assert (
        "anyone who later obtains the server's private key can decrypt this recorded session"
        in finding.detail
    )


def test_static_ecdh_has_no_forward_secrecy_medium() -> None:
    one("tls.no-forward-secrecy", tls12_flow(cipher_suite=0xC004), "medium", "key exchange ECDH")


def test_ephemeral_key_exchange_is_forward_secret() -> None:
    assert run("tls.no-forward-secrecy", tls12_flow()) == []
    assert run("tls.no-forward-secrecy", tls12_flow(cipher_suite=0x0034)) == []  # anon: its own rule


@pytest.mark.parametrize(("bits", "severity"), [(512, "high"), (1024, "medium")])
def test_weak_dh(bits: int, severity: str) -> None:
    f = tls12_flow(cipher_suite=0x0033, key_exchange=KeyExchange(frame=7, kind="dhe", dh_bits=bits))
    one("tls.weak-dh", f, severity, f"DHE {bits} bits")


def test_strong_dh_and_ecdhe_are_fine() -> None:
    assert run("tls.weak-dh", tls12_flow(key_exchange=KeyExchange(frame=7, kind="dhe", dh_bits=2048))) == []
    assert run("tls.weak-dh", tls12_flow(key_exchange=KeyExchange(frame=7, kind="ecdhe", group=29))) == []
    assert run("tls.weak-dh", tls12_flow(key_exchange=KeyExchange(frame=7, kind="dhe", dh_bits=None))) == []


# --------------------------------------------------------------------------------------------- extensions


def test_no_sni() -> None:
    f = flow(tls_info(ch=client_hello(server_name=None)))
    one("tls.no-sni", f, "low", "ClientHello frame 4")


def test_sni_present() -> None:
    assert run("tls.no-sni", tls12_flow()) == []


def test_no_secure_renegotiation_server_silent() -> None:
    f = tls12_flow(sh_extensions=(11,))
    one("tls.no-secure-renegotiation", f, "medium", "server did not answer with renegotiation_info")


def test_no_secure_renegotiation_client_silent() -> None:
    ch = client_hello(cipher_suites=(0xC02F,), extensions=(0, 10, 11))
    f = tls12_flow(ch=ch, sh_extensions=(11,))
    finding = one(
        "tls.no-secure-renegotiation", f, "medium", "client sent neither renegotiation_info nor the SCSV"
    )
    assert "server did not answer" in finding.evidence


def test_secure_renegotiation_by_scsv_or_extension() -> None:
    scsv_only = client_hello(cipher_suites=(0xC02F, 0x00FF), extensions=(0, 10, 11))
    assert run("tls.no-secure-renegotiation", tls12_flow(ch=scsv_only)) == []
    assert run("tls.no-secure-renegotiation", tls12_flow()) == []
    assert run("tls.no-secure-renegotiation", tls13_flow()) == []  # TLS 1.3 has no renegotiation


# --------------------------------------------------------------------------------------------- alerts


def _failed(alert: Alert, app_data: tuple[int, int] = (0, 0)) -> Flow:
    return flow(tls_info(ch=client_hello(), sh=server_hello(), alerts=(alert,), app_data_records=app_data))


def test_handshake_failed_names_alert_and_sender() -> None:
    f = _failed(Alert(frame=9, sender="client", level=2, description=42, encrypted=False))
    finding = one("tls.handshake-failed", f, "medium", "bad_certificate sent by the client")
    assert "rejected the server's certificate" in finding.detail and "frame 9" in finding.detail


def test_handshake_failed_server_side() -> None:
    f = _failed(Alert(frame=5, sender="server", level=2, description=40, encrypted=False))
    one("tls.handshake-failed", f, "medium", "handshake_failure sent by the server")


def test_alerts_that_are_not_handshake_failures() -> None:
    after_data = _failed(Alert(frame=30, sender="client", level=2, description=20, encrypted=True), (5, 5))
    close = _failed(Alert(frame=30, sender="client", level=1, description=0, encrypted=False))
    unreadable = _failed(Alert(frame=9, sender="client", level=None, description=None, encrypted=True))
    warning = _failed(Alert(frame=9, sender="server", level=1, description=112, encrypted=False))
    for f in (after_data, close, unreadable, warning):
        assert run("tls.handshake-failed", f) == []


# --------------------------------------------------------------------------------------------- client offer


def test_client_offers_weak_suites() -> None:
    ch = client_hello(cipher_suites=(0x0A0A, 0xC02F, 0x000A, 0x0005, 0x00FF))
    one(
        "tls.client-offers-weak",
        flow(tls_info(ch=ch)),
        "low",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA, TLS_RSA_WITH_RC4_128_SHA",
    )


def test_client_offers_old_versions() -> None:
    ch = client_hello(supported_versions=(0x1A1A, 0x0304, 0x0303, 0x0302, 0x0301))
    one("tls.client-offers-weak", flow(tls_info(ch=ch)), "low", "offers TLS 1.1, TLS 1.0")
    legacy_only = client_hello(supported_versions=(), legacy_version=0x0301)
    one("tls.client-offers-weak", flow(tls_info(ch=legacy_only)), "low", "offers TLS 1.0")


def test_client_offer_modern_or_fallback_retry_is_fine() -> None:
    assert run("tls.client-offers-weak", tls12_flow()) == []
    tls12_only = client_hello(supported_versions=(), legacy_version=0x0303)
    assert run("tls.client-offers-weak", flow(tls_info(ch=tls12_only))) == []
    fallback = client_hello(cipher_suites=(0xC02F, 0x5600), supported_versions=(), legacy_version=0x0302)
    assert run("tls.client-offers-weak", flow(tls_info(ch=fallback))) == []


# --------------------------------------------------------------------------------------------- resumption


@pytest.mark.parametrize(
    ("how", "words"), [("session-id", "session id"), ("ticket", "session ticket"), ("psk", "PSK")]
)
def test_resumed(how: str, words: str) -> None:
    f = tls12_flow(resumed=True, resumption=how)
    one("tls.resumed", f, "info", words)


def test_not_resumed() -> None:
    assert run("tls.resumed", tls12_flow()) == []
