"""The detail tabs on the bundled lab capture, driven with Pilot: each tab shows the selected flow, tabs fill on
demand, o and r switch the view and the masking, and wire text stays inert (no markup, no terminal escapes)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static, TabbedContent, Tree
from textual.widgets.tree import TreeNode
from tui_helpers import sync

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import Flow, evolve
from tlsinspect.session import FileSource, Session, SessionOptions
from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.detail import FlowDetail
from tlsinspect.tui.flow_list import FlowList

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SIZE = (160, 45)
EXPIRED, LEGACY_RSA, LOGIN, SHOP_HTTP, SHOP_TLS, PROXY_TLS, PROXY_HOP = 12, 8, 1, 4, 5, 9, 10


def lab_app(*, show_secrets: bool = False, keys: bool = True) -> TlsInspectApp:
    """The app as `read captures/observer-lab.pcapng --keylog ... --ca-file ...` builds it (cli/read.py)."""

    def make_session() -> Session:
        analyzer = Analyzer(
            load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
        )
        keylog = read_keylog(CAPTURES / "observer-lab.keylog") if keys else None
        options = SessionOptions(keylog=keylog, analyse=analyzer, updates=True)
        return Session(FileSource(str(CAPTURES / "observer-lab.pcapng")), options)

    return TlsInspectApp(make_session, source_name="observer-lab.pcapng", show_secrets=show_secrets)


async def loaded(app: TlsInspectApp, pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def select(app: TlsInspectApp, pilot: Any, fid: int, tab: str | None = None) -> FlowDetail:
    app.query_one(FlowList).select_id(fid)
    await pilot.pause()
    detail = app.query_one(FlowDetail)
    if tab is not None:
        app.query_one("#detail-tabs", TabbedContent).active = f"tab-{tab}"
        await pilot.pause()
    assert detail.flow is not None and detail.flow.id == fid
    return detail


def plain(renderable: Any) -> str:
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def static_text(app: TlsInspectApp, selector: str) -> str:
    return plain(app.query_one(selector, Static).content)


def tree_labels(node: TreeNode[Any]) -> Iterator[str]:
    yield node.label.plain
    for child in node.children:
        yield from tree_labels(child)


def tree_text(app: TlsInspectApp, selector: str) -> str:
    return "\n".join(tree_labels(app.query_one(selector, Tree).root))


def tab_text(app: TlsInspectApp, key: str) -> str:
    if key == "ladder":
        return static_text(app, "#ladder-facts") + tree_text(app, "#ladder-tree")
    if key == "certs":
        return static_text(app, "#chain-verdict") + tree_text(app, "#chain-tree")
    if key == "http":
        return static_text(app, "#http-own-body") + static_text(app, "#http-related-body")
    return static_text(app, f"#detail-{key} .body")


# ----------------------------------------------------------------------------------------------- tabs


@sync
async def test_tab_bar_shows_every_tab() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, SHOP_TLS)
        screen = app.export_screenshot()
        for title in ("Observer", "Handshake", "Certificates", "HTTP", "Findings", "Summary"):
            assert title in screen


@sync
async def test_observer_and_endpoint_view() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, PROXY_TLS, "observer")
        text = tab_text(app, "observer")
        assert "anyone on the path reads" in text and "proxy.lab.test" in text
        assert "unlocked here by the key log" in text
        await pilot.press("o")
        await pilot.pause()
        text = tab_text(app, "observer")
        assert "ENDPOINT VIEW" in text
        assert "GET proxy.lab.test:47446/internal/report?id=7" in text
        assert "re****et" in text and "proxy-hop-secret" not in text
        await pilot.press("r")
        await pilot.pause()
        assert "reporter:proxy-hop-secret" in tab_text(app, "observer")
        await pilot.press("o")
        await pilot.pause()
        assert "OBSERVER VIEW" in tab_text(app, "observer")


@sync
async def test_ladder_of_the_static_rsa_flow() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, LEGACY_RSA, "ladder")
        text = tab_text(app, "ladder")
        assert "TLS_RSA_WITH_AES_128_CBC_SHA256" in text
        assert "forward secrecy   NO: static RSA" in text
        assert "none (static RSA: no key share)" in text
        for message in (
            "ClientHello ─",
            "─ ServerHello",
            "ClientKeyExchange",
            "ChangeCipherSpec",
            "Finished",
        ):
            assert message in text
        assert "118  ── ClientHello" in text  # frame numbers
        assert "application data ×2" in text
        # the ClientHello opens to its fields, extensions named
        tree = app.query_one("#ladder-tree", Tree)
        hello = tree.root.children[0]
        assert "ClientHello" in hello.label.plain and hello.allow_expand
        fields = "\n".join(tree_labels(hello))
        assert "cipher suites" in fields and "server_name (0)" in fields


@sync
async def test_ladder_tls13_without_keys_shows_encrypted_records() -> None:
    app = lab_app(keys=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, SHOP_TLS, "ladder")
        text = tab_text(app, "ladder")
        assert "░ encrypted handshake ░" in text
        assert "TLS 1.3 encrypts everything after the ServerHello" in text
        assert "forward secrecy   yes" in text


@sync
async def test_certificates_of_the_expired_flow() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, EXPIRED, "certs")
        text = tab_text(app, "certs")
        assert "EXPIRED at capture time" in text
        assert "✗ leaf: CN=expired.lab.test" in text
        assert "why: expired" in text and "days before the capture" in text
        assert "✓ intermediate: CN=tlsinspect Observer Lab Issuing CA 1" in text
        assert "SAN: expired.lab.test" in text and "key: RSA 2048 bits" in text


@sync
async def test_http_tab_beside_related_flows() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, PROXY_TLS, "http")
        text = tab_text(app, "http")
        assert "THIS FLOW #9" in text and "/internal/report?id=7" in text
        assert "Authorization: Basic cm****==" in text
        assert "#10 cleartext" in text and "proxy's backend hop" in text
        await select(app, pilot, LOGIN)
        text = tab_text(app, "http")
        assert "POST www.lab.test:47080/login" in text and "CLEARTEXT" in text
        assert "password=co****le" in text and "correct-horse" not in text
        assert "Cookie: session=s3****6d" in text


@sync
async def test_findings_tab_explains_and_fixes() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, LEGACY_RSA, "findings")
        text = tab_text(app, "findings")
        assert "HIGH" in text and "No forward secrecy" in text and "tls.no-forward-secrecy" in text
        assert "why it matters: The key exchange is not ephemeral" in text
        assert "fix: prefer ECDHE" in text


@sync
async def test_tabs_fill_on_demand() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        detail = await select(app, pilot, EXPIRED, "observer")
        token = detail._generation
        assert detail._filled.get("observer") == token
        assert detail._filled.get("certs") != token and detail._filled.get("http") != token
        await pilot.press("3")
        await pilot.pause()
        assert detail.active_tab == "certs" and detail._filled.get("certs") == token


@sync
async def test_reveal_and_show_secrets() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, LOGIN, "summary")
        assert "correct-horse-battery-staple" not in tab_text(app, "summary")
        await pilot.press("r")
        await pilot.pause()
        assert "correct-horse-battery-staple" in tab_text(app, "summary")
        await select(app, pilot, SHOP_HTTP)
        await select(app, pilot, LOGIN)
        assert "correct-horse-battery-staple" not in tab_text(
            app, "summary"
        )  # a reveal ends with the selection
    app = lab_app(show_secrets=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await select(app, pilot, LOGIN, "http")
        assert "correct-horse-battery-staple" in tab_text(app, "http")


# ----------------------------------------------------------------------------------------------- safety

EVIL = "[bold red]x[/]\x1b]0;pwned\x07\u202eevil"


def evil_flows(flows: dict[int, Flow]) -> list[Flow]:
    tls = flows[EXPIRED]
    assert tls.tls is not None and tls.tls.client_hello is not None
    leaf = evolve(tls.tls.certificates[0], subject=f"CN={EVIL}", san_dns=(EVIL,))
    hello = evolve(tls.tls.client_hello, server_name=EVIL)
    evil_tls = evolve(
        tls, id=901, tls=evolve(tls.tls, client_hello=hello, certificates=(leaf, *tls.tls.certificates[1:]))
    )
    http = flows[LOGIN]
    exchanges = tuple(evolve(h, host=EVIL, uri=f"/{EVIL}") for h in http.http)
    return [evil_tls, evolve(http, id=902, http=exchanges)]


def assert_inert(text: str) -> None:
    assert "[bold red]x[/]" in text  # markup shown literally
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07" in text and "\\u202e" in text


@pytest.mark.parametrize(
    ("fid", "tabs"), [(901, ("observer", "ladder", "certs", "summary")), (902, ("http", "summary"))]
)
@sync
async def test_wire_text_is_inert(fid: int, tabs: tuple[str, ...]) -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        added = evil_flows(app.store.flows)
        app.store.upsert(added, finished=True)
        app.query_one(FlowList).reload({f.id for f in added})
        await pilot.pause()
        for tab in tabs:
            await select(app, pilot, fid, tab)
            text = tab_text(app, tab)
            if tab == "ladder":
                hello = app.query_one("#ladder-tree", Tree).root.children[0]
                hello.expand_all()
                text += "\n".join(tree_labels(hello))
            assert_inert(text)
        assert "\x1b]0;pwned" not in app.export_screenshot()


# ----------------------------------------------------------------------------------------------- scale


@sync
async def test_long_chain_and_many_exchanges_stay_quick() -> None:
    app = lab_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        base = app.store.flows[PROXY_TLS]
        assert base.tls is not None
        chain = (base.tls.certificates * 5)[:10]
        big = evolve(base, id=903, tls=evolve(base.tls, certificates=chain), http=base.http * 500)
        app.store.upsert([big], finished=True)
        app.query_one(FlowList).reload({903})
        await pilot.pause()
        started = time.perf_counter()
        for tab in ("observer", "ladder", "certs", "http", "findings", "summary"):
            await select(app, pilot, 903, tab)
        elapsed = time.perf_counter() - started
        assert "470 more exchanges not shown" in tab_text(app, "http")
        assert tab_text(app, "certs").count("sha256: ") == 10
        assert "450 more rows not shown" in tab_text(app, "summary")
        assert elapsed < 10, f"six tabs took {elapsed:.1f} s"
