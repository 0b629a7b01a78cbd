"""capture/export.py: some flows of a capture saved as pcapng with their secrets in a DSB, read back decrypted
with no key log."""

from __future__ import annotations

from pathlib import Path

import pytest
from session_helpers import read_flows

from tlsinspect.capture.export import client_randoms, export_flows, keylog_lines
from tlsinspect.capture.files import TLS_KEY_LOG_SECRETS, CaptureFile
from tlsinspect.capture.inputs import read_keylog
from tlsinspect.errors import CaptureError
from tlsinspect.model import Flow
from tlsinspect.parse.keylog import KeyLog

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
LAB = CAPTURES / "observer-lab.pcapng"
LAB_DSB = CAPTURES / "observer-lab-dsb.pcapng"
KEYLOG = CAPTURES / "observer-lab.keylog"


def facts(f: Flow) -> tuple[object, ...]:
    """What must survive an export (ids and frame numbers are renumbered)."""
    t = f.tls
    return (
        f.client,
        f.server,
        f.transport,
        f.app_protocol,
        f.frames,
        f.bytes_client,
        f.bytes_server,
        t.version if t else None,
        t.cipher_suite if t else None,
        t.decrypted if t else None,
        len(f.http),
        len(f.exposures),
    )


@pytest.fixture(scope="module")
def lab() -> list[Flow]:
    return read_flows(LAB, keylog=read_keylog(KEYLOG))


def test_some_flows_back_decrypted_without_keylog(lab: list[Flow], tmp_path: Path) -> None:
    chosen = [f for f in lab if f.tls is not None and f.tls.decrypted][:3] + [
        next(f for f in lab if f.tls is None)
    ]
    out = tmp_path / "some.pcapng"
    result = export_flows(LAB, out, chosen, read_keylog(KEYLOG))
    assert result.flows == 4 and result.frames == sum(f.frames for f in chosen)
    assert result.without_secrets == 0 and result.secrets > 0
    with CaptureFile(out) as cap:
        assert cap.format == "pcapng"
        assert [t for t, _ in cap.secrets] == [TLS_KEY_LOG_SECRETS]
        embedded = KeyLog.parse(bytes(cap.secrets[0][1]))
        assert {r for r in client_randoms(lab) if embedded.secrets(r)} == set(client_randoms(chosen))
    again = read_flows(out)  # no key log: the DSB decrypts
    assert sorted(map(facts, again)) == sorted(map(facts, chosen))
    assert [f.id for f in again] == list(range(1, len(again) + 1))


def test_all_flows_same_as_source(lab: list[Flow], tmp_path: Path) -> None:
    out = tmp_path / "all.pcapng"
    result = export_flows(LAB, out, lab, read_keylog(KEYLOG))
    assert result.frames == sum(f.frames for f in lab)
    assert sorted(map(facts, read_flows(out))) == sorted(map(facts, lab))


def test_dsb_of_the_source_is_carried_over(tmp_path: Path) -> None:
    flows = read_flows(LAB_DSB)  # decrypted by its own DSB
    tls = [f for f in flows if f.tls is not None and f.tls.decrypted]
    assert tls
    out = tmp_path / "dsb.pcapng"
    result = export_flows(LAB_DSB, out, tls[:2])  # no key log given
    assert result.dsbs_carried == 1 and result.without_secrets == 0
    with CaptureFile(out) as cap:
        embedded = KeyLog.parse(b"".join(bytes(d) for _, d in cap.secrets))
    assert {r for r in client_randoms(flows) if embedded.secrets(r)} == set(client_randoms(tls[:2]))
    again = read_flows(out)
    assert sorted(map(facts, again)) == sorted(map(facts, tls[:2]))


def test_without_keys_the_export_is_not_decrypted(lab: list[Flow], tmp_path: Path) -> None:
    tls = [f for f in lab if f.tls is not None and f.tls.decrypted][:1]
    out = tmp_path / "nokeys.pcapng"
    result = export_flows(LAB, out, tls)
    assert result.secrets == 0 and result.without_secrets == 1
    again = read_flows(out)
    assert len(again) == 1 and again[0].tls is not None and not again[0].tls.decrypted


def test_keylog_lines_skip_what_was_written() -> None:
    r = bytes(range(32))
    kl = KeyLog.parse(f"CLIENT_RANDOM {r.hex()} {'ab' * 48}\n")
    written: set[tuple[str, bytes]] = set()
    assert keylog_lines(kl, [r], written) == f"CLIENT_RANDOM {r.hex()} {'ab' * 48}\n".encode()
    assert keylog_lines(kl, [r], written) == b""
    assert keylog_lines(kl, [bytes(32)]) == b""


def test_errors_are_one_line(lab: list[Flow], tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        export_flows(tmp_path / "missing.pcap", tmp_path / "x.pcapng", lab)
    with pytest.raises(CaptureError, match="cannot write"):
        export_flows(LAB, tmp_path / "no" / "such" / "dir.pcapng", lab)
