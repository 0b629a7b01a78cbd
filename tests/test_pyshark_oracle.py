"""Cross-check of the project's own captures against Wireshark's dissection, through pyshark (the oracle).

pyshark is never on tlsinspect's main path; here it drives tshark to say, per TCP connection, the SNI, the
ClientHello's supported versions, the ServerHello's cipher suite and version, and how many certificates the
server sent in cleartext. tlsinspect must say the same for every connection.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
FILES = ["basic-tls12-tls13.pcap", "observer-lab.pcapng"]


def _fields(layer: Any, name: str) -> list[str]:
    field = layer.get_field(name)
    if field is None:
        return []
    return [str(f.show) for f in field.all_fields]


def wireshark_view(path: Path) -> dict[str, dict[str, Any]]:
    """client endpoint "ip:port" -> what tshark dissected for that connection's handshake."""
    import pyshark

    loop = asyncio.new_event_loop()  # pyshark runs its own loop; give it a fresh one, apart from pytest's
    asyncio.set_event_loop(loop)
    cap = pyshark.FileCapture(str(path), display_filter="tls.handshake", keep_packets=False, eventloop=loop)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"certs": 0})
    try:
        for pkt in cap:
            ip = pkt.ip.src if hasattr(pkt, "ip") else pkt.ipv6.src
            dst = pkt.ip.dst if hasattr(pkt, "ip") else pkt.ipv6.dst
            sport, dport = pkt.tcp.srcport, pkt.tcp.dstport
            for layer in pkt.get_multiple_layers("tls"):
                types = _fields(layer, "handshake_type")
                if "1" in types:
                    view = out[f"{ip}:{sport}"]
                    sni = _fields(layer, "handshake_extensions_server_name")
                    view["sni"] = sni[0] if sni else None
                    view["versions"] = [
                        int(v, 16) for v in _fields(layer, "handshake_extensions_supported_version")
                    ]
                if "2" in types:
                    view = out[f"{dst}:{dport}"]
                    view["suite"] = int(_fields(layer, "handshake_ciphersuite")[0], 16)
                    sv = _fields(layer, "handshake_extensions_supported_version")
                    view["version"] = (
                        int(sv[0], 16) if sv else int(_fields(layer, "handshake_version")[0], 16)
                    )
                if "11" in types:
                    out[f"{dst}:{dport}"]["certs"] = len(_fields(layer, "handshake_certificate"))
    finally:
        cap.close()
        loop.close()
    return dict(out)


def wireshark_view_isolated(path: Path) -> dict[str, dict[str, Any]]:
    """`wireshark_view` in a fresh interpreter: pyshark's asyncio subprocess handling must not meet the state
    earlier tests leave in this process (forked workers, threads), which once made tshark's exit status
    unreadable (asyncio reports 255 for a child it could not wait for)."""
    code = (
        "import json, sys, pathlib; sys.path.insert(0, sys.argv[2]); import test_pyshark_oracle as t; "
        "print(json.dumps(t.wireshark_view(pathlib.Path(sys.argv[1]))))"
    )
    for _attempt in range(3):
        # tshark under pyshark has twice ended with status 255 in a full CI run (never alone): that is the
        # oracle failing, not a disagreement, so it gets two more tries; a real difference fails every time.
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), str(Path(__file__).parent)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if out.returncode == 0:
            return dict(json.loads(out.stdout))
    raise AssertionError(f"pyshark/tshark failed three times: {out.stderr[-2000:]}")


@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_same_as_wireshark(name: str) -> None:
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    from session_helpers import read_flows  # here: the oracle's own interpreter imports this module alone

    ours = {f.client: f for f in read_flows(path) if f.tls and f.tls.client_hello}
    theirs = wireshark_view_isolated(path)
    assert len(theirs) >= 2  # the oracle really saw handshakes
    assert set(theirs) == set(ours)
    for client, want in theirs.items():
        tls = ours[client].tls
        assert tls is not None and tls.client_hello is not None
        assert tls.client_hello.server_name == want.get("sni"), client
        assert list(tls.client_hello.supported_versions) == want.get("versions", []), client
        if "suite" in want:
            assert tls.cipher_suite == want["suite"], client
            assert tls.version == want["version"], client
        cleartext = len(tls.certificates) if tls.certificates_visibility == "cleartext" else 0
        assert cleartext == want["certs"], client
