"""The data model every consumer reads: one frozen `Flow` per connection.

The engine builds these from mutable per-connection state and hands out frozen snapshots, so the text report,
the JSON writer, the findings and (later) the TUI all read the same values and none can change them: everything
reachable from a `Flow` is immutable (frozen dataclasses, tuples, `FrozenDict`, scalars; a test walks the graph). Wire codes
stay integers here (cipher suites, groups, extension types); names are looked up at display time from
`tlsinspect.registry`. Bytes stay bytes; the JSON writer turns them into lowercase hex.

Nothing here does I/O and nothing here knows about the capture source.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn, TypeVar

_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenDict(dict[_K, _V]):
    """A read-only dict: the mapping type of the model (decoded TLS extension values).

    Everything reachable from a `Flow` is immutable, because flows are shared: between the writers, with a live
    view while the engine goes on reading, and between flows themselves (decoded extensions are cached and
    reused across connections). A `dict` subclass, so reading it costs what reading a dict costs and it compares
    equal to a dict with the same items; its mutators raise `TypeError`. Construction is dict's own (C, no Python
    call: unpickling a flow builds many of these); like any dict subclass it can still be changed through dict's
    methods called on it directly (`dict.update(d, ...)`, `d.__init__(...)`): never do that. It is hashable,
    and pickles as its class and a plain dict of its items (the default dict-subclass pickle would set the items
    one by one). Build nested values with `freeze`.

    The JSON writer does not see it: with `OPT_PASSTHROUGH_SUBCLASS` orjson hands any dict subclass to its
    `default` (`str`), which would write the repr as a string; writers read `Extension.value`, a plain copy.
    """

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = __delitem__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> FrozenDict[Any, Any]:
        return cls(dict.fromkeys(iterable, value))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce_ex__(self, protocol: Any) -> tuple[type[FrozenDict[_K, _V]], tuple[dict[_K, _V]]]:
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def freeze(value: Any) -> Any:
    """A JSON-like value made immutable all the way down: dicts become `FrozenDict`, lists and tuples tuples,
    sets frozensets, bytearrays bytes; scalars are returned as they are."""
    t = type(value)
    if t is dict or t is FrozenDict:
        if _NESTED_IN.isdisjoint(map(type, value.values())):
            key = (tuple(value.items()), tuple(map(type, value.values())))  # True == 1, but not in JSON
            try:
                found = _FLAT.get(key)
            except TypeError:  # an unhashable scalar-like value: not shared
                return FrozenDict(value)
            if found is None:
                if len(_FLAT) >= _FLAT_MAX:
                    _FLAT.clear()
                found = _FLAT[key] = FrozenDict(value)
            return found
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if t is list or t is tuple:
        return tuple([freeze(v) for v in value])
    if t is set or t is frozenset:
        return frozenset([freeze(v) for v in value])
    if t is bytearray:
        return bytes(value)
    return value


_NESTED_IN = frozenset({dict, FrozenDict, list, tuple, set, frozenset, bytearray})
_FLAT: dict[tuple[tuple[Any, ...], tuple[type, ...]], FrozenDict[Any, Any]] = {}
_FLAT_MAX = 4096
"""Flat mappings already frozen, by their items: the same small values ({"length": 0}, a key share's group and
size, a QUIC transport parameter) recur in most connections, and one shared object is pickled once per batch
of flows instead of once per flow. Being immutable, a FrozenDict can be shared freely."""


def thaw(value: Any) -> Any:
    """A `freeze`d value with every `FrozenDict` copied into a new plain dict: what the JSON writer serialises
    (orjson writes a dict subclass through its `default`, as a string). Tuples stay tuples, which both orjson
    and `json` write as arrays, as they write lists: a tuple with no dict inside is returned as it is (it is
    immutable), one with dicts inside is rebuilt around their copies."""
    t = type(value)
    if t is FrozenDict:
        if _NESTED.isdisjoint(map(type, value.values())):  # flat (most values): copied without a Python loop
            return dict(value)
        return {k: thaw(v) for k, v in value.items()}
    if t is tuple:
        if _NESTED.isdisjoint(map(type, value)):
            return value
        return tuple([thaw(v) for v in value])
    return value


_NESTED = frozenset({FrozenDict, tuple})


def _positional_pickle(cls: type[_T]) -> type[_T]:
    """Pickle instances as a tuple of field values in field order.

    `read --jobs N` ships every flow from a worker to the parent as a pickle. The state functions that
    `dataclass(slots=True, frozen=True)` generates call `dataclasses.fields()` for every object, which made
    unpickling the most expensive part of the parent's work; these use an attribute getter and the slots'
    own setters, made once per class.
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    get = operator.attrgetter(*names)
    setters = tuple(getattr(cls, n).__set__ for n in names)
    single = len(names) == 1

    def __getstate__(self: Any) -> tuple[Any, ...]:
        return (get(self),) if single else get(self)

    def __setstate__(self: Any, state: tuple[Any, ...]) -> None:
        for put, value in zip(setters, state, strict=True):
            put(self, value)

    setattr(cls, "__getstate__", __getstate__)  # noqa: B010 - replaces the generated method
    setattr(cls, "__setstate__", __setstate__)  # noqa: B010
    _FIELD_INDEX[cls] = {n: i for i, n in enumerate(names)}
    return cls


_FIELD_INDEX: dict[type, dict[str, int]] = {}


def evolve(obj: _T, **changes: Any) -> _T:
    """A copy of a frozen model object with some fields changed: `dataclasses.replace` without re-running
    `__init__` (these classes have no `__post_init__` and every field is an init field), about ten times
    cheaper. It runs for every flow several times (the analyser, the `--jobs` merge, cross-flow findings)."""
    cls = type(obj)
    index = _FIELD_INDEX[cls]
    state: list[Any] = list(getattr(obj, "__getstate__")())  # noqa: B009 - set by _positional_pickle
    for name, value in changes.items():
        state[index[name]] = value  # a KeyError names an unknown field, as replace's TypeError would
    new = object.__new__(cls)
    getattr(new, "__setstate__")(state)  # noqa: B009
    return new


# Severity order used by findings and `--fail-on`.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """Something malformed or missing in the capture, recorded instead of raised."""

    layer: str
    """Where it was found: "capture", "link", "ip", "tcp", "tls", "x509", "http", "quic", "decrypt"."""
    kind: str
    """Stable kebab-case id, e.g. "tcp-gap", "tls-record-malformed"."""
    message: str
    """One line for a person."""
    frame: int | None = None


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Extension:
    """One TLS extension as it stood on the wire, with its decoded value."""

    type: int
    data: bytes
    """The raw extension_data (without type and length)."""
    decoded: Any = None
    """The decoded value, immutable (`freeze`: FrozenDict/tuple/str/int/bool/None), or None when there is
    nothing to decode. An extension whose body is malformed has {"error": "..."} here. Extensions are shared
    between flows (the parser caches them), which is why this is frozen."""

    @property
    def value(self) -> Any:
        """The decoded value with plain dicts (`thaw`: new ones at each read, the tuples as they are): what the
        JSON writer serialises. Code that only reads the value should read `decoded`."""
        return thaw(self.decoded)


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """A ClientHello (or an SSLv2-compatible CLIENT-HELLO, `sslv2=True`)."""

    frame: int
    record_version: int
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[Extension, ...]
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    supported_versions: tuple[int, ...] = ()
    supported_groups: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    key_share_groups: tuple[int, ...] = ()
    psk_key_exchange_modes: tuple[int, ...] = ()
    has_extensions_block: bool = True
    """False when the hello ended after compression_methods (no extensions length at all)."""
    sslv2: bool = False
    ja3_full: str = ""
    ja3: str = ""
    ja4: str = ""
    ja4_r: str = ""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHello:
    """A ServerHello. A HelloRetryRequest is a ServerHello with the special random (see `is_hrr`)."""

    frame: int
    record_version: int
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...]
    selected_version: int | None = None
    alpn: str | None = None
    selected_group: int | None = None
    """key_share group (TLS 1.3) or, in an HRR, the group asked for."""
    is_hrr: bool = False
    has_extensions_block: bool = True
    ja3s_full: str = ""
    ja3s: str = ""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate:
    """One X.509 certificate, decoded into the contract's fields."""

    der: bytes = field(repr=False)
    subject: str
    issuer: str
    serial: str
    """Lowercase hex, no separators."""
    not_before: str
    not_after: str
    """RFC 3339 UTC."""
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    sha256: str
    key_type: str
    """"RSA", "EC", "Ed25519", "Ed448", "DSA", "DH", or the OID / "unknown"."""
    key_bits: int | None
    signature_algorithm: str
    """A name such as "sha256WithRSAEncryption", or the dotted OID when cryptography has no name."""
    is_ca: bool
    self_signed: bool
    common_name: str | None = None
    not_before_ts: float | None = None
    not_after_ts: float | None = None
    signature_hash: str | None = None
    """"sha1", "sha256", ... or None."""
    error: str | None = None
    """Set when the DER could not be decoded; the other fields are then placeholders."""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Validation:
    """Chain and name checks on the server certificate chain (null = unknown)."""

    trusted: bool | None = None
    hostname_matches: bool | None = None
    expired: bool | None = None
    errors: tuple[str, ...] = ()
    expired_now: bool | None = None
    """Whether the leaf has expired by the time of analysis (as opposed to the capture's time)."""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    frame: int
    sender: str
    """"client" or "server" (written as `from` in JSON)."""
    level: int | None
    description: int | None
    encrypted: bool


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeMessage:
    """One handshake message seen (type and size), in order, for the message ladder."""

    frame: int
    sender: str
    msg_type: int
    length: int
    encrypted: bool = False
    decrypted: bool = False


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class KeyExchange:
    """What the ServerKeyExchange (TLS <= 1.2) says about the key exchange."""

    frame: int
    kind: str
    """"ecdhe", "dhe", "rsa-export", "unknown"."""
    group: int | None = None
    dh_bits: int | None = None
    signature_algorithm: int | None = None


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class TlsInfo:
    """Everything the TLS layer of one connection showed."""

    client_hello: ClientHello | None = None
    hello_retry_request: ServerHello | None = None
    client_hello_after_hrr: ClientHello | None = None
    server_hello: ServerHello | None = None
    version: int | None = None
    cipher_suite: int | None = None
    certificates: tuple[Certificate, ...] = ()
    certificates_visibility: str = "none"
    client_certificates: tuple[Certificate, ...] = ()
    validation: Validation = Validation()
    alerts: tuple[Alert, ...] = ()
    resumed: bool = False
    resumption: str | None = None
    """How the session was resumed: "session-id", "ticket", "psk" or None."""
    decrypted: bool = False
    decryption: str | None = None
    """Why the flow was not decrypted (or "decrypted"): a short reason string, None without a key log."""
    handshake_messages: tuple[HandshakeMessage, ...] = ()
    key_exchange: KeyExchange | None = None
    ocsp_stapled: bool = False
    session_tickets: int = 0
    certificate_requested: bool = False
    app_data_records: tuple[int, int] = (0, 0)
    """Application-data records (client, server)."""
    app_data_bytes: tuple[int, int] = (0, 0)
    """Application-data record payload bytes (client, server)."""
    change_cipher_spec: tuple[int, int] = (0, 0)
    encrypted_handshake_records: tuple[int, int] = (0, 0)


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpExchange:
    """One HTTP request and its response (either side may be missing)."""

    frame: int | None
    """Frame of the request line (or of the status line when no request was seen)."""
    method: str | None = None
    uri: str | None = None
    host: str | None = None
    version: str | None = None
    user_agent: str | None = None
    status: int | None = None
    reason: str | None = None
    inside_tls: bool = False
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    request_body_len: int = 0
    response_body_len: int = 0
    request_body_sample: bytes = b""
    response_body_sample: bytes = b""
    response_frame: int | None = None
    protocol: str = "http/1.1"
    """"http/1.0", "http/1.1", "h2", "websocket" ..."""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Exposure:
    """Something a passive observer can read on this flow."""

    kind: str
    frame: int | None
    where: str
    """Where it was seen, e.g. "ClientHello server_name", "request header Authorization"."""
    value: str
    """The full value; the writers mask it unless --show-secrets."""
    inside_tls: bool = False


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    rule: str
    severity: str
    title: str
    detail: str
    evidence: str = ""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """One connection (a TCP stream, or a QUIC/UDP connection): the unit every consumer reads."""

    id: int
    transport: str
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    first_frame: int
    last_frame: int
    first_seen: float
    last_seen: float
    """Capture timestamps, seconds since the epoch."""
    frames: int = 0
    bytes_client: int = 0
    bytes_server: int = 0
    app_protocol: str = "unknown"
    tls: TlsInfo | None = None
    http: tuple[HttpExchange, ...] = ()
    exposures: tuple[Exposure, ...] = ()
    findings: tuple[Finding, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    state: str = "open"
    """"open", "closed" (FIN/RST seen both ways or RST), "evicted" (dropped by a cap), "ended" (capture ended)."""
    syn_seen: bool = False

    @property
    def client(self) -> str:
        return format_endpoint(self.client_ip, self.client_port)

    @property
    def server(self) -> str:
        return format_endpoint(self.server_ip, self.server_port)


def format_endpoint(ip: str, port: int) -> str:
    """`198.51.100.7:443` or `[2001:db8::1]:443`, as the contract writes endpoints."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureInfo:
    """What the capture source said about itself."""

    source: str
    link_types: tuple[int, ...] = ()
    format: str = ""
    """"pcap", "pcapng", "live"."""


@_positional_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    frames: int
    bytes: int
    flows: int
    tls_flows: int
    http_flows: int
    frames_undecodable: int
    anomalies: int
    findings_by_severity: FrozenDict[str, int]
    elapsed_s: float
    frames_not_ip: int = 0
    frames_other_transport: int = 0
    frames_in_flows: int = 0
    flows_evicted: int = 0
    capture_errors: tuple[str, ...] = ()
    capture_anomalies: tuple[Anomaly, ...] = ()
