"""The smallest pieces of a view: a value that knows how it is masked, a styled span of text, and the words for
wire codes and times.

`Shown` is the one place the "show or mask" decision lives: it keeps the raw value (``repr=False``, so a
logged view never prints a secret), the text every front end shows, and why it looks that way (`Reveal`).
A TUI that offers "reveal this field" shows ``shown.raw`` for the one field the user asked for; everything
else keeps showing ``shown.text``.

`Tone` is a semantic word, never a colour: the text report maps it to a rich style, a TUI to a CSS class
(``.tone-exposed``), so "exposed" looks alike in both and neither decides what is exposed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from tlsinspect.analysis.exposures import PUBLIC_KINDS, mask, redact_uri
from tlsinspect.model import SEVERITIES
from tlsinspect.registry import alert_name, cipher_suite_name, group_name, version_name


class Tone(StrEnum):
    """What a piece of text means to the reader; the renderer picks the style."""

    MUTED = "muted"
    """Background facts and placeholders ("(no response)", "encrypted (TLS 1.3) ...")."""
    PUBLIC = "public"
    """A name anyone on the path reads (the SNI)."""
    PROTECTED = "protected"
    """What TLS hides from the observer."""
    EXPOSED = "exposed"
    """Readable by anyone on the path: cleartext HTTP, an exposed secret."""
    WARNING = "warning"
    """Something about the capture itself went wrong (evicted flows, read errors)."""
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


def severity_tone(severity: str) -> Tone | None:
    """The tone of a finding's severity word, or None for a severity the model does not know."""
    return Tone(severity) if severity in SEVERITIES else None


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one tone (None: plain)."""

    text: str
    tone: Tone | None = None


class Reveal(StrEnum):
    """Why a `Shown` value looks the way it does."""

    PUBLIC = "public"
    """A name the protocol publishes (SNI, ALPN, a request line without credentials): shown whole."""
    MASKED = "masked"
    """A secret (or a request line with credential parameters), shown masked."""
    REVEALED = "revealed"
    """A secret shown whole because the user asked for secrets (``show_secrets``)."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A value from the wire as the front ends show it.

    Attributes:
        text: what every front end prints.
        reveal: public, masked or revealed.
        raw: the value itself; kept out of ``repr`` so a logged view cannot leak it.
    """

    text: str
    reveal: Reveal
    raw: str = field(repr=False)

    @property
    def masked(self) -> bool:
        """Whether `text` hides part of `raw`."""
        return self.reveal is Reveal.MASKED


def exposure_value(kind: str, value: str, show_secrets: bool) -> Shown:
    """An exposure's value: public kinds whole (a request line with its credential parameters masked), any
    other kind masked unless `show_secrets`."""
    if kind == "http-request":
        return uri_value(value, show_secrets)
    if kind in PUBLIC_KINDS:
        return Shown(value, Reveal.PUBLIC, value)
    if show_secrets:
        return Shown(value, Reveal.REVEALED, value)
    return Shown(mask(value), Reveal.MASKED, value)


def uri_value(uri: str, show_secrets: bool) -> Shown:
    """A request URI: credential-named query parameters masked unless `show_secrets`."""
    redacted = redact_uri(uri)
    if redacted == uri:
        return Shown(uri, Reveal.PUBLIC, uri)
    if show_secrets:
        return Shown(uri, Reveal.REVEALED, uri)
    return Shown(redacted, Reveal.MASKED, uri)


# ----------------------------------------------------------------------------------------------- words


_CONTROL = (
    {c: f"\\x{c:02x}" for c in range(32)}
    | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}
    | {c: f"\\u{c:04x}" for c in range(0x80, 0xA0)}
    | {c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)
"""Characters that would act on a terminal instead of being shown: C0 and C1 controls (ESC starts CSI and OSC
sequences, U+009B is a one-character CSI), DEL, and the bidi marks, embeddings, overrides and isolates that
reorder what follows them. Each becomes a visible escape."""


def visible(text: str) -> str:
    """Wire text made inert for a terminal: every character of `_CONTROL` shown as an escape (the one function
    every front end passes wire text through; markup is never interpreted either, as widgets get `Text`)."""
    return text.translate(_CONTROL)


def oneline(text: str, limit: int = 160) -> str:
    """Control characters escaped and long values cut, so one wire value stays one line."""
    text = text.translate(_CONTROL)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def version_label(code: int | None) -> str | None:
    """The version's name ("TLS 1.3"), or the code in hex when the registry has no name; None for no version."""
    return None if code is None else version_name(code) or f"0x{code:04x}"


def suite_label(code: int | None) -> str | None:
    """The IANA cipher-suite name, or the code in hex; None for no suite."""
    return None if code is None else cipher_suite_name(code) or f"0x{code:04x}"


def group_label(code: int) -> str:
    """The IANA group name, or the code in decimal."""
    return group_name(code) or str(code)


def alert_label(description: int | None, encrypted: bool) -> str:
    """An alert's description word ("encrypted alert" when only the record was seen)."""
    if encrypted and description is None:
        return "encrypted alert"
    return alert_name(description or 0) or str(description)


def rfc3339(ts: float | None) -> str | None:
    """A capture time as RFC 3339 UTC with the fraction trimmed ("2025-12-02T08:41:16.62Z")."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
