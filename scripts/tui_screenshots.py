"""Save the README's SVG screenshots of the TUI on the bundled lab capture: the flow list with the observer
view, the handshake ladder, the certificate chain and the HTTP tab (docs/tui-*.svg).

    .venv/bin/python scripts/tui_screenshots.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tlsinspect.analysis.pipeline import Analyzer
from tlsinspect.capture.inputs import load_trust_store, read_keylog
from tlsinspect.session import FileSource, Session, SessionOptions
from tlsinspect.tui.app import TlsInspectApp
from tlsinspect.tui.flow_list import FlowList

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
DOCS = ROOT / "docs"
NOW = 1_795_524_300.0
"""A fixed analysis clock, as the snapshot tests use, so the pictures do not drift."""
SHOTS = (
    ("observer", 47443, "1"),
    ("ladder", 47445, "2"),
    ("chain", 47448, "3"),
    ("http", 47446, "4"),
)
"""(name, the server port of the flow shown, the key of its tab)."""


async def main() -> None:
    options = SessionOptions(
        keylog=read_keylog(CAPTURES / "observer-lab.keylog"),
        analyse=Analyzer(load_trust_store([CAPTURES / "observer-lab-ca.pem"], use_certifi=False), now=NOW),
    )
    app = TlsInspectApp(
        lambda: Session(FileSource(CAPTURES / "observer-lab.pcapng"), options),
        source_name="captures/observer-lab.pcapng",
    )
    async with app.run_test(size=(140, 46)) as pilot:
        await app.workers.wait_for_complete()
        for _ in range(50):
            await pilot.pause()
            if app.ended is not None:
                break
        for name, port, key in SHOTS:
            fid = next(f.id for f in app.store.flows.values() if f.server_port == port)
            app.query_one(FlowList).select_id(fid)
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
            path = app.save_screenshot(filename=f"tui-{name}.svg", path=str(DOCS))
            print(path)


if __name__ == "__main__":
    asyncio.run(main())
