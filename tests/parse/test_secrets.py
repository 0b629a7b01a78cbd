"""tlsinspect.parse.secrets: the HTTP exposure detectors over hand-built exchanges, and dedupe."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsinspect.model import HttpExchange
from tlsinspect.parse.secrets import (
    DETECTORS,
    exchange_exposures,
    http_exposures,
    is_jwt,
    luhn_valid,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"


def ex(**kw: object) -> HttpExchange:
    base: dict[str, object] = {
        "frame": 5,
        "method": "GET",
        "uri": "/",
        "host": "shop.example",
        "response_frame": 6,
    }
    base.update(kw)
    return HttpExchange(**base)  # type: ignore[arg-type]


def found(exchange: HttpExchange) -> list[tuple[str, str, str]]:
    return [(e.kind, e.where, e.value) for e in exchange_exposures(exchange)]


def test_auth_headers() -> None:
    basic = base64.b64encode(b"bob:pa:ss").decode()
    got = found(
        ex(
            request_headers=(
                ("Authorization", f"Basic {basic}"),
                ("Proxy-Authorization", "basic " + base64.b64encode(b"proxy:pw").decode()),
            )
        )
    )
    assert ("http-basic-auth", "request header Authorization", "bob:pa:ss") in got
    assert ("http-basic-auth", "request header Proxy-Authorization", "proxy:pw") in got
    got = found(ex(request_headers=(("Authorization", f"Bearer {JWT}"),)))
    assert ("bearer-token", "request header Authorization (JWT)", JWT) in got
    got = found(ex(request_headers=(("Authorization", "Bearer opaque-token-123"),)))
    assert ("bearer-token", "request header Authorization", "opaque-token-123") in got
    digest = 'Digest username="carol", realm="vault", nonce="n", uri="/", response="abc"'
    assert ("digest-auth", "request header Authorization", "carol@vault") in found(
        ex(request_headers=(("Authorization", digest),))
    )
    assert ("secret-header", "request header Authorization", "NTLM TlRMTVNTUAAB") in found(
        ex(request_headers=(("Authorization", "NTLM TlRMTVNTUAAB"),))
    )


def test_cookies_and_set_cookie_flags() -> None:
    got = found(
        ex(
            request_headers=(("Cookie", "a=1; sid=xyz"),),
            response_headers=(
                ("Set-Cookie", "sid=new; Path=/; HttpOnly"),
                ("Set-Cookie", "t=2; Secure; HttpOnly"),
                ("Set-Cookie", "u=3"),
            ),
        )
    )
    assert ("cookie", "request header Cookie", "a=1") in got
    assert ("cookie", "request header Cookie", "sid=xyz") in got
    assert ("set-cookie", "response header Set-Cookie (without Secure)", "sid=new") in got
    assert ("set-cookie", "response header Set-Cookie", "t=2") in got
    assert ("set-cookie", "response header Set-Cookie (without Secure, without HttpOnly)", "u=3") in got
    frames = {
        e.value: e.frame
        for e in exchange_exposures(
            ex(request_headers=(("Cookie", "a=1"),), response_headers=(("Set-Cookie", "b=2"),))
        )
    }
    assert {k: v for k, v in frames.items() if "=" in k} == {"a=1": 5, "b=2": 6}


def test_password_fields_form_json_multipart() -> None:
    form = ex(
        method="POST",
        request_headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        request_body_sample=b"user=al&password=p%40ss&remember=1",
    )
    assert ("password-field", "request body field password", "password=p@ss") in found(form)
    js = ex(
        method="POST",
        request_headers=(("Content-Type", "application/json"),),
        request_body_sample=b'{"login": {"user": "al", "client_secret": "cs-1"}, "pin": 1234}',
    )
    got = found(js)
    assert ("password-field", "request body field client_secret", "client_secret=cs-1") in got
    assert ("password-field", "request body field pin", "pin=1234") in got
    cut = ex(
        method="POST",
        request_headers=(("Content-Type", "application/json"),),
        request_body_sample=b'{"api_key": "k-99", "data": "trunc',
    )
    assert ("password-field", "request body field api_key", "api_key=k-99") in found(cut)
    mp = ex(
        method="POST",
        request_headers=(("Content-Type", "multipart/form-data; boundary=XX"),),
        request_body_sample=b'--XX\r\nContent-Disposition: form-data; name="passwd"\r\n\r\nmp-secret\r\n--XX--\r\n',
    )
    assert ("password-field", "request body field passwd", "passwd=mp-secret") in found(mp)
    resp = ex(
        response_headers=(("Content-Type", "application/json"),),
        response_body_sample=b'{"access_token":"at-123"}',
    )
    assert ("password-field", "response body field access_token", "access_token=at-123") in found(resp)
    assert not [
        k for k, _, _ in found(ex(request_body_sample=b"user=al&theme=dark")) if k == "password-field"
    ]


def test_token_in_url_referer_location() -> None:
    got = found(
        ex(
            uri="/cb?code=abc&state=1&api_key=K1",
            request_headers=(("Referer", "http://a/?session_id=S1"),),
            response_headers=(
                ("Location", "https://b/x#?no=1&token=T9"),
                ("Location", "/next?access_token=AT"),
            ),
        )
    )
    assert ("token-in-url", "request URI query parameter code", "code=abc") in got
    assert ("token-in-url", "request URI query parameter api_key", "api_key=K1") in got
    assert ("token-in-url", "request header Referer query parameter session_id", "session_id=S1") in got
    assert ("token-in-url", "response header Location query parameter access_token", "access_token=AT") in got
    assert not any(v == "state=1" for _, _, v in got)


def test_api_key_and_secret_headers() -> None:
    got = found(
        ex(
            request_headers=(
                ("X-API-Key", "ak-1"),
                ("X-Auth-Token", "xat"),
                ("X-Transfer-Token", "tt-1"),
                ("X-Session-Id", "sess"),
                ("X-CSRF-Token", "csrf"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Accept", "*/*"),
                ("Keep-Alive", "timeout=5"),
            ),
            response_headers=(("X-Amz-Signature", "sig"), ("WWW-Authenticate", "Basic")),
        )
    )
    kinds = {(k, v) for k, _, v in got}
    assert ("api-key-header", "ak-1") in kinds and ("api-key-header", "xat") in kinds
    assert {
        ("secret-header", "tt-1"),
        ("secret-header", "sess"),
        ("secret-header", "csrf"),
        ("secret-header", "sig"),
    } <= kinds
    assert not any("dGhl" in v or v in ("*/*", "timeout=5", "Basic") for _, v in kinds)


def test_card_numbers() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    got = found(
        ex(
            method="POST",
            uri="/pay?c=4111-1111-1111-1111",
            request_body_sample=b"card=5500 0000 0000 0004&ts=1700000000000",
        )
    )
    cards = [(w, v) for k, w, v in got if k == "card-number"]
    assert ("request URI", "4111111111111111") in cards
    assert ("request body", "5500000000000004") in cards
    assert len(cards) == 2  # the millisecond timestamp is not a card


def test_http_body_and_request_only_outside_tls() -> None:
    e = ex(
        response_headers=(("Content-Type", "text/html; charset=utf-8"),),
        response_body_sample=b"<html>" + b"a" * 500,
    )
    got = found(e)
    assert ("http-request", "request line", "GET shop.example /") in got
    body = next(v for k, w, v in got if k == "http-body")
    assert len(body) == 200 and body.startswith("<html>")
    assert [
        k
        for k, _, _ in found(
            ex(response_headers=(("Content-Type", "image/png"),), response_body_sample=b"\x89PNG")
        )
    ] == ["http-request"]
    inside = exchange_exposures(
        ex(inside_tls=True, response_body_sample=b"hello", request_headers=(("Cookie", "a=1"),))
    )
    assert [(x.kind, x.inside_tls) for x in inside] == [("cookie", True)]


def test_dedupe_across_exchanges() -> None:
    a = ex(request_headers=(("Cookie", "sid=1"),))
    b = ex(frame=9, request_headers=(("Cookie", "sid=1"),))
    cookies = [x for x in http_exposures([a, b]) if x.kind == "cookie"]
    assert len(cookies) == 1 and cookies[0].frame == 5


def test_detector_table_is_pure_and_named() -> None:
    assert {k for k, _ in DETECTORS} >= {
        "http-basic-auth",
        "bearer-token",
        "cookie",
        "set-cookie",
        "password-field",
        "token-in-url",
        "api-key-header",
        "secret-header",
        "card-number",
        "http-body",
        "http-request",
        "digest-auth",
    }
    assert is_jwt(JWT) and not is_jwt("abc.def")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(b"0123456789 -x"[c % 13] for c in b)))
def test_card_prefilter_never_hides_a_match(data: bytes) -> None:
    """The digit count and `_CARD_HINT_RE` only skip text where `_CARD_RE` finds nothing."""
    from tlsinspect.parse import secrets as ex

    if ex._CARD_RE.search(data):
        assert len(data) - len(data.translate(None, ex._DIGITS)) >= 13
        assert ex._CARD_HINT_RE.search(data)
