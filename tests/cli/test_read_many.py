"""`tlsinspect read A B C`: several captures, reported one after another in the order given, whether they are
read in turn (`--jobs 1`) or at once by several processes (`--jobs N`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = [ROOT / "captures" / "observer-lab.pcapng", ROOT / "captures" / "basic-tls12-tls13.pcap"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    p = subprocess.run(
        [sys.executable, "-m", "tlsinspect", "read", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "Traceback" not in p.stderr
    return p


def untimed(text: str) -> list[dict[str, object]]:
    """The ndjson objects without the one timing field."""
    objs = [json.loads(x) for x in text.splitlines() if x.strip()]
    for o in objs:
        o.pop("elapsed_s", None)
    return objs


@pytest.fixture(scope="module")
def singles() -> list[list[dict[str, object]]]:
    for c in CAPTURES:
        if not c.exists():
            pytest.skip(f"{c.name} missing")
    out = []
    for c in CAPTURES:
        p = run(str(c), "--format", "ndjson", "--jobs", "1")
        assert p.returncode == 0, p.stderr
        out.append(untimed(p.stdout))
    return out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ndjson_is_each_report_in_turn(singles: list[list[dict[str, object]]], jobs: str) -> None:
    p = run(*(str(c) for c in CAPTURES), str(CAPTURES[0]), "--format", "ndjson", "--jobs", jobs)
    assert p.returncode == 0, p.stderr
    assert untimed(p.stdout) == singles[0] + singles[1] + singles[0]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_json_is_an_array_of_documents(singles: list[list[dict[str, object]]], jobs: str) -> None:
    p = run(*(str(c) for c in CAPTURES), "--format", "json", "--jobs", jobs)
    assert p.returncode == 0, p.stderr
    docs = json.loads(p.stdout)
    assert isinstance(docs, list) and len(docs) == 2
    for doc, single in zip(docs, singles, strict=True):
        assert doc["capture"] == single[0]
        assert len(doc["flows"]) == len(single) - 2
        assert [f["id"] for f in doc["flows"]] == [f["id"] for f in single[1:-1]]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_bad_file_is_one_line_and_the_rest_is_read(
    tmp_path: Path, singles: list[list[dict[str, object]]], jobs: str
) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_text("not a capture\n")
    missing = tmp_path / "missing.pcap"
    for fmt in ("ndjson", "json", "text"):
        p = run(str(CAPTURES[0]), str(bad), str(missing), str(CAPTURES[1]), "--format", fmt, "--jobs", jobs)
        assert p.returncode == 2
        errors = p.stderr.strip().splitlines()
        assert len(errors) == 2 and "notes.pcap" in errors[0] and "missing.pcap" in errors[1]
        if fmt == "ndjson":
            assert untimed(p.stdout) == singles[0] + singles[1]
        elif fmt == "json":
            assert [d["capture"]["source"] for d in json.loads(p.stdout)] == [str(c) for c in CAPTURES]
        else:
            assert p.stdout.count("── summary ──") == 2


def test_text_reports_follow_each_other() -> None:
    p = run(*(str(c) for c in CAPTURES), "--jobs", "2")
    assert p.returncode == 0, p.stderr
    heads = [line for line in p.stdout.splitlines() if line.startswith("tlsinspect ")]
    assert [h.split()[2] for h in heads] == [str(c) for c in CAPTURES]


def test_fail_on_looks_at_every_file() -> None:
    # the observer lab holds high-severity findings (cleartext credentials); the basic capture alone does not
    alone = run(str(CAPTURES[1]), "--format", "ndjson", "--fail-on", "critical")
    both = run(str(CAPTURES[1]), str(CAPTURES[0]), "--format", "ndjson", "--fail-on", "high", "--jobs", "2")
    assert alone.returncode == 0
    assert both.returncode == 3


def test_a_worker_that_dies_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """If the process reading one file dies (a crash in a native library, a kill), that file is reported as
    failed and the others are still written; the read does not hang."""
    import argparse
    import io

    from tlsinspect.cli import read as cli

    class DyingJob(cli.ReadJob):
        def render(
            self, path: str, writer: object, jobs: int, progress: object = None
        ) -> tuple[int, str | None]:
            if path.endswith("dies.pcap"):
                os._exit(9)
            return super().render(path, writer, jobs, progress)

    dies = tmp_path / "dies.pcap"
    dies.write_bytes(CAPTURES[1].read_bytes())
    args = argparse.Namespace(format="ndjson", jobs=2, show_secrets=False, max_flows=50_000)
    out = io.StringIO()
    files = [str(CAPTURES[0]), str(dies), str(CAPTURES[1])]
    worst, failed = cli.read_many(files, args, DyingJob(args, None, None, None), out, False)
    assert failed
    err = capsys.readouterr().err.strip().splitlines()
    assert any("dies.pcap" in line and "ended unexpectedly" in line for line in err), err
    sources = [json.loads(x)["source"] for x in out.getvalue().splitlines() if '"type":"capture"' in x]
    assert sources == [str(CAPTURES[0]), str(CAPTURES[1])]
