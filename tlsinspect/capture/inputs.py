"""Files the tool reads besides captures, read here at the edge and handed in as values: key logs (whole, or
followed as they grow) and the certificate bundles of the trust store. Nothing below this layer opens a file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tlsinspect.analysis.validation import SYSTEM_CA_BUNDLE, TrustStore, TrustStoreError
from tlsinspect.parse.keylog import KeyLog


def read_keylog(path: str | os.PathLike[str]) -> KeyLog:
    """Read and parse a key log file. Raises OSError (the caller reports it in one line)."""
    with open(path, "rb") as f:
        return KeyLog.parse(f.read())


def load_trust_store(
    ca_files: Sequence[str | os.PathLike[str] | bytes] = (),
    *,
    use_certifi: bool = True,
    use_system: bool = False,
) -> TrustStore:
    """Read the roots a chain may end at: certifi's Mozilla bundle, the system bundle (if asked and present),
    extra CA files (paths to PEM or DER, or their bytes, for private and demo CAs). Raises OSError for a CA file
    that cannot be read and `TrustStoreError` for one that holds no certificate."""
    defaults: list[tuple[str, bytes]] = []
    if use_certifi:
        import certifi

        defaults.append(("certifi", Path(certifi.where()).read_bytes()))
    if use_system and os.path.isfile(SYSTEM_CA_BUNDLE):
        defaults.append((SYSTEM_CA_BUNDLE, Path(SYSTEM_CA_BUNDLE).read_bytes()))
    extra: list[tuple[str, bytes]] = []
    for item in ca_files:
        if isinstance(item, bytes):
            extra.append(("<bytes>", item))
            continue
        try:
            extra.append((os.fspath(item), Path(item).read_bytes()))
        except OSError as exc:
            raise TrustStoreError(f"cannot read CA file {os.fspath(item)}: {exc.strerror or exc}") from exc
    return TrustStore.from_bundles(defaults, extra)


class KeyLogFollower:
    """Read a key log file as it grows: each `poll()` returns the complete new lines (bytes) since the last one.

    A file that shrinks (rewritten) is read again from its start; a missing file is not an error (it may appear
    later). A partial last line waits for its newline.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self.lines = 0

    def poll(self) -> bytes:
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return b""
        if size < self.offset:
            self.offset = 0
            self._partial = b""
        if size == self.offset:
            return b""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(size - self.offset)
        except OSError:
            return b""
        self.offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        done = data[:cut]
        self.lines += done.count(b"\n")
        return done
