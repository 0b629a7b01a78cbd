"""present/stats.py: the tallies of the statistics screen, from the bundled captures and from made-up flows."""

from __future__ import annotations

import dataclasses

from tlsinspect.model import Flow
from tlsinspect.present.rows import exposure_of
from tlsinspect.present.stats import NO_SNI, TALLY_KEYS, bar, flow_stats


def test_tallies_of_the_lab(lab_flows: list[Flow]) -> None:
    s = flow_stats(lab_flows)
    assert [t.key for t in s.tallies] == list(TALLY_KEYS)
    assert s.flows == len(lab_flows) == s.tally("observer").total
    tls = [f for f in lab_flows if f.tls is not None]
    assert s.tls_flows == len(tls) == s.tally("versions").total == s.tally("sni").total
    versions = {i.label: i.count for i in s.tally("versions").items}
    assert versions == {"TLS 1.2": 6, "TLS 1.3": 3}
    observer = {i.label: i.count for i in s.tally("observer").items}
    assert observer["✗ CLEARTEXT"] == sum(exposure_of(f).value == "CLEARTEXT" for f in lab_flows)
    assert sum(observer.values()) == len(lab_flows)
    findings = s.tally("findings")
    assert findings.total == sum(len(f.findings) for f in lab_flows)
    labels = [i.label for i in findings.items]
    assert labels == sorted(labels, key=["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"].index)
    assert s.tally("exposures").total == sum(len(f.exposures) for f in lab_flows)
    sni = {i.label for i in s.tally("sni").items}
    assert "tls12.lab.test" in sni


def test_top_cuts_and_counts_the_rest(lab_flows: list[Flow]) -> None:
    s = flow_stats(lab_flows, top=2)
    sni = s.tally("sni")
    assert len(sni.items) == 2
    assert sni.more == len({i.label for i in flow_stats(lab_flows, top=None).tally("sni").items}) - 2
    assert sum(i.count for i in sni.items) + sni.more_count == sni.total
    counts = [i.count for i in sni.items]
    assert counts == sorted(counts, reverse=True)


def test_wire_names_are_inert(lab_flows: list[Flow]) -> None:
    f = next(f for f in lab_flows if f.tls is not None and f.tls.client_hello is not None)
    assert f.tls is not None and f.tls.client_hello is not None
    evil = dataclasses.replace(
        f,
        tls=dataclasses.replace(
            f.tls, client_hello=dataclasses.replace(f.tls.client_hello, server_name="a\x1b[31mb\u202e")
        ),
    )
    labels = [i.label for i in flow_stats([evil]).tally("sni").items]
    assert labels == ["a\\x1b[31mb\\u202e"]


def test_no_flows_and_no_sni(lab_flows: list[Flow]) -> None:
    empty = flow_stats([])
    assert empty.flows == 0 and all(t.total == 0 and not t.items for t in empty.tallies)
    f = next(f for f in lab_flows if f.tls is not None and f.tls.client_hello is not None)
    assert f.tls is not None and f.tls.client_hello is not None
    bare = dataclasses.replace(
        f,
        tls=dataclasses.replace(
            f.tls, client_hello=dataclasses.replace(f.tls.client_hello, server_name=None)
        ),
    )
    assert [i.label for i in flow_stats([bare]).tally("sni").items] == [NO_SNI]


def test_bar() -> None:
    assert bar(10, 10, 8) == "█" * 8
    assert bar(5, 10, 8) == "█" * 4
    assert bar(1, 1000, 8) == "▏"  # a count above zero is never an empty bar
    assert bar(0, 10, 8) == bar(3, 0, 8) == bar(3, 3, 0) == ""
    assert len(bar(7, 9, 13)) <= 13
