"""Judge the server's certificate chain: trusted at the capture's time, name match, validity dates.

`validate_chain` is pure (no I/O, no clock: `now` is handed in): the chain comes from the capture, the roots
from a `TrustStore` built from bundles the edge read (`tlsinspect.capture.inputs.load_trust_store`). The result is a `Validation` whose `errors` are short plain strings, OpenSSL-like where natural.

Decisions:

* **Trust is decided by cryptography's verifier** (`cryptography.x509.verification`, the Web PKI profile:
  key sizes, signature algorithms, CA extensions, path length), never by hand-written path building. It is
  decided **without the name**: a name-free verifier (`build_client_verifier`) whose end-entity extension
  policy is the Web PKI default, except that a missing subjectAltName is allowed (the name check reports it)
  and the extended key usage, when present, must allow TLS server authentication (serverAuth or
  anyExtendedKeyUsage), as `build_server_verifier` would require. So `trusted` answers "does this chain lead
  to a root we trust, at the capture's time?" and `hostname_matches` answers the name question on its own;
  a mismatched name never hides whether the chain is good, and an untrusted chain still says whether the
  name matches. This works the same with and without an SNI.
* **Time**: trust is judged at `at`, the handshake's own capture time, so an old capture of a then-valid
  certificate is not "expired". `expired_now` says whether the leaf has expired since.
* **Why trust failed**: cryptography's error text is not meant for people, so the reasons are found by small
  direct checks (dates, self-signature, "is the issuer of the leaf anywhere we can see?") and only when none
  applies is cryptography's own message passed on, as "certificate rejected: ...".
* **Nothing visible, nothing said**: no certificate (TLS 1.3 without keys, none captured) gives
  `Validation()` with every field None. A leaf that cannot be decoded gives None fields and one error.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from tlsinspect.model import Certificate, Validation

__all__ = [
    "ERR_CHAIN_INCOMPLETE",
    "ERR_CHAIN_MISORDERED",
    "ERR_EXPIRED",
    "ERR_HOSTNAME_MISMATCH",
    "ERR_NOT_YET_VALID",
    "ERR_REJECTED",
    "ERR_SELF_SIGNED",
    "ERR_SELF_SIGNED_IN_CHAIN",
    "ERR_UNKNOWN_ISSUER",
    "SYSTEM_CA_BUNDLE",
    "TrustStore",
    "TrustStoreError",
    "hostname_matches",
    "validate_chain",
]

# The error strings (rules in rules_cert match on these; keep them stable).
ERR_UNKNOWN_ISSUER = "unable to get local issuer certificate"
ERR_SELF_SIGNED = "self-signed certificate"
ERR_SELF_SIGNED_IN_CHAIN = "self-signed certificate in certificate chain"
ERR_EXPIRED = "certificate has expired"
ERR_NOT_YET_VALID = "certificate is not yet valid"
ERR_HOSTNAME_MISMATCH = "hostname mismatch"
"""Prefix: "hostname mismatch: asked for X, certificate is for Y, Z"."""
ERR_CHAIN_MISORDERED = "chain misordered"
ERR_CHAIN_INCOMPLETE = "chain incomplete"
ERR_REJECTED = "certificate rejected"
"""Prefix: "certificate rejected: <cryptography's reason>" when no plainer reason was found."""
ERR_NO_SAN = "certificate has no subjectAltName"
"""Prefix: the name was checked against the subject CN instead (modern clients refuse this)."""
ERR_UNDECODABLE = "server certificate could not be decoded"

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class TrustStoreError(Exception):
    """A CA file could not be read or holds no certificate. The message is one line for a person."""


# --------------------------------------------------------------------------------------------- trust store


@dataclass(frozen=True, slots=True, eq=False)
class TrustStore:
    """The roots a chain may end at. Build it with `from_bundles` (cached; `tlsinspect.capture.inputs.load_trust_store` reads them) or `from_certificates`."""

    roots: tuple[x509.Certificate, ...]
    sources: tuple[str, ...] = ()
    """Where the roots came from ("certifi", the system bundle path, CA file paths, "<bytes>")."""

    @classmethod
    def from_bundles(
        cls, defaults: Sequence[tuple[str, bytes]] = (), ca_files: Sequence[tuple[str, bytes]] = ()
    ) -> TrustStore:
        """The roots of certificate bundles already read at the edge (`tlsinspect.capture.inputs`), as
        (label, PEM or DER bytes): the default bundles (certifi's, the system's) and extra CA files, each of
        which must hold at least one certificate. Cached per content. Raises `TrustStoreError`."""
        return _from_bundles_cached(tuple(defaults), tuple(ca_files))

    @classmethod
    def from_certificates(cls, roots: Iterable[x509.Certificate], source: str = "<given>") -> TrustStore:
        return cls(roots=tuple(roots), sources=(source,))

    def __len__(self) -> int:
        return len(self.roots)

    @property
    def store(self) -> Store | None:
        """cryptography's opaque `Store`, or None when there are no roots (cryptography refuses an empty one)."""
        return _store_for(self)

    def has_subject(self, name: x509.Name) -> bool:
        return name.public_bytes() in _subjects_for(self)

    def contains(self, cert: x509.Certificate) -> bool:
        return cert in _roots_set(self)


@lru_cache(maxsize=16)
def _store_for(trust: TrustStore) -> Store | None:
    return Store(list(trust.roots)) if trust.roots else None


@lru_cache(maxsize=16)
def _subjects_for(trust: TrustStore) -> frozenset[bytes]:
    return frozenset(root.subject.public_bytes() for root in trust.roots)


@lru_cache(maxsize=16)
def _roots_set(trust: TrustStore) -> frozenset[x509.Certificate]:
    return frozenset(trust.roots)


@lru_cache(maxsize=8)
def _from_bundles_cached(
    defaults: tuple[tuple[str, bytes], ...], ca_files: tuple[tuple[str, bytes], ...]
) -> TrustStore:
    roots: list[x509.Certificate] = []
    sources: list[str] = []
    for label, data in defaults:
        roots.extend(_parse_bundle(data))
        sources.append(label)
    for label, data in ca_files:
        found = _parse_bundle(data)
        if not found:
            raise TrustStoreError(f"no certificate found in CA file {label}")
        roots.extend(found)
        sources.append(label)
    unique = tuple(dict.fromkeys(roots))  # x509.Certificate hashes by DER
    return TrustStore(roots=unique, sources=tuple(sources))


_PEM_BLOCK = re.compile(
    rb"-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----.+?-----END (?:TRUSTED |X509 )?CERTIFICATE-----", re.S
)


def _parse_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (one by one, skipping any cryptography cannot load) or one DER."""
    if b"-----BEGIN" not in data:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # e.g. a root with a negative serial
        return _parse_pem_blocks(data)


def _parse_pem_blocks(data: bytes) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for block in _PEM_BLOCK.findall(data):
        block = block.replace(b"TRUSTED CERTIFICATE", b"CERTIFICATE").replace(
            b"X509 CERTIFICATE", b"CERTIFICATE"
        )
        try:
            out.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------------------------- validation


def validate_chain(
    certs: Sequence[Certificate],
    *,
    server_name: str | None,
    at: float,
    trust: TrustStore,
    now: float,
) -> Validation:
    """Judge a server chain (leaf first, as sent) at capture time `at` (epoch seconds).

    `server_name` is the SNI the client asked for (None: no name check, `hostname_matches` stays None).
    `now` is the analysis time for `expired_now` (the clock, read by the entry point and handed in).
    """
    if not certs:
        return Validation()
    leaf_model = certs[0]
    leaf = _load(leaf_model)
    if leaf is None:
        return Validation(errors=(ERR_UNDECODABLE,))
    sent = [leaf] + [c for c in (_load(m) for m in certs[1:]) if c is not None]
    intermediates = sent[1:]
    when = _dt.datetime.fromtimestamp(at, _dt.UTC)
    now_dt = _dt.datetime.fromtimestamp(now, _dt.UTC)

    errors: list[str] = []
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    expired = not_after < when or not_before > when
    time_errors = _time_errors(sent, when)

    reason = _verify(leaf, intermediates, trust, when)
    trusted = reason is None
    if not trusted:
        issuer_errors = _issuer_errors(sent, trust)
        if issuer_errors:
            errors.extend(issuer_errors)
        elif time_errors:
            # The dates explain it, unless the chain also fails at a time when every certificate is valid.
            retry = _verify(leaf, intermediates, trust, _inside_validity(sent, when))
            if retry is not None:
                errors.append(f"{ERR_REJECTED}: {retry}")
        else:
            errors.append(f"{ERR_REJECTED}: {reason}")
    errors.extend(time_errors)

    matches: bool | None = None
    if server_name:
        matches, name_errors = hostname_matches(server_name, leaf_model)
        errors.extend(name_errors)
    if _misordered(sent):
        errors.append(ERR_CHAIN_MISORDERED)

    return Validation(
        trusted=trusted,
        hostname_matches=matches,
        expired=expired,
        errors=tuple(dict.fromkeys(errors)),
        expired_now=not_after < now_dt,
    )


def _load(model: Certificate) -> x509.Certificate | None:
    if model.error is not None and model.error.startswith("undecodable"):
        return None
    return _load_der(model.der)


# A server sends the same chain to every client, so the same certificates come back flow after flow: they are
# loaded once, and a signature between two of them is checked once (both are pure functions of the DER bytes).
@lru_cache(maxsize=1024)
def _load_der(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        # cryptography warns about peer mistakes (a negative serial): facts about the capture, not our code.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return x509.load_der_x509_certificate(der)
        except Exception:  # any failure to load is "undecodable", never a crash
            return None


def _server_auth_eku(policy: Policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    if eku is None:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
        raise ValueError("extended key usage does not allow TLS server authentication")


@lru_cache(maxsize=1)
def _ee_policy() -> ExtensionPolicy:
    return (
        ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_auth_eku)
    )


def _verify(
    leaf: x509.Certificate, intermediates: list[x509.Certificate], trust: TrustStore, when: _dt.datetime
) -> str | None:
    """None when the chain verifies at `when`, else cryptography's reason (one line, without the repr)."""
    store = trust.store
    if store is None:
        return "no trusted roots loaded"
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(when)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        text = str(exc).removeprefix("validation failed: ")
        return re.sub(r"\s*\(encountered processing <.*$", "", text, flags=re.S)
    return None


@lru_cache(maxsize=4096)
def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)


def _issuer_errors(sent: list[x509.Certificate], trust: TrustStore) -> list[str]:
    """Why the chain does not reach a root, in OpenSSL's words, from direct checks (no path building)."""
    leaf = sent[0]
    if _self_signed(leaf):
        return [] if trust.contains(leaf) else [ERR_SELF_SIGNED]
    if any(_self_signed(c) and not trust.contains(c) for c in sent[1:]):
        return [ERR_SELF_SIGNED_IN_CHAIN]
    errors: list[str] = []
    for index, cert in enumerate(sent):
        if _self_signed(cert):
            continue
        known = trust.has_subject(cert.issuer) or any(
            _issued_by(cert, other) for other in sent if other is not cert
        )
        if not known:
            errors.append(ERR_UNKNOWN_ISSUER)
            if index == 0:
                # The leaf's issuer is neither sent nor a root we know: the server did not send its intermediate
                # (or the CA that issued the leaf directly is unknown here).
                errors.append(ERR_CHAIN_INCOMPLETE)
            break
    return errors


def _time_errors(sent: list[x509.Certificate], when: _dt.datetime) -> list[str]:
    errors: list[str] = []
    for index, cert in enumerate(sent):
        what = "" if index == 0 else f" (chain certificate {index}: {cert.subject.rfc4514_string()})"
        if cert.not_valid_after_utc < when:
            errors.append(ERR_EXPIRED + what)
        elif cert.not_valid_before_utc > when:
            errors.append(ERR_NOT_YET_VALID + what)
    return errors


def _inside_validity(sent: list[x509.Certificate], when: _dt.datetime) -> _dt.datetime:
    """A time at which every sent certificate is valid (or `when` if there is none)."""
    start = max(c.not_valid_before_utc for c in sent)
    end = min(c.not_valid_after_utc for c in sent)
    return start + (end - start) / 2 if start <= end else when


def _misordered(sent: list[x509.Certificate]) -> bool:
    """Certificate i+1 is not the issuer of certificate i while a later one is (RFC 8446 4.4.2, RFC 5246 7.4.2)."""
    for i in range(len(sent) - 1):
        if _issued_by(sent[i], sent[i + 1]):
            continue
        if any(_issued_by(sent[i], later) for later in sent[i + 2 :]):
            return True
    return False


# --------------------------------------------------------------------------------------------- names


def hostname_matches(server_name: str, leaf: Certificate) -> tuple[bool, list[str]]:
    """RFC 6125 match of the asked-for name against the leaf; returns (matches, errors).

    DNS names match SAN dNSName entries (case-insensitive, IDNA A-labels, a trailing dot ignored; a wildcard
    only as the whole leftmost label, matching exactly one label, and not directly under a public suffix-like
    single label such as "*.com"). IP literals match SAN iPAddress entries only. The subject CN is used only
    when the certificate has no SAN at all, and the errors then say so.
    """
    asked = server_name.strip()
    ip = _parse_ip(asked)
    has_san = bool(leaf.san_dns or leaf.san_ip)
    errors: list[str] = []
    if has_san:
        if ip is not None:
            ok = any(_parse_ip(s) == ip for s in leaf.san_ip)
        else:
            host = _normalise(asked)
            ok = any(_dns_match(host, pattern) for pattern in leaf.san_dns)
        names = list(leaf.san_dns) + list(leaf.san_ip)
    else:
        cn = leaf.common_name
        errors.append(f"{ERR_NO_SAN}: name checked against the subject CN, which modern clients refuse")
        if cn is None:
            ok = False
        elif ip is not None:
            ok = _parse_ip(cn) == ip
        else:
            ok = _dns_match(_normalise(asked), cn)
        names = [f"CN={cn}" if cn is not None else "no name at all"]
    if not ok:
        errors.append(
            f"{ERR_HOSTNAME_MISMATCH}: asked for {server_name}, certificate is for {', '.join(names)}"
        )
    return ok, errors


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _normalise(name: str) -> str:
    name = name.rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return name


def _dns_match(host: str, pattern: str) -> bool:
    pattern = _normalise(pattern)
    if not host or not pattern:
        return False
    if "*" not in pattern:
        return host == pattern
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False  # partial wildcard ("f*.x.com"), wildcard not leftmost, or "*.com"
    head, _, host_rest = host.partition(".")
    return bool(head) and host_rest == rest
