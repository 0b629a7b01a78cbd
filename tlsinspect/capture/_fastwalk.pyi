from collections.abc import Callable
from typing import Any

def walk_pcap(
    handle: Callable[..., object],
    tcp: Callable[..., object] | None,
    buf: Any,
    pos: int,
    rec_len: int,
    big_endian: bool,
    divisor: float,
    limit: int,
    link_type: int,
    number: int,
    stop: int,
    shard: int,
    shards: int,
    /,
) -> tuple[int, int, int, float]: ...
def walk_pcapng(
    handle: Callable[..., object],
    tcp: Callable[..., object] | None,
    buf: Any,
    pos: int,
    big_endian: bool,
    interfaces: list[Any],
    number: int,
    stop: int,
    shard: int,
    shards: int,
    /,
) -> tuple[int, int, int, float]: ...
