"""validate_chain, hostname_matches and TrustStore, on a real private PKI built with cryptography."""

from __future__ import annotations

import datetime as dt
import time

import certifi
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from test_rules_factories import AT, AT_DT, DAY, UTC, make_cert, model, pki, with_fields

from tlsinspect.analysis.validation import (
    ERR_CHAIN_INCOMPLETE,
    ERR_CHAIN_MISORDERED,
    ERR_EXPIRED,
    ERR_NOT_YET_VALID,
    ERR_REJECTED,
    ERR_SELF_SIGNED,
    ERR_SELF_SIGNED_IN_CHAIN,
    ERR_UNKNOWN_ISSUER,
    TrustStore,
    TrustStoreError,
    hostname_matches,
    validate_chain,
)
from tlsinspect.capture.inputs import load_trust_store
from tlsinspect.model import Certificate, Validation


def _pem(cert: object) -> bytes:
    return cert.public_bytes(Encoding.PEM)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def demo_trust() -> TrustStore:
    """Mozilla's roots plus the demo root given as a --ca-file-style PEM, as the CLI would build it."""
    return load_trust_store(ca_files=[_pem(pki().root)], use_certifi=True)


# --------------------------------------------------------------------------------------------- trust


def test_trusted_chain_with_extra_ca_file(demo_trust: TrustStore) -> None:
    p = pki()
    v = validate_chain(model(p.leaf, p.inter), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v == Validation(trusted=True, hostname_matches=True, expired=False, errors=(), expired_now=False)


def test_ca_file_from_path(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "demo-root.pem"  # type: ignore[operator]
    path.write_bytes(_pem(pki().root))
    trust = load_trust_store(ca_files=[str(path)], use_certifi=False)
    assert len(trust) == 1
    v = validate_chain(model(pki().leaf, pki().inter), server_name=None, at=AT, trust=trust, now=AT)
    assert v.trusted is True and v.errors == ()


def test_same_chain_untrusted_without_the_private_root() -> None:
    p = pki()
    v = validate_chain(
        model(p.leaf, p.inter), server_name="django-devops", at=AT, trust=load_trust_store(), now=AT
    )
    assert v.trusted is False
    assert v.hostname_matches is True  # the name check does not depend on trust
    assert v.errors == (ERR_UNKNOWN_ISSUER,)  # the intermediate was sent: the root is what is missing


def test_missing_intermediate(demo_trust: TrustStore) -> None:
    p = pki()
    v = validate_chain(model(p.leaf), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is False
    assert v.errors == (ERR_UNKNOWN_ISSUER, ERR_CHAIN_INCOMPLETE)
    assert v.errors[0] == "unable to get local issuer certificate"


def test_self_signed_leaf(demo_trust: TrustStore) -> None:
    cert = make_cert("django-devops", key=pki().leaf_key, san_dns=("django-devops",))
    v = validate_chain(model(cert), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is False and v.hostname_matches is True
    assert v.errors == (ERR_SELF_SIGNED,)


def test_untrusted_root_sent_in_chain() -> None:
    p = pki()
    v = validate_chain(
        model(p.leaf, p.inter, p.root), server_name=None, at=AT, trust=load_trust_store(), now=AT
    )
    assert v.trusted is False
    assert v.errors == (ERR_SELF_SIGNED_IN_CHAIN,)


def test_misordered_chain_still_trusted(demo_trust: TrustStore) -> None:
    p = pki()
    v = validate_chain(model(p.leaf, p.root, p.inter), server_name=None, at=AT, trust=demo_trust, now=AT)
    assert v.trusted is True  # cryptography builds the path whatever the order
    assert v.errors == (ERR_CHAIN_MISORDERED,)


def test_leaf_not_for_server_authentication_is_rejected(demo_trust: TrustStore) -> None:
    cert = pki().issue("django-devops", san_dns=("django-devops",), eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    v = validate_chain(model(cert, pki().inter), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is False
    assert len(v.errors) == 1 and v.errors[0].startswith(ERR_REJECTED + ": ")
    assert "server authentication" in v.errors[0]


def test_no_certificates_means_unknown(demo_trust: TrustStore) -> None:
    v = validate_chain((), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v == Validation()
    assert v.trusted is None and v.hostname_matches is None and v.expired is None and v.expired_now is None


def test_undecodable_leaf_guesses_nothing(demo_trust: TrustStore) -> None:
    broken = Certificate(
        der=b"\x30\x03\x02\x01\x00",
        subject="",
        issuer="",
        serial="",
        not_before="",
        not_after="",
        san_dns=(),
        san_ip=(),
        sha256="00",
        key_type="unknown",
        key_bits=None,
        signature_algorithm="",
        is_ca=False,
        self_signed=False,
        error="undecodable DER: ValueError",
    )
    v = validate_chain((broken,), server_name="x", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is None and v.hostname_matches is None and v.expired is None
    assert v.errors == ("server certificate could not be decoded",)


# --------------------------------------------------------------------------------------------- time


def _leaf_2019() -> object:
    return pki().issue(
        "django-devops",
        san_dns=("django-devops",),
        not_before=dt.datetime(2019, 1, 1, tzinfo=UTC),
        not_after=dt.datetime(2019, 12, 31, tzinfo=UTC),
    )


def test_capture_time_validation(demo_trust: TrustStore) -> None:
    """A certificate valid in 2019, judged at a 2019 capture time: fine then, expired now."""
    at_2019 = dt.datetime(2019, 6, 1, tzinfo=UTC).timestamp()
    chain = model(_leaf_2019(), pki().inter)  # type: ignore[arg-type]
    v = validate_chain(chain, server_name="django-devops", at=at_2019, trust=demo_trust, now=AT)
    assert v.trusted is True and v.expired is False and v.errors == ()
    assert v.expired_now is True
    # The clock is the default for `now`; 2019 is long gone.
    assert (
        validate_chain(chain, server_name=None, at=at_2019, trust=demo_trust, now=time.time()).expired_now
        is True
    )


def test_expired_at_capture_time(demo_trust: TrustStore) -> None:
    chain = model(_leaf_2019(), pki().inter)  # type: ignore[arg-type]
    v = validate_chain(chain, server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.expired is True and v.trusted is False and v.hostname_matches is True
    assert v.errors == (ERR_EXPIRED,)
    assert v.errors[0] == "certificate has expired"


def test_not_yet_valid(demo_trust: TrustStore) -> None:
    cert = pki().issue("django-devops", san_dns=("django-devops",), not_before=AT_DT + 10 * DAY)
    v = validate_chain(model(cert, pki().inter), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.expired is True and v.trusted is False and v.expired_now is False
    assert v.errors == (ERR_NOT_YET_VALID,)


def test_expired_and_unknown_issuer_both_reported() -> None:
    chain = model(_leaf_2019())  # type: ignore[arg-type]
    v = validate_chain(chain, server_name=None, at=AT, trust=load_trust_store(), now=AT)
    assert v.errors == (ERR_UNKNOWN_ISSUER, ERR_CHAIN_INCOMPLETE, ERR_EXPIRED)


# --------------------------------------------------------------------------------------------- names


def test_hostname_mismatch_message(demo_trust: TrustStore) -> None:
    p = pki()
    v = validate_chain(model(p.leaf, p.inter), server_name="django-zero", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is True and v.hostname_matches is False
    assert v.errors == (
        "hostname mismatch: asked for django-zero, certificate is for django-devops, www.django-devops, 127.0.0.1",
    )


def test_no_server_name_leaves_name_unknown(demo_trust: TrustStore) -> None:
    p = pki()
    v = validate_chain(model(p.leaf, p.inter), server_name=None, at=AT, trust=demo_trust, now=AT)
    assert v.trusted is True and v.hostname_matches is None and v.errors == ()


def _with_names(
    dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), cn: str | None = "ignored"
) -> Certificate:
    return with_fields(model(pki().leaf)[0], san_dns=dns, san_ip=ips, common_name=cn)


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "A.Example.COM.", True),  # case and a trailing dot do not matter
        ("*.example.com", "example.com", False),  # the wildcard needs a label
        ("*.example.com", "a.b.example.com", False),  # ... exactly one label
        ("f*.example.com", "foo.example.com", False),  # no partial wildcards
        ("a.*.example.com", "a.b.example.com", False),  # only the leftmost label
        ("*.com", "example.com", False),  # not directly under a one-label suffix
        (
            "*.xn--bcher-kva.example",
            "www.bücher.example",
            True,
        ),  # IDNA: the asked name is compared as A-labels
        ("xn--bcher-kva.example", "BÜCHER.example", True),
        ("django-devops", "django-devops", True),
        ("django-devops", "django-devops.example", False),
    ],
)
def test_dns_wildcard_rules(pattern: str, host: str, expected: bool) -> None:
    ok, errors = hostname_matches(host, _with_names(dns=(pattern,)))
    assert ok is expected
    assert bool(errors) is not expected


def test_ip_names_match_ip_sans_only() -> None:
    cert = _with_names(dns=("127.0.0.1",), ips=("10.0.0.1", "2001:db8::1"))
    assert hostname_matches("10.0.0.1", cert)[0] is True
    assert hostname_matches("2001:DB8:0::1", cert)[0] is True
    assert hostname_matches("127.0.0.1", cert)[0] is False  # a DNS SAN never matches an IP address


def test_common_name_only_without_san() -> None:
    ok, errors = hostname_matches("django-devops", _with_names(cn="django-devops"))
    assert ok is True
    assert len(errors) == 1 and "no subjectAltName" in errors[0] and "CN" in errors[0]
    ok, errors = hostname_matches("django-zero", _with_names(cn="django-devops"))
    assert ok is False
    assert errors[-1] == "hostname mismatch: asked for django-zero, certificate is for CN=django-devops"


def test_common_name_ignored_when_san_present() -> None:
    ok, errors = hostname_matches("django-devops", _with_names(dns=("other",), cn="django-devops"))
    assert ok is False and errors == ["hostname mismatch: asked for django-devops, certificate is for other"]


def test_leaf_without_san_still_trusted(demo_trust: TrustStore) -> None:
    cert = pki().issue("django-devops")
    v = validate_chain(model(cert, pki().inter), server_name="django-devops", at=AT, trust=demo_trust, now=AT)
    assert v.trusted is True and v.hostname_matches is True
    assert len(v.errors) == 1 and v.errors[0].startswith("certificate has no subjectAltName")


# --------------------------------------------------------------------------------------------- trust store


def test_certifi_store_is_loaded_and_cached() -> None:
    first = load_trust_store()
    assert load_trust_store() is first
    assert len(first) > 100 and first.sources == ("certifi",)
    assert open(certifi.where(), "rb").read().count(b"BEGIN CERTIFICATE") >= len(first)


def test_system_bundle_is_optional() -> None:
    trust = load_trust_store(use_certifi=False, use_system=True)
    assert trust.sources in ((), ("/etc/ssl/certs/ca-certificates.crt",))


def test_empty_store_trusts_nothing() -> None:
    trust = load_trust_store(use_certifi=False)
    assert len(trust) == 0 and trust.store is None
    v = validate_chain(model(pki().leaf, pki().inter), server_name=None, at=AT, trust=trust, now=AT)
    assert v.trusted is False and v.errors == (ERR_UNKNOWN_ISSUER,)


def test_der_ca_file_bytes() -> None:
    trust = load_trust_store(ca_files=[pki().root.public_bytes(Encoding.DER)], use_certifi=False)
    assert len(trust) == 1 and trust.sources == ("<bytes>",)


def test_bad_ca_files_raise_one_line(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(TrustStoreError, match="cannot read CA file"):
        load_trust_store(ca_files=[str(tmp_path / "missing.pem")], use_certifi=False)  # type: ignore[operator]
    with pytest.raises(TrustStoreError, match="no certificate found"):
        load_trust_store(ca_files=[b"not a certificate"], use_certifi=False)
