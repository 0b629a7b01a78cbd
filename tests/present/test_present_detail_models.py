"""The pure views behind the TUI's detail tabs: the handshake ladder, the certificate chain, related flows."""

from __future__ import annotations

import pytest
from session_helpers import read_bundled

from tlsinspect.model import Flow
from tlsinspect.present.chain import MAX_NODES, chain_view
from tlsinspect.present.ladder import forward_secrecy, ladder
from tlsinspect.present.related import host_of, related_flows


@pytest.fixture(scope="module")
def lab() -> dict[int, Flow]:
    return {f.server_port: f for f in read_bundled("observer-lab.pcapng", "observer-lab.keylog").flows}


def test_ladder_rungs_in_frame_order_with_hello_fields(lab: dict[int, Flow]) -> None:
    tls = lab[47445].tls
    assert tls is not None
    lad = ladder(tls)
    frames = [r.frame for r in lad.rungs]
    assert frames == sorted(frames)
    hello = lad.rungs[0]
    assert hello.label == "ClientHello" and hello.sender == "client"
    names = dict(hello.fields)
    assert names["server name (SNI)"] == "legacy-rsa.lab.test" and len(names["random"]) == 64
    assert lad.forward_secrecy is False and forward_secrecy(tls) is False
    assert any(r.label == "ServerHelloDone" for r in lad.rungs)


def test_tls13_ladder_marks_the_decrypted_handshake(lab: dict[int, Flow]) -> None:
    tls = lab[47451].tls
    assert tls is not None
    lad = ladder(tls)
    assert lad.forward_secrecy is True
    assert any(r.label == "Certificate (decrypted)" for r in lad.rungs)


def test_chain_verdicts(lab: dict[int, Flow]) -> None:
    expired = chain_view(lab[47448])
    assert expired is not None and expired.verdict.startswith("NOT trusted")
    leaf = expired.nodes[0]
    assert leaf.title == "leaf" and leaf.days_left is not None and leaf.days_left < 0
    assert leaf.verdict.startswith("expired")
    selfsigned = chain_view(lab[47449])
    assert selfsigned is not None and "self-signed" in selfsigned.nodes[0].verdict
    good = chain_view(lab[47443])  # TLS 1.3 with a key log: the chain was decrypted
    assert good is None or good.verdict.startswith("trusted")
    assert chain_view(lab[47080]) is None  # cleartext HTTP: no certificates


def test_chain_is_bounded(lab: dict[int, Flow]) -> None:
    from tlsinspect.model import evolve

    f = lab[47448]
    assert f.tls is not None
    many = evolve(f, tls=evolve(f.tls, certificates=f.tls.certificates * 50))
    view = chain_view(many)
    assert view is not None and len(view.nodes) == MAX_NODES and view.left_out == 100 - MAX_NODES


def test_related_flows_link_the_proxy_and_its_cleartext_hop(lab: dict[int, Flow]) -> None:
    proxy_tls, backend = lab[47446], lab[47086]
    assert backend in related_flows(proxy_tls, lab.values())
    assert proxy_tls in related_flows(backend, lab.values())
    assert host_of("Shop.Example:8080") == "shop.example" and host_of("[::1]:80") == "::1"
