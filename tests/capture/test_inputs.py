"""Files read at the edge: key logs and trust-store bundles (the layers below never open a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlsinspect.analysis.validation import TrustStoreError
from tlsinspect.capture.inputs import KeyLogFollower, load_trust_store, read_keylog

CR = "a" * 64
SAMPLE = "\n".join(
    [
        "# a comment",
        f"CLIENT_RANDOM {CR} {'11' * 48}",
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {'22' * 32}",
        "garbage line",
    ]
)


def test_read_keylog(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text(SAMPLE)
    keylog = read_keylog(path)
    assert len(keylog) == 2 and keylog.bad_lines == [4]
    assert set(keylog.secrets(bytes.fromhex(CR))) == {"CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET"}
    with pytest.raises(OSError):
        read_keylog(tmp_path / "missing.log")


def test_follower_returns_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "grow.log"
    follower = KeyLogFollower(str(path))
    assert follower.poll() == b""  # not there yet: not an error
    path.write_bytes(b"one\ntw")
    assert follower.poll() == b"one\n"
    with path.open("ab") as f:
        f.write(b"o\nthree\n")
    assert follower.poll() == b"two\nthree\n" and follower.lines == 3
    path.write_bytes(b"new\n")  # rewritten shorter: read again from the start
    assert follower.poll() == b"new\n"


def test_trust_store_from_files_is_cached_by_content(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding
    from test_rules_factories import pki  # type: ignore[import-not-found]

    pem = tmp_path / "root.pem"
    pem.write_bytes(pki().root.public_bytes(Encoding.PEM))
    trust = load_trust_store([pem], use_certifi=False)
    assert len(trust) == 1 and trust.sources == (str(pem),)
    assert load_trust_store([str(pem)], use_certifi=False) is trust
    with pytest.raises(TrustStoreError, match="cannot read CA file"):
        load_trust_store([tmp_path / "missing.pem"], use_certifi=False)
    (tmp_path / "empty.pem").write_text("nothing here")
    with pytest.raises(TrustStoreError, match="no certificate found"):
        load_trust_store([tmp_path / "empty.pem"], use_certifi=False)
