"""NSS key log files (the `SSLKEYLOGFILE` format) as a lookup table: label -> client_random -> secret.

Each line is ``LABEL <client_random hex> <secret hex>``; ``#`` starts a comment. The one exception is the ``RSA``
label, whose first field is the first 8 bytes of the encrypted premaster secret, not a client random. Parsing
never raises: a malformed line is skipped and its line number recorded in `KeyLog.bad_lines`.

Works on text in memory only: the file is read at the edge (`tlsinspect.capture.inputs.read_keylog`).
"""

from __future__ import annotations

import string

KNOWN_LABELS: frozenset[str] = frozenset(
    {
        "CLIENT_RANDOM",
        "CLIENT_EARLY_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EARLY_EXPORTER_SECRET",
        "EXPORTER_SECRET",
        "RSA",
    }
)
"""The labels this module knows. Other well-formed labels are kept too (the format grows), never used here."""

MAX_LINE_CHARS = 1024
"""A longer line is malformed: the longest real line (a 48-byte secret) is under 200 characters."""

_HEX = frozenset(string.hexdigits)
_LABEL_CHARS = frozenset(string.ascii_uppercase + string.digits + "_")

# label -> (length of the first field in bytes, allowed secret lengths in bytes); None: any non-empty length.
_SHAPES: dict[str, tuple[int, frozenset[int] | None]] = {
    "CLIENT_RANDOM": (32, frozenset({48})),
    "RSA": (8, frozenset({48})),
}
_TLS13_SECRET_LENGTHS = frozenset({32, 48})
_DEFAULT_SHAPE: tuple[int, frozenset[int] | None] = (32, _TLS13_SECRET_LENGTHS)
_UNKNOWN_SHAPE: tuple[int, frozenset[int] | None] = (32, None)


def _unhex(field: str) -> bytes | None:
    if not field or len(field) % 2 or not _HEX.issuperset(field):
        return None
    return bytes.fromhex(field)


class KeyLog:
    """NSS key log (SSLKEYLOGFILE): label -> client_random -> secret.

    Labels: CLIENT_RANDOM (TLS <= 1.2 master secret), CLIENT_EARLY_TRAFFIC_SECRET,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
    SERVER_TRAFFIC_SECRET_0, EARLY_EXPORTER_SECRET, EXPORTER_SECRET. RSA lines (first 8 bytes of the encrypted
    premaster -> premaster) are parsed and kept, though nothing uses them yet. A later line for the same label and
    client random replaces an earlier one.
    """

    def __init__(self) -> None:
        self._by_random: dict[bytes, dict[str, bytes]] = {}
        self._entries = 0
        self._line_no = 0
        self.bad_lines: list[int] = []
        """1-based numbers of the lines that were not comments, blank or well-formed entries."""

    @classmethod
    def parse(cls, text: str | bytes) -> KeyLog:
        """Parse a whole key log. Comments, blank lines and CRLF line ends are fine; never raises.

        Args:
            text: The file's content; bytes are decoded as UTF-8 (invalid bytes make their line malformed).
        """
        keylog = cls()
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8", errors="replace")
        for line in text.splitlines():
            keylog.add_line(line)
        return keylog

    def add_line(self, line: str) -> bool:
        """Take one more line (e.g. from a key log that is still growing) and number it after the previous ones.

        Returns:
            True when the line held an entry and it was stored; False for a comment, a blank or a malformed line
            (the last is recorded in `bad_lines`).
        """
        self._line_no += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return False
        fields = stripped.split() if len(stripped) <= MAX_LINE_CHARS else []
        if len(fields) != 3 or not _LABEL_CHARS.issuperset(fields[0]):
            self.bad_lines.append(self._line_no)
            return False
        label = fields[0]
        if label in _SHAPES:
            shape = _SHAPES[label]
        elif label in KNOWN_LABELS:
            shape = _DEFAULT_SHAPE
        else:
            shape = _UNKNOWN_SHAPE
        key, secret = _unhex(fields[1]), _unhex(fields[2])
        first_len, secret_lens = shape
        if (
            key is None
            or secret is None
            or len(key) != first_len
            or (secret_lens is not None and len(secret) not in secret_lens)
        ):
            self.bad_lines.append(self._line_no)
            return False
        per_random = self._by_random.setdefault(key, {})
        if label not in per_random:
            self._entries += 1
        per_random[label] = secret
        return True

    def merge(self, other: KeyLog) -> None:
        """Add every entry of `other` (its entries win on conflicts) and append its `bad_lines` as they are."""
        for key, labels in other._by_random.items():
            per_random = self._by_random.setdefault(key, {})
            for label, secret in labels.items():
                if label not in per_random:
                    self._entries += 1
                per_random[label] = secret
        self.bad_lines.extend(other.bad_lines)

    def secrets(self, client_random: bytes) -> dict[str, bytes]:
        """The secrets of one connection, label -> secret; {} when the key log has none for this client random."""
        return dict(self._by_random.get(bytes(client_random), {}))

    def rsa_premaster(self, encrypted_premaster: bytes) -> bytes | None:
        """The premaster secret an RSA line gives for this encrypted premaster (its first 8 bytes are the key)."""
        return self._by_random.get(bytes(encrypted_premaster[:8]), {}).get("RSA")

    def __len__(self) -> int:
        """The number of stored entries (distinct label and client random pairs)."""
        return self._entries

    def __repr__(self) -> str:
        return f"<KeyLog entries={self._entries} connections={len(self._by_random)} bad_lines={len(self.bad_lines)}>"
