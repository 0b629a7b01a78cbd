"""A real TLS handshake between Python's ssl client and server in memory (SSLObject over MemoryBIO).

Shared by the parser tests: the exact bytes each side put on the wire, without sockets or a capture.
"""

from __future__ import annotations

import ssl


def converse(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, payload: bytes = b"", reply: bytes = b""
) -> tuple[bytes, bytes]:
    """Handshake, then the client sends `payload` and the server `reply`; returns (client bytes, server bytes)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    wire = [bytearray(), bytearray()]

    def pump() -> None:
        for _ in range(20):
            a, b = c_out.read(), s_out.read()
            if not a and not b:
                return
            wire[0] += a
            s_in.write(a)
            wire[1] += b
            c_in.write(b)

    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((client, server)):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
            pump()
        if all(done):
            break
    assert all(done), "handshake did not complete"
    if payload:
        client.write(payload)
        pump()
        got = b""
        while len(got) < len(payload):
            got += server.read(len(payload))
        assert got == payload
    if reply:
        server.write(reply)
        pump()
    return bytes(wire[0]), bytes(wire[1])
