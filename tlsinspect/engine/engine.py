"""The read engine: frames in, frozen `Flow` snapshots out, incrementally (sans-IO).

`Engine.process(number, ts, link_type, data)` is called once per captured frame by whatever reads the capture
(a live interface), or `Engine.process_at(number, ts, link_type, buf, start, stop)` for a frame lying inside a
larger buffer (a memory-mapped capture file, `CaptureFile.push`): only the bytes a parser reads are copied
out. Finished flows come back from `Engine.drain()` in order of first frame, and `Engine.finish()` ends the
capture. With `track_updates`, `Engine.updates()` gives what changed since its last call (snapshots of the open
flows that took a frame, from a dirty set, and flows finished but not yet drained), which is what a live view
shows; the session layer (`tlsinspect.session`) turns both into events. Every frame lands in exactly one bucket of `Engine.counts`, so frames read = frames
accounted.

Bounds: live flows are capped (`max_flows`); when the cap is hit the least recently active flow is finished
early and marked "evicted". Idle flows (no frame for `idle_timeout` seconds of capture time) and closed flows
(FIN both ways or RST, after a short linger for late packets) are finished at the periodic sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tlsinspect.decode.fast import SHARD_KEY_AT, SHARD_KEY_END, fast_tcp, shard_of, shard_of_key
from tlsinspect.decode.packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Datagram, PacketDecoder, Segment
from tlsinspect.engine.flow import FlowState
from tlsinspect.engine.tls_conn import TlsConnection
from tlsinspect.errors import DecodeError
from tlsinspect.model import Anomaly, Flow
from tlsinspect.parse.dtls import DtlsConnection, looks_like_dtls
from tlsinspect.parse.keylog import KeyLog
from tlsinspect.parse.quic import QuicConnection, looks_like_quic

SWEEP_EVERY = 8192
_SHARD_CACHE = 1 << 16
"""4-tuples whose shard is remembered (the cache is emptied when full)."""
CLOSED_LINGER = 2.0
_FIN_OR_RST = TCP_FIN | TCP_RST
MAX_CAPTURE_ANOMALIES = 200

Analyser = Callable[[Flow], Flow]


def _flow_id(f: Flow) -> int:
    return f.id


def _is_dtls_server_first(payload: bytes) -> bool:
    """A DTLS datagram whose first handshake message is a server's (HelloVerifyRequest, ServerHello)."""
    return len(payload) > 13 and payload[0] == 22 and payload[1] == 0xFE and payload[13] in (2, 3)


class Engine:
    """Turns frames into flows. Pure computation: no files, no sockets, no clocks."""

    def __init__(
        self,
        *,
        keylog: Any = None,
        analyse: Analyser | None = None,
        max_flows: int = 50_000,
        idle_timeout: float = 600.0,
        shard: tuple[int, int] = (0, 1),
        track_updates: bool = False,
    ) -> None:
        self.decoder = PacketDecoder()
        self.shard, self.shards = shard
        """This engine keeps the flows whose `shard_of` is `shard` out of `shards` (see tlsinspect.parallel);
        frames of other shards are decoded (fragments, sweep timing) but not counted. Frames that belong to no
        flow are counted by shard 0 only, so the counts of all shards add up to those of a single engine."""
        self.keylog = keylog if keylog is not None else KeyLog()
        """Shared by every flow and merged into in place (pcapng secrets blocks, a growing live key log), so
        secrets that arrive later still reach flows already open. Empty means no decryption."""
        self.analyse = analyse
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self.flows: dict[tuple[Any, ...], FlowState] = {}
        self.next_id = 1
        self._done: dict[int, Flow] = {}
        self._next_emit = 1
        self._ids_open: set[int] = set()
        self._tcp_frames = 0
        self._tcp_bytes = 0
        self._counts = {
            "frames": 0,
            "bytes": 0,
            "tcp": 0,
            "udp_flow": 0,
            "udp_other": 0,
            "not_ip": 0,
            "other_transport": 0,
            "fragment_held": 0,
            "undecodable": 0,
            "unsupported_link": 0,
        }
        self.anomalies: list[Anomaly] = []
        self.flows_evicted = 0
        self.flows_total = 0
        self.link_types_seen: set[int] = set()
        self._sweep_at = SWEEP_EVERY
        self._now = 0.0
        self._shard_cache: dict[bytes, int] = {}
        self._dirty: set[FlowState] | None = set() if track_updates else None
        """With `track_updates`: the open flows that took a frame since the last `updates()` (one set insertion
        per frame; without it, nothing is tracked and `updates()` is empty)."""
        self._finished_since: list[int] = []
        """Ids of flows finished since the last `updates()` (with `track_updates`)."""
        self.born: list[tuple[int, int]] = []
        """(id, first frame) of every flow created since the caller last emptied this list: how a shard tells
        the parent which flows exist, so that ids can be given in order of first frame across shards."""

    @property
    def counts(self) -> dict[str, int]:
        """Frames and bytes by bucket ("frames", "bytes", "tcp", "udp_flow", "not_ip", ...)."""
        if self._tcp_frames:  # `tcp_at` counts in two integers; fold them in when asked
            c = self._counts
            c["frames"] += self._tcp_frames
            c["tcp"] += self._tcp_frames
            c["bytes"] += self._tcp_bytes
            self._tcp_frames = self._tcp_bytes = 0
        return self._counts

    # -- input ----------------------------------------------------------------------------------------------

    def process(self, number: int, ts: float, link_type: int, data: bytes) -> None:
        """Account and decode one frame, and feed it to its flow."""
        self.process_at(number, ts, link_type, data, 0, len(data))

    def process_at(
        self,
        number: int,
        ts: float,
        link_type: int,
        buf: Any,
        start: int,
        stop: int,
        _orig_len: int = 0,
        _interface: int = 0,
    ) -> None:
        """`process` for a frame lying at buf[start:stop] of a larger buffer (a mapped capture file): the
        signature of `CaptureFile.push`'s handle. Only the TCP payload is copied out, and nothing of a frame
        that belongs to another shard."""
        self._now = ts
        # The fast path (`tlsinspect.decode.fast`): untagged Ethernet, IPv4 without options or fragmentation,
        # TCP -- most frames of most captures. Anything else takes the general decoder below, which gives the
        # same result for these frames (tests/decode/test_fast.py checks both paths and the C twin agree).
        if link_type == 1:
            seg = fast_tcp(buf, start, stop)
            if seg is not None:
                if self.shards > 1:
                    # Another worker's frame stops here, before anything is copied. The shard of a 4-tuple is
                    # cached by its 12 address and port bytes: one slice and one dict lookup per frame
                    # (computing the hash per frame cost a quarter of a worker's time).
                    k = buf[start + SHARD_KEY_AT : start + SHARD_KEY_END]
                    shard = self._shard_cache.get(k)
                    if shard is None:
                        shard = self._shard_of_key(k)
                    if shard != self.shard:
                        if number >= self._sweep_at:
                            self._sweep(number)
                        return
                src, dst, sport, dport, seq, ack, flags, pstart, pend = seg
                self.tcp_at(
                    number, ts, stop - start, src, dst, sport, dport, seq, ack, flags, buf, pstart, pend
                )
                return
        data = buf[start:stop] if start or stop != len(buf) or type(buf) is not bytes else buf
        counts = self.counts
        try:
            pkt = self.decoder.decode(link_type, data)
        except DecodeError as e:
            if self.shard == 0:
                counts["frames"] += 1
                counts["bytes"] += len(data)
                counts["undecodable"] += 1
                self._capture_anomaly("decode", "frame-undecodable", str(e), number)
            return
        if pkt is None:
            if self.shard == 0:
                counts["frames"] += 1
                counts["bytes"] += len(data)
                self._count_dropped(link_type, number)
            return
        if self.shards > 1 and shard_of(pkt[0], pkt[1], pkt[2], pkt[3], self.shards) != self.shard:
            if number >= self._sweep_at:
                self._sweep(number)
            return
        if type(pkt) is Segment:  # the same end as the fast path's, which counts it
            src, dst, sport, dport, seq, ack, flags, payload = pkt
            self.tcp_at(
                number, ts, len(data), src, dst, sport, dport, seq, ack, flags, payload, 0, len(payload)
            )
            return
        counts["frames"] += 1
        counts["bytes"] += len(data)
        try:
            self._udp(pkt, number, ts)  # type: ignore[arg-type]
        except Exception as e:  # a bug must cost one flow, not the capture
            self._internal_error(pkt, number, e)
        if number >= self._sweep_at:
            self._sweep(number)

    def _shard_of_key(self, k: bytes) -> int:
        """`shard_of_key` for the 12 bytes of addresses and ports of a fast-path frame, remembered (the cache is
        emptied when full)."""
        if len(self._shard_cache) >= _SHARD_CACHE:
            self._shard_cache.clear()
        shard = self._shard_cache[k] = shard_of_key(k, self.shards)
        return shard

    def tcp_at(
        self,
        number: int,
        ts: float,
        size: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        buf: Any,
        pstart: int,
        pend: int,
    ) -> None:
        """One TCP segment of this shard, in a frame of `size` bytes whose headers are read and checked, with its
        payload at buf[pstart:pend] (copied out only when something reads it). Every TCP segment ends here: the
        fast path of `process_at` after its one unpack, the general decoder's segments, and the C record walker
        with the fields it read (`CaptureFile.push(..., tcp=...)`)."""
        self._now = ts
        self._tcp_frames += 1
        self._tcp_bytes += size
        try:
            if src < dst or (src == dst and sport <= dport):
                key = (src, sport, dst, dport)
                from_a = True
            else:
                key = (dst, dport, src, sport)
                from_a = False
            fs = self.flows.get(key)
            if fs is None or flags & 0x12 == TCP_SYN:  # a new flow, or a SYN that may reuse the 4-tuple
                fs = self._tcp_flow(key, fs, from_a, seq, number, ts)
            fs.last_frame = number
            fs.last_ts = ts
            fs.frames += 1
            dirty = self._dirty
            if dirty is not None:
                dirty.add(fs)
            n = pend - pstart
            if from_a:
                d = fs.dir_a
                other = fs.dir_b
                fs.bytes_a += n
            else:
                d = fs.dir_b
                other = fs.dir_a
                fs.bytes_b += n
            if flags & TCP_SYN:
                seq = self._tcp_syn(fs, d, from_a, seq, flags)
            if n:
                # In order, nothing held: straight through (most segments).
                if seq == d.next_seq and not d.held:
                    d.next_seq = (seq + n) & 0xFFFFFFFF
                    d.delivered += n
                    skipper = d.skipper
                    if skipper is not None and skipper.skip >= n:
                        # Inside a TLS record or an HTTP body that nobody reads further: nothing to copy.
                        skipper.skip -= n
                    elif d.sink is not None:
                        d.sink(buf[pstart:pend], number)
                    else:
                        d.consumer.deliver(from_a, buf[pstart:pend], number)
                else:
                    d.segment(seq, buf[pstart:pend], number)
            if other.held and flags & TCP_ACK:
                other.acked(ack, number)
            if flags & _FIN_OR_RST:
                if flags & TCP_FIN:
                    if from_a:
                        fs.fin_a = True
                    else:
                        fs.fin_b = True
                if flags & TCP_RST:
                    fs.rst = True
                if (fs.fin_a and fs.fin_b) or fs.rst:
                    fs.state = "closed"
        except Exception as e:  # a bug must cost one flow, not the capture
            self._internal_error(Segment(src, dst, sport, dport, seq, ack, flags, b""), number, e)
        if number >= self._sweep_at:
            self._sweep(number)

    def frames_to_sweep(self, number: int) -> int:
        """How many frames after frame `number` the next periodic sweep falls (at least 1). A reader that passes
        over other shards' frames itself (`CaptureFile.push` with a shard) stops there and calls `passed`."""
        return max(1, self._sweep_at - number)

    def passed(self, number: int, ts: float | None) -> None:
        """Frame `number` (time `ts`) was walked by the reader without reaching this engine, as another shard's:
        the sweep due at that frame happens now, as it would have in `process_at`. None: nothing to do."""
        if ts is not None and number >= self._sweep_at:
            self._now = ts
            self._sweep(number)

    def _sweep(self, number: int) -> None:
        """The periodic sweep, every SWEEP_EVERY frame numbers: at the same frames in every shard, since each
        shard sees every frame number (its own frames and the ones it passes over)."""
        self._sweep_at = number + SWEEP_EVERY
        self.sweep()

    def _internal_error(self, pkt: Segment | Datagram, number: int, exc: Exception) -> None:
        """Record an unexpected exception as an anomaly on its flow and stop parsing that flow's content.

        Parsers only raise DecodeError by contract (the fuzz tests hold them to it); anything else is a bug in
        tlsinspect. The flow keeps what it had, its frames are still counted, and the rest of the capture is
        analysed.
        """
        where = ""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        msg = f"internal error {type(exc).__name__}: {exc}{where} (a bug in tlsinspect; please report it)"
        key: tuple[Any, ...]
        if type(pkt) is Segment:
            src, dst, sport, dport = pkt.src, pkt.dst, pkt.sport, pkt.dport
            key = (src, sport, dst, dport) if (src, sport) <= (dst, dport) else (dst, dport, src, sport)
        else:
            src, dst, sport, dport = pkt.src, pkt.dst, pkt.sport, pkt.dport
            key = (
                ("udp", src, sport, dst, dport)
                if (src, sport) <= (dst, dport)
                else ("udp", dst, dport, src, sport)
            )
        fs = self.flows.get(key)
        if fs is None:
            self._capture_anomaly("engine", "internal-error", msg, number)
            return
        fs.anomaly("engine", "internal-error", msg, number)
        fs.disable_content()

    def _count_dropped(self, link_type: int, number: int) -> None:
        reason = self.decoder.reason
        self.counts[reason] += 1
        if reason == "unsupported_link" and link_type not in self.link_types_seen:
            self.link_types_seen.add(link_type)
            self._capture_anomaly(
                "link", "unsupported-link-type", f"link type {link_type} is not decoded", number
            )

    def _tcp_flow(
        self, key: tuple[Any, ...], fs: FlowState | None, from_a: bool, seq: int, number: int, ts: float
    ) -> FlowState:
        """The flow for a segment whose 4-tuple is new, or a SYN: a SYN with another ISN on a flow that has
        already been used starts a new connection (port reuse)."""
        if fs is not None:
            same_client = (fs.client_is_a == from_a) and fs.isn_client == seq
            if not same_client and (fs.state == "closed" or fs.frames > 2 or fs.isn_client is not None):
                self._finish(key, fs, "closed")
                fs = None
        if fs is None:
            fs = self._new_flow(key, "tcp", number, ts)
        return fs

    def _tcp_syn(self, fs: FlowState, d: Any, from_a: bool, seq: int, flags: int) -> int:
        """A SYN or SYN-ACK: it tells who the client is and where the stream's data starts."""
        if not fs.syn_seen or not fs.roles_fixed:
            fs.syn_seen = True
            client_is_a = from_a if not flags & TCP_ACK else not from_a
            if not fs.roles_fixed:
                fs.set_client(client_is_a)
        if not flags & TCP_ACK:
            fs.isn_client = seq
        d.syn(seq)
        return (seq + 1) & 0xFFFFFFFF

    def _udp(self, dg: Datagram, number: int, ts: float) -> None:
        src, dst, sport, dport, payload = dg
        if (src, sport) <= (dst, dport):
            key = ("udp", src, sport, dst, dport)
            from_a = True
        else:
            key = ("udp", dst, dport, src, sport)
            from_a = False
        fs = self.flows.get(key)
        if fs is None:
            if looks_like_quic(payload):
                fs = self._new_flow(key, "udp", number, ts)
                fs.proto = "quic"
                fs.quic = QuicConnection()
            elif looks_like_dtls(payload):
                fs = self._new_flow(key, "udp", number, ts)
                fs.proto = "dtls"
                fs.dtls = DtlsConnection()
            else:
                self.counts["udp_other"] += 1
                return
            # The first datagram of a QUIC or DTLS flow is the client's (Initial / ClientHello), unless it is
            # visibly a server's handshake message (a capture that starts mid-way).
            fs.client_is_a = from_a if not _is_dtls_server_first(payload) else not from_a
            fs.roles_fixed = True
        self.counts["udp_flow"] += 1
        fs.last_frame = number
        fs.last_ts = ts
        fs.frames += 1
        if self._dirty is not None:
            self._dirty.add(fs)
        if from_a:
            fs.bytes_a += len(payload)
        else:
            fs.bytes_b += len(payload)
        if fs.dtls is not None:
            self._dtls(fs, from_a, payload, number)
            return
        from_client = from_a == fs.client_is_a
        quic = fs.quic
        for fc, data, frame in quic.feed(payload, from_client, number):
            if fs.tls is None:
                fs.tls = TlsConnection(keylog=None, transport="q")
            fs.tls.crypto_data(fc, data, frame, decrypted=bool(fs.extra.get("quic_keys")))
        if quic.wants_handshake_keys and self.keylog and fs.tls is not None and "quic_keys" not in fs.extra:
            self._quic_handshake_keys(fs)

    def _dtls(self, fs: FlowState, from_a: bool, payload: bytes, number: int) -> None:
        from_client = from_a == fs.client_is_a
        dtls = fs.dtls
        n_alerts = len(dtls.alerts)
        messages = dtls.feed(payload, from_client, number)
        if fs.tls is None and (messages or len(dtls.alerts) > n_alerts):
            fs.tls = TlsConnection(keylog=None, transport="d")
        assert fs.tls is not None or not messages
        for fc, data, frame in messages:
            fs.tls.crypto_data(fc, data, frame, record_version=dtls.version or 0)  # type: ignore[union-attr]
        for fc, level, desc, frame in dtls.alerts[n_alerts:]:
            fs.tls.add_alert(fc, level, desc, frame)  # type: ignore[union-attr]

    def _quic_handshake_keys(self, fs: FlowState) -> None:
        """With a key log, open the QUIC Handshake space once the hellos say which secrets and suite to use."""
        tls = fs.tls
        assert tls is not None and fs.quic is not None
        ch, sh = tls.client_hello, tls.server_hello
        if ch is None or sh is None:
            return
        secrets = self.keylog.secrets(ch.random)
        c, s = secrets.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"), secrets.get("SERVER_HANDSHAKE_TRAFFIC_SECRET")
        if c is None or s is None:
            fs.extra["quic_keys"] = False
            tls.decryption = "no handshake secrets for this client_random"
            return
        fs.extra["quic_keys"] = True
        for fc, data, frame in fs.quic.set_handshake_secrets(c, s, sh.cipher_suite):
            tls.crypto_data(fc, data, frame, decrypted=True)

    def _new_flow(self, key: tuple[Any, ...], transport: str, number: int, ts: float) -> FlowState:
        if len(self.flows) >= self.max_flows:
            self._evict_one()
        if transport == "tcp":
            a, b = (key[0], key[1]), (key[2], key[3])
        else:
            a, b = (key[1], key[2]), (key[3], key[4])
        fs = FlowState(self.next_id, transport, a, b, number, ts)
        fs.keylog = self.keylog
        self.next_id += 1
        self.flows_total += 1
        self.flows[key] = fs
        self._ids_open.add(fs.id)
        self.born.append((fs.id, number))
        return fs

    # -- bounds ---------------------------------------------------------------------------------------------

    def _evict_one(self) -> None:
        key, fs = min(self.flows.items(), key=lambda kv: kv[1].last_ts)
        self.flows_evicted += 1
        fs.anomaly(
            "engine",
            "flow-evicted",
            f"flow finished early: the cap of {self.max_flows} open flows was reached",
            fs.last_frame,
        )
        self._finish(key, fs, "evicted")

    def sweep(self, now: float | None = None) -> None:
        """Finish closed flows (after a linger for late packets) and idle ones.

        Args:
            now: the current time; a live capture passes the clock so flows age while no frame arrives. By
                default the time of the last frame.
        """
        if now is not None and now > self._now:
            self._now = now
        now = self._now
        for key, fs in list(self.flows.items()):
            if fs.state == "closed" and now - fs.last_ts > CLOSED_LINGER:
                self._finish(key, fs, "closed")
            elif now - fs.last_ts > self.idle_timeout:
                fs.anomaly(
                    "engine",
                    "flow-idle",
                    f"no frame for {self.idle_timeout:.0f} s; flow finished",
                    fs.last_frame,
                )
                self._finish(key, fs, "idle")

    def _finish(self, key: tuple[Any, ...], fs: FlowState, state: str) -> None:
        del self.flows[key]
        fs.finish(state)
        flow = fs.snapshot()
        if self.analyse is not None:
            flow = self.analyse(flow)
        self._ids_open.discard(fs.id)
        self._done[fs.id] = flow
        if self._dirty is not None:
            self._dirty.discard(fs)
            self._finished_since.append(fs.id)

    # -- output ---------------------------------------------------------------------------------------------

    def drain(self, *, ordered: bool = True) -> Iterator[Flow]:
        """Finished flows whose turn has come (in order of first frame).

        With ``ordered=False`` every finished flow is returned at once (a live capture writes a flow when it
        ends, without waiting for older flows still open); use the same mode for the whole capture.
        """
        done = self._done
        if not ordered:
            for fid in sorted(done):
                yield done.pop(fid)
            return
        while self._next_emit in done:
            yield done.pop(self._next_emit)
            self._next_emit += 1
        # Skip ids of flows that were never kept (none today; kept for clarity of the invariant).

    def finish(self, *, ordered: bool = True) -> Iterator[Flow]:
        """End of capture: finish every open flow and return all flows not yet drained, in order."""
        for key, fs in list(self.flows.items()):
            self._finish(key, fs, "closed" if fs.state == "closed" else "ended")
        yield from self.drain(ordered=ordered)

    def updates(self) -> list[Flow]:
        """What changed since the last call, for live views (needs `track_updates`), in order of id: a snapshot
        of each open flow that took a frame (analysed like a finished one), and the final flow of each flow
        that finished but is still held back by the ordered `drain` (so that no flow is ever out of sight).
        Call it after `drain`: a flow drained in the same step is reported by `drain` alone. Taking the
        snapshots changes no parser state."""
        dirty = self._dirty
        if dirty is None:
            return []
        analyse = self.analyse
        out = []
        for fs in dirty:
            flow = fs.snapshot()
            out.append(analyse(flow) if analyse is not None else flow)
        dirty.clear()
        done = self._done
        out.extend(done[i] for i in self._finished_since if i in done)
        self._finished_since.clear()
        out.sort(key=_flow_id)
        return out

    @property
    def open_count(self) -> int:
        """Flows in progress."""
        return len(self.flows)

    def _capture_anomaly(self, layer: str, kind: str, message: str, frame: int) -> None:
        if len(self.anomalies) < MAX_CAPTURE_ANOMALIES:
            self.anomalies.append(Anomaly(layer=layer, kind=kind, message=message, frame=frame))

    def accounted(self) -> int:
        """Frames put in a bucket: equals counts["frames"] (the invariant the tests check)."""
        c = self.counts
        return sum(c[k] for k in c if k not in ("frames", "bytes"))
