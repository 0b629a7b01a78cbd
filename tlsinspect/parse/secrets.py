"""Secret and exposure detection in HTTP exchanges: what a passive observer can read (pure functions, sans-IO).

`DETECTORS` is a table of ``(kind, detector)``; each detector takes one `HttpExchange` and yields
``(where, value, frame)``. `exchange_exposures` runs the table over one exchange, `http_exposures` over a flow's
exchanges, and `dedupe` keeps the first of identical findings. Values are full (the writers mask them with
`tlsinspect.analysis.exposures.mask` unless ``--show-secrets``).

Why this is in parse and not in analysis: the HTTP parsers (`parse/http_conversation.py`, `parse/http2.py`)
report a connection's exposures beside its exchanges and anomalies, computed from what the parser holds while the
connection is open (header fields, URIs, and body samples cut at the parser's ``body_sample_limit``); the engine
copies them onto each Flow snapshot. The engine sits above parse and must not import analysis, so the detection
lives here. Analysis and the writers only classify and present the results (`tlsinspect.analysis.exposures`:
`SECRET_KINDS`, `CREDENTIAL_KINDS`, `PUBLIC_KINDS`, `mask`, `shown_value`, and the names a TLS handshake shows,
`tls_exposures`).

Kinds:

- ``http-basic-auth``: ``Authorization``/``Proxy-Authorization: Basic``, value the decoded ``user:password``.
- ``bearer-token``: ``Authorization: Bearer``, value the token; where says "(JWT)" when it has a JWT's shape.
- ``digest-auth``: ``Authorization: Digest``, value ``username@realm`` (the response hash is not a secret).
- ``cookie``: each ``name=value`` of a ``Cookie`` header.
- ``set-cookie``: each ``Set-Cookie`` ``name=value``; where adds "without Secure" / "without HttpOnly".
- ``password-field``: a credential-named key in a form-urlencoded, JSON or multipart body sample (``key=value``).
- ``token-in-url``: a credential-named query parameter in the request URI, ``Referer`` or ``Location``.
- ``api-key-header``: ``X-API-Key``, ``Api-Key``, ``X-Auth-Token``, ``X-Access-Token`` and friends.
- ``secret-header``: any other header whose *name* says it carries a credential (token, secret, key, auth,
  session, password, passwd, credential, signature, csrf, xsrf, jwt, otp, ...), e.g. ``X-Transfer-Token``.
  Excluded (not secrets, or reported by another kind): the headers above, ``Cookie``/``Set-Cookie``,
  ``Authorization``/``Proxy-Authorization`` with a scheme we decode, ``WWW-Authenticate``/``Proxy-Authenticate``
  (challenges), ``Sec-WebSocket-Key``/``Sec-WebSocket-Accept`` (public handshake nonces), ``Keep-Alive``,
  ``Public-Key-Pins*``, ``Authentication-Info`` and ``Sec-Fetch-*``-style metadata. An ``Authorization`` with an
  unknown scheme is reported here (value the whole header value).
- ``card-number``: 13-19 digits (spaces or dashes allowed between them), Luhn-valid, starting with 2-6 (the
  card networks' ranges; keeps millisecond timestamps out), in the URI or a body.
- ``http-body``: first 200 characters of a text-like body sample (html, json, plain, xml, form, javascript, css),
  one per message with a body; only outside TLS.
- ``http-request``: ``METHOD host path`` of every request; only outside TLS (inside TLS the observer reads none).

Where an exchange was decrypted (``inside_tls``) the secret kinds are still reported, flagged ``inside_tls``:
they are readable by anyone holding the key log.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, urlsplit

from tlsinspect.model import Exposure, HttpExchange

Hit = tuple[str, str, int | None]
"""(where, value, frame)"""
Detector = Callable[[HttpExchange], Iterator[Hit]]

BODY_PREVIEW_CHARS = 200
MAX_VALUE_CHARS = 4096
"""Values longer than this are cut (a 1 MB cookie helps nobody)."""

# Key names (lower-cased, "-" and "." read as "_") that carry a credential in a form, JSON body or query string.
SECRET_PARAM_NAMES: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "client_secret",
        "pin",
        "otp",
        "session",
        "sessionid",
        "session_id",
        "sid",
        "auth",
        "key",
        "private_key",
        "credential",
        "credentials",
        "new_password",
        "old_password",
        "current_password",
        "confirm_password",
        "password_confirmation",
        "signature",
        "sig",
        "code",
        "jwt",
        "secret_key",
        "access_key",
        "x_amz_signature",
        "x_amz_credential",
        "x_amz_security_token",
    }
)
_SECRET_PARAM_SUFFIXES = ("password", "passwd", "_token", "_secret", "_key", "apikey", "_pwd")

API_KEY_HEADERS: frozenset[str] = frozenset(
    {
        "x-api-key",
        "api-key",
        "apikey",
        "x-apikey",
        "x-auth-token",
        "x-access-token",
        "x-api-token",
        "x-functions-key",
        "ocp-apim-subscription-key",
        "x-goog-api-key",
        "private-token",
        "x-gitlab-token",
        "x-shopify-access-token",
        "x-figma-token",
        "x-vault-token",
        "x-consul-token",
        "x-nomad-token",
        "x-rundeck-auth-token",
    }
)
_SECRET_NAME_RE = re.compile(
    r"token|secret|key|auth|session|passw|passwd|pwd|credential|signature|csrf|xsrf|jwt|otp|apikey|sid\b",
    re.IGNORECASE,
)
HARMLESS_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",  # decoded by the auth detectors (unknown schemes handled there)
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "www-authenticate",
        "proxy-authenticate",
        "authentication-info",
        "proxy-authentication-info",
        "sec-websocket-key",
        "sec-websocket-accept",
        "keep-alive",
        "public-key-pins",
        "public-key-pins-report-only",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "sec-fetch-user",
        "x-content-type-options",
        "access-control-allow-headers",
        "access-control-request-headers",
        "access-control-expose-headers",
        "vary",
    }
)
_TEXT_TYPES = ("text/", "json", "xml", "x-www-form-urlencoded", "javascript", "ecmascript", "graphql")
_JWT_RE = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_CARD_RE = re.compile(rb"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_CARD_HINT_RE = re.compile(rb"[0-9](?:[ -]?[0-9]){12}")
"""Part of every `_CARD_RE` match, without the look-arounds that make the engine try every position: searched
first, it rules out most bodies 3.5x faster (4 KB of random bytes: 50 us against 180 us)."""
_DIGITS = b"0123456789"


# ----------------------------------------------------------------------------------------------- helpers


def _cap(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS]


def is_secret_param(name: str) -> bool:
    """Whether a form/query/JSON key name says it carries a credential."""
    key = name.strip().lower().replace("-", "_").replace(".", "_")
    if not key or len(key) > 64:
        return False
    return key in SECRET_PARAM_NAMES or key.endswith(_SECRET_PARAM_SUFFIXES)


def is_jwt(token: str) -> bool:
    return bool(_JWT_RE.match(token))


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _headers(ex: HttpExchange, response: bool) -> tuple[tuple[str, str], ...]:
    return ex.response_headers if response else ex.request_headers


def _side(response: bool) -> str:
    return "response" if response else "request"


def _frame(ex: HttpExchange, response: bool) -> int | None:
    if response:
        return ex.response_frame if ex.response_frame is not None else ex.frame
    return ex.frame


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    lname = name.lower()
    for n, v in headers:
        if n.lower() == lname:
            return v
    return None


def _content_type(ex: HttpExchange, response: bool) -> str:
    return (_header(_headers(ex, response), "content-type") or "").lower()


def _query_params(url: str) -> list[tuple[str, str]]:
    try:
        query = urlsplit(url).query
    except ValueError:
        query = url.partition("?")[2].partition("#")[0]
    if not query:
        return []
    return parse_qsl(query, keep_blank_values=True)[:200]


# --------------------------------------------------------------------------------------------- detectors


def detect_basic_auth(ex: HttpExchange) -> Iterator[Hit]:
    for name, value in ex.request_headers:
        if name.lower() not in ("authorization", "proxy-authorization"):
            continue
        scheme, _, cred = value.strip().partition(" ")
        if scheme.lower() != "basic":
            continue
        try:
            decoded = base64.b64decode(cred.strip() + "=" * (-len(cred.strip()) % 4), validate=False)
        except (binascii.Error, ValueError):
            yield f"request header {name} (undecodable Basic)", _cap(cred.strip()), ex.frame
            continue
        yield f"request header {name}", _cap(decoded.decode("utf-8", errors="replace")), ex.frame


def detect_bearer(ex: HttpExchange) -> Iterator[Hit]:
    for name, value in ex.request_headers:
        if name.lower() not in ("authorization", "proxy-authorization"):
            continue
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            continue
        token = token.strip()
        where = f"request header {name}" + (" (JWT)" if is_jwt(token) else "")
        yield where, _cap(token), ex.frame


_DIGEST_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def detect_digest(ex: HttpExchange) -> Iterator[Hit]:
    for name, value in ex.request_headers:
        if name.lower() not in ("authorization", "proxy-authorization"):
            continue
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "digest":
            continue
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _DIGEST_PARAM_RE.finditer(rest)
        }
        user = params.get("username", "")
        realm = params.get("realm", "")
        yield f"request header {name}", _cap(f"{user}@{realm}" if realm else user), ex.frame


def detect_unknown_auth_scheme(ex: HttpExchange) -> Iterator[Hit]:
    for name, value in ex.request_headers:
        if name.lower() not in ("authorization", "proxy-authorization"):
            continue
        scheme = value.strip().partition(" ")[0].lower()
        if scheme not in ("basic", "bearer", "digest") and value.strip():
            yield f"request header {name}", _cap(value.strip()), ex.frame


def detect_cookie(ex: HttpExchange) -> Iterator[Hit]:
    for name, value in ex.request_headers:
        if name.lower() != "cookie":
            continue
        for part in value.split(";"):
            part = part.strip()
            if part:
                yield f"request header {name}", _cap(part), ex.frame


def detect_set_cookie(ex: HttpExchange) -> Iterator[Hit]:
    frame = _frame(ex, True)
    for name, value in ex.response_headers:
        if name.lower() != "set-cookie":
            continue
        pair, _, attrs = value.partition(";")
        flags = {a.strip().partition("=")[0].strip().lower() for a in attrs.split(";")}
        missing = [
            f"without {flag}"
            for key, flag in (("secure", "Secure"), ("httponly", "HttpOnly"))
            if key not in flags
        ]
        where = f"response header {name}" + (f" ({', '.join(missing)})" if missing else "")
        yield where, _cap(pair.strip()), frame


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    text = body.decode("utf-8", errors="replace")
    return parse_qsl(text, keep_blank_values=True)[:500]


_JSON_PAIR_RE = re.compile(rb'"([^"\\]{1,64})"\s*:\s*"((?:[^"\\]|\\.){0,4096})"')


def _json_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        doc = json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        # A cut sample is not valid JSON: fall back to a "key": "value" scan.
        return [
            (k.decode("utf-8", "replace"), v.decode("utf-8", "replace"))
            for k, v in _JSON_PAIR_RE.findall(body)[:500]
        ]
    out: list[tuple[str, str]] = []
    stack: list[object] = [doc]
    steps = 0
    while stack and steps < 10_000:
        steps += 1
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, (dict, list)):
                    stack.append(v)
                elif v is not None and not isinstance(v, bool):
                    out.append((str(k), str(v)))
        elif isinstance(node, list):
            stack.extend(node)
    return out


_MULTIPART_PART_RE = re.compile(
    rb'Content-Disposition:[^\r\n]*?\bname="([^"]{1,64})"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n(.*?)\r?\n--',
    re.IGNORECASE | re.DOTALL,
)


def _multipart_pairs(body: bytes) -> list[tuple[str, str]]:
    return [
        (k.decode("utf-8", "replace"), v[:4096].decode("utf-8", "replace"))
        for k, v in _MULTIPART_PART_RE.findall(body)[:200]
    ]


def body_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Key/value pairs of a form-urlencoded, JSON or multipart body sample (by content type, then by shape)."""
    if not body:
        return []
    ct = content_type.lower()
    if "multipart/" in ct:
        return _multipart_pairs(body)
    if "json" in ct:
        return _json_pairs(body)
    if "x-www-form-urlencoded" in ct:
        return _form_pairs(body)
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        return _json_pairs(body)
    if re.match(rb"^[\w.\-\[\]%]+=[^\s]*(&[\w.\-\[\]%]+=[^\s]*)*\s*$", stripped[:4096]):
        return _form_pairs(body)
    return []


def detect_password_field(ex: HttpExchange) -> Iterator[Hit]:
    for response in (False, True):
        body = ex.response_body_sample if response else ex.request_body_sample
        for key, value in body_pairs(body, _content_type(ex, response)):
            if is_secret_param(key) and value:
                yield f"{_side(response)} body field {key}", _cap(f"{key}={value}"), _frame(ex, response)


def detect_token_in_url(ex: HttpExchange) -> Iterator[Hit]:
    sources: list[tuple[str, str, int | None]] = []
    if ex.uri:
        sources.append(("request URI", ex.uri, ex.frame))
    for name, value in ex.request_headers:
        if name.lower() == "referer":
            sources.append((f"request header {name}", value, ex.frame))
    for name, value in ex.response_headers:
        if name.lower() in ("location", "content-location"):
            sources.append((f"response header {name}", value, _frame(ex, True)))
    for where, url, frame in sources:
        for key, value in _query_params(url):
            if is_secret_param(key) and value:
                yield f"{where} query parameter {key}", _cap(f"{key}={value}"), frame


def _normalise_header(name: str) -> str:
    return name.strip().lower()


def detect_api_key_header(ex: HttpExchange) -> Iterator[Hit]:
    for response in (False, True):
        for name, value in _headers(ex, response):
            if _normalise_header(name) in API_KEY_HEADERS and value:
                yield f"{_side(response)} header {name}", _cap(value), _frame(ex, response)


def detect_secret_header(ex: HttpExchange) -> Iterator[Hit]:
    for response in (False, True):
        for name, value in _headers(ex, response):
            lname = _normalise_header(name)
            if not value or lname in API_KEY_HEADERS or lname in HARMLESS_HEADERS:
                continue
            if _SECRET_NAME_RE.search(lname.replace("_", "-")):
                yield f"{_side(response)} header {name}", _cap(value), _frame(ex, response)


def detect_card_number(ex: HttpExchange) -> Iterator[Hit]:
    sources: list[tuple[str, bytes, int | None]] = []
    if ex.uri:
        sources.append(("request URI", ex.uri.encode("utf-8", "replace"), ex.frame))
    if ex.request_body_sample:
        sources.append(("request body", ex.request_body_sample, ex.frame))
    if ex.response_body_sample:
        sources.append(("response body", ex.response_body_sample, _frame(ex, True)))
    for where, data, frame in sources:
        if len(data) - len(data.translate(None, _DIGITS)) < 13 or not _CARD_HINT_RE.search(data):
            continue  # fewer than 13 digits, or no 13 close enough together: no card number
        for m in _CARD_RE.finditer(data):
            digits = re.sub(rb"[ -]", b"", m.group(0)).decode()
            if (
                13 <= len(digits) <= 19
                and digits[0] in "23456"
                and len(set(digits)) > 1
                and luhn_valid(digits)
            ):
                yield where, digits, frame


def _is_text(ct: str) -> bool:
    return any(t in ct for t in _TEXT_TYPES)


def detect_http_body(ex: HttpExchange) -> Iterator[Hit]:
    if ex.inside_tls:
        return
    for response in (False, True):
        body = ex.response_body_sample if response else ex.request_body_sample
        if not body:
            continue
        ct = _content_type(ex, response)
        encoding = (_header(_headers(ex, response), "content-encoding") or "identity").lower().strip()
        if encoding not in ("", "identity"):
            continue
        if not ct:
            head = body[:256]
            if b"\x00" in head:
                continue
            ct = "text/plain (guessed)"
        if not _is_text(ct):
            continue
        text = body.decode("utf-8", errors="replace")[:BODY_PREVIEW_CHARS]
        yield f"{_side(response)} body ({ct.split(';')[0].strip()})", text, _frame(ex, response)


def detect_http_request(ex: HttpExchange) -> Iterator[Hit]:
    if ex.inside_tls or ex.method is None:
        return
    host = ex.host or "?"
    yield "request line", _cap(f"{ex.method} {host} {ex.uri or ''}".rstrip()), ex.frame


DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("http-request", detect_http_request),
    ("http-basic-auth", detect_basic_auth),
    ("bearer-token", detect_bearer),
    ("digest-auth", detect_digest),
    ("secret-header", detect_unknown_auth_scheme),
    ("cookie", detect_cookie),
    ("set-cookie", detect_set_cookie),
    ("api-key-header", detect_api_key_header),
    ("secret-header", detect_secret_header),
    ("token-in-url", detect_token_in_url),
    ("password-field", detect_password_field),
    ("card-number", detect_card_number),
    ("http-body", detect_http_body),
)
"""Run in this order; the output keeps it."""


def exchange_exposures(ex: HttpExchange, *, inside_tls: bool | None = None) -> tuple[Exposure, ...]:
    """Every exposure in one exchange, in `DETECTORS` order, deduplicated."""
    inside = ex.inside_tls if inside_tls is None else inside_tls
    out: list[Exposure] = []
    for kind, detector in DETECTORS:
        for where, value, frame in detector(ex):
            out.append(Exposure(kind=kind, frame=frame, where=where, value=value, inside_tls=inside))
    return dedupe(out)


def dedupe(exposures: Iterable[Exposure]) -> tuple[Exposure, ...]:
    """Keep the first of identical (kind, where, value), in order."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Exposure] = []
    for e in exposures:
        key = (e.kind, e.where, e.value)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return tuple(out)


def http_exposures(exchanges: Iterable[HttpExchange]) -> tuple[Exposure, ...]:
    """Exposures of many exchanges (one flow), deduplicated across them."""
    out: list[Exposure] = []
    for ex in exchanges:
        out.extend(exchange_exposures(ex))
    return dedupe(out)
