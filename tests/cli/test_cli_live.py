"""`tlsinspect live` and `tlsinspect interfaces` as a user runs them, against real clients and servers on lo.

The live tests need capture rights (CI runs as root); they skip cleanly otherwise. Every subprocess has a
timeout and every capture a short --duration.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from live_helpers import (
    TLSINSPECT,
    can_capture,
    first_line,
    http_server,
    live_process,
    make_cert,
    ndjson,
    server_context,
)

live = pytest.mark.live
needs_capture = pytest.mark.skipif(not can_capture(), reason="no capture rights (run as root, CI does)")

CURL = shutil.which("curl") or "/usr/bin/curl"
OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_cert(tmp_path_factory.mktemp("cert"))


def _sni(flow: dict[str, Any]) -> str | None:
    tls = flow.get("tls") or {}
    ch = tls.get("client_hello") or {}
    return ch.get("server_name")


def _by_sni(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_sni(o) or "": o for o in objs if o["type"] == "flow" and o.get("tls")}


def _by_path(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for o in objs:
        if o["type"] == "flow":
            for h in o["http"]:
                if h.get("uri"):
                    out[h["uri"]] = o
    return out


def _python_tls_client(port: int, sni: str, path: str) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as s,
        ctx.wrap_socket(s, server_hostname=sni) as t,
    ):
        t.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        for _ in range(100):
            chunk = t.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


@live
@needs_capture
def test_live_real_clients_then_reread(cert: tuple[str, str], tmp_path: Path) -> None:
    """curl, openssl s_client, python ssl and urllib against real servers: SNI, version, suite, Basic auth; -w re-read."""
    out_pcap = tmp_path / "out.pcapng"
    with http_server(server_context(*cert)) as tls_port, http_server() as http_port:
        bpf = f"tcp port {tls_port} or tcp port {http_port}"
        args = [
            "-i",
            "lo",
            "-f",
            bpf,
            "--format",
            "ndjson",
            "--duration",
            "5",
            "-w",
            str(out_pcap),
            "--no-env-keylog",
        ]
        with live_process(args) as p:
            head = json.loads(first_line(p))
            assert head["type"] == "capture" and head["source"] == "lo" and head["link_types"] == [1]
            r = subprocess.run(
                [CURL, "-sk", "--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256", "--resolve",
                 f"curl.test:{tls_port}:127.0.0.1", f"https://curl.test:{tls_port}/curl"],
                capture_output=True, timeout=15,
            )  # fmt: skip
            assert r.stdout == b"hello from /curl", r.stderr
            if OPENSSL:
                r = subprocess.run(
                    [OPENSSL, "s_client", "-connect", f"127.0.0.1:{tls_port}", "-servername", "sclient.test",
                     "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-quiet"],
                    input=b"GET /sclient HTTP/1.1\r\nHost: sclient.test\r\nConnection: close\r\n\r\n",
                    capture_output=True, timeout=15,
                )  # fmt: skip
                assert b"hello from /sclient" in r.stdout, r.stderr
            assert _python_tls_client(tls_port, "python.test", "/py").endswith(b"hello from /py")
            auth = base64.b64encode(b"alice:s3cretpass").decode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{http_port}/basic", headers={"Authorization": f"Basic {auth}"}
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert resp.read() == b"hello from /basic"
            r = subprocess.run(
                [CURL, "-s", "-u", "bob:hunter22", f"http://127.0.0.1:{http_port}/curlbasic"],
                capture_output=True,
                timeout=15,
            )
            assert r.stdout == b"hello from /curlbasic"
            stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    assert "stopped (duration)" in stderr and "queue dropped 0" in stderr
    objs = ndjson(stdout)
    assert objs[-1]["type"] == "summary"
    summary = objs[-1]
    flows = [o for o in objs if o["type"] == "flow"]
    n_tls = 3 if OPENSSL else 2
    assert summary["flows"] == len(flows) == n_tls + 2
    assert summary["tls_flows"] == n_tls and summary["capture_errors"] == []
    tls = _by_sni(objs)
    c = tls["curl.test"]
    assert c["tls"]["version"] == "0x0304" and c["tls"]["cipher_suite"] == "0x1301"
    assert c["tls"]["cipher_suite_name"] == "TLS_AES_128_GCM_SHA256"
    assert c["server"] == f"127.0.0.1:{tls_port}" and c["state"] == "closed"
    assert [e["kind"] for e in c["exposures"]][:1] == ["sni"]
    py = tls["python.test"]
    assert py["tls"]["version"] == "0x0303" and py["tls"]["cipher_suite"] == "0xcca9"
    assert py["tls"]["certificates"][0]["subject"] == "CN=localhost"
    if OPENSSL:
        s = tls["sclient.test"]
        assert s["tls"]["version"] == "0x0303" and s["tls"]["cipher_suite"] == "0xc02b"
        assert s["tls"]["cipher_suite_name"] == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    http = _by_path(objs)
    for path, user in (("/basic", "alice"), ("/curlbasic", "bob")):
        f = http[path]
        assert f["app_protocol"] == "http" and f["server"] == f"127.0.0.1:{http_port}"
        assert f["http"][0]["status"] == 200 and f["http"][0]["inside_tls"] is False
        basic = [e for e in f["exposures"] if e["kind"] == "http-basic-auth"]
        assert len(basic) == 1 and basic[0]["inside_tls"] is False
        assert user not in json.dumps(basic)  # masked without --show-secrets

    # The saved file, read back, gives the same flows.
    rr = subprocess.run(
        [TLSINSPECT, "read", str(out_pcap), "--format", "ndjson", "--no-env-keylog"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rr.returncode == 0, rr.stderr
    again = ndjson(rr.stdout)
    assert again[-1]["frames"] == summary["frames"]

    def key(o: dict[str, Any]) -> tuple[Any, ...]:
        t = o["tls"] or {}
        return (o["id"], o["client"], o["server"], _sni(o), t.get("version"), t.get("cipher_suite"),
                [h["uri"] for h in o["http"]], sorted(e["kind"] for e in o["exposures"]), o["frames"])  # fmt: skip

    live_flows = sorted((key(o) for o in flows), key=lambda k: k[0])
    read_flows = sorted((key(o) for o in again if o["type"] == "flow"), key=lambda k: k[0])
    assert live_flows == read_flows


CHILD = r"""
import socket, ssl, sys
ctx = ssl.create_default_context()  # a default context honours SSLKEYLOGFILE
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
assert ctx.keylog_filename, "SSLKEYLOGFILE was not set for the child"
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    with ctx.wrap_socket(s, server_hostname="child.test") as t:
        t.sendall(b"GET /secret/child?q=1 HTTP/1.1\r\nHost: child.test\r\nAuthorization: Basic Y2hpbGQ6cHc=\r\nConnection: close\r\n\r\n")
        data = b""
        for _ in range(100):
            d = t.recv(4096)
            if not d:
                break
            data += d
print(data.decode(errors="replace"))
"""


@live
@needs_capture
def test_live_command_decrypts_tls13(cert: tuple[str, str], tmp_path: Path) -> None:
    """`live -- python client.py`: SSLKEYLOGFILE is followed as it grows and the TLS 1.3 request is decrypted."""
    out_pcap = tmp_path / "child.pcapng"
    with http_server(server_context(*cert)) as port:
        env = {k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"}
        r = subprocess.run(
            [TLSINSPECT, "live", "-i", "lo", "-f", f"tcp port {port}", "--format", "ndjson", "-w", str(out_pcap),
             "--duration", "20", "--", sys.executable, "-c", CHILD, str(port)],
            capture_output=True, text=True, timeout=40, env=env,
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "stopped (command exited)" in r.stderr
    assert "hello from /secret/child" in r.stderr  # the child's stdout goes to stderr: stdout stays ndjson
    objs = ndjson(r.stdout)
    (flow,) = [o for o in objs if o["type"] == "flow"]
    tls = flow["tls"]
    assert _sni(flow) == "child.test" and tls["version"] == "0x0304"
    assert tls["decrypted"] is True and tls["certificates_visibility"] == "decrypted"
    (h,) = flow["http"]
    assert h["uri"] == "/secret/child?q=1" and h["inside_tls"] is True and h["status"] == 200
    assert any(e["kind"] == "http-basic-auth" and e["inside_tls"] for e in flow["exposures"])
    # The pcapng holds the key log (Decryption Secrets Blocks): it decrypts on its own.
    rr = subprocess.run(
        [TLSINSPECT, "read", str(out_pcap), "--format", "ndjson", "--no-env-keylog"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    (again,) = [o for o in ndjson(rr.stdout) if o["type"] == "flow"]
    assert again["tls"]["decrypted"] is True and [x["uri"] for x in again["http"]] == ["/secret/child?q=1"]


@live
@needs_capture
def test_live_sigint_stops_cleanly_with_summary() -> None:
    with live_process(["-i", "lo", "-f", "tcp port 9", "--no-env-keylog"]) as p:
        assert "(live)" in first_line(p)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=20)
    assert p.returncode == 0, stderr
    assert "summary" in stdout and "0 flows" in stdout
    assert "stopped (interrupted)" in stderr and "Traceback" not in stderr


@live
@needs_capture
def test_live_count_stops_after_n_frames() -> None:
    with http_server() as port:
        args = [
            "-i",
            "lo",
            "-f",
            f"tcp port {port}",
            "--format",
            "ndjson",
            "--count",
            "3",
            "--duration",
            "20",
            "--no-env-keylog",
        ]
        with live_process(args) as p:
            first_line(p)
            for i in range(3):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/n{i}", timeout=5) as resp:
                    resp.read()
            stdout, stderr = p.communicate(timeout=20)
    assert p.returncode == 0, stderr
    summary = json.loads(stdout.splitlines()[-1])
    assert summary["type"] == "summary" and summary["frames"] == 3
    assert "stopped (count)" in stderr


@live
@needs_capture
def test_live_without_capture_rights_one_line_error() -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to drop privileges")
    r = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", TLSINSPECT, "live", "-i", "lo",
         "--duration", "1", "--no-env-keylog"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/tmp"},
    )  # fmt: skip
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("tlsinspect: error: no permission to capture on lo")
    assert "sudo" in lines[0] and "setcap cap_net_raw,cap_net_admin+eip" in lines[0]
    assert r.stdout == ""


def test_live_unknown_interface_lists_valid_ones() -> None:
    r = subprocess.run(
        [TLSINSPECT, "live", "-i", "nosuch0", "--duration", "1"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "no interface 'nosuch0'" in line and "lo" in line.split("capture interfaces:")[1]
    assert r.stdout == ""


def test_live_bad_bpf_filter_shows_libpcap_message() -> None:
    r = subprocess.run(
        [TLSINSPECT, "live", "-i", "lo", "-f", "tcp prt 443", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert (
        line.startswith("tlsinspect: error: bad BPF filter:")
        and "syntax error" in line
        and "tcp prt 443" in line
    )


def test_live_missing_command_one_line_error() -> None:
    r = subprocess.run(
        [TLSINSPECT, "live", "-i", "lo", "--duration", "1", "--", "/nonexistent/prog"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "cannot run '/nonexistent/prog'" in line


def test_live_needs_an_interface() -> None:
    r = subprocess.run([TLSINSPECT, "live"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "-i/--interface" in r.stderr


def test_interfaces_lists_loopback() -> None:
    r = subprocess.run([TLSINSPECT, "interfaces"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    lo = [line for line in r.stdout.splitlines() if line.split()[:1] == ["lo"]]
    assert lo and "Ethernet" in lo[0] and "127.0.0.1" in lo[0]
    r = subprocess.run(
        [TLSINSPECT, "interfaces", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    doc = {i["name"]: i for i in json.loads(r.stdout)}
    assert doc["lo"]["link_type"] == 1 and doc["lo"]["up"] is True and "127.0.0.1" in doc["lo"]["addresses"]


def test_read_does_not_import_scapy() -> None:
    code = "import sys, tlsinspect.cli as c; c.build_parser(); import tlsinspect.cli.live; print(any(m.startswith('scapy') for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert r.stdout.strip() == "False"
