"""The view models behind the TUI's detail tabs: ladder, chain, related flows, exchanges, endpoint, findings."""

from __future__ import annotations

from tlsinspect.analysis.findings import explain
from tlsinspect.model import Flow, evolve
from tlsinspect.present import Reveal
from tlsinspect.present.chain import chain_view
from tlsinspect.present.exchanges import MAX_EXCHANGES, endpoint_view, exchanges_view, masked_text
from tlsinspect.present.findings import finding_views
from tlsinspect.present.ladder import forward_secrecy, ladder_view, message_name
from tlsinspect.present.related import related_flows, strip_port

EXPIRED, LEGACY_RSA, LOGIN, SHOP_HTTP, SHOP_TLS, TLS12, PROXY_TLS, PROXY_HOP, MISMATCH, SELF_SIGNED = (
    12, 8, 1, 4, 5, 7, 9, 10, 11, 13,
)  # fmt: skip


def by_id(flows: list[Flow]) -> dict[int, Flow]:
    return {f.id: f for f in flows}


# ----------------------------------------------------------------------------------------------- ladder


def test_message_names_drop_the_reserved_mark() -> None:
    assert message_name(1) == "ClientHello"
    assert message_name(14) == "ServerHelloDone"
    assert message_name(16) == "ClientKeyExchange"


def test_ladder_of_a_tls12_flow(lab_flows: list[Flow]) -> None:
    view = ladder_view(by_id(lab_flows)[TLS12])
    assert view is not None
    labels = [(r.sender, r.label) for r in view.rows]
    assert labels[:5] == [
        ("client", "ClientHello"),
        ("server", "ServerHello"),
        ("server", "Certificate"),
        ("server", "ServerKeyExchange"),
        ("server", "ServerHelloDone"),
    ]
    # ChangeCipherSpec (counted, no frame) goes right before each side's Finished
    i = labels.index(("client", "ChangeCipherSpec"))
    assert labels[i + 1] == ("client", "Finished") and view.rows[i].frame is None
    assert ("server", "application data ×2") in labels
    assert view.rows[0].frame == 100
    facts = {f.label: f for f in view.facts}
    assert facts["key share"].value == "ECDHE x25519"
    assert facts["forward secrecy"].value.startswith("yes") and not facts["forward secrecy"].bad


def test_static_rsa_has_no_forward_secrecy(lab_flows: list[Flow]) -> None:
    flow = by_id(lab_flows)[LEGACY_RSA]
    assert flow.tls is not None
    fs, why = forward_secrecy(flow.tls)
    assert fs is False and "static RSA" in why
    view = ladder_view(flow)
    assert view is not None
    facts = {f.label: f for f in view.facts}
    assert facts["forward secrecy"].bad
    assert facts["key share"].value.startswith("none")
    cke = next(r for r in view.rows if r.label == "ClientKeyExchange")
    assert "server's RSA key" in cke.detail


def test_tls13_without_keys_says_the_rest_is_encrypted(lab_flows_nokeys: list[Flow]) -> None:
    view = ladder_view(by_id(lab_flows_nokeys)[SHOP_TLS])
    assert view is not None
    assert "TLS 1.3 encrypts everything after the ServerHello" in view.note
    kinds = [r.kind for r in view.rows]
    assert kinds.count("encrypted") == 2 and "Certificate" not in [r.label for r in view.rows]


def test_tls13_with_keys_shows_the_decrypted_messages(lab_flows: list[Flow]) -> None:
    view = ladder_view(by_id(lab_flows)[SHOP_TLS])
    assert view is not None and view.note == ""
    cert = next(r for r in view.rows if r.label == "Certificate")
    assert cert.decrypted and len(cert.fields) == 2


def test_client_hello_fields_mark_grease_and_name_extensions(lab_flows: list[Flow]) -> None:
    flow = by_id(lab_flows)[SHOP_TLS]
    assert flow.tls is not None and flow.tls.client_hello is not None
    hello = flow.tls.client_hello
    grease_hello = evolve(hello, cipher_suites=(0x0A0A, *hello.cipher_suites))
    view = ladder_view(evolve(flow, tls=evolve(flow.tls, client_hello=grease_hello)))
    assert view is not None
    fields = {f.label: f for f in view.rows[0].fields}
    first = fields["cipher suites"].children[0]
    assert first.grease and first.value == "GREASE"
    names = [c.label for c in fields["extensions"].children]
    assert "server_name (0)" in names and "key_share (51)" in names


def test_no_ladder_without_tls(lab_flows: list[Flow]) -> None:
    assert ladder_view(by_id(lab_flows)[LOGIN]) is None


def test_ladder_rows_are_bounded(lab_flows: list[Flow]) -> None:
    view = ladder_view(by_id(lab_flows)[TLS12], max_rows=3)
    assert view is not None and len(view.rows) == 3 and view.omitted > 0


# ----------------------------------------------------------------------------------------------- chain


def test_expired_leaf_says_so_at_capture_time(lab_flows: list[Flow]) -> None:
    cv = chain_view(by_id(lab_flows)[EXPIRED])
    assert cv.ok is False and "EXPIRED" in cv.verdict
    leaf, inter = cv.nodes
    assert leaf.role == "leaf" and leaf.ok is False and leaf.days_left is not None and leaf.days_left < 0
    assert any(r.startswith("expired:") for r in leaf.reasons)
    assert inter.role == "intermediate" and inter.ok is True
    assert "root not sent" in cv.anchor


def test_name_mismatch_and_self_signed_in_plain_words(lab_flows: list[Flow]) -> None:
    flows = by_id(lab_flows)
    mismatch = chain_view(flows[MISMATCH]).nodes[0]
    assert mismatch.reasons == (
        "name mismatch: the client asked for django-zero.lab.test, the certificate is for django-devops.lab.test",
    )
    selfsigned = chain_view(flows[SELF_SIGNED])
    assert selfsigned.nodes[0].role == "self-signed leaf"
    assert "self-signed" in selfsigned.nodes[0].reasons[0]


def test_trusted_chain_is_ok(lab_flows: list[Flow]) -> None:
    cv = chain_view(by_id(lab_flows)[TLS12])
    assert cv.ok is True and all(n.ok for n in cv.nodes)
    assert "(found in the trust store)" in cv.anchor


def test_tls13_chain_without_keys_is_encrypted(lab_flows_nokeys: list[Flow]) -> None:
    cv = chain_view(by_id(lab_flows_nokeys)[SHOP_TLS])
    assert cv.nodes == () and "encrypted" in cv.note


def test_long_chain_is_bounded(lab_flows: list[Flow]) -> None:
    flow = by_id(lab_flows)[TLS12]
    assert flow.tls is not None
    long = evolve(flow, tls=evolve(flow.tls, certificates=flow.tls.certificates * 10))
    cv = chain_view(long, max_nodes=16)
    assert len(cv.nodes) == 16 and cv.omitted == 4


# ----------------------------------------------------------------------------------------------- related


def test_strip_port() -> None:
    assert strip_port("Shop.Lab.Test:8080") == "shop.lab.test"
    assert strip_port("[::1]:80") == "::1"


def test_proxy_hop_and_tls_leg_find_each_other(lab_flows: list[Flow]) -> None:
    flows = by_id(lab_flows)
    tls_side = related_flows(flows[PROXY_TLS], lab_flows)
    assert [r.flow_id for r in tls_side] == [PROXY_HOP]
    why = " ".join(tls_side[0].why)
    assert "same host proxy.lab.test over cleartext HTTP" in why and "backend hop" in why
    hop_side = {r.flow_id: r for r in related_flows(flows[PROXY_HOP], lab_flows)}
    assert PROXY_TLS in hop_side and "TLS leg" in " ".join(hop_side[PROXY_TLS].why)


def test_mixed_host_relates_http_and_https(lab_flows: list[Flow]) -> None:
    flows = by_id(lab_flows)
    rel = related_flows(flows[SHOP_HTTP], lab_flows)
    assert rel[0].flow_id == SHOP_TLS
    assert "the same host shop.lab.test over TLS" in rel[0].why
    assert any("http.mixed-host" in w for w in rel[0].why)


def test_unrelated_flow_has_none(lab_flows: list[Flow]) -> None:
    assert related_flows(by_id(lab_flows)[EXPIRED], lab_flows) == ()


# ----------------------------------------------------------------------------------------------- exchanges


def test_secrets_masked_in_headers_and_bodies(lab_flows: list[Flow]) -> None:
    xv = exchanges_view(by_id(lab_flows)[LOGIN])
    post = xv.exchanges[1]
    assert post.request == "POST www.lab.test:47080" and post.status == "303 See Other"
    assert post.request_body is not None and post.request_body.text == "username=alice&password=co****le"
    assert post.request_body.reveal is Reveal.MASKED
    cookie = next(h for h in post.response_headers if h.name == "Set-Cookie")
    assert cookie.value.text == "session=s3****6d; Path=/; HttpOnly"
    assert all("correct-horse" not in s.text for s in post.secrets)
    shown = exchanges_view(by_id(lab_flows)[LOGIN], show_secrets=True).exchanges[1]
    assert shown.request_body is not None and "correct-horse-battery-staple" in shown.request_body.text
    assert shown.request_body.reveal is Reveal.REVEALED


def test_authorization_keeps_its_scheme(lab_flows: list[Flow]) -> None:
    x = exchanges_view(by_id(lab_flows)[PROXY_TLS]).exchanges[0]
    auth = next(h for h in x.request_headers if h.name == "Authorization")
    assert auth.value.text == "Basic cm****==" and auth.value.raw.startswith("Basic cmVw")


def test_masked_text_public_when_nothing_matches() -> None:
    assert masked_text("hello", ["secret-value"], False).reveal is Reveal.PUBLIC


def test_many_exchanges_are_bounded(lab_flows: list[Flow]) -> None:
    flow = by_id(lab_flows)[LOGIN]
    many = evolve(flow, http=flow.http * 200)
    xv = exchanges_view(many)
    assert len(xv.exchanges) == MAX_EXCHANGES and xv.omitted == 600 - MAX_EXCHANGES and xv.total == 600


def test_endpoint_view(lab_flows: list[Flow], lab_flows_nokeys: list[Flow]) -> None:
    ev = endpoint_view(by_id(lab_flows)[PROXY_TLS])
    assert ev.readable and "decrypted with the key log" in ev.summary
    assert any("internal/report?id=7" in i.value.text for i in ev.items)
    assert any(i.value.text == "re****et" for i in ev.items)
    locked = endpoint_view(by_id(lab_flows_nokeys)[PROXY_TLS])
    assert not locked.readable and "key log" in locked.summary and locked.items == ()
    clear = endpoint_view(by_id(lab_flows)[LOGIN])
    assert clear.readable and "no TLS" in clear.summary


# ----------------------------------------------------------------------------------------------- findings


def test_findings_carry_explain_text_and_fix(lab_flows: list[Flow]) -> None:
    views = {v.rule: v for v in finding_views(by_id(lab_flows)[LEGACY_RSA])}
    v = views["tls.no-forward-secrecy"]
    assert v.severity == "high" and v.title == "No forward secrecy"
    assert v.explain_text == explain("tls.no-forward-secrecy")
    assert v.fix.startswith("prefer ECDHE") and "What to change" not in v.explanation


def test_cross_flow_findings_have_no_registry_text(lab_flows: list[Flow]) -> None:
    views = {v.rule: v for v in finding_views(by_id(lab_flows)[PROXY_HOP])}
    hop = views["http.cleartext-hop"]
    assert hop.explain_text == "" and hop.detail
