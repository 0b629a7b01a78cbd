"""The statistics and help screens, themes, sorting by a column (keys, header clicks, reverse) and the command
palette, driven with Pilot on the bundled observer lab (built as `cli/read.py` run_tui builds the app)."""

from __future__ import annotations

import time
from pathlib import Path

from tui_helpers import sync

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.present.rows import COLUMNS
from tlsinspect.session import FileSource, Session, SessionOptions
from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.flow_list import FlowList, layout
from tlsinspect.tui.screens.help import HelpScreen, help_sections
from tlsinspect.tui.screens.stats import StatsScreen, TallyBox
from tlsinspect.tui.themes import THEMES

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
LAB = CAPTURES / "observer-lab.pcapng"


def make_app(path: Path = LAB, keylog: bool = True, **kw: object) -> TlsInspectApp:
    analyzer = Analyzer(
        load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
    )
    kl = read_keylog(CAPTURES / "observer-lab.keylog") if keylog else None
    options = SessionOptions(keylog=kl, analyse=analyzer, updates=True)
    return TlsInspectApp(
        lambda: Session(FileSource(path), options),
        source_name=str(path),
        **kw,  # type: ignore[arg-type]
    )


async def settle(app: TlsInspectApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def tally_text(app: TlsInspectApp, key: str) -> str:
    return app.screen.query_one(f"#tally-{key}", TallyBox).render().plain


@sync
async def test_statistics_screen() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        assert isinstance(app.screen, StatsScreen)
        versions = tally_text(app, "versions")
        assert "TLS 1.2" in versions and "TLS 1.3" in versions and "█" in versions
        assert " 6 " in versions and "67%" in versions  # the count and share beside the bar, not colour alone
        assert "✗ CLEARTEXT" in tally_text(app, "observer")
        assert "tls12.lab.test" in tally_text(app, "sni")
        assert "HIGH" in tally_text(app, "findings")
        assert "cookie" in tally_text(app, "exposures")
        assert "TLS_AES_256_GCM_SHA384" in tally_text(app, "suites")
        await pilot.press("slash")  # the filter belongs to the flow list: not on this screen
        assert isinstance(app.screen, StatsScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, StatsScreen)


@sync
async def test_statistics_follow_the_filter() -> None:
    app = make_app(initial_filter="cleartext")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        assert screen.stats.flows == len(app.store.view) == 7
        assert screen.stats.tls_flows == 0
        assert "filter: cleartext" in screen.scope
        assert tally_text(app, "versions") == "none"
        app.apply_filter("")
        await pilot.pause()
        assert screen.stats.flows == len(app.store) == 16


@sync
async def test_statistics_at_80x24_one_column() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.query_one("#stats-grid").has_class("narrow")
        for box in app.screen.query(TallyBox):
            assert box.size.width <= 80
            for line in box.render().plain.splitlines():
                assert len(line) <= box.content_size.width


@sync
async def test_help_lists_every_key() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        sections = dict(help_sections(app, screen.key_classes))
        everywhere = " ".join(f"{k} {w}" for k, w in sections["Everywhere"])
        for binding in TlsInspectApp.BINDINGS:
            assert binding.description in everywhere  # type: ignore[union-attr]
        assert "ctrl+p" in everywhere and "click a column title" in everywhere
        flow_list = " ".join(f"{k} {w}" for k, w in sections["Flow list"])
        for binding in FlowList.BINDINGS:
            assert binding.description in flow_list  # type: ignore[union-attr]
        assert "Statistics screen" in sections and "Export dialog" in sections
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_theme_cycles() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        names = [t.name for t in THEMES]
        assert app.theme == names[0]
        flows = app.query_one(FlowList)
        styles = []
        seen = []
        for _ in names:
            styles.append([seg.style for seg in flows.render_line(1)])
            await pilot.press("t")
            await pilot.pause()
            seen.append(app.theme)
        assert seen == [*names[1:], names[0]]
        assert len({repr(s) for s in styles}) == 3  # the list's cached lines are drawn again in each theme


@sync
async def test_sort_keys_and_header_clicks() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        assert app.store.column.key == COLUMNS[1].key
        await pilot.press("S")
        assert app.store.reverse
        header = app.query_one("#list-header")
        x = 0
        for col, w in layout(header.size.width):
            if col.key == "observer":
                break
            x += w + 1
        await pilot.click("#list-header", offset=(x + 1, 0))
        assert (app.store.column.key, app.store.reverse) == ("observer", False)
        rows = [app.store.rows[i].exposure.value for i in app.store.view]
        assert rows == sorted(rows) and len(set(rows)) > 1
        assert "observer get↑" in str(header.render())
        await pilot.click("#list-header", offset=(x + 1, 0))  # the same column again: reversed
        assert (app.store.column.key, app.store.reverse) == ("observer", True)
        assert [app.store.rows[i].exposure.value for i in app.store.view] == sorted(rows, reverse=True)
        assert "observer get↓" in str(header.render())
        await pilot.click("#list-header", offset=(0, 0))
        assert app.store.column.key == "id"


@sync
async def test_command_palette_has_our_commands() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Statistics")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StatsScreen)


@sync
async def test_palette_commands_do_what_they_say() -> None:
    from tlsinspect.tui.commands import TlsInspectCommands

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        provider = TlsInspectCommands(app.screen)
        commands = {name: callback for name, _help, callback in provider.commands()}
        for col in COLUMNS:
            assert any(name.startswith(f"Sort by {col.title}") for name in commands)
        commands["Sort by SNI / Host (name)"]()
        assert app.store.column.key == "name"
        commands["Theme: tlsinspect-projector"]()
        assert app.theme == "tlsinspect-projector"
        assert not app.show_secrets
        commands["Reveal secrets"]()
        assert app.show_secrets
        assert "Mask secrets" in {name for name, _h, _c in provider.commands()}
        assert {"Export ndjson", "Export svg", "Export pcapng", "Filter flows", "Help: keys"} <= set(commands)
