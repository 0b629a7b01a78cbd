"""The read path stays free of the heavy optional front-end packages (the contract lint-imports also checks) and
of decoders few captures need; the sans-IO layers do no I/O."""

from __future__ import annotations

import subprocess
import sys


def _read_path_modules() -> set[str]:
    """The modules a fresh interpreter holds after importing what `tlsinspect read` imports before its first frame."""
    code = (
        "import sys\n"
        "import tlsinspect.cli.read, tlsinspect.session.shards, tlsinspect.engine.engine\n"
        "import tlsinspect.analysis.pipeline, tlsinspect.output.jsonout, tlsinspect.output.text\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    modules = set(out.stdout.split())
    assert "tlsinspect.engine.engine" in modules and "cryptography.x509" in modules
    return modules


def test_read_path_imports_no_scapy_textual_pyshark() -> None:
    assert sorted(m for m in _read_path_modules() if m.split(".")[0] in ("scapy", "textual", "pyshark")) == []


def test_read_path_defers_rarely_needed_decoders() -> None:
    """hpack (HTTP/2), brotli and zstandard (compressed certificates) are imported at their first use, not by
    every read's start-up."""
    assert sorted(_read_path_modules() & {"hpack", "brotli", "zstandard"}) == []


NO_IO_LAYERS = ("decode", "parse", "engine", "analysis", "present", "output", "session")
"""Everything but capture/ (the I/O layer) and cli/ (the entry point, which opens the report's output)."""
NO_CLOCK_LAYERS = ("decode", "parse", "engine", "analysis", "present")
"""Layers that are handed the time instead of reading a clock (the engine runs on capture time)."""
IO_CALLS = {
    "open",
    "io.open",
    "os.open",
    "os.listdir",
    "os.stat",
    ".read_bytes",
    ".read_text",
    ".write_bytes",
}
IO_CALLS |= {".write_text", ".iterdir", ".glob"}
CLOCK_CALLS = {
    "time.time",
    "time.monotonic",
    "time.perf_counter",
    "time.time_ns",
    ".now",
    ".utcnow",
    ".today",
}
"""Calls by name: a bare function, `module.function`, or `.method` on anything."""


def _call_names(f: object) -> set[str]:
    import ast

    if isinstance(f, ast.Name):
        return {f.id}
    if isinstance(f, ast.Attribute):
        names = {"." + f.attr}
        if isinstance(f.value, ast.Name):
            names.add(f"{f.value.id}.{f.attr}")
        return names
    return set()


def _offenders(layers: tuple[str, ...], calls: set[str], modules: set[str]) -> list[str]:
    import ast
    from pathlib import Path

    import tlsinspect

    root = Path(tlsinspect.__file__).parent
    found = []
    for layer in layers:
        for path in sorted((root / layer).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    for name in sorted(_call_names(node.func) & calls):
                        found.append(f"{layer}/{path.name}:{node.lineno} {name}()")
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] + (
                        [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                    )
                    if any(n.split(".")[0] in modules for n in names):
                        found.append(f"{layer}/{path.name}:{node.lineno} import")
    return found


def test_only_capture_does_io() -> None:
    """Below the entry point, only capture/ opens files, sockets, processes and interfaces."""
    assert _offenders(NO_IO_LAYERS, IO_CALLS, {"socket", "subprocess", "shutil", "tempfile"}) == []


def test_sans_io_layers_read_no_clock() -> None:
    """The engine runs on capture time; analysis is handed `now` by the entry point."""
    assert _offenders(NO_CLOCK_LAYERS, CLOCK_CALLS, set()) == []


def test_offender_scan_sees_io() -> None:
    """The scan itself finds what it looks for (capture/ does I/O, session/ reads the clock)."""
    assert any("open()" in x for x in _offenders(("capture",), IO_CALLS, set()))
    assert _offenders(("session",), CLOCK_CALLS, set())
