"""tlsinspect.present.values: masking decisions, tones and the words for wire codes."""

from __future__ import annotations

import pytest

from tlsinspect.analysis.exposures import shown_value
from tlsinspect.model import SEVERITIES
from tlsinspect.present.values import (
    Reveal,
    Shown,
    Tone,
    alert_label,
    exposure_value,
    group_label,
    oneline,
    rfc3339,
    severity_tone,
    suite_label,
    uri_value,
    version_label,
)

SECRET = "correct-horse-battery"


def test_secret_kinds_are_masked_unless_asked() -> None:
    masked = exposure_value("password-field", f"password={SECRET}", False)
    assert masked.reveal is Reveal.MASKED and masked.masked
    assert SECRET not in masked.text
    assert masked.raw == f"password={SECRET}"
    shown = exposure_value("password-field", f"password={SECRET}", True)
    assert shown.reveal is Reveal.REVEALED and not shown.masked
    assert shown.text == shown.raw == f"password={SECRET}"


@pytest.mark.parametrize("kind", ["sni", "alpn", "certificate-name"])
def test_public_kinds_are_shown_whole(kind: str) -> None:
    for show in (False, True):
        v = exposure_value(kind, "shop.lab.test", show)
        assert (v.text, v.reveal) == ("shop.lab.test", Reveal.PUBLIC)


def test_request_line_masks_credential_parameters_only() -> None:
    line = "GET api.lab.test /export?format=csv&token=exp-7d2c9a41e8b3"
    v = exposure_value("http-request", line, False)
    assert v.reveal is Reveal.MASKED
    assert "exp-7d2c9a41e8b3" not in v.text and "format=csv" in v.text
    assert exposure_value("http-request", line, True) == Shown(line, Reveal.REVEALED, line)
    plain = exposure_value("http-request", "GET a /x?id=7", False)
    assert (plain.text, plain.reveal) == ("GET a /x?id=7", Reveal.PUBLIC)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("cookie", "session=abc123456789"),
        ("http-request", "GET h /p?token=abcdefgh"),
        ("sni", "a.test"),
        ("x", ""),
    ],
)
@pytest.mark.parametrize("show", [False, True])
def test_text_is_what_the_writers_always_printed(kind: str, value: str, show: bool) -> None:
    assert exposure_value(kind, value, show).text == shown_value(kind, value, show)


def test_uri_value() -> None:
    assert uri_value("/a?password=hunter22&x=1", False).text == "/a?password=h****2&x=1"
    assert uri_value("/a?password=hunter22", True).reveal is Reveal.REVEALED
    assert uri_value("/a", False).reveal is Reveal.PUBLIC


def test_raw_value_stays_out_of_repr() -> None:
    v = exposure_value("bearer-token", "eyJhbGciOiJIUzI1NiJ9.e30.sig-very-secret", False)
    assert "sig-very-secret" not in repr(v)


def test_oneline_escapes_and_cuts() -> None:
    assert oneline("a\r\nb\tc\x00\x7f") == "a\\r\\nb\\tc\\x00\\x7f"
    assert oneline("x" * 200) == "x" * 159 + "…"
    assert oneline("x" * 160) == "x" * 160
    assert oneline("abcdef", limit=4) == "abc…"


def test_code_labels() -> None:
    assert version_label(0x0304) == "TLS 1.3"
    assert version_label(0x7F00) == "0x7f00"
    assert version_label(None) is None
    assert suite_label(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert suite_label(0xFEFE) == "0xfefe"
    assert suite_label(None) is None
    assert group_label(29) == "x25519"
    assert group_label(0xFFF0) == str(0xFFF0)
    assert alert_label(None, True) == "encrypted alert"
    assert alert_label(40, False) == "handshake_failure"
    assert alert_label(None, False) == "close_notify"  # an unread description reads as 0, as it always did


def test_rfc3339() -> None:
    assert rfc3339(None) is None
    assert rfc3339(0.0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1764664876.6286) == "2025-12-02T08:41:16.6286Z"


def test_every_severity_has_a_tone() -> None:
    assert [severity_tone(s) for s in SEVERITIES] == [
        Tone.INFO,
        Tone.LOW,
        Tone.MEDIUM,
        Tone.HIGH,
        Tone.CRITICAL,
    ]
    assert severity_tone("weird") is None
