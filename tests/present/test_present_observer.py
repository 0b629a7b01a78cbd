"""tlsinspect.present.observer: what a passive observer reads and what TLS hides, over hand-built flows and
the bundled lab capture."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from helpers_present import secrets_of, shown_strings
from test_exposures import hello as make_hello
from test_observer import flow, get, tls_info

from tlsinspect.model import Extension, Flow
from tlsinspect.present import ObserverItem, ObserverView, Reveal, observer_view


def items(view: ObserverView) -> tuple[dict[str, str], list[str]]:
    return {v.item: v.value for v in view.visible}, [h.item for h in view.hidden]


def test_tls13_not_decrypted() -> None:
    view = observer_view(flow(1, tls=tls_info(), port=443))
    visible, hidden = items(view)
    assert visible["TLS server name (SNI)"] == "www.example.com"
    assert visible["TLS version"] == "TLS 1.3"
    assert visible["cipher suite"] == "TLS_AES_128_GCM_SHA256"
    assert visible["client and server addresses and ports"].startswith("10.0.0.2:40001 -> 192.0.2.10:443")
    assert visible["timing"] == "1.500 s from first to last frame"
    assert "certificate chain and server name in it" in hidden
    assert "HTTP method, path, headers and bodies" in hidden
    assert not any(k.startswith("server certificate chain") for k in visible)
    assert not view.unlocked


def test_tls12_certificate_names_visible() -> None:
    visible, hidden = items(observer_view(flow(1, tls=tls_info(0x0303), port=443)))
    assert "www.example.com" in visible["server certificate chain"]
    assert visible["certificate issuer"] == "CN=Example CA"
    assert "certificate chain and server name in it" not in hidden


def test_decrypted_flow_is_unlocked() -> None:
    view = observer_view(flow(1, tls=tls_info(decrypted=True), port=443))
    assert view.unlocked
    reasons = {h.item: h.value for h in view.hidden}
    assert reasons["HTTP method, path, headers and bodies"] == "read here only because a key log was given"


def test_cleartext_http_masks_secrets() -> None:
    auth = "Basic " + base64.b64encode(b"alice:wonderland1").decode()
    f = flow(1, http=(get("/x", request_headers=(("Authorization", auth),)),))
    view = observer_view(f)
    visible, hidden = items(view)
    assert visible["cleartext http-basic-auth"] == "al****d1"
    assert visible["cleartext http-request"] == "GET www.example.com /x"
    assert hidden == ["nothing"]
    item = next(v for v in view.visible if v.item == "cleartext http-basic-auth")
    assert [(s.raw, s.reveal) for s in item.values] == [("alice:wonderland1", Reveal.MASKED)]
    assert items(observer_view(f, show_secrets=True))[0]["cleartext http-basic-auth"] == "alice:wonderland1"


def test_more_than_three_values_of_a_kind() -> None:
    f = flow(1, http=tuple(get(f"/page{i}") for i in range(5)))
    item = next(v for v in observer_view(f).visible if v.item == "cleartext http-request")
    assert item.value.endswith(" (+2 more)")
    assert len(item.values) == 5


def test_ech_offered_hides_the_real_name() -> None:
    ch = make_hello(server_name="public.example", extensions=(Extension(type=0xFE0D, data=b"\x00"),))
    tls = dataclasses.replace(tls_info(), client_hello=ch)
    visible, hidden = items(observer_view(flow(1, tls=tls, port=443)))
    assert visible["TLS server name (SNI), with ECH offered"] == "public.example"
    assert hidden[0] == "the real server name, if ECH was real (not GREASE)"


def test_quic_without_tls_info() -> None:
    f = dataclasses.replace(flow(1), transport="udp", app_protocol="quic")
    view = observer_view(f)
    assert [h.item for h in view.hidden] == ["everything after the QUIC Initial packets"]


def test_as_dict_is_the_json_shape() -> None:
    view = ObserverView((ObserverItem("a", "1"),), (ObserverItem("b"),))
    assert view.as_dict() == {
        "visible": [{"item": "a", "value": "1"}],
        "hidden": [{"item": "b", "value": ""}],
    }


def test_lab_capture_never_shows_a_secret_unmasked(lab_flows: list[Flow]) -> None:
    checked = 0
    for f in lab_flows:
        secrets = secrets_of(f)
        masked = "\n".join(shown_strings(observer_view(f)))
        assert not [s for s in secrets if s in masked], f"flow {f.id}"
        checked += len(secrets)
    assert checked > 10


def test_lab_capture_tls13_facts(lab_flows: list[Flow], lab_flows_nokeys: list[Flow]) -> None:
    shop = next(f for f in lab_flows if f.server_port == 47443)
    shop_nokeys = next(f for f in lab_flows_nokeys if f.server_port == 47443)
    assert observer_view(shop).unlocked and not observer_view(shop_nokeys).unlocked
    for view in (observer_view(shop), observer_view(shop_nokeys)):
        visible = items(view)[0]
        assert visible["TLS server name (SNI)"] == "shop.lab.test"
        assert visible["TLS version"] == "TLS 1.3"
        assert visible["cipher suite"] == "TLS_AES_256_GCM_SHA384"


@pytest.mark.xfail(
    strict=True,
    reason="with a key log a decrypted TLS 1.3 alert reads as a cleartext one (Alert has no 'decrypted' flag) "
    "and decrypted handshake records leave the application-data counts, so the visible items change",
)
def test_what_the_observer_reads_does_not_depend_on_our_keys(
    lab_flows: list[Flow], lab_flows_nokeys: list[Flow]
) -> None:
    shop = next(f for f in lab_flows if f.server_port == 47443)
    shop_nokeys = next(f for f in lab_flows_nokeys if f.server_port == 47443)
    assert observer_view(shop).visible == observer_view(shop_nokeys).visible
