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


def test_parsers_do_no_io() -> None:
    """Sans-IO layers never open files or sockets: no call of the builtin open() and no socket import."""
    import ast
    from pathlib import Path

    import tlsinspect

    root = Path(tlsinspect.__file__).parent
    offenders = []
    for layer in ("decode", "parse", "engine"):
        for path in sorted((root / layer).glob("*.py")):
            if path.name == "keylog.py":  # KeyLog.from_file is the documented single I/O helper
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                    offenders.append(f"{path.name}:{node.lineno} open()")
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] + (
                        [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                    )
                    if any(n.split(".")[0] in ("socket", "subprocess") for n in names):
                        offenders.append(f"{path.name}:{node.lineno} import")
    assert offenders == []
