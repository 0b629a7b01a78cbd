"""The one filter language over flows: `tlsinspect read/live --filter EXPR` and the TUI's filter box (pure).

    q = compile_query("sni:*.example.com and version<1.3 and not decrypted")
    q(flow)              # True or False; q.text is the text it was compiled from
    validate("port:")    # QueryError("expected a value after 'port:'", 5): for checks as the user types

Grammar (`not` binds tightest, then `and`, then `or`; terms side by side are joined by `and`)::

    query  = [ or ]                          empty text (or only spaces) matches every flow
    or     = and { ("or" | "||") and }
    and    = unary { [ "and" | "&&" ] unary }
    unary  = ("not" | "!") unary | "(" or ")" | term
    term   = FIELD OP VALUE                  sni:shop  port>1024  version<=tls1.1  proto!=tls
           | BOOLEAN                         cleartext  (the same as cleartext:yes)
           | VALUE                           a bare word: a part of the SNI, an HTTP Host or an IP
    OP     = ":" | "=" | "!=" | "<" | "<=" | ">" | ">="    (":" and "=" mean the same)
    VALUE  = WORD | '"' { char | '\\"' | '\\\\' | '\\*' | '\\?' } '"'
    WORD   = characters up to white space, "(", ")", "&&" or "||"

`and`, `or`, `not` and field names are case-insensitive; quote a keyword ("and") to search for it as a word.
In values `*` matches any run of characters and `?` one character, ignoring case (in quotes `\\*` and `\\?` are
the characters themselves). Without wildcards `sni:` and bare words match a part of the name (`sni:shop` finds
shop.example.com), as the first filter did; the other text fields match the whole value, ignoring case
(`finding:cert.expired`, or `finding:cert.*` for the family). A bare word that reads as an IPv6 address
(`fe80::1`) is a word, not a field.

Fields (`FIELDS` holds each one's help line, an example, its aliases and the values a completer can offer):

| field | matches | operators |
|---|---|---|
| sni | the ClientHello server name (a part of it, or a pattern) | : = != |
| host | an HTTP Host (with or without its port) or either IP, whole | : = != |
| ip | either IP: an address, a network (10.0.0.0/8, 2001:db8::/32) or a pattern (10.0.*) | : = != |
| port | either port | all |
| proto, app | the application protocol: tls, http, websocket, quic, dtls, unknown | : = != |
| transport | tcp or udp | : = != |
| version | the TLS version negotiated, see below | all |
| suite | the negotiated cipher suite: a name, a pattern (*CBC*) or a code (0xc02f) | : = != |
| alpn | an ALPN protocol the client offered or the server chose | : = != |
| finding | a finding's rule id (cert.expired, cert.*) | : = != |
| severity | a finding's severity: info < low < medium < high < critical | all |
| exposure | an exposure's kind (password-field, *cookie*), inside TLS or not | : = != |
| cleartext | readable application data: HTTP or WebSocket outside TLS, or TLS with a NULL cipher | boolean |
| decrypted | TLS records were decrypted with a key log | boolean |
| resumed | the TLS session was resumed | boolean |
| state | open, closed, evicted or ended | : = != |

Versions are compared on the TLS scale: SSL 2.0 is 0.2, SSL 3.0 is 0.3, TLS 1.0 to 1.3 are 1.0 to 1.3 (drafts
of 1.3 count as 1.3), DTLS 1.0/1.2/1.3 count as 1.1/1.2/1.3 (the TLS versions they are built on) and QUIC
carries TLS 1.3. Write `1.2`, `tls1.2`, `ssl3`, `dtls1.2` or a wire code `0x0303`. A `tls` or `ssl` prefix keeps
to TLS over TCP or QUIC, a `dtls` prefix to DTLS; without a prefix both count (`version<1.2` finds DTLS 1.0
too). A wire code with `:` or `=` matches exactly that code. A flow with no negotiated version matches no
version term (so `not version>=1.2` finds it). Each term asks on its own: in `port<1024 and port>=443` either
port may satisfy either term. Booleans take `yes`, `no`, `true` or `false` (`decrypted:no`).

Errors: one `QueryError(message, position)`: the message says why in one line for a person; the position is the
0-based index in the text of what it points at (messages that name a column count from 1).
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from tlsinspect.model import SEVERITIES, Flow
from tlsinspect.registry import cipher_suite_info, cipher_suite_name

__all__ = ["FIELDS", "FieldHelp", "Query", "QueryError", "compile_query", "validate"]

Predicate = Callable[[Flow], bool]


class QueryError(ValueError):
    """A filter that cannot be compiled: `message` (one line) and `position` (0-based index into the text)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Query:
    """A compiled filter: call it with a flow. `text` is what it was compiled from."""

    text: str
    predicate: Predicate = field(repr=False, compare=False)

    def __call__(self, flow: Flow) -> bool:
        return self.predicate(flow)


def compile_query(text: str) -> Query:
    """The filter `text` as a predicate over flows. Raises `QueryError`, never anything else."""
    return Query(text, _Parser(text).parse())


def validate(text: str) -> QueryError | None:
    """The error `compile_query(text)` would raise, or None when the text is a filter (for as-you-type checks)."""
    try:
        _Parser(text).parse()
    except QueryError as e:
        return e
    return None


# ----------------------------------------------------------------------------------------------- fields


@dataclass(frozen=True, slots=True)
class FieldHelp:
    """One field of the language, for help and completion."""

    name: str
    help: str
    example: str
    aliases: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    """The values a completer can offer (empty when the values are open-ended)."""
    ordered: bool = False
    """Whether <, <=, > and >= apply."""
    boolean: bool = False
    """Whether the bare name is a term (`cleartext`)."""


PROTOCOLS = ("tls", "http", "websocket", "quic", "dtls", "unknown")
TRANSPORTS = ("tcp", "udp")
STATES = ("open", "closed", "evicted", "ended")
BOOLEANS = ("yes", "no", "true", "false")

FIELDS: tuple[FieldHelp, ...] = (
    FieldHelp("sni", "TLS server name sent by the client (a part of it, or a pattern)", "sni:*.example.com"),
    FieldHelp("host", "HTTP Host (with or without port) or either IP address", "host:shop.example"),
    FieldHelp("ip", "either IP address: an address, a CIDR network or a pattern", "ip:10.0.0.0/8"),
    FieldHelp("port", "either port number; also <, <=, >, >=", "port:443", ordered=True),
    FieldHelp("proto", "application protocol", "proto:http", aliases=("app",), values=PROTOCOLS),
    FieldHelp("transport", "transport protocol", "transport:udp", values=TRANSPORTS),
    FieldHelp(
        "version",
        "TLS version negotiated (1.2, tls1.3, dtls1.2, ssl3, 0x0303); also <, <=, >, >=",
        "version<1.2",
        values=("ssl3", "1.0", "1.1", "1.2", "1.3", "dtls1.2"),
        ordered=True,
    ),
    FieldHelp("suite", "negotiated cipher suite: name, pattern or code", "suite:*CBC*"),
    FieldHelp("alpn", "ALPN protocol offered by the client or chosen by the server", "alpn:h2"),
    FieldHelp("finding", "a finding's rule id (patterns allowed)", "finding:cert.*"),
    FieldHelp(
        "severity",
        "a finding's severity; also <, <=, >, >=",
        "severity>=high",
        values=SEVERITIES,
        ordered=True,
    ),
    FieldHelp("exposure", "an exposure's kind (patterns allowed)", "exposure:*cookie*"),
    FieldHelp(
        "cleartext",
        "readable application data: HTTP/WebSocket outside TLS, or a NULL cipher",
        "cleartext",
        values=BOOLEANS,
        boolean=True,
    ),
    FieldHelp(
        "decrypted", "TLS records decrypted with a key log", "not decrypted", values=BOOLEANS, boolean=True
    ),
    FieldHelp("resumed", "TLS session resumed", "resumed:no", values=BOOLEANS, boolean=True),
    FieldHelp("state", "how the flow ended", "state:evicted", values=STATES),
)

_BY_NAME: dict[str, FieldHelp] = {n: f for f in FIELDS for n in (f.name, *f.aliases)}


# ----------------------------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class _Value:
    """A value as typed: `text` with quotes and escapes resolved, `pattern` when it has wildcards."""

    text: str
    pos: int
    pattern: re.Pattern[str] | None = None

    def matcher(self, *, part: bool = False) -> Callable[[str], bool]:
        """A test for one string: the pattern, else equality (or containment with `part`), ignoring case."""
        if self.pattern is not None:
            pattern = self.pattern
            return lambda s: pattern.fullmatch(s) is not None
        v = self.text.lower()
        if part:
            return lambda s: v in s.lower()
        return lambda s: s.lower() == v

    def error(self, message: str) -> QueryError:
        return QueryError(message, self.pos)


def _value(chars: list[tuple[str, bool]], pos: int) -> _Value:
    """A value from (character, is-wildcard) pairs."""
    text = "".join(c for c, _ in chars)
    if not any(wild for _, wild in chars):
        return _Value(text, pos)
    parts: list[str] = []
    for c, wild in chars:
        if not wild:
            parts.append(re.escape(c))
        elif c == "?":
            parts.append(".")
        elif not parts or parts[-1] != ".*":  # consecutive stars are one (no backtracking blow-up)
            parts.append(".*")
    return _Value(text, pos, re.compile("".join(parts), re.IGNORECASE | re.DOTALL))


def _show(s: str) -> str:
    """A piece of the user's text, quoted and on one line."""
    return repr(s if len(s) <= 40 else s[:37] + "...")


# ----------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """"(", ")", "and", "or", "not", "term", "word" or "end"."""
    pos: int
    text: str = ""
    field: str = ""
    op: str = ""
    value: _Value | None = None


_FIELD_OP = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(<=|>=|!=|<|>|:|=)")
_KEYWORDS = frozenset({"and", "or", "not"})


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            yield _Token("end", n)
            return
        c = text[i]
        if c in "()":
            yield _Token(c, i, c)
            i += 1
        elif text.startswith(("&&", "||"), i):
            yield _Token("and" if c == "&" else "or", i, c * 2)
            i += 2
        elif c in "&|":
            raise QueryError(
                f"a single '{c}' at column {i + 1}: write '{c * 2}' or '{'and' if c == '&' else 'or'}'", i
            )
        elif c == "!" and not text.startswith("!=", i):
            yield _Token("not", i, "!")
            i += 1
        elif c == '"':
            value, i = _quoted(text, i)
            yield _Token("word", value.pos, text[value.pos : i], value=value)
        else:
            i = yield from _word_or_term(text, i)


def _word_or_term(text: str, start: int) -> Generator[_Token, None, int]:
    """The term, keyword or bare word at `start` (yielded); returns the index after it."""
    end = _word_end(text, start)
    word = text[start:end]
    m = _FIELD_OP.match(text, start, end)
    if m is None or (m.group(1).lower() not in _BY_NAME and m.group(2) == ":" and _is_ip(word)):
        lower = word.lower()
        if lower in _KEYWORDS:
            yield _Token(lower, start, word)
        elif lower in _BY_NAME and _BY_NAME[lower].boolean:
            yield _Token("term", start, word, lower, "=", _Value("yes", start))
        else:
            yield _Token("word", start, word, value=_value(_unquoted(word), start))
        return end
    name, op, j = m.group(1).lower(), m.group(2), m.end()
    if name not in _BY_NAME:
        raise QueryError(_unknown_field(m.group(1)), start)
    if j < len(text) and text[j] == '"':
        value, end = _quoted(text, j)
    else:
        end = _word_end(text, j)
        if end == j:
            raise QueryError(f"expected a value after {_show(m.group(0))}", j)
        value = _value(_unquoted(text[j:end]), j)
    yield _Token("term", start, text[start:end], name, op, value)
    return end


def _unquoted(word: str) -> list[tuple[str, bool]]:
    return [(c, c in "*?") for c in word]


def _word_end(text: str, i: int) -> int:
    n = len(text)
    while i < n and not text[i].isspace() and text[i] not in "()" and not text.startswith(("&&", "||"), i):
        i += 1
    return i


def _quoted(text: str, start: int) -> tuple[_Value, int]:
    """The quoted value opening at `start` and the index after its closing quote."""
    chars: list[tuple[str, bool]] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return _value(chars, start), i + 1
        if c == "\\" and i + 1 < n and text[i + 1] in '"\\*?':
            chars.append((text[i + 1], False))
            i += 2
            continue
        chars.append((c, c in "*?"))
        i += 1
    raise QueryError(f"unterminated quote at column {start + 1}", start)


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


def _unknown_field(name: str) -> str:
    import difflib

    names = [f.name for f in FIELDS]
    close = difflib.get_close_matches(name.lower(), list(_BY_NAME), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown field {_show(name)} ({hint}fields: {', '.join(names)})"


# ----------------------------------------------------------------------------------------------- parser


MAX_DEPTH = 50
"""How deeply `not` and parentheses may nest (far beyond any filter a person writes; keeps recursion bounded)."""


class _Parser:
    """Recursive descent over `_tokens`, one token of look-ahead; terms become predicates as they are reached."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.tok = next(self.tokens)
        self.depth = 0

    def advance(self) -> _Token:
        tok, self.tok = self.tok, next(self.tokens)
        return tok

    def parse(self) -> Predicate:
        if self.tok.kind == "end":
            return lambda f: True
        pred = self.parse_or()
        if self.tok.kind == ")":
            raise QueryError(
                f"unbalanced parenthesis at column {self.tok.pos + 1}: this ')' closes nothing", self.tok.pos
            )
        return pred

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.tok.kind == "or":
            parts.append(self.operand(self.advance()))
        return _any(parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while True:
            if self.tok.kind == "and":
                parts.append(self.operand(self.advance()))
            elif self.tok.kind in ("not", "(", "term", "word"):
                parts.append(self.parse_unary())
            else:
                return _all(parts)

    def operand(self, op: _Token) -> Predicate:
        """What follows the operator token `op`, with an error that names it when nothing does."""
        if self.tok.kind in ("end", ")", "and", "or"):
            raise QueryError(f"expected a term after {_show(op.text)} at column {op.pos + 1}", self.tok.pos)
        return self.parse_and() if op.kind == "or" else self.parse_unary()

    def parse_unary(self) -> Predicate:
        tok = self.tok
        if tok.kind in ("not", "(") and self.depth >= MAX_DEPTH:
            raise QueryError(
                f"nested too deeply at column {tok.pos + 1} (at most {MAX_DEPTH} levels)", tok.pos
            )
        self.depth += 1
        try:
            return self.parse_primary(tok)
        finally:
            self.depth -= 1

    def parse_primary(self, tok: _Token) -> Predicate:
        if tok.kind == "not":
            inner = self.operand(self.advance())
            return lambda f: not inner(f)
        if tok.kind == "(":
            self.advance()
            if self.tok.kind == ")":
                raise QueryError(f"empty parentheses at column {tok.pos + 1}", tok.pos)
            if self.tok.kind == "end":
                raise QueryError(
                    f"unbalanced parenthesis at column {tok.pos + 1}: '(' is never closed", tok.pos
                )
            inner = self.parse_or()
            if self.tok.kind != ")":
                raise QueryError(
                    f"unbalanced parenthesis at column {tok.pos + 1}: '(' is never closed", tok.pos
                )
            self.advance()
            return inner
        if tok.kind == "term":
            self.advance()
            assert tok.value is not None
            return _term(tok.field, tok.op, tok.value)
        if tok.kind == "word":
            self.advance()
            assert tok.value is not None
            return _bare_word(tok.value)
        if tok.kind == ")":
            raise QueryError(
                f"unbalanced parenthesis at column {tok.pos + 1}: this ')' closes nothing", tok.pos
            )
        raise QueryError(f"{_show(tok.text)} needs a term before it (column {tok.pos + 1})", tok.pos)


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda f: all(p(f) for p in parts)


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda f: any(p(f) for p in parts)


# ----------------------------------------------------------------------------------------------- terms

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _term(name: str, op: str, value: _Value) -> Predicate:
    spec = _BY_NAME[name]
    negate = op == "!="
    op = "=" if op in (":", "!=") else op
    if op != "=" and not spec.ordered:
        raise QueryError(
            f"{spec.name} takes ':' or '=' (not {_show(op)}): it has no order", value.pos - len(op)
        )
    pred = _BUILDERS[spec.name](op, value)
    if negate:
        return lambda f: not pred(f)
    return pred


def _texts(get: Callable[[Flow], Iterator[str]], *, part: bool = False) -> Callable[[str, _Value], Predicate]:
    """A builder for a text field whose values `get` yields: true when any of them matches."""

    def build(op: str, value: _Value) -> Predicate:
        match = value.matcher(part=part)
        return lambda f: any(match(s) for s in get(f))

    return build


def _choice(
    get: Callable[[Flow], str], spec: str, values: tuple[str, ...]
) -> Callable[[str, _Value], Predicate]:
    """A builder for a field with a fixed set of values (checked unless the value is a pattern)."""

    def build(op: str, value: _Value) -> Predicate:
        if value.pattern is None and value.text.lower() not in values:
            raise value.error(f"{spec} must be one of {', '.join(values)} (not {_show(value.text)})")
        match = value.matcher()
        return lambda f: match(get(f))

    return build


def _boolean(get: Callable[[Flow], bool], spec: str) -> Callable[[str, _Value], Predicate]:
    def build(op: str, value: _Value) -> Predicate:
        v = value.text.lower()
        if v not in BOOLEANS:
            raise value.error(f"{spec} takes yes, no, true or false (not {_show(value.text)})")
        want = v in ("yes", "true")
        return lambda f: get(f) is want

    return build


def _sni(f: Flow) -> Iterator[str]:
    ch = f.tls.client_hello if f.tls is not None else None
    if ch is not None and ch.server_name:
        yield ch.server_name


def _http_hosts(f: Flow) -> Iterator[str]:
    for h in f.http:
        if h.host:
            yield h.host
            bare = _strip_port(h.host)
            if bare != h.host:
                yield bare


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.partition(":")[0] if host.count(":") == 1 else host


def _hosts(f: Flow) -> Iterator[str]:
    yield from _http_hosts(f)
    yield f.client_ip
    yield f.server_ip


def _bare_word(value: _Value) -> Predicate:
    match = value.matcher(part=True)

    def word(f: Flow) -> bool:
        return any(match(s) for s in _sni(f)) or any(match(s) for s in _hosts(f))

    return word


def _ip(op: str, value: _Value) -> Predicate:
    if value.pattern is not None:
        match = value.matcher()
        return lambda f: match(f.client_ip) or match(f.server_ip)
    try:
        net = ipaddress.ip_network(value.text, strict=False)
    except ValueError:
        raise value.error(
            f"ip must be an address, a network like 10.0.0.0/8 or a pattern like 10.0.* (not {_show(value.text)})"
        ) from None

    def within(ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in net
        except ValueError:
            return False

    return lambda f: within(f.client_ip) or within(f.server_ip)


_PORT = re.compile(r"[0-9]{1,5}")


def _port(op: str, value: _Value) -> Predicate:
    if not _PORT.fullmatch(value.text) or int(value.text) > 65535:
        raise value.error(f"port must be a number from 0 to 65535 (not {_show(value.text)})")
    port, cmp = int(value.text), _COMPARE[op]
    return lambda f: cmp(f.client_port, port) or cmp(f.server_port, port)


def version_level(code: int) -> tuple[str, tuple[int, int]] | None:
    """A wire version on the TLS scale: ("tls" or "dtls", (major, minor)), SSL 3.0 being (0, 3); None if unknown."""
    if code == 0x0002:
        return "tls", (0, 2)
    if code >> 8 == 0x03:
        minor = code & 0xFF
        return "tls", (0, 3) if minor == 0 else (1, minor - 1)
    if code >> 8 == 0x7F or code in (0x7E01, 0x7E02, 0xFB17, 0xFB1A):
        return "tls", (1, 3)
    dtls = _DTLS_LEVELS.get(code)
    return None if dtls is None else ("dtls", dtls)


_DTLS_LEVELS = {0x0100: (1, 1), 0xFEFF: (1, 1), 0xFEFD: (1, 2), 0xFEFC: (1, 3)}
_DTLS_MINORS = {0: (1, 1), 2: (1, 2), 3: (1, 3)}
_VERSION = re.compile(r"(?:(tls|ssl|dtls)[ _-]?v?)?([0-9]{1,2})(?:[._]([0-9]{1,2}))?", re.IGNORECASE)
_HEX = re.compile(r"0x([0-9a-f]{1,4})", re.IGNORECASE)
_VERSION_HELP = "version must be like 1.2, tls1.3, dtls1.2, ssl3 or 0x0303"


def _version_value(value: _Value) -> tuple[str | None, tuple[int, int]]:
    """(family or None for any, level) of a version the user wrote."""
    m = _VERSION.fullmatch(value.text.strip())
    if m is None or value.pattern is not None:
        raise value.error(f"{_VERSION_HELP} (not {_show(value.text)})")
    family, major, minor = (m.group(1) or "").lower(), int(m.group(2)), int(m.group(3) or 0)
    if family == "ssl" and major in (2, 3) and minor == 0:
        return "tls", (0, major)
    if family == "dtls" and major == 1 and minor in _DTLS_MINORS:
        return "dtls", _DTLS_MINORS[minor]
    if family == "tls" and major == 1:
        return "tls", (1, minor)
    if not family and m.group(3) is not None and (major == 1 or (major, minor) in ((0, 2), (0, 3))):
        return None, (major, minor)
    raise value.error(f"{_VERSION_HELP} (not {_show(value.text)})")


def _version_code(value: _Value, code: int) -> tuple[str | None, tuple[int, int]]:
    known = version_level(code)
    if known is None:
        raise value.error(f"unknown version code {_show(value.text)}: compare with a name like 1.2 or tls1.3")
    return known


def _version(op: str, value: _Value) -> Predicate:
    m = _HEX.fullmatch(value.text)
    if m is not None and op == "=":
        code = int(m.group(1), 16)
        return lambda f: f.tls is not None and f.tls.version == code
    family, level = _version_value(value) if m is None else _version_code(value, int(m.group(1), 16))
    cmp = _COMPARE[op]

    def version(f: Flow) -> bool:
        code = f.tls.version if f.tls is not None else None
        at = version_level(code) if code is not None else None
        return at is not None and (family is None or at[0] == family) and cmp(at[1], level)

    return version


def _suite(op: str, value: _Value) -> Predicate:
    m = _HEX.fullmatch(value.text)
    if m is not None:
        code = int(m.group(1), 16)
        return lambda f: f.tls is not None and f.tls.cipher_suite == code
    match = value.matcher()

    def suite(f: Flow) -> bool:
        code = f.tls.cipher_suite if f.tls is not None else None
        name = cipher_suite_name(code) if code is not None else None
        return name is not None and match(name)

    return suite


def _alpn(f: Flow) -> Iterator[str]:
    tls = f.tls
    if tls is not None:
        if tls.client_hello is not None:
            yield from tls.client_hello.alpn
        if tls.server_hello is not None and tls.server_hello.alpn:
            yield tls.server_hello.alpn


_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _severity(op: str, value: _Value) -> Predicate:
    rank = _RANK.get(value.text.lower())
    if rank is None:
        raise value.error(f"severity must be one of {', '.join(SEVERITIES)} (not {_show(value.text)})")
    cmp = _COMPARE[op]
    return lambda f: any(cmp(_RANK.get(x.severity, -1), rank) for x in f.findings)


def is_cleartext(f: Flow) -> bool:
    """Whether the flow carries application data anyone on the path can read: HTTP or WebSocket outside TLS, or
    TLS records under a NULL cipher."""
    if any(not h.inside_tls for h in f.http):
        return True
    tls = f.tls
    if tls is None:
        return f.app_protocol in ("http", "websocket")
    info = cipher_suite_info(tls.cipher_suite) if tls.cipher_suite is not None else None
    return info is not None and info.cipher == "NULL" and sum(tls.app_data_bytes) > 0


_BUILDERS: dict[str, Callable[[str, _Value], Predicate]] = {
    "sni": _texts(_sni, part=True),
    "host": _texts(_hosts),
    "ip": _ip,
    "port": _port,
    "proto": _choice(lambda f: f.app_protocol, "proto", PROTOCOLS),
    "transport": _choice(lambda f: f.transport, "transport", TRANSPORTS),
    "version": _version,
    "suite": _suite,
    "alpn": _texts(_alpn),
    "finding": _texts(lambda f: (x.rule for x in f.findings)),
    "severity": _severity,
    "exposure": _texts(lambda f: (e.kind for e in f.exposures)),
    "cleartext": _boolean(is_cleartext, "cleartext"),
    "decrypted": _boolean(lambda f: f.tls is not None and f.tls.decrypted, "decrypted"),
    "resumed": _boolean(lambda f: f.tls is not None and f.tls.resumed, "resumed"),
    "state": _choice(lambda f: f.state, "state", STATES),
}
assert set(_BUILDERS) == {f.name for f in FIELDS}
