"""Each cert.* rule: a real certificate chain that fires it (id, severity, evidence) and one that must not.

Flows are filled the way the engine does it: certificates decoded by parse.x509, then `validate_chain` at the
flow's capture time, then the rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from test_rules_factories import (
    AT,
    AT_DT,
    DAY,
    UTC,
    client_hello,
    ec_key,
    flow,
    make_cert,
    model,
    pki,
    rsa_key,
    server_hello,
    tls_info,
    with_fields,
)

from tlsinspect.analysis.findings import CHECKS
from tlsinspect.analysis.validation import TrustStore, validate_chain
from tlsinspect.model import Certificate, Finding, Flow, Validation

CHECK = {rule.id: check for rule, check in CHECKS}
CERT_RULES = sorted(r for r in CHECK if r.startswith("cert."))


def trust() -> TrustStore:
    return pki().trust()


def cert_flow(
    chain: tuple[Certificate, ...],
    *,
    server_name: str | None = "django-devops",
    at: float = AT,
    trust_store: TrustStore | None = None,
    validate: bool = True,
) -> Flow:
    validation = (
        validate_chain(chain, server_name=server_name, at=at, trust=trust_store or trust(), now=at)
        if validate
        else Validation()
    )
    tls = tls_info(
        ch=client_hello(server_name=server_name), sh=server_hello(), certificates=chain, validation=validation
    )
    return flow(tls, first_seen=at)


def good() -> Flow:
    return cert_flow(model(pki().leaf, pki().inter))


def run(rule_id: str, f: Flow) -> list[Finding]:
    return CHECK[rule_id](f)


def one(rule_id: str, f: Flow, severity: str, evidence: str) -> Finding:
    found = run(rule_id, f)
    assert len(found) == 1, found
    finding = found[0]
    assert finding.rule == rule_id and finding.severity == severity
    assert evidence in finding.evidence, finding.evidence
    return finding


@pytest.mark.parametrize("rule_id", CERT_RULES)
def test_good_chain_fires_nothing(rule_id: str) -> None:
    assert run(rule_id, good()) == []


@pytest.mark.parametrize("rule_id", CERT_RULES)
def test_no_certificate_visible_no_cert_finding(rule_id: str) -> None:
    """TLS 1.3 without keys: the certificate is encrypted; nothing may be said about it."""
    hidden = dataclasses.replace(
        tls_info(ch=client_hello(), sh=server_hello(cipher_suite=0x1301, version=0x0304)),
        certificates_visibility="encrypted",
    )
    assert run(rule_id, flow(hidden)) == []
    assert run(rule_id, flow(None)) == []


@pytest.mark.parametrize("rule_id", CERT_RULES)
def test_undecodable_leaf_no_cert_finding(rule_id: str) -> None:
    broken = with_fields(model(pki().leaf)[0], error="undecodable DER: ValueError", is_ca=True, key_bits=512)
    assert run(rule_id, cert_flow((broken,))) == []


# --------------------------------------------------------------------------------------------- dates


def test_expired() -> None:
    old = pki().issue("django-devops", san_dns=("django-devops",), not_after=AT_DT - 3 * DAY)
    finding = one(
        "cert.expired",
        cert_flow(model(old, pki().inter)),
        "high",
        "not after 2024-05-29T12:00:00Z, captured 2024-06-01T12:00:00Z",
    )
    assert "3 day(s)" in finding.detail


def test_expired_judged_at_capture_time() -> None:
    """A 2019 capture of a 2019 certificate is not expired, whatever today's date."""
    cert = pki().issue(
        "django-devops",
        san_dns=("django-devops",),
        not_before=dt.datetime(2019, 1, 1, tzinfo=UTC),
        not_after=dt.datetime(2019, 12, 31, tzinfo=UTC),
    )
    at_2019 = dt.datetime(2019, 6, 1, tzinfo=UTC).timestamp()
    assert run("cert.expired", cert_flow(model(cert, pki().inter), at=at_2019)) == []


def test_not_yet_valid() -> None:
    future = pki().issue("django-devops", san_dns=("django-devops",), not_before=AT_DT + 10 * DAY)
    one(
        "cert.not-yet-valid",
        cert_flow(model(future, pki().inter)),
        "medium",
        "not before 2024-06-11T12:00:00Z",
    )
    assert run("cert.not-yet-valid", good()) == []
    assert run("cert.expired", cert_flow(model(future, pki().inter))) == []


def test_expires_soon() -> None:
    soon = pki().issue("django-devops", san_dns=("django-devops",), not_after=AT_DT + 10 * DAY)
    finding = one(
        "cert.expires-soon", cert_flow(model(soon, pki().inter)), "low", "not after 2024-06-11T12:00:00Z"
    )
    assert "10 day(s)" in finding.detail
    assert run("cert.expires-soon", good()) == []  # 60 days left


def test_long_validity() -> None:
    five_years = pki().issue("django-devops", san_dns=("django-devops",), not_after=AT_DT + 5 * 365 * DAY)
    one("cert.long-validity", cert_flow(model(five_years, pki().inter)), "low", "days)")


def test_long_validity_before_2020_or_short_is_fine() -> None:
    old_rules = pki().issue(
        "django-devops",
        san_dns=("django-devops",),
        not_before=dt.datetime(2020, 1, 1, tzinfo=UTC),
        not_after=AT_DT + 30 * DAY,
    )
    assert run("cert.long-validity", cert_flow(model(old_rules, pki().inter))) == []
    assert run("cert.long-validity", good()) == []  # 90 days


# --------------------------------------------------------------------------------------------- trust


def test_self_signed() -> None:
    selfie = make_cert("django-devops", key=ec_key("selfie"), san_dns=("django-devops",))
    one("cert.self-signed", cert_flow(model(selfie)), "medium", "self-signed certificate")
    assert run("cert.untrusted-issuer", cert_flow(model(selfie))) == []


def test_self_signed_but_explicitly_trusted_is_fine() -> None:
    selfie = make_cert("django-devops", key=ec_key("selfie"), san_dns=("django-devops",))
    trusted = TrustStore.from_certificates([selfie])
    f = cert_flow(model(selfie), trust_store=trusted)
    assert f.tls is not None and f.tls.validation.trusted is True
    assert run("cert.self-signed", f) == []


def test_untrusted_issuer() -> None:
    other = pki("other")
    f = cert_flow(model(other.leaf, other.inter))  # its root is not the one we trust
    one("cert.untrusted-issuer", f, "high", "unable to get local issuer certificate: ")
    assert "Demo Root CA (other)" in run("cert.untrusted-issuer", f)[0].evidence
    assert run("cert.chain-incomplete", f) == []


def test_untrusted_root_sent_in_chain() -> None:
    other = pki("other")
    f = cert_flow(model(other.leaf, other.inter, other.root))
    one("cert.untrusted-issuer", f, "high", "self-signed certificate in certificate chain")


def test_chain_incomplete() -> None:
    f = cert_flow(model(pki().leaf))  # the intermediate is missing
    one(
        "cert.chain-incomplete",
        f,
        "medium",
        "unable to get local issuer certificate: CN=Demo Intermediate CA (main)",
    )
    assert run("cert.untrusted-issuer", f) == []  # reported once, as the more useful diagnosis


def test_chain_misordered() -> None:
    p = pki()
    f = cert_flow(model(p.leaf, p.root, p.inter))
    one("cert.chain-misordered", f, "low", "Demo Root CA")
    assert run("cert.chain-misordered", cert_flow(model(p.leaf, p.inter, p.root))) == []


def test_trust_rules_silent_without_validation() -> None:
    f = cert_flow(model(pki("other").leaf), validate=False)
    for rule_id in ("cert.untrusted-issuer", "cert.chain-incomplete", "cert.chain-misordered"):
        assert run(rule_id, f) == []


# --------------------------------------------------------------------------------------------- name


def test_name_mismatch() -> None:
    f = cert_flow(model(pki().leaf, pki().inter), server_name="django-zero")
    finding = one("cert.name-mismatch", f, "high", "asked for django-zero, certificate is for django-devops")
    assert (
        finding.evidence
        == "asked for django-zero, certificate is for django-devops, www.django-devops, 127.0.0.1"
    )


def test_name_mismatch_without_validation_checks_the_name_itself() -> None:
    f = cert_flow(model(pki().leaf, pki().inter), server_name="django-zero", validate=False)
    one("cert.name-mismatch", f, "high", "asked for django-zero")


def test_name_matches_or_no_sni() -> None:
    assert run("cert.name-mismatch", good()) == []
    assert run("cert.name-mismatch", cert_flow(model(pki().leaf, pki().inter), server_name=None)) == []
    www = cert_flow(model(pki().leaf, pki().inter), server_name="WWW.Django-DevOps")
    assert run("cert.name-mismatch", www) == []


# --------------------------------------------------------------------------------------------- keys, signatures


def test_weak_rsa_key() -> None:
    weak = pki().issue("django-devops", san_dns=("django-devops",), key=rsa_key(1024))
    one("cert.weak-key", cert_flow(model(weak, pki().inter)), "high", "RSA 1024 bits")


def test_strong_keys() -> None:
    rsa2048 = pki().issue("django-devops", san_dns=("django-devops",), key=rsa_key(2048))
    assert run("cert.weak-key", cert_flow(model(rsa2048, pki().inter))) == []
    assert run("cert.weak-key", good()) == []  # EC P-256


def test_weak_ec_key_in_intermediate() -> None:
    leaf, inter = model(pki().leaf, pki().inter)
    small = with_fields(inter, key_bits=224)
    one("cert.weak-key", cert_flow((leaf, small)), "high", "EC 224 bits")


def test_sha1_signature() -> None:
    # cryptography refuses to sign with SHA-1, so the decoded leaf gets the captured certificate's facts.
    leaf, inter = model(pki().leaf, pki().inter)
    sha1 = with_fields(leaf, signature_algorithm="sha1WithRSAEncryption", signature_hash="sha1")
    one("cert.sha1-signature", cert_flow((sha1, inter)), "medium", "sha1WithRSAEncryption: ")
    md5 = with_fields(inter, signature_algorithm="md5WithRSAEncryption", signature_hash="md5")
    one("cert.sha1-signature", cert_flow((leaf, md5)), "high", "md5WithRSAEncryption")


def test_sha1_on_self_signed_root_is_fine() -> None:
    p = pki()
    leaf, inter, root = model(p.leaf, p.inter, p.root)
    root = with_fields(root, signature_algorithm="sha1WithRSAEncryption", signature_hash="sha1")
    assert run("cert.sha1-signature", cert_flow((leaf, inter, root))) == []
    assert run("cert.sha1-signature", good()) == []


def test_ca_as_leaf() -> None:
    ca_leaf = pki().issue("django-devops", san_dns=("django-devops",), ca=True)
    one("cert.ca-as-leaf", cert_flow(model(ca_leaf, pki().inter)), "medium", "CA=true")
    assert run("cert.ca-as-leaf", good()) == []
