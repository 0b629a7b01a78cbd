"""Exposures for analysis and presentation: how findings are classified, masked and shown (pure functions).

The HTTP detectors (cookies, credentials, tokens, card numbers, bodies, request lines) and `dedupe` live in
`tlsinspect.parse.secrets`: the HTTP parsers report exposures with their results, below the engine. This
module holds what analysis and the writers need: the kind sets (`PUBLIC_KINDS`, `SECRET_KINDS`,
`CREDENTIAL_KINDS`), `mask`, `shown_value`, `redact_uri`, and `tls_exposures`, which reads the names a finished
TLS handshake shows (``sni``, ``alpn``, ``certificate-name``).

`mask(value)`: 12 characters or more keep the first two and last two ("fl****il"); 7 to 11 keep the first and
the last; 6 or fewer keep nothing ("****"). So at most 4 characters of any secret, and never more than a third of
it, are shown.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from tlsinspect.model import Exposure, TlsInfo
from tlsinspect.parse.secrets import dedupe, is_secret_param

PUBLIC_KINDS: frozenset[str] = frozenset({"sni", "alpn", "certificate-name", "http-request"})
"""Kinds whose value is a name the protocol publishes (not a secret): shown whole, never masked."""


def shown_value(kind: str, value: str, show_secrets: bool) -> str:
    """The value as the writers print it: anything but a public name is masked unless `show_secrets`, and
    credential-named query parameters inside a request line are masked too."""
    if show_secrets:
        return value
    if kind in PUBLIC_KINDS:
        return redact_uri(value) if kind == "http-request" else value
    return mask(value)


def redact_uri(uri: str) -> str:
    """`uri` with the values of credential-named query parameters masked (`?token=ab****yz`), else unchanged."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and value and is_secret_param(unquote_plus(name)):
            part = f"{name}={mask(value)}"
        parts.append(part)
    return path + sep + "&".join(parts)


def mask(value: str) -> str:
    """Hide a secret: ``"flagtheuntil"`` -> ``"fl****il"``; short values show at most one character at each end.

    Rule: >= 12 chars keep 2+2; 7..11 keep 1+1; <= 6 keep nothing ("****"); "" stays "".
    """
    n = len(value)
    if n == 0:
        return ""
    if n >= 12:
        return f"{value[:2]}****{value[-2:]}"
    if n >= 7:
        return f"{value[0]}****{value[-1]}"
    return "****"


SECRET_KINDS: frozenset[str] = frozenset(
    {
        "http-basic-auth",
        "bearer-token",
        "digest-auth",
        "cookie",
        "set-cookie",
        "password-field",
        "token-in-url",
        "api-key-header",
        "secret-header",
        "card-number",
    }
)
"""Kinds whose value is a credential or personal data (what `mask` is for)."""
CREDENTIAL_KINDS: frozenset[str] = frozenset(
    {"http-basic-auth", "bearer-token", "password-field", "token-in-url", "api-key-header", "digest-auth"}
)
"""Kinds that let the observer log in as the user (rule http.cleartext-credentials)."""


def tls_exposures(tls: TlsInfo, inside: bool = False) -> tuple[Exposure, ...]:
    """Names a TLS handshake shows: SNI, ALPN, and the leaf certificate's names when sent in cleartext.

    ``inside``: the handshake itself was carried inside another TLS session (e.g. through a decrypted proxy).
    """
    out: list[Exposure] = []
    for hello in (tls.client_hello, tls.client_hello_after_hrr):
        if hello is None:
            continue
        if hello.server_name:
            out.append(
                Exposure(
                    kind="sni",
                    frame=hello.frame,
                    where="ClientHello server_name",
                    value=hello.server_name,
                    inside_tls=inside,
                )
            )
        if hello.alpn:
            out.append(
                Exposure(
                    kind="alpn",
                    frame=hello.frame,
                    where="ClientHello application_layer_protocol_negotiation",
                    value=",".join(hello.alpn),
                    inside_tls=inside,
                )
            )
    sh = tls.server_hello
    if sh is not None and sh.alpn and tls.version != 0x0304 and sh.selected_version != 0x0304:
        # TLS 1.3 sends the selected ALPN in EncryptedExtensions: only <= 1.2 shows it in the ServerHello.
        out.append(
            Exposure(
                kind="alpn",
                frame=sh.frame,
                where="ServerHello application_layer_protocol_negotiation",
                value=sh.alpn,
                inside_tls=inside,
            )
        )
    if tls.certificates_visibility == "cleartext" and tls.certificates:
        leaf = tls.certificates[0]
        frame = next(
            (m.frame for m in tls.handshake_messages if m.msg_type == 11 and m.sender == "server"),
            sh.frame if sh is not None else None,
        )
        if leaf.common_name:
            out.append(
                Exposure(
                    kind="certificate-name",
                    frame=frame,
                    where="Certificate subject CN",
                    value=leaf.common_name,
                    inside_tls=inside,
                )
            )
        for name in leaf.san_dns:
            out.append(
                Exposure(
                    kind="certificate-name",
                    frame=frame,
                    where="Certificate subjectAltName dNSName",
                    value=name,
                    inside_tls=inside,
                )
            )
    return dedupe(out)
