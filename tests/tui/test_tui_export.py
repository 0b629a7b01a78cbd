"""Export from the TUI (e, then j, s or p, or a typed path): the shown flows as JSON lines, the screen as SVG,
the shown flows' frames as pcapng that tlsinspect reads back decrypted without a key log."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from session_helpers import read_flows
from tui_helpers import sync

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.model import Flow
from tlsinspect.output.jsonout import flow_dict
from tlsinspect.session import FileSource, Session, SessionOptions
from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.export import LIVE_PCAPNG, ExportScreen, capture_file_of, target_path

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
LAB = CAPTURES / "observer-lab.pcapng"


def make_app(path: Path = LAB, **kw: Any) -> TlsInspectApp:
    analyzer = Analyzer(
        load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=time.time()
    )
    options = SessionOptions(
        keylog=read_keylog(CAPTURES / "observer-lab.keylog"), analyse=analyzer, updates=True
    )
    return TlsInspectApp(lambda: Session(FileSource(path), options), source_name=str(path), **kw)


async def export(app: TlsInspectApp, pilot: Any, key: str, where: str = "") -> list[str]:
    """Press e, type `where`, pick with `key`; wait for the worker; the toasts."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(app.screen, ExportScreen)
    if where:
        app.screen.query_one("#export-path").focus()
        await pilot.press(*where)
        await pilot.press("tab")  # back to the choices
    await pilot.press(key)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    return [n.message for n in app._notifications]


def facts(f: Flow) -> tuple[object, ...]:
    t = f.tls
    return (
        f.client,
        f.server,
        f.frames,
        f.app_protocol,
        t.version if t else None,
        t.decrypted if t else None,
    )


@sync
async def test_json_lines_of_the_shown_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(initial_filter="decrypted")
    async with app.run_test(size=(120, 40)) as pilot:
        toasts = await export(app, pilot, "j")
        shown = app.shown_flows()
    (out,) = tmp_path.glob("tlsinspect-*.ndjson")
    assert any(str(out) in t for t in toasts)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "capture" and lines[0]["source"] == str(LAB)
    assert lines[1:] == [json.loads(json.dumps(flow_dict(f), default=str)) for f in shown]
    assert len(shown) == 8 and all(f.tls is not None and f.tls.decrypted for f in shown)


@sync
async def test_svg_screenshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        toasts = await export(app, pilot, "s")
    (out,) = tmp_path.glob("tlsinspect-*.svg")
    svg = out.read_text()
    assert svg.startswith("<svg") and "CLEARTEXT" in svg
    assert "ndjson" not in svg  # the main screen, not the export dialog
    assert any("screenshot saved" in t for t in toasts)


@sync
async def test_pcapng_reads_back_decrypted_without_keylog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(initial_filter="sni:lab.test")
    async with app.run_test(size=(120, 40)) as pilot:
        toasts = await export(app, pilot, "p")
        shown = app.shown_flows()
    (out,) = tmp_path.glob("tlsinspect-*.pcapng")
    assert any(str(out) in t and "key log lines embedded" in t for t in toasts)
    again = read_flows(out)  # no --keylog: the DSB carries the secrets
    assert [f.id for f in again] == list(range(1, len(shown) + 1))  # renumbered
    assert sorted(map(facts, again)) == sorted(map(facts, shown))
    assert sum(f.tls is not None and f.tls.decrypted for f in again) == 8


@sync
async def test_typed_path(tmp_path: Path) -> None:
    target = tmp_path / "mine.ndjson"
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await export(app, pilot, "j", str(target))
    assert len(target.read_text().splitlines()) == 17


@sync
async def test_escape_cancels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("e")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
    assert not list(tmp_path.iterdir())


@sync
async def test_export_error_is_a_toast(tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.export("json", str(tmp_path / "no" / "such" / "dir.ndjson"))
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "dir.ndjson" in errors[0].message


def test_target_path(tmp_path: Path) -> None:
    now = time.mktime((2026, 12, 3, 10, 15, 0, 0, 0, -1))
    first = target_path("json", "", now, str(tmp_path))
    assert first == str(tmp_path / "tlsinspect-20261203-101500.ndjson")
    Path(first).touch()
    assert target_path("json", "", now, str(tmp_path)).endswith("tlsinspect-20261203-101500-2.ndjson")
    assert target_path("svg", str(tmp_path), now).endswith(".svg")  # a directory: the timestamped name in it
    assert target_path("pcapng", str(tmp_path / "x.pcapng")) == str(tmp_path / "x.pcapng")
    assert os.path.isabs(target_path("svg", "rel.svg"))


def test_capture_file_of_each_source() -> None:
    assert capture_file_of(FileSource(LAB)) == (str(LAB), "")
    live = SimpleNamespace(opts=SimpleNamespace(write=None))
    assert capture_file_of(live) == (None, LIVE_PCAPNG)
    live_w = SimpleNamespace(opts=SimpleNamespace(write="/tmp/x.pcapng"))
    assert capture_file_of(live_w) == ("/tmp/x.pcapng", "")
    assert capture_file_of(None)[0] is None
