"""The command line as a user runs it: formats, filters, exit codes, and one-line errors (never a traceback)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
from conversations import SERVER, tcp_frames, tls_conversation  # noqa: E402
from helpers_pcap import write_pcap  # noqa: E402

BASIC = b"GET /admin?token=abcdef0123456789 HTTP/1.1\r\nHost: shop\r\nAuthorization: Basic YWxpY2U6czNjcjN0cGFzcw==\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    tls = tcp_frames(tls_conversation(tmp, version=ssl.TLSVersion.TLSv1_2, sni="shop.example"))
    http = tcp_frames([(True, BASIC), (False, OK)], server=(SERVER[0], 80))
    frames = tls + http
    return Path(write_pcap(tmp / "mixed.pcap", [(1_700_000_000 + i / 100, f) for i, f in enumerate(frames)]))


def run(*args: str, check_clean: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    p = subprocess.run(
        [sys.executable, "-m", "tlsinspect", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if check_clean:
        assert "Traceback" not in p.stderr
    return p


def lines(p: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def test_ndjson_shape(capture: Path) -> None:
    p = run("read", str(capture), "--format", "ndjson")
    assert p.returncode == 0, p.stderr
    objs = lines(p)
    assert objs[0]["type"] == "capture" and objs[0]["schema_version"] == 1
    assert objs[-1]["type"] == "summary"
    flows = [o for o in objs if o["type"] == "flow"]
    assert [f["id"] for f in flows] == [1, 2]
    assert [f["app_protocol"] for f in flows] == ["tls", "http"]
    summary = objs[-1]
    assert summary["flows"] == 2 and summary["tls_flows"] == 1 and summary["http_flows"] == 1
    assert summary["frames"] == summary["frames_in_flows"]
    tls = flows[0]["tls"]
    assert isinstance(tls, dict)
    ch = tls["client_hello"]
    assert ch["server_name"] == "shop.example"
    assert ch["legacy_version"] == "0x0303" and all(
        c.startswith("0x") and len(c) == 6 for c in ch["cipher_suites"]
    )
    assert tls["version"] == "0x0303" and tls["version_name"] == "TLS 1.2"
    assert tls["certificates"][0]["subject"] == "CN=shop.example"
    assert tls["certificates_visibility"] == "cleartext"


def test_json_document(capture: Path) -> None:
    p = run("read", str(capture), "--format", "json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert set(doc) >= {"schema_version", "capture", "flows", "summary"}
    assert len(doc["flows"]) == 2


def test_secrets_masked_unless_asked(capture: Path) -> None:
    masked = {
        (e["kind"], e["value"])
        for f in lines(run("read", str(capture), "--format", "ndjson"))
        if f["type"] == "flow"
        for e in f["exposures"]
    }  # type: ignore[attr-defined]
    assert ("http-basic-auth", "al****ss") in masked
    assert ("sni", "shop.example") in masked  # a name the protocol publishes is not masked
    shown = {
        (e["kind"], e["value"])
        for f in lines(run("read", str(capture), "--format", "ndjson", "--show-secrets"))
        if f["type"] == "flow"
        for e in f["exposures"]
    }  # type: ignore[attr-defined]
    assert ("http-basic-auth", "alice:s3cr3tpass") in shown


def test_text_report(capture: Path) -> None:
    p = run("read", str(capture))
    assert p.returncode == 0
    assert "shop.example" in p.stdout and "TLS 1.2" in p.stdout
    assert "EXPOSED: http-basic-auth" in p.stdout
    assert "alice:s3cr3tpass" not in p.stdout


def test_filter(capture: Path) -> None:
    flows = [
        o
        for o in lines(run("read", str(capture), "--format", "ndjson", "--filter", "sni:shop"))
        if o["type"] == "flow"
    ]
    assert [f["app_protocol"] for f in flows] == ["tls"]
    flows = [
        o
        for o in lines(run("read", str(capture), "--format", "ndjson", "--filter", "port:80"))
        if o["type"] == "flow"
    ]
    assert [f["app_protocol"] for f in flows] == ["http"]
    flows = [
        o
        for o in lines(run("read", str(capture), "--format", "ndjson", "--filter", "shop"))
        if o["type"] == "flow"
    ]
    assert [f["app_protocol"] for f in flows] == ["tls", "http"]  # a bare word: the SNI or the HTTP Host


def _ids(*args: str) -> list[object]:
    p = run(*args, "--format", "ndjson")
    assert p.returncode == 0, p.stderr
    return [o["id"] for o in lines(p) if o["type"] == "flow"]


@pytest.mark.parametrize(
    ("expr", "ids"),
    [
        ("version<1.3 and not decrypted", [1]),
        ("sni:shop port:80", []),
        ("sni:shop or port:80", [1, 2]),
        ("not proto:tls", [2]),
        ("cleartext", [2]),
        ("exposure:http-basic-auth severity>=high", [2]),
        ("version:tls1.2 suite:*GCM*", [1]),
        ("ip:10.0.0.0/24 && !port:443", [2]),
        ("ip:192.0.2.0/24", []),
    ],
)
def test_filter_language(capture: Path, expr: str, ids: list[int]) -> None:
    assert _ids("read", str(capture), "--filter", expr) == ids


def test_filter_with_a_key_log() -> None:
    captures = Path(__file__).resolve().parents[2] / "captures"
    args = ["read", str(captures / "observer-lab.pcapng"), "--keylog", str(captures / "observer-lab.keylog")]
    args += ["--ca-file", str(captures / "observer-lab-ca.pem"), "--no-default-roots"]
    assert _ids(*args, "--filter", "version<1.3 and not decrypted") == [14]
    assert _ids(*args, "--filter", "decrypted and finding:cert.*") == [11, 12, 13]
    assert _ids(*args, "--filter", "cleartext and exposure:password-field") == [1]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("colour:red", "--filter: unknown field 'colour' (fields: sni, host, ip, port"),
        ("port:", "--filter: expected a value after 'port:'"),
        ("(sni:shop or port:80", "--filter: unbalanced parenthesis at column 1"),
        ("version<1.x", "--filter: version must be like 1.2, tls1.3"),
        ("sni:a\nb and", "--filter: expected a term after 'and'"),
    ],
)
def test_bad_filter_is_one_line(capture: Path, expr: str, message: str) -> None:
    bad = run("read", str(capture), "--filter", expr)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith(f"tlsinspect: error: {message}")


def test_fail_on(capture: Path) -> None:
    assert run("read", str(capture), "--format", "ndjson", "--fail-on", "high").returncode == 3
    assert run("read", str(capture), "--format", "ndjson", "--fail-on", "critical").returncode == 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), (b"hello, this is text\n" * 10, "not a"), (b"", "empty")],
)
def test_unreadable_inputs_give_one_line(tmp_path: Path, content: bytes | None, needle: str) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    p = run("read", str(path))
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("tlsinspect: error:")
    assert needle in p.stderr.lower()


def test_truncated_capture_still_analysed(capture: Path, tmp_path: Path) -> None:
    data = capture.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    p = run("read", str(cut), "--format", "ndjson")
    assert p.returncode == 0
    objs = lines(p)
    summary = objs[-1]
    assert [a["kind"] for a in summary["capture_anomalies"]] == ["truncated"]  # type: ignore[index]
    assert any(o["type"] == "flow" and o["app_protocol"] == "tls" for o in objs)


def test_missing_keylog_is_one_line(capture: Path) -> None:
    p = run("read", str(capture), "--keylog", "/nonexistent/keys.log")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "key log" in p.stderr


def test_explain() -> None:
    p = run("explain", "tls.no-forward-secrecy")
    assert p.returncode == 0 and "forward secrecy" in p.stdout.lower()
    assert "tls.no-forward-secrecy" in run("explain").stdout
    bad = run("explain", "no.such-rule")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_help_documents_exit_codes() -> None:
    p = run("read", "--help")
    assert "exit status" in p.stdout and "3" in p.stdout


@pytest.fixture(scope="module")
def many_flows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """500 cleartext HTTP connections: far more output than a pipe buffer holds."""
    frames: list[bytes] = []
    for port in range(30000, 30500):
        frames += tcp_frames(
            [(True, BASIC), (False, OK)], client=(bytes([10, 0, 0, 1]), port), server=(SERVER[0], 80)
        )
    path = tmp_path_factory.mktemp("many") / "many.pcap"
    return Path(write_pcap(path, [(1_700_000_000 + i / 1000, f) for i, f in enumerate(frames)]))


@pytest.mark.parametrize("fmt", ["text", "ndjson"])
def test_closed_pipe_exits_quietly(many_flows: Path, fmt: str) -> None:
    """`tlsinspect read F | head -1`: no traceback, exit 0, even though the reader left early."""
    env = {k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlsinspect", "read", str(many_flows), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0
    assert "Traceback" not in err
